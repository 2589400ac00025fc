//! The web pages over HTTP: every page renders, escapes what users supplied, and the pictures
//! are present and non-empty.

use serde_json::json;

use crate::both_backends;
use crate::support::{TestServer, status_body};

fn page(srv: &TestServer, path: &str) -> String {
    let r = srv.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{path}"
    );
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{path}: {csp}"
    );
    r.text()
}

both_backends!(every_page_renders_and_escapes, |srv| {
    let (w, mou) = crate::audit::signed_registry(&srv);
    srv.city(&w.admin, "fr-xss", "<script>alert(1)</script>");
    let xss = srv.office(&w.admin, "fr-xss");
    srv.propose(&xss, "fr-xss", "us-hou");
    let id = &w.partnership;
    srv.post(
        &format!("/api/v1/partnerships/{id}/status"),
        Some(&w.b),
        &status_body("curtailed", Some("Exchanges <b>suspended</b>")),
    );
    srv.post(
        &format!("/api/v1/partnerships/{id}/activities"),
        Some(&w.a),
        &json!({"kind": "virtual_meeting", "mode": "virtual", "start_date": "2020-04-02", "outcome": "Joint plan"}),
    );

    // The briefings page: no group yet, then an admin's group with <markup> in its name; each
    // link it gives answers.
    let briefings = page(&srv, "/briefings");
    assert!(briefings.contains("No named group yet"), "{briefings}");
    let r = srv.post(
        "/api/v1/city-groups",
        Some(&w.admin),
        &json!({"name": "Ports <b>two</b>", "cities": ["us-hou", "cn-sha"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let group = r.json()["id"].as_str().unwrap().to_string();
    let briefings = page(&srv, "/briefings");
    assert!(
        briefings.contains("Ports &lt;b&gt;two&lt;/b&gt;") && !briefings.contains("<b>two"),
        "{briefings}"
    );
    assert!(briefings.contains("Western Europe") && briefings.contains("the administrators"));
    for link in [
        format!("/api/v1/briefings?group={group}&format=pdf"),
        "/api/v1/briefings?region=northern-america&format=html".to_string(),
        "/api/v1/briefings?region=eastern-asia&format=csv".to_string(),
    ] {
        let href = format!("href=\"{}\"", link.replace('&', "&amp;"));
        assert!(briefings.contains(&href), "{href} not in the page");
        assert_eq!(srv.get(&link).status, 200, "{link}");
    }

    let home = page(&srv, "/");
    assert!(
        home.contains(r#"<td id="count-curtailed">1</td>"#),
        "{home}"
    );
    assert!(home.contains(r#"src="/map.svg""#));
    let found = page(&srv, "/search?q=hou");
    assert!(found.contains(r#"href="/cities/us-hou""#), "{found}");
    let found = page(&srv, "/search?q=%3Cscript");
    assert!(
        found.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !found.contains("<script>"),
        "{found}"
    );

    let city = page(&srv, "/cities/us-hou");
    assert!(
        city.contains("Shanghai") && city.contains(r#"class="curtailed""#),
        "{city}"
    );
    assert!(
        city.contains("/cities/us-hou/map.svg") && city.contains("/cities/us-hou/engagement.svg")
    );
    assert!(
        city.contains("&lt;script&gt;") && !city.contains("<script>"),
        "{city}"
    );

    let p = page(&srv, &format!("/partnerships/{id}"));
    assert!(p.contains("Exchanges &lt;b&gt;suspended&lt;/b&gt;"), "{p}");
    assert!(
        p.contains("Joint plan") && p.contains(&format!("/mous/{mou}")),
        "{p}"
    );
    let m = page(&srv, &format!("/mous/{mou}"));
    assert!(m.contains(r#"<span class="pass">pass</span>"#), "{m}");
    assert!(m.contains(&format!("/api/v1/mous/{mou}/bundle")));
    let log = page(&srv, "/log?index=0");
    assert!(
        log.contains("amity.localhost") && log.contains("token.issued"),
        "{log}"
    );

    for (path, element) in [
        ("/map.svg".to_string(), "<path class=\"curtailed\""),
        (
            "/cities/us-hou/map.svg".to_string(),
            "<path class=\"curtailed\"",
        ),
        (
            "/cities/us-hou/engagement.svg".to_string(),
            "<rect class=\"virtual\"",
        ),
    ] {
        let r = srv.get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        assert!(r.text().contains(element), "{path}: {}", r.text());
    }

    let missing = srv.get("/cities/xx-none");
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(srv.get("/partnerships/none").status, 404);
    assert_eq!(srv.get("/mous/none").status, 404);
    let css = srv.get("/assets/amity.css");
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
});

both_backends!(the_registry_map_stays_bounded_with_the_real_data, |srv| {
    let admin = srv.admin();
    srv.import_data_set(&admin);
    let map = srv.get("/map.svg").text();
    let lines = map.matches("<path class=\"").count();
    assert_eq!(lines, amity::web::svg::MAX_MAP_LINES);
    assert!(
        map.contains("showing 2,500 of 24,704 partnerships"),
        "{}",
        &map[map.len() - 300..]
    );
    let berlin = srv.get("/cities/de-berlin/map.svg").text();
    // Imported ties have no recorded activity: on the city's map they are active and dormant.
    assert!(berlin.matches("<path class=\"active dormant\"").count() > 10);
    let home = page(&srv, "/");
    assert!(
        home.contains("24,704 partnerships between 17,117 cities"),
        "{home}"
    );
});
