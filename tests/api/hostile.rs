//! Hostile input: what an attacker or a broken client sends. Each refusal is a problem
//! document with a stable code (or, for slow and idle clients, a bounded close), and nothing
//! changes: the log does not grow.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Backend, TestServer, World};
use crate::{both_backends, both_backends_with};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

fn connect(srv: &TestServer) -> TcpStream {
    let addr = srv.base.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    s
}

/// Reads until the server closes; returns what it sent (empty when it closed without a word).
fn read_to_close(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server neither answered nor closed: {e}"),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn post_city(srv: &TestServer, admin: &str, body: Vec<u8>) -> crate::support::Reply {
    srv.send(
        "POST",
        "/api/v1/admin/cities",
        Some(admin),
        Some(("application/json", body)),
    )
}

both_backends!(hostile_json_is_refused_and_changes_nothing, |srv| {
    let w = World::build(&srv);
    let admin = w.admin.clone();
    let mou = crate::signing::create_mou(&srv, &w.a, &w.partnership);
    let before = srv.log_size();
    let cities = srv.get("/api/v1/cities?limit=500").json()["items"].clone();

    // 30,000 levels of nesting (60 KB, under the body limit): refused at the first bracket,
    // where a city was expected, and 5,000 levels where a value is parsed: refused at
    // serde_json's depth limit of 128, never a stack overflow.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    post_city(&srv, &admin, deep.into_bytes()).assert_problem(422, "invalid_body");
    // A signing statement is read as free JSON first (to check its canonical form); 1,500
    // levels under a known key are skipped without recursing, and the statement is refused
    // for what it lacks.
    let deep_statement = format!("{{\"action\":{}1{}}}", "[".repeat(1_500), "]".repeat(1_500));
    let r = crate::signing::submit(&srv, &w.a, &mou, deep_statement.as_bytes(), "x");
    r.assert_problem(422, "missing_key");

    // Invalid UTF-8 inside a string and as a bare byte.
    let mut bad_utf8 = b"{\"code\":\"us-aab\",\"name\":\"Hou".to_vec();
    bad_utf8.extend_from_slice(&[0xff, 0xfe]);
    bad_utf8.extend_from_slice(b"\",\"country\":\"US\"}");
    post_city(&srv, &admin, bad_utf8).assert_problem(400, "malformed_json");
    post_city(&srv, &admin, vec![0xc3, 0x28]).assert_problem(400, "malformed_json");
    // An unpaired surrogate escape is not a character either.
    post_city(
        &srv,
        &admin,
        br#"{"code":"us-aac","name":"\ud800","country":"US"}"#.to_vec(),
    )
    .assert_problem(400, "malformed_json");

    // Numbers beyond i64 and beyond f64.
    for n in [
        "9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999999",
    ] {
        let body = format!(r#"{{"code":"us-aad","name":"N","country":"US","geonames_id":{n}}}"#);
        post_city(&srv, &admin, body.into_bytes()).assert_problem(422, "invalid_body");
    }
    let body = r#"{"code":"us-aae","name":"N","country":"US","lat":1e400,"lon":0}"#;
    post_city(&srv, &admin, body.as_bytes().to_vec()).assert_problem(400, "malformed_json");
    srv.get("/api/v1/cities?limit=99999999999999999999")
        .assert_problem(400, "invalid_query");

    // Duplicate keys: the second "code" must not silently win over the first.
    let dup = r#"{"code":"us-aaf","code":"us-aag","name":"Dup","country":"US"}"#;
    post_city(&srv, &admin, dup.as_bytes().to_vec()).assert_problem(422, "invalid_body");
    let dup_nested = r#"{"cities":["us-hou","cn-sha"],"kind":"sister","kind":"friendship"}"#;
    srv.send(
        "POST",
        "/api/v1/partnerships",
        Some(&w.a),
        Some(("application/json", dup_nested.as_bytes().to_vec())),
    )
    .assert_problem(422, "invalid_body");

    assert_eq!(srv.log_size(), before, "hostile JSON wrote to the log");
    assert_eq!(
        srv.get("/api/v1/cities?limit=500").json()["items"],
        cities,
        "no city was created"
    );
});

both_backends!(uploaded_file_names_cannot_traverse, |srv| {
    let w = World::build(&srv);
    let mou = crate::signing::create_mou(&srv, &w.a, &w.partnership);
    let before = srv.log_size();
    for name in [
        "../../etc/passwd",
        "..",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fx",
        "..%5Cwindows%5Csystem32",
        "a%00b.txt",
        "%2Fetc%2Fpasswd",
    ] {
        srv.send(
            "POST",
            &format!("/api/v1/mous/{mou}/versions?filename={name}"),
            Some(&w.a),
            Some(("text/plain", b"We, the cities".to_vec())),
        )
        .assert_problem(422, "invalid_filename");
    }
    // The same in a multipart part's own file name.
    let boundary = "XyZzY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"../../etc/cron.d/x\"\r\nContent-Type: text/plain\r\n\r\nWe, the cities\r\n\
         --{boundary}--\r\n"
    );
    srv.send(
        "POST",
        &format!("/api/v1/mous/{mou}/versions"),
        Some(&w.a),
        Some((
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )),
    )
    .assert_problem(422, "invalid_filename");
    assert_eq!(srv.log_size(), before);
    let m = srv.get_as(&format!("/api/v1/mous/{mou}"), &w.a).json();
    assert_eq!(m["versions"], json!([]), "{m}");
});

both_backends_with!(
    an_upload_cut_short_writes_nothing,
    |s| s.body_timeout_secs = 2,
    |srv| {
        let w = World::build(&srv);
        let mou = crate::signing::create_mou(&srv, &w.a, &w.partnership);
        let before = srv.log_size();
        let head = format!(
            "POST /api/v1/mous/{mou}/versions?filename=mou.txt HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {}\r\nContent-Type: text/plain\r\nContent-Length: 10000\r\n\r\n",
            w.a
        );

        // The client hangs up half way: the request dies with the connection.
        let mut s = connect(&srv);
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&[b'x'; 5000]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let answer = read_to_close(&mut s);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer}"
        );

        // The client stops half way and waits: the body deadline answers 408 and closes.
        let started = Instant::now();
        let mut s = connect(&srv);
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&[b'x'; 5000]).unwrap();
        let answer = read_to_close(&mut s);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(6));

        assert_eq!(srv.log_size(), before);
        let m = srv.get_as(&format!("/api/v1/mous/{mou}"), &w.a).json();
        assert_eq!(m["versions"], json!([]), "{m}");
        // A whole upload still works afterwards.
        let r = crate::signing::upload(&srv, &w.a, &mou, b"We, the cities");
        assert_eq!(r.status, 201, "{}", r.text());
    }
);

#[test]
fn a_client_sending_one_byte_a_second_is_cut_off() {
    let srv = TestServer::start_with(Backend::Sqlite, |s| {
        s.header_timeout_ms = 2_000;
        s.body_timeout_secs = 3;
    });
    let admin = srv.admin();
    let before = srv.log_size();

    // Headers at one byte a second: closed at the header deadline, not when the client is done.
    let started = Instant::now();
    let mut s = connect(&srv);
    let head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut = false;
    for b in head.bytes() {
        if s.write_all(&[b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    if !cut {
        let answer = read_to_close(&mut s);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // A body at one byte a second: 408 body_timeout at the body deadline.
    let started = Instant::now();
    let mut s = connect(&srv);
    let body = br#"{"code":"us-slo","name":"Slow","country":"US"}"#;
    write!(
        s,
        "POST /api/v1/admin/cities HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    for b in body.iter().take(5) {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let answer = read_to_close(&mut s);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(srv.log_size(), before);
}

/// `amity serve` as a child process (so its sockets and the test's do not share one
/// open-file limit), on a free port it reports on stdout.
struct Served {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(["--bind", "127.0.0.1:0", "--workers", "1"])
        .args(args)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("amity.db").display()),
        )
        .env("AMITY_KEYS_DIR", dir.path().join("keys"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("amity serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served {
        child,
        addr,
        _dir: dir,
    }
}

fn healthz(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_to_close(&mut s)
}

#[test]
fn ten_thousand_idle_connections_are_served_around_then_closed() {
    const IDLE: usize = 10_000;
    let limit = amity::server::raise_open_file_limit().unwrap_or(0);
    assert!(
        limit >= IDLE as u64 + 200,
        "the open file limit ({limit}) is too low for this test; raise the hard limit"
    );
    let srv = serve(&["--header-timeout-ms", "4000"]);
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(&srv.addr).expect("idle connection"));
    }
    let opened = started.elapsed();
    // With all of them open and silent, a real request is still answered at once.
    let asked = Instant::now();
    let answer = healthz(&srv.addr);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );

    // The header deadline closes every one of them.
    std::thread::sleep(
        Duration::from_secs(4).saturating_sub(started.elapsed()) + Duration::from_secs(2),
    );
    // Each was closed: at most a 408 and then end of stream, within a read timeout.
    let mut closed = 0;
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let answer = read_to_close(s);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
        closed += 1;
    }
    assert_eq!(closed, IDLE);
    assert!(healthz(&srv.addr).starts_with("HTTP/1.1 200"));
    eprintln!(
        "{IDLE} idle connections opened in {opened:?}; all closed after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "opened in {opened:?}"
    );
}

both_backends!(
    city_names_are_one_unicode_form_and_lookalikes_are_flagged,
    |srv| {
        let admin = srv.admin();
        let create = |code: &str, name: &str| {
            let r = srv.post(
                "/api/v1/admin/cities",
                Some(&admin),
                &json!({"code": code, "name": name, "country": "CH"}),
            );
            assert_eq!(r.status, 201, "{}", r.text());
            r.json()
        };
        // Decomposed "Zürich" (u + combining diaeresis) is stored and logged composed.
        let z = create("ch-zrh", "Zu\u{308}rich");
        assert_eq!(z["name"], "Z\u{fc}rich");
        assert_eq!(z["warnings"], json!([]));
        let entry = srv.entry(z["log_index"].as_i64().unwrap());
        assert!(
            entry.to_string().contains("Z\u{fc}rich") && !entry.to_string().contains("u\u{308}"),
            "{entry}"
        );
        // Found by either spelling.
        let found = srv.get("/api/v1/cities?q=Z%C3%BC").json();
        assert_eq!(found["items"][0]["code"], "ch-zrh", "{found}");

        // A Cyrillic "е" in a Latin name.
        let spoof = create("ch-brn", "B\u{435}rn");
        let codes: Vec<&str> = spoof["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["code"].as_str())
            .collect();
        assert_eq!(codes, ["mixed_script"], "{spoof}");

        // A twin of a registered name in the same country (a Cyrillic "е" again).
        create("ch-gen", "Geneva");
        let twin = create("ch-gen-2", "G\u{435}neva");
        let codes: Vec<&str> = twin["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w["code"].as_str())
            .collect();
        assert!(codes.contains(&"confusable_name"), "{twin}");
        assert!(twin.to_string().contains("ch-gen"), "{twin}");
    }
);
