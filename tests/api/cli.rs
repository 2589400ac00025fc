//! The binary itself: help, configuration errors, host-issued tokens, and the README's
//! walkthrough against a real `amity serve` process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_amity");

pub(crate) fn amity(args: &[&str], db: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", db)
        .env_remove("RUST_LOG")
        .output()
        .expect("amity runs")
}

#[test]
fn help_names_every_command() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve", "migrate", "admin", "keygen", "keys", "sign", "verify",
    ] {
        assert!(text.contains(cmd), "{text}");
    }
    let out = Command::new(BIN)
        .args(["admin", "create-token", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--role"));
}

#[test]
fn mistyped_database_urls_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        (
            "postgress://u@localhost/x",
            "unsupported database URL scheme `postgress`",
        ),
        ("sqlite:///no/such/dir/amity.db", "does not exist"),
    ] {
        let out = amity(&["migrate"], url);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{url}: {err}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn create_token_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("a.db").display());
    let out = amity(&["admin", "create-token", "--role", "admin"], &db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.trim().starts_with("amity_"));
    let out = amity(
        &[
            "admin",
            "create-token",
            "--role",
            "office",
            "--city",
            "us-hou",
        ],
        &db,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no office"));
    let out = amity(&["admin", "create-token", "--role", "king"], &db);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role"));
}

pub(crate) struct Served {
    child: Child,
    pub(crate) base: String,
    /// The line in which the server announced its URL.
    pub(crate) announced: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(db: &str, extra: &[&str]) -> Served {
    serve_with_env(db, extra, &[])
}

/// `serve` with extra environment variables (flags given through the environment).
pub(crate) fn serve_with_env(db: &str, extra: &[&str], vars: &[(&str, &str)]) -> Served {
    let keys = std::path::Path::new(db.trim_start_matches("sqlite://"))
        .parent()
        .unwrap()
        .join("keys");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .env("AMITY_KEYS_DIR", keys)
        .env("DATABASE_URL", db)
        .envs(vars.iter().copied())
        .stderr(Stdio::null());
    start_serving(command)
}

/// Spawns `command` (an `amity serve`) with its stdout piped and waits until it prints its
/// URL; it is killed when the result is dropped.
pub(crate) fn start_serving(mut command: Command) -> Served {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited early"
        );
    }
    // Keep draining what the server prints so it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    Served {
        child,
        base: url,
        announced: line,
    }
}

pub(crate) fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let bytes = match body {
        Some(b) => {
            req = req.header("Content-Type", "application/json");
            b.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    let mut res = agent.run(req.body(bytes).unwrap()).unwrap();
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The README walkthrough, step by step, against the real binary on SQLite.
#[test]
fn readme_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("amity.db").display());
    let srv = serve(&db, &[]);
    let base = srv.base.as_str();
    let out = amity(&["admin", "create-token", "--role", "admin"], &db);
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();

    for (code, name, country) in [("us-hou", "Houston", "US"), ("cn-sha", "Shanghai", "CN")] {
        let (s, _) = call(
            base,
            "POST",
            "/api/v1/admin/cities",
            Some(&admin),
            Some(json!({"code": code, "name": name, "country": country})),
        );
        assert_eq!(s, 201);
    }
    let mut tokens = Vec::new();
    for city in ["us-hou", "cn-sha"] {
        let (s, office) = call(
            base,
            "POST",
            "/api/v1/admin/offices",
            Some(&admin),
            Some(json!({"city": city, "name": "Office of International Affairs"})),
        );
        assert_eq!(s, 201);
        // The README issues office tokens on the host by city.
        let out = amity(
            &["admin", "create-token", "--role", "office", "--city", city],
            &db,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = office;
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let (s, p) = call(
        base,
        "POST",
        "/api/v1/partnerships",
        Some(&tokens[0]),
        Some(
            json!({"cities": ["us-hou", "cn-sha"], "kind": "sister", "established": "1979-12-08"}),
        ),
    );
    assert_eq!(s, 201);
    let id = p["id"].as_str().unwrap().to_string();
    let (s, c) = call(
        base,
        "POST",
        &format!("/api/v1/partnerships/{id}/confirm"),
        Some(&tokens[1]),
        Some(json!({})),
    );
    assert_eq!((s, c["status"].as_str()), (200, Some("active")));
    let (s, c) = call(
        base,
        "POST",
        &format!("/api/v1/partnerships/{id}/status"),
        Some(&tokens[0]),
        Some(
            json!({"status": "curtailed", "effective_date": "2020-07-24", "decided_date": "2020-07-22",
            "deciding_body": "City Council", "reason_category": "political",
            "reason": "Consulate closures; exchanges suspended"}),
        ),
    );
    assert_eq!((s, c["status"].as_str()), (201, Some("curtailed")));
    let (s, h) = call(
        base,
        "GET",
        &format!("/api/v1/partnerships/{id}/history"),
        None,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(h["events"].as_array().unwrap().len(), 3);
    let (_, health) = call(base, "GET", "/healthz", None, None);
    assert_eq!(health["log_size"], 10);
}

/// `amity import` on the real data set: the summary, the rejects file, and nothing new the
/// second time; `serve --demo` serves the same registry.
#[test]
fn import_command_and_demo() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("amity.db").display());
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/data/twin_cities.csv");
    let rejects = dir.path().join("rejects.csv");
    let run = |args: &[&str]| {
        let out = amity(args, &db);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let dry = run(&[
        "import",
        csv,
        "--dry-run",
        "--rejects",
        rejects.to_str().unwrap(),
    ]);
    assert!(
        dry.contains("would create 17117 cities and 24704 partnerships"),
        "{dry}"
    );
    let lines = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(lines.lines().count(), 1 + 1213);
    assert!(lines.contains("unknown_country"));
    let first = run(&["import", csv]);
    assert!(
        first.contains("created 17117 cities and 24704 partnerships"),
        "{first}"
    );
    assert!(first.contains("duplicate: 1082"), "{first}");
    // The second time every good pair is already there (the file's own 1,082 repeats too).
    let second = run(&["import", csv]);
    assert!(
        second.contains("created 0 cities and 0 partnerships"),
        "{second}"
    );
    assert!(second.contains("already_registered: 25786"), "{second}");

    let other = tempfile::tempdir().unwrap();
    let demo_db = format!("sqlite://{}", other.path().join("amity.db").display());
    let srv = serve(&demo_db, &["--demo"]);
    let (s, page) = call(
        &srv.base,
        "GET",
        "/api/v1/partnerships?country=CN&limit=5",
        None,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["items"][0]["source"], "imported");
    let (_, health) = call(&srv.base, "GET", "/healthz", None, None);
    assert_eq!(health["log_size"], 17117 + 24704);
}

/// The first `sh` block after `heading` in the README.
fn readme_block<'a>(readme: &'a str, heading: &str) -> &'a str {
    let section = &readme[readme.find(heading).expect("section")..];
    let start = section.find("```sh\n").expect("code block") + 6;
    &section[start..start + section[start..].find("```").expect("block end")]
}

/// The README's "Signing an MOU" block, then its "Evidence bundles" block, run by bash exactly
/// as written, against the real binary: `ssh-keygen` and curl for one signatory, `amity sign`
/// for the other, then the bundle fetched and verified offline.
#[test]
fn readme_signing_walkthrough() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = format!(
        "{}{}",
        readme_block(&readme, "## Signing an MOU"),
        readme_block(&readme, "## Evidence bundles")
    );

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("amity.db").display());
    let srv = serve(&db, &[]);
    let base = srv.base.as_str();
    let admin = String::from_utf8(amity(&["admin", "create-token", "--role", "admin"], &db).stdout)
        .unwrap()
        .trim()
        .to_string();
    let mut tokens = Vec::new();
    for (code, name, country) in [("us-hou", "Houston", "US"), ("cn-sha", "Shanghai", "CN")] {
        let body = json!({"code": code, "name": name, "country": country});
        assert_eq!(
            call(
                base,
                "POST",
                "/api/v1/admin/cities",
                Some(&admin),
                Some(body)
            )
            .0,
            201
        );
        let body = json!({"city": code, "name": "Office of International Affairs"});
        assert_eq!(
            call(
                base,
                "POST",
                "/api/v1/admin/offices",
                Some(&admin),
                Some(body)
            )
            .0,
            201
        );
        let out = amity(
            &["admin", "create-token", "--role", "office", "--city", code],
            &db,
        );
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let script = format!(
        "set -euo pipefail\nAMITY={base}\namity() {{ {BIN} \"$@\"; }}\n\
         field() {{ python3 -c \"import sys, json; print(json.load(sys.stdin)['$1'])\"; }}\n\
         ADMIN={admin}\nHOU={}\nSHA={}\n{block}",
        tokens[0], tokens[1]
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env_remove("AMITY_SERVER")
        .env_remove("AMITY_TOKEN")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let signed = lines
        .windows(3)
        .position(|w| w == ["executed", "active", "pass"])
        .unwrap_or_else(|| panic!("signing block output: {stdout}"));
    let bundle = &lines[signed + 3..];
    assert!(bundle.iter().all(|l| !l.starts_with("WARNING")), "{stdout}");
    let verdicts: Vec<&&str> = bundle
        .iter()
        .filter(|l| l.starts_with("verdict:"))
        .collect();
    assert_eq!(verdicts.len(), 2, "{stdout}");
    assert!(verdicts[0].starts_with("verdict: PASS"), "{stdout}");
    assert!(verdicts[1].starts_with("verdict: FAIL"), "{stdout}");
    assert!(
        bundle
            .iter()
            .any(|l| l.starts_with("PASS  checkpoint_signature")),
        "{stdout}"
    );
    assert!(
        bundle.iter().any(|l| l.starts_with("FAIL  document")),
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"refused, as it should be"), "{stdout}");
}

#[test]
fn keygen_registry_writes_a_private_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let run = || {
        Command::new(BIN)
            .args([
                "keygen",
                "--registry",
                "--origin",
                "registry.example.org",
                "--keys-dir",
            ])
            .arg(&keys)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("registry.example.org+"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(keys.join("registry.skey"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = run();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn migrate_names_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let out = amity(&["migrate"], &db);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = String::from_utf8_lossy(&out.stdout).into_owned();
    let names = amity::db::migrations::names(amity::db::Backend::Sqlite).unwrap();
    for name in &names {
        assert!(
            first.contains(&format!("applied migration {name}\n")),
            "{first}"
        );
    }
    assert!(
        first
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("migrations are up to date")),
        "{first}"
    );
    let out = amity(&["migrate"], &db);
    let again = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!again.contains("applied migration"), "{again}");
    assert!(again.contains("migrations are up to date"), "{again}");
}
