//! Abuse: a client hammering with bad tokens is slowed down without slowing anyone else,
//! every response says what it is (nosniff) and pages cannot be framed, and every cookie
//! authenticated form refuses a post without its CSRF token.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::browser_forms::{Browser, post, set_cookie};
use crate::support::{TestServer, World};

both_backends!(repeated_bad_tokens_are_rate_limited, |srv| {
    let w = World::build(&srv);
    let before = srv.log_size();
    // Ten failures a minute are answered 401 as usual (the default budget).
    let bad = |token: &str| {
        srv.send(
            "POST",
            "/api/v1/admin/cities",
            Some(token),
            Some(("application/json", b"{}".to_vec())),
        )
    };
    for i in 0..10 {
        bad(&format!("guess-{i}")).assert_problem(401, "invalid_token");
    }
    // Beyond that, 429 with Retry-After, for any bad token and any malformed header.
    let r = bad("guess-10");
    let body = r.assert_problem(429, "too_many_auth_failures");
    let wait: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(body["retry_after"], wait);
    let r = srv.send_with(
        "POST",
        "/api/v1/admin/cities",
        &[("Authorization", "Basic x")],
        vec![],
    );
    r.assert_problem(429, "too_many_auth_failures");
    // Pasting bad tokens into the sign-in form counts too.
    let page = srv.get("/signin");
    let csrf = set_cookie(&page, "amity_csrf").expect("csrf cookie");
    let r = post(
        &srv,
        "/signin",
        &format!("amity_csrf={csrf}"),
        &[("csrf", &csrf), ("token", "guess-11")],
    );
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());

    // Good clients from the same address are not slowed: valid tokens, anonymous reads, and
    // a sign-in with a valid token all go through at once.
    let started = Instant::now();
    let mou = crate::signing::create_mou(&srv, &w.a, &w.partnership);
    for _ in 0..20 {
        assert_eq!(srv.get_as(&format!("/api/v1/mous/{mou}"), &w.b).status, 200);
    }
    let r = srv.post(
        "/api/v1/admin/cities",
        Some(&w.admin),
        &json!({"code": "fr-lyo", "name": "Lyon", "country": "FR"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(srv.get("/api/v1/cities/fr-lyo").status, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    let b = Browser::sign_in(&srv, &w.a);
    assert!(!b.cookies.is_empty());
    assert_eq!(srv.log_size(), before + 2);
});

/// Every page (as a visitor and as a signed-in office), a picture, the stylesheet, an HTML
/// error page and API answers, good and bad.
fn every_response(srv: &TestServer, w: &World) -> Vec<(String, crate::support::Reply, bool)> {
    let mou = crate::signing::create_mou(srv, &w.a, &w.partnership);
    let pages = [
        "/".to_string(),
        "/search?q=hou".into(),
        "/log".into(),
        "/signin".into(),
        "/cities/us-hou".into(),
        format!("/partnerships/{}", w.partnership),
        format!("/mous/{mou}"),
        "/cities/nowhere".into(),
        "/partnerships/nothing".into(),
    ];
    let browser = Browser::sign_in(srv, &w.a);
    let mut out = Vec::new();
    for p in &pages {
        out.push((p.clone(), srv.get(p), true));
        out.push((format!("{p} (signed in)"), browser.get(srv, p), true));
    }
    for p in [
        "/map.svg",
        "/cities/us-hou/map.svg",
        "/cities/us-hou/engagement.svg",
        "/assets/amity.css",
        "/healthz",
        "/api/v1/cities",
        "/api/v1/openapi.json",
        "/api/v1/nothing",
        "/api/v1/log/entries/abc",
        "/api/v1/log/checkpoint",
    ] {
        out.push((p.to_string(), srv.get(p), false));
    }
    out.push((
        "bad token".into(),
        srv.get_as("/api/v1/mous/nothing", "not-a-token"),
        false,
    ));
    out.push((
        "malformed JSON".into(),
        srv.send(
            "POST",
            "/api/v1/admin/cities",
            Some(&w.admin),
            Some(("application/json", b"{".to_vec())),
        ),
        false,
    ));
    out.push((
        "wrong method".into(),
        srv.send("DELETE", "/api/v1/cities", None, None),
        false,
    ));
    out
}

both_backends!(security_headers_on_every_response, |srv| {
    let w = World::build(&srv);
    for (what, r, is_page) in every_response(&srv, &w) {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}: {:?}",
            r.headers
        );
        if !is_page {
            continue;
        }
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{what}: {csp}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
        // No inline script or handler that the CSP would have to allow.
        let html = r.text().to_lowercase();
        assert!(!html.contains("<script"), "{what}");
        assert!(
            !html.contains(" onclick=") && !html.contains(" onload="),
            "{what}"
        );
    }
});

/// (route template, path, fields other than the CSRF token).
type FormRoute<'a> = (&'a str, String, &'a [(&'a str, &'a str)]);

/// The form actions on a page, with ids and codes replaced by their route parameters.
fn form_routes(html: &str, w: &World) -> Vec<String> {
    html.split("<form ")
        .skip(1)
        .filter(|f| f.starts_with("method=\"post\""))
        .filter_map(|f| f.split("action=\"").nth(1)?.split('"').next())
        .map(|a| {
            a.replace(&w.partnership, "{id}")
                .replace("/cities/us-hou/", "/cities/{code}/")
        })
        .collect()
}

both_backends!(
    every_cookie_form_refuses_a_post_without_its_csrf_token,
    |srv| {
        let w = World::build(&srv);
        let id = w.partnership.clone();
        srv.post(
            &format!("/api/v1/partnerships/{id}/confirm"),
            Some(&w.b),
            &json!({}),
        );
        let a = Browser::sign_in(&srv, &w.a);
        let session_only = a
            .cookies
            .split("; ")
            .find(|c| c.starts_with("amity_session="))
            .expect("session cookie")
            .to_string();

        // Each form post route, with fields that would succeed with the right token.
        let status_fields = [
            ("status", "curtailed"),
            ("effective_date", "2020-07-24"),
            ("decided_date", "2020-07-22"),
            ("deciding_body", "City Council"),
            ("reason_category", "political"),
            ("reason", "Consulates closed"),
        ];
        let activity_fields = [
            ("kind", "virtual_meeting"),
            ("mode", "virtual"),
            ("start_date", "2020-11-20"),
            ("participants", "30"),
            ("outcome", "Plan"),
        ];
        let propose_fields = [("partner", "de-ber"), ("kind", "friendship")];
        let signin_fields = [("token", w.b.as_str())];
        let forms: Vec<FormRoute> = vec![
            ("/signin", "/signin".into(), &signin_fields),
            ("/signout", "/signout".into(), &[]),
            (
                "/partnerships/{id}/status",
                format!("/partnerships/{id}/status"),
                &status_fields,
            ),
            (
                "/partnerships/{id}/activities",
                format!("/partnerships/{id}/activities"),
                &activity_fields,
            ),
            (
                "/cities/{code}/propose",
                "/cities/us-hou/propose".into(),
                &propose_fields,
            ),
        ];

        // The list is complete: every form the pages show posts to one of these routes, and
        // every one of these routes is shown by some page.
        let mut shown: Vec<String> = Vec::new();
        for page in ["/signin", "/cities/us-hou", &format!("/partnerships/{id}")] {
            shown.extend(form_routes(&a.get(&srv, page).text(), &w));
        }
        shown.extend(form_routes(&srv.get("/signin").text(), &w));
        shown.sort();
        shown.dedup();
        let mut tested: Vec<String> = forms.iter().map(|(t, _, _)| t.to_string()).collect();
        tested.sort();
        assert_eq!(shown, tested, "a form route is not covered by this test");

        let before = srv.log_size();
        for (template, path, fields) in &forms {
            fn with<'a>(
                fields: &[(&'a str, &'a str)],
                csrf: Option<&'a str>,
            ) -> Vec<(&'a str, &'a str)> {
                let mut f = fields.to_vec();
                if let Some(c) = csrf {
                    f.push(("csrf", c));
                }
                f
            }
            let with = |csrf: Option<&'static str>| with(fields, csrf);
            let attempts = [
                ("no token", a.cookies.clone(), with(None)),
                ("empty token", a.cookies.clone(), with(Some(""))),
                (
                    "another token",
                    a.cookies.clone(),
                    with(Some("amity_not-the-right-one-not-the-right-one-xx")),
                ),
                ("token without its cookie", session_only.clone(), {
                    let mut f = fields.to_vec();
                    f.push(("csrf", a.csrf.as_str()));
                    f
                }),
            ];
            for (what, cookies, f) in attempts {
                let r = post(&srv, path, &cookies, &f);
                assert!(
                    r.status == 403 || r.status == 400,
                    "{template} with {what}: {} {}",
                    r.status,
                    r.text()
                );
                assert!(
                    r.header("set-cookie")
                        .is_none_or(|c| !c.starts_with("amity_session=")),
                    "{template} with {what} touched the session"
                );
            }
        }
        assert_eq!(srv.log_size(), before, "a forged form wrote to the log");
        // Still signed in (sign-out was refused) and the forms still work with the token.
        let r = a.post(&srv, &format!("/partnerships/{id}/status"), &{
            let mut f = status_fields.to_vec();
            f.push(("csrf", &a.csrf));
            f
        });
        assert_eq!(r.status, 303, "{}", r.text());
        assert_eq!(srv.log_size(), before + 1);
    }
);
