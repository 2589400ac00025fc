//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver) with
//! fantoccini. It loads the real data set, visits every page and fails on any console error
//! (a CSP violation, a missing asset, a script error), searches for a city, signs an office in,
//! records a curtailment through the form, proves a form stripped of its CSRF token is refused,
//! and checks that the map and chart are drawn. Screenshots of the main pages are kept in
//! `target/browser-screenshots/` (CI keeps them as artifacts).
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages;
//! `.ci/run` installs them. On a machine without them the test says so and passes only when
//! not in CI: in CI (`CI` set) a missing browser fails the run.
//!
//! The pages read through the same db functions on both backends (the HTTP page tests run on
//! both), so the browser session runs once, on SQLite.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{Backend, TestServer};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver on a free loopback port, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts chromedriver. Where the browser is not installed build.rs compiled the test as
/// ignored, so a missing one here (removed since the build, or under CI) is a failure.
pub(crate) fn start_driver() -> Driver {
    let driver = std::env::var("AMITY_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
    let browser = std::env::var("AMITY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    assert!(
        Path::new(&driver).exists() && Path::new(&browser).exists(),
        "browser tests need {driver} and {browser} (apt-get install chromium chromium-driver)"
    );
    let port = free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = ureq::get(&format!("{url}/status"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .is_some_and(|v| v["value"]["ready"] == true);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, url }
}

/// One of Chromium's `goog:loggingPrefs` logs, read (and emptied) through chromedriver's log
/// endpoint: `browser` (the console) or `performance` (DevTools events, when the session
/// records them).
#[derive(Debug)]
pub(crate) struct ChromiumLog(pub(crate) &'static str);

/// The console.
pub(crate) const BROWSER_LOG: ChromiumLog = ChromiumLog("browser");
/// DevTools events, network ones included, of a session opened with `network`.
pub(crate) const PERFORMANCE_LOG: ChromiumLog = ChromiumLog("performance");

impl WebDriverCompatibleCommand for ChromiumLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": self.0}).to_string()),
        )
    }
}

/// A browser session against one server, keeping screenshots and failing on console errors.
pub(crate) struct Session {
    pub(crate) client: Client,
    pub(crate) base: String,
    shots: PathBuf,
    /// Chromium's profile directory: removed when the session is dropped, after
    /// `client.close()` has ended the browser.
    _profile: tempfile::TempDir,
}

impl Session {
    pub(crate) async fn open(driver: &Driver, base: &str) -> Session {
        Session::open_with(driver, base, false).await
    }

    /// A session that, with `network`, also records Chromium's network events (the DevTools
    /// `Network` domain, read with [`PERFORMANCE_LOG`]), request bodies included.
    pub(crate) async fn open_with(driver: &Driver, base: &str, network: bool) -> Session {
        let profile = tempfile::tempdir().expect("profile dir");
        let browser = std::env::var("AMITY_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": browser,
                // The closed network of CI machines refuses Chromium's background traffic;
                // these flags keep it from trying.
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        if network {
            caps.insert(
                "goog:loggingPrefs".into(),
                json!({"browser": "ALL", "performance": "ALL"}),
            );
            if let Some(options) = caps
                .get_mut("goog:chromeOptions")
                .and_then(Value::as_object_mut)
            {
                options.insert(
                    "perfLoggingPrefs".into(),
                    json!({"enableNetwork": true, "enablePage": false}),
                );
            }
        } else {
            caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        }
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("start a Chromium session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Session {
            client,
            base: base.to_string(),
            shots,
            _profile: profile,
        }
    }

    pub(crate) async fn visit(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Fails on any console message at SEVERE level since the last call.
    pub(crate) async fn assert_clean_console(&self, page: &str) {
        let log = self
            .client
            .issue_cmd(BROWSER_LOG)
            .await
            .expect("browser log");
        let errors: Vec<&Value> = log
            .as_array()
            .map(|entries| entries.iter().filter(|e| e["level"] == "SEVERE").collect())
            .unwrap_or_default();
        assert!(errors.is_empty(), "console errors on {page}: {errors:#?}");
    }

    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        // The pictures of the home page (README) and of the signing ceremony (docs) are these
        // screenshots, refreshed on request.
        let in_readme = name == "home" || name.starts_with("signing-");
        if in_readme && std::env::var_os("AMITY_UPDATE_README_SCREENSHOT").is_some() {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(format!("docs/screenshot-{name}.png"));
            std::fs::write(docs, &png).expect("save the README screenshot");
        }
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("save screenshot");
    }

    /// Scrolls the element to the middle of the window (for a screenshot of it).
    pub(crate) async fn scroll_to(&self, css: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
                vec![json!(css)],
            )
            .await
            .expect("scroll");
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .expect("element text")
    }

    /// Waits (up to 15 s) until the element's text contains `needle`, and returns it. A click
    /// that submits a form returns before the next page has loaded, so reads after one wait.
    pub(crate) async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never contained {needle:?}; last seen: {last}");
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        field.clear().await.ok();
        field.send_keys(value).await.expect("type");
    }

    /// Sets a date input through the page, as typing into Chromium's date widget depends on
    /// the locale.
    async fn set_date(&self, css: &str, iso: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(iso)],
            )
            .await
            .expect("set date");
    }

    pub(crate) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The width an `<img>` was drawn at from its loaded image (0 when it failed to load).
    async fn image_width(&self, css: &str) -> u64 {
        let v = self
            .client
            .execute(
                "const i = document.querySelector(arguments[0]); return i && i.complete ? i.naturalWidth : 0;",
                vec![json!(css)],
            )
            .await
            .expect("image width");
        v.as_u64().unwrap_or(0)
    }
}

/// The registry the browser sees: the real data set, plus two cities with offices, a
/// partnership between them with activities, an MOU with a version, and a city whose name is
/// markup (it must render as text: a script would be a CSP violation in the console).
struct Scene {
    office_hou: String,
    partnership: String,
    mou: String,
}

fn build_scene(srv: &TestServer) -> Scene {
    let admin = srv.admin();
    srv.import_data_set(&admin);
    srv.city(&admin, "us-hou", "Houston");
    srv.city(&admin, "cn-sha", "Shanghai");
    srv.city(&admin, "fr-xss", "<script>alert(1)</script>");
    let office_hou = srv.office(&admin, "us-hou");
    let office_sha = srv.office(&admin, "cn-sha");
    let partnership = srv.propose(&office_hou, "us-hou", "cn-sha");
    let r = srv.post(
        &format!("/api/v1/partnerships/{partnership}/confirm"),
        Some(&office_sha),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    srv.propose(&office_hou, "us-hou", "fr-xss");
    for (year, mode, kind) in [
        (2018, "in_person", "delegation"),
        (2019, "in_person", "exchange"),
        (2020, "virtual", "virtual_meeting"),
        (2021, "virtual", "virtual_meeting"),
        (2021, "hybrid", "cultural_event"),
        (2022, "hybrid", "exchange"),
    ] {
        let r = srv.post(
            &format!("/api/v1/partnerships/{partnership}/activities"),
            Some(&office_hou),
            &json!({"kind": kind, "mode": mode, "start_date": format!("{year}-05-10"),
                    "participants": 24, "outcome": format!("{kind} in {year}")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mou = crate::signing::create_mou(srv, &office_hou, &partnership);
    let r = crate::signing::upload(srv, &office_hou, &mou, b"Memorandum of Understanding\n");
    assert_eq!(r.status, 201, "{}", r.text());
    Scene {
        office_hou,
        partnership,
        mou,
    }
}

#[test]
#[cfg_attr(
    not(amity_browser_tests),
    ignore = "Chromium not installed: apt-get install chromium chromium-driver (or set \
              AMITY_CHROMIUM and AMITY_CHROMEDRIVER), then rebuild (touch build.rs)"
)]
fn pages_in_headless_chromium() {
    let driver = start_driver();
    let srv = TestServer::start(Backend::Sqlite);
    let scene = build_scene(&srv);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(drive(&driver, &srv, &scene));
}

async fn drive(driver: &Driver, srv: &TestServer, scene: &Scene) {
    let s = Session::open(driver, &srv.base).await;

    // Every page renders with nothing in the console.
    let pages = [
        ("home", "/".to_string()),
        ("search", "/search?q=Berlin".to_string()),
        ("briefings", "/briefings".to_string()),
        ("city", "/cities/us-hou".to_string()),
        ("city-imported", "/cities/de-berlin".to_string()),
        ("city-markup-name", "/cities/fr-xss".to_string()),
        (
            "partnership",
            format!("/partnerships/{}", scene.partnership),
        ),
        ("mou", format!("/mous/{}", scene.mou)),
        ("log", "/log?index=3".to_string()),
        ("signin", "/signin".to_string()),
        ("api-docs", "/api/docs".to_string()),
        (
            "briefing",
            "/api/v1/cities/us-hou/briefing?format=html".to_string(),
        ),
        (
            "group-briefing",
            "/api/v1/briefings?cities=us-hou,cn-sha,de-berlin&format=html".to_string(),
        ),
        ("city-map", "/cities/de-berlin/map.svg".to_string()),
        ("not-found", "/cities/zz-nowhere".to_string()),
    ];
    for (name, path) in &pages {
        s.visit(path).await;
        if *name != "not-found" {
            s.assert_clean_console(path).await;
        } else {
            // The browser reports the 404 status itself; only that one line is allowed.
            let log = s.client.issue_cmd(BROWSER_LOG).await.expect("browser log");
            let unexpected: Vec<&Value> = log
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["level"] == "SEVERE")
                .filter(|e| !e["message"].as_str().unwrap_or_default().contains("404"))
                .collect();
            assert!(unexpected.is_empty(), "{unexpected:#?}");
        }
        s.screenshot(name).await;
    }

    // The markup in a city's name is text on the page, not an element.
    s.visit("/cities/fr-xss").await;
    assert_eq!(s.text("h1").await, "<script>alert(1)</script>");
    let scripts = s
        .client
        .execute("return document.scripts.length;", vec![])
        .await
        .expect("count scripts");
    assert_eq!(scripts, json!(0));

    // The home page: counts of the real registry and the whole map, drawn.
    s.visit("/").await;
    // Counts are written for reading, with thousands separators (24,705).
    let shown = s.text("#count-active").await;
    assert!(shown.contains(','), "{shown}");
    let active: u64 = shown.replace(',', "").parse().expect("a count");
    assert!(active >= 24_704, "{active}");
    assert!(s.image_width("img.map").await > 0, "the world map loads");
    let map = srv.get("/map.svg").text();
    assert!(map.matches("<line").count() + map.matches("<path").count() > 100);

    // Search finds a city, and its link leads to the city page.
    s.fill("#q", "Houston").await;
    s.click("form[action='/search'] button").await;
    let results = s.wait_text("ul.results", "Houston").await;
    assert!(results.contains("Houston (US)"), "{results}");
    s.click("ul.results a[href='/cities/us-hou']").await;
    assert_eq!(s.wait_text("h1", "Houston").await, "Houston");
    assert!(s.image_width("img.map").await > 0, "the city map loads");
    assert!(
        s.image_width("img[src='/cities/us-hou/engagement.svg']")
            .await
            > 0,
        "the engagement chart loads"
    );
    let chart = srv.get("/cities/us-hou/engagement.svg").text();
    assert!(chart.contains("<rect") && chart.contains("2021"), "{chart}");
    s.assert_clean_console("city page after search").await;

    // An office signs in by pasting its token.
    s.visit("/signin").await;
    s.fill("input[name='token']", &scene.office_hou).await;
    s.click("form[action='/signin'] button").await;
    s.wait_text("main", "Signed in as office of us-hou").await;
    let cookies = s.client.get_all_cookies().await.expect("cookies");
    let session = cookies
        .iter()
        .find(|c| c.name() == "amity_session")
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    let readable = s
        .client
        .execute("return document.cookie;", vec![])
        .await
        .expect("document.cookie");
    assert!(
        !readable
            .as_str()
            .unwrap_or_default()
            .contains("amity_session"),
        "scripts cannot read the session"
    );

    // A curtailment recorded through the form appears on the timeline with its reason.
    let page = format!("/partnerships/{}", scene.partnership);
    s.visit(&page).await;
    let reason = "Exchanges suspended after the consulate closures";
    let status_form = format!("form[action='/partnerships/{}/status']", scene.partnership);
    s.set_date(
        &format!("{status_form} input[name='effective_date']"),
        "2020-07-24",
    )
    .await;
    s.fill(
        &format!("{status_form} input[name='deciding_body']"),
        "City Council",
    )
    .await;
    s.client
        .find(Locator::Css(&format!(
            "{status_form} select[name='reason_category']"
        )))
        .await
        .expect("reason category")
        .select_by_value("political")
        .await
        .expect("select");
    s.fill(&format!("{status_form} textarea[name='reason']"), reason)
        .await;
    s.screenshot("status-form").await;
    let before = srv.log_size();
    s.click(&format!("{status_form} button")).await;
    let timeline = s.wait_text("ol.timeline", reason).await;
    assert!(
        timeline.contains("2020-07-24 active → curtailed (political): ")
            && timeline.contains(reason),
        "{timeline}"
    );
    assert_eq!(srv.log_size(), before + 1);
    s.assert_clean_console("partnership after the curtailment")
        .await;
    s.screenshot("timeline").await;

    // The same form with its CSRF field removed is refused, and nothing changes.
    s.set_date(
        &format!("{status_form} input[name='effective_date']"),
        "2022-03-01",
    )
    .await;
    s.client
        .find(Locator::Css(&format!(
            "{status_form} select[name='status']"
        )))
        .await
        .expect("status")
        .select_by_value("cut_off")
        .await
        .expect("select");
    s.fill(&format!("{status_form} textarea[name='reason']"), "forged")
        .await;
    s.client
        .execute(
            "document.querySelector(arguments[0] + \" input[name='csrf']\").remove();",
            vec![json!(status_form)],
        )
        .await
        .expect("remove the CSRF field");
    s.click(&format!("{status_form} button")).await;
    s.wait_text("main", "this form is stale or did not come from this site")
        .await;
    assert_eq!(srv.log_size(), before + 1);
    s.screenshot("csrf-refused").await;

    s.client.close().await.expect("close the session");
}
