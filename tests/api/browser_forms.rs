//! Signing in from a browser and writing through forms, over plain HTTP: cookies, the CSRF
//! double submit, and the same rules as the API.

use crate::both_backends;
use crate::support::{Reply, TestServer, World};

pub fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The value of a cookie the response sets.
pub fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| {
            let first = v.split(';').next()?;
            let (k, value) = first.split_once('=')?;
            (k == name).then(|| value.to_string())
        })
}

/// A browser: its cookies, signed in with `token`.
pub struct Browser {
    pub csrf: String,
    pub cookies: String,
}

impl Browser {
    pub fn sign_in(srv: &TestServer, token: &str) -> Browser {
        let page = srv.get("/signin");
        assert_eq!(page.status, 200);
        let csrf = set_cookie(&page, "amity_csrf").expect("csrf cookie");
        let cookie_header = format!("amity_csrf={csrf}");
        let r = post(
            srv,
            "/signin",
            &cookie_header,
            &[("csrf", &csrf), ("token", token)],
        );
        assert_eq!(r.status, 303, "{}", r.text());
        let set = r
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("amity_session="))
            .map(|(_, v)| v.clone())
            .expect("session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let session = set_cookie(&r, "amity_session").unwrap();
        Browser {
            csrf: csrf.clone(),
            cookies: format!("amity_csrf={csrf}; amity_session={session}"),
        }
    }

    pub fn get(&self, srv: &TestServer, path: &str) -> Reply {
        srv.send_with("GET", path, &[("Cookie", &self.cookies)], Vec::new())
    }

    pub fn post(&self, srv: &TestServer, path: &str, fields: &[(&str, &str)]) -> Reply {
        post(srv, path, &self.cookies, fields)
    }
}

pub fn post(srv: &TestServer, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Reply {
    srv.send_with(
        "POST",
        path,
        &[
            ("Cookie", cookies),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form(fields),
    )
}

both_backends!(an_office_records_a_curtailment_from_the_browser, |srv| {
    let w = World::build(&srv);
    let id = w.partnership.clone();
    srv.post(
        &format!("/api/v1/partnerships/{id}/confirm"),
        Some(&w.b),
        &serde_json::json!({}),
    );
    let page_path = format!("/partnerships/{id}");

    // Anonymous visitors see no form.
    assert!(
        !srv.get(&page_path)
            .text()
            .contains("Record a status change")
    );

    let a = Browser::sign_in(&srv, &w.a);
    let page = a.get(&srv, &page_path).text();
    assert!(
        page.contains("Record a status change (as the office of us-hou)"),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"name="csrf" value="{}""#, a.csrf)),
        "{page}"
    );

    let before = srv.log_size();
    let fields = [
        ("csrf", a.csrf.as_str()),
        ("status", "curtailed"),
        ("effective_date", "2020-07-24"),
        ("decided_date", "2020-07-22"),
        ("deciding_body", "City Council"),
        ("reason_category", "political"),
        ("reason", "Consulate closures & exchanges <suspended>"),
    ];
    // A form without the CSRF token, or with another one, is refused and changes nothing.
    let mut forged = fields.to_vec();
    forged[0] = ("csrf", "");
    assert_eq!(
        a.post(&srv, &format!("/partnerships/{id}/status"), &forged)
            .status,
        403
    );
    forged[0] = ("csrf", "amity_not-the-right-one-not-the-right-one-xx");
    assert_eq!(
        a.post(&srv, &format!("/partnerships/{id}/status"), &forged)
            .status,
        403
    );
    assert_eq!(srv.log_size(), before);

    let r = a.post(&srv, &format!("/partnerships/{id}/status"), &fields);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(page_path.as_str()));
    let page = a.get(&srv, &page_path).text();
    assert!(
        page.contains("Consulate closures &amp; exchanges &lt;suspended&gt;"),
        "{page}"
    );
    assert_eq!(srv.log_size(), before + 1);

    // The same rules as the API: a missing reason is refused with its message.
    let mut no_reason = fields.to_vec();
    no_reason[1] = ("status", "cut_off");
    no_reason[6] = ("reason", "");
    let r = a.post(&srv, &format!("/partnerships/{id}/status"), &no_reason);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("needs a `reason` text"), "{}", r.text());

    let r = a.post(
        &srv,
        &format!("/partnerships/{id}/activities"),
        &[
            ("csrf", &a.csrf),
            ("kind", "virtual_meeting"),
            ("mode", "virtual"),
            ("start_date", "2020-11-20"),
            ("participants", "30"),
            ("outcome", "Joint climate plan"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(
        a.get(&srv, &page_path)
            .text()
            .contains("Joint climate plan")
    );

    // An office of another city signs in but may not write here.
    let c = Browser::sign_in(&srv, &w.c);
    assert!(
        !c.get(&srv, &page_path)
            .text()
            .contains("Record a status change")
    );
    let r = c.post(
        &srv,
        &format!("/partnerships/{id}/status"),
        &[
            ("csrf", &c.csrf),
            ("status", "cut_off"),
            ("effective_date", "2022-01-01"),
            ("reason_category", "other"),
            ("reason", "x"),
        ],
    );
    assert_eq!(r.status, 403);

    // A bad token does not sign anyone in.
    let page = srv.get("/signin");
    let csrf = set_cookie(&page, "amity_csrf").unwrap();
    let r = post(
        &srv,
        "/signin",
        &format!("amity_csrf={csrf}"),
        &[("csrf", &csrf), ("token", "amity_nope")],
    );
    assert_eq!(r.status, 401);
    assert!(set_cookie(&r, "amity_session").is_none());
});

both_backends!(an_office_proposes_a_partnership_from_the_browser, |srv| {
    let w = World::build(&srv);
    let b = Browser::sign_in(&srv, &w.b);
    // Only on its own city's page.
    assert!(
        !b.get(&srv, "/cities/us-hou")
            .text()
            .contains("Propose a partnership")
    );
    assert!(
        b.get(&srv, "/cities/cn-sha")
            .text()
            .contains("Propose a partnership")
    );
    let before = srv.log_size();
    let r = b.post(
        &srv,
        "/cities/cn-sha/propose",
        &[
            ("partner", "de-ber"),
            ("kind", "friendship"),
            ("established", "1994"),
            ("csrf", ""),
        ],
    );
    assert_eq!(r.status, 403);
    let r = b.post(
        &srv,
        "/cities/cn-sha/propose",
        &[
            ("csrf", &b.csrf),
            ("partner", "cn-sha"),
            ("kind", "friendship"),
        ],
    );
    assert_eq!(r.status, 422, "a city with itself: {}", r.text());
    assert_eq!(srv.log_size(), before);
    let r = b.post(
        &srv,
        "/cities/cn-sha/propose",
        &[
            ("csrf", &b.csrf),
            ("partner", "de-ber"),
            ("kind", "friendship"),
            ("established", "1994"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    let page = b.get(&srv, &location).text();
    assert!(
        page.contains("cn-sha") && page.contains("de-ber") && page.contains("since 1994"),
        "{page}"
    );
    assert_eq!(srv.log_size(), before + 1);
    // Proposing for two other cities is refused.
    let r = b.post(
        &srv,
        "/cities/us-hou/propose",
        &[("csrf", &b.csrf), ("partner", "de-ber"), ("kind", "sister")],
    );
    assert_eq!(r.status, 403);
});
