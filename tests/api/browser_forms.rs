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

/// A `multipart/form-data` body the way a browser sends the upload forms: the plain fields
/// first (the hidden CSRF field among them), then the file.
fn multipart(
    fields: &[(&str, &str)],
    filename: &str,
    media_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "----amity-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

both_backends!(an_office_uploads_an_mou_version_from_the_browser, |srv| {
    let w = World::build(&srv);
    let mou = crate::signing::create_mou(&srv, &w.a, &w.partnership);
    let page_path = format!("/mous/{mou}");
    let action = format!("/mous/{mou}/versions");
    assert!(
        !srv.get(&page_path)
            .text()
            .contains("Upload the next version")
    );

    let a = Browser::sign_in(&srv, &w.a);
    let page = a.get(&srv, &page_path).text();
    assert!(
        page.contains("Upload the next version (as the office of us-hou)")
            && page.contains(r#"enctype="multipart/form-data""#),
        "{page}"
    );
    let document = b"Memorandum of Understanding between Houston and Shanghai\n".to_vec();
    let upload = |b: &Browser, csrf: Option<&str>, filename: &str| {
        let fields: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
        let (content_type, body) = multipart(&fields, filename, "text/plain", &document);
        srv.send_with(
            "POST",
            &action,
            &[("Cookie", &b.cookies), ("Content-Type", &content_type)],
            body,
        )
    };

    let before = srv.log_size();
    // Without the CSRF field, or with a wrong one, nothing is stored.
    assert_eq!(upload(&a, None, "mou.txt").status, 403);
    assert_eq!(
        upload(
            &a,
            Some("amity_not-the-right-one-not-the-right-one-xx"),
            "mou.txt"
        )
        .status,
        403
    );
    // A file name that tries to climb out of its directory is refused by the API's rule.
    assert_eq!(upload(&a, Some(&a.csrf), "../../etc/passwd").status, 422);
    // An office of a city that is not a party may not upload.
    let c = Browser::sign_in(&srv, &w.c);
    assert!(
        !c.get(&srv, &page_path)
            .text()
            .contains("Upload the next version")
    );
    assert_eq!(upload(&c, Some(&c.csrf), "mou.txt").status, 403);
    assert_eq!(srv.log_size(), before);

    let r = upload(&a, Some(&a.csrf), "mou-en.txt");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some(page_path.as_str()));
    assert_eq!(srv.log_size(), before + 1);
    let page = a.get(&srv, &page_path).text();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&document))
    };
    assert!(
        page.contains("mou-en.txt") && page.contains(&digest),
        "{page}"
    );
    // The API sees the same version, byte for byte.
    let v = srv.get_as(&format!("/api/v1/mous/{mou}"), &w.a).json();
    assert_eq!(v["versions"][0]["sha256"], digest.as_str());
    // The same bytes again are refused as identical to the current version.
    assert_eq!(upload(&a, Some(&a.csrf), "mou-en.txt").status, 409);
});

both_backends!(an_office_attaches_evidence_from_the_browser, |srv| {
    let w = World::build(&srv);
    let r = srv.post(
        &format!("/api/v1/partnerships/{}/activities", w.partnership),
        Some(&w.a),
        &serde_json::json!({"kind": "exchange", "mode": "hybrid", "start_date": "2021-09-01"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let activity = r.json()["id"].as_str().unwrap().to_string();
    // A second partnership with its own activity, to try attaching across pages.
    let other = srv.propose(&w.a, "us-hou", "de-ber");
    let r = srv.post(
        &format!("/api/v1/partnerships/{other}/activities"),
        Some(&w.a),
        &serde_json::json!({"kind": "aid", "mode": "virtual", "start_date": "2021-09-02"}),
    );
    let foreign = r.json()["id"].as_str().unwrap().to_string();

    let page_path = format!("/partnerships/{}", w.partnership);
    let action = format!("{page_path}/evidence");
    let a = Browser::sign_in(&srv, &w.a);
    let page = a.get(&srv, &page_path).text();
    assert!(page.contains("Attach evidence to an activity"), "{page}");
    assert!(
        page.contains(&format!(r#"option value="{activity}""#)),
        "{page}"
    );
    let report = b"Exchange report, September 2021\n".to_vec();
    let attach = |b: &Browser, fields: &[(&str, &str)]| {
        let (content_type, body) = multipart(fields, "report.txt", "text/plain", &report);
        srv.send_with(
            "POST",
            &action,
            &[("Cookie", &b.cookies), ("Content-Type", &content_type)],
            body,
        )
    };
    let before = srv.log_size();
    assert_eq!(attach(&a, &[("activity", &activity)]).status, 403);
    assert_eq!(
        attach(
            &a,
            &[
                ("csrf", "amity_wrong-wrong-wrong-wrong-wrong-x"),
                ("activity", &activity)
            ]
        )
        .status,
        403
    );
    // An activity of another partnership cannot be reached through this page.
    assert_eq!(
        attach(&a, &[("csrf", &a.csrf), ("activity", &foreign)]).status,
        404
    );
    let c = Browser::sign_in(&srv, &w.c);
    assert_eq!(
        attach(&c, &[("csrf", &c.csrf), ("activity", &activity)]).status,
        403
    );
    assert_eq!(srv.log_size(), before);

    let r = attach(&a, &[("csrf", &a.csrf), ("activity", &activity)]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(srv.log_size(), before + 1);
    assert!(a.get(&srv, &page_path).text().contains("report.txt"));
    let list = srv
        .get(&format!("/api/v1/activities/{activity}/evidence"))
        .json();
    assert_eq!(list[0]["filename"], "report.txt");
});
