//! E-mail to signatories end to end (docs/notifications.md): contacts kept by the offices and
//! out of the log; a signing request reaches each signatory asked through a real SMTP server
//! (aiosmtpd, started here) that was down at first, with the signatory's signing link; a
//! decline reaches the others, and the decliner gets the notice that their key was used.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use amity::domain::dates::Clock;
use serde_json::json;

use crate::signing::{Signatory, create_mou, decline_request, enroll, upload};
use crate::support::{Backend, TestServer, World};
use crate::{both_backends, on_both_backends};

/// The Python with aiosmtpd (CI gives one; locally the test says it is left to CI).
fn python() -> Option<String> {
    match std::env::var("AMITY_TEST_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set AMITY_TEST_PYTHON to a Python with `aiosmtpd` (.ci/run)")
        }
        Err(_) => {
            eprintln!("AMITY_TEST_PYTHON unset: the SMTP delivery test is left to CI");
            None
        }
    }
}

/// The SMTP server, killed when dropped.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sink(python: &str, port: u16, dir: &Path) -> Sink {
    let mut child = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/smtp_sink.py"))
        .arg(port.to_string())
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the SMTP sink starts");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).expect("ready");
    assert_eq!(line.trim(), "ready");
    Sink(child)
}

fn mails(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn wait_for(dir: &Path, n: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let got = mails(dir);
        if got.len() >= n {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} of {n} e-mails arrived",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Quoted-printable soft line breaks and `=3D` undone, enough to search the text part.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

fn signatories_get_their_mail(backend: Backend) {
    let Some(python) = python() else { return };
    let free = TcpListener::bind("127.0.0.1:0").expect("binds");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Clock::shifted(offset.clone());
    let srv = TestServer::start_with(backend, |s| {
        s.clock = clock;
        s.outbox_poll_ms = 20;
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.public_url = "https://amity.example".into();
    });
    let w = World::build(&srv);
    let mut mayor_a = Signatory::new(41, "mayor@us-hou", &w.a);
    let mut mayor_b = Signatory::new(42, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut mayor_a);
    enroll(&srv, &w.admin, &mut mayor_b);
    for (office, city, signer, email) in [
        (&w.a, "us-hou", "mayor@us-hou", "mayor@houston.example"),
        (&w.b, "cn-sha", "mayor@cn-sha", "mayor@shanghai.example"),
    ] {
        let r = srv.post(
            &format!("/api/v1/cities/{city}/contacts/{signer}"),
            Some(office),
            &json!({"email": email}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"Friendship MOU").status, 201);
    let doc = srv.get(&format!("/api/v1/mous/{mou}")).json()["versions"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = chrono::Utc::now() + chrono::Duration::days(9);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(&w.a),
        &json!({"deadline": deadline.to_rfc3339(), "requests": [
            {"signer": "mayor@us-hou", "group": 1}, {"signer": "mayor@cn-sha", "group": 2}
        ]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let request_b = r.json()["requests"][1]["id"].as_str().unwrap().to_string();
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests/{request_b}/signing-link"),
        Some(&w.b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let link_b = r.json()["url"].as_str().unwrap().to_string();
    assert!(
        link_b.starts_with("https://amity.example/sign/"),
        "{link_b}"
    );

    // The SMTP server is down: the attempts fail, and the mail waits for the next one.
    std::thread::sleep(Duration::from_millis(400));
    let dir = srv.db.dir.path().join("mail");
    std::fs::create_dir_all(&dir).unwrap();
    let _sink = start_sink(&python, port, &dir);
    std::thread::sleep(Duration::from_millis(200));
    assert!(mails(&dir).is_empty(), "sent before the retry was due");
    offset.fetch_add(10_000_000, Ordering::SeqCst);
    let got = wait_for(&dir, 2);
    let to_shanghai = got
        .iter()
        .map(|m| unfold(m))
        .find(|m| m.starts_with("RCPT mayor@shanghai.example"))
        .expect("a request to Shanghai's mayor");
    for needle in [
        "Subject: Please sign: Memorandum of Understanding on Friendship",
        "To: mayor@shanghai.example",
        "multipart/alternative",
        "text/html",
        &doc,
        "in group 2",
        "https://amity.example/mous/",
        &deadline.format("%Y-%m-%dT%H:%M:%S").to_string(),
        // The signing link, the one the office is given for the same request.
        &link_b,
    ] {
        assert!(
            to_shanghai.contains(needle),
            "{needle} not in:\n{to_shanghai}"
        );
    }

    // Shanghai's office also subscribes to key-use notices: the notice then goes both ways,
    // to the mayor's address and to the office's endpoint (one read finds both).
    let r = srv.post(
        "/api/v1/cities/cn-sha/webhooks",
        Some(&w.b),
        &json!({"url": "https://hooks.example.org/amity", "event_types": ["key.used"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let hook = r.json()["endpoint"]["id"].as_str().unwrap().to_string();

    // Shanghai's mayor declines: Houston's mayor hears why.
    let r = decline_request(
        &srv,
        &mayor_b,
        &mou,
        &request_b,
        "The council has not voted yet",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // ... and Shanghai's mayor gets the notice that their key was used.
    let got: Vec<String> = wait_for(&dir, 4)[2..].iter().map(|m| unfold(m)).collect();
    let declined = got
        .iter()
        .find(|m| m.starts_with("RCPT mayor@houston.example"))
        .expect("the decline reaches Houston's mayor");
    assert!(
        declined.contains("Subject: Declined: Memorandum"),
        "{declined}"
    );
    assert!(
        declined.contains("The council has not voted yet"),
        "{declined}"
    );
    let notice = got
        .iter()
        .find(|m| m.starts_with("RCPT mayor@shanghai.example"))
        .expect("a key-use notice to Shanghai's mayor");
    for needle in [
        "Subject: Your key was used to decline: Memorandum",
        &mayor_b.fingerprint(),
        "by your city's office",
    ] {
        assert!(notice.contains(needle), "{needle} not in:\n{notice}");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mails(&dir).len(), 4, "nobody else was written to");
    let messages = srv
        .get_as(&format!("/api/v1/webhooks/{hook}/messages"), &w.b)
        .json();
    let items = messages["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{messages:#}");
    assert_eq!(items[0]["event_type"], "key.used");
}

on_both_backends!(signatories_get_their_mail);

both_backends!(contacts_are_the_offices_and_stay_out_of_the_log, |srv| {
    let w = World::build(&srv);
    let path = "/api/v1/cities/us-hou/contacts/mayor@us-hou";
    let size = srv.log_size();
    let r = srv.post(path, Some(&w.a), &json!({"email": "mayor@houston.example"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.log_size(), size, "contacts are not in the public log");
    let r = srv.post(
        path,
        Some(&w.admin),
        &json!({"email": "office@houston.example"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = srv.get_as("/api/v1/cities/us-hou/contacts", &w.a);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()[0]["email"], "office@houston.example");
    srv.post(path, Some(&w.b), &json!({"email": "x@example.org"}))
        .assert_problem(403, "not_your_city");
    srv.get_as("/api/v1/cities/us-hou/contacts", &w.b)
        .assert_problem(403, "not_your_city");
    srv.post(path, None, &json!({"email": "x@example.org"}))
        .assert_problem(401, "authentication_required");
    for bad in ["not an address", "a@", "@b.org", "two@a.org,three@b.org"] {
        srv.post(path, Some(&w.a), &json!({"email": bad}))
            .assert_problem(422, "invalid_email");
    }
    srv.post(
        "/api/v1/cities/us-hou/contacts/mayor@cn-sha",
        Some(&w.a),
        &json!({"email": "x@example.org"}),
    )
    .assert_problem(422, "signer_city_mismatch");
    srv.post(
        "/api/v1/cities/us-hou/contacts/Mayor",
        Some(&w.a),
        &json!({"email": "x@example.org"}),
    )
    .assert_problem(422, "invalid_body");
});
