//! The binary itself: help, configuration errors, host-issued tokens, and the README's
//! walkthroughs run by bash against a real `amity serve` process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::process::ServeProcess;
use crate::support::{Backend, TestDb};

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
    // The import, then the labelled engagement sample: one entry per activity, outcome,
    // commitment and resolution, and one for the named group of the sample cities.
    let (_, health) = call(&srv.base, "GET", "/healthz", None, None);
    let (_, engagement) = call(&srv.base, "GET", "/api/v1/metrics/engagement", None, None);
    let sample = engagement["overall"]["total"].as_i64().unwrap();
    assert!(sample > 50, "{engagement}");
    let results = amity::db::Db::open(&demo_db, 1)
        .and_then(|db| {
            db.read(|c| {
                use amity::db::schema::{activity_outcomes, commitment_resolutions, commitments};
                use diesel::prelude::*;
                let outcomes: i64 = activity_outcomes::table.count().get_result(c)?;
                let made: i64 = commitments::table.count().get_result(c)?;
                let resolved: i64 = commitment_resolutions::table.count().get_result(c)?;
                Ok(outcomes + made + resolved)
            })
        })
        .expect("the demo database reads");
    assert!(
        results > 20,
        "{results} outcomes, commitments and resolutions"
    );
    // The cities, the partnerships, the sample's entries, and its named group's one save.
    assert_eq!(
        health["log_size"].as_i64().unwrap(),
        17117 + 24704 + sample + results + 1
    );
}

/// The README as the repository has it.
fn readme() -> String {
    doc("README.md")
}

/// A page of the repository, by its path.
fn doc(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Makes `dir` stand in for a checkout after `cargo build --release`: it holds
/// `target/release/amity`, a link to the binary under test.
fn stand_in_checkout(dir: &Path) {
    let release = dir.join("target/release");
    std::fs::create_dir_all(&release).unwrap();
    std::os::unix::fs::symlink(BIN, release.join("amity")).unwrap();
}

/// The first `sh` block after `heading` in a page.
fn readme_block<'a>(readme: &'a str, heading: &str) -> &'a str {
    let section = &readme[readme.find(heading).expect("section")..];
    let start = section.find("```sh\n").expect("code block") + 6;
    &section[start..start + section[start..].find("```").expect("block end")]
}

/// The README's walkthroughs ("Walkthrough", "Signing an MOU", its evidence bundle and its
/// messages, the last two continued in docs/auditing.md and docs/notifications.md), run
/// in one bash shell exactly as a newcomer pastes them, against a real `amity serve` on each
/// backend. The README says to start in the repository's directory, where `cargo build
/// --release` put the binary; the shell starts in a stand-in checkout that holds only
/// `target/release/amity` (a link to the binary under test), so the README's own default for
/// `AMITY_BIN` is what finds it, and any step that still depends on the working directory
/// after the signing block's `cd` into a fresh directory fails here. The server's address is
/// given as `AMITY`, the override the README offers. `set -euo pipefail` is stricter than a
/// pasting user's shell: the first failing step stops the run instead of scrolling by.
fn readme_walkthroughs(backend: Backend) {
    let db = TestDb::create(backend);
    let srv = ServeProcess::start(
        Path::new(BIN),
        &db.url,
        &db.dir.path().join("keys"),
        &db.dir.path().join("serve.log"),
    );
    let base = srv.base.as_str();
    let readme = readme();
    // The walkthrough goes on in two pages the README links.
    let auditing = doc("docs/auditing.md");
    let notifications = doc("docs/notifications.md");
    // The webhook messages are listed last, so the bundle's output stays where it was.
    let script = format!(
        "set -euo pipefail\n{}{}{}{}",
        readme_block(&readme, "## Walkthrough"),
        readme_block(&readme, "## Signing an MOU"),
        readme_block(&auditing, "## Evidence bundles"),
        readme_block(&notifications, "## The walkthrough's messages")
    );
    let start = tempfile::tempdir().unwrap();
    stand_in_checkout(start.path());
    // `mktemp -d` in the signing block creates its directory here, so nothing is left behind.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(start.path())
        .env("AMITY", base)
        .env_remove("AMITY_BIN")
        .env("DATABASE_URL", &db.url)
        .env("TMPDIR", tmp.path())
        .env_remove("AMITY_SERVER")
        .env_remove("AMITY_TOKEN")
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Answers are printed indented, one field per line, not run together.
    assert!(
        stdout.contains("\n    \"status\": \"curtailed\""),
        "{stdout}"
    );

    // The first walkthrough: one sister partnership, curtailed, with its reason on record.
    let (s, page) = call(
        base,
        "GET",
        "/api/v1/partnerships?city=us-hou&status=curtailed",
        None,
        None,
    );
    assert_eq!(s, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["kind"], "sister");
    let id = items[0]["id"].as_str().unwrap();
    let (_, history) = call(
        base,
        "GET",
        &format!("/api/v1/partnerships/{id}/history"),
        None,
        None,
    );
    let events = history["events"].as_array().unwrap();
    let statuses: Vec<&str> = events.iter().filter_map(|e| e["to"].as_str()).collect();
    assert_eq!(statuses, ["proposed", "active", "curtailed"], "{history}");
    assert_eq!(
        events[2]["reason"], "Consulate closures; exchanges suspended",
        "{history}"
    );

    // The signing walkthrough: the MOU executed, its partnership active, the audit passed.
    let lines: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    let signed = lines
        .windows(3)
        .position(|w| w == ["executed", "active", "pass"])
        .unwrap_or_else(|| {
            panic!("the signing block did not print executed/active/pass:\n{stdout}\n{stderr}")
        });
    // The round before: declined by Shanghai's mayor, then a second round signed by both.
    assert!(lines.contains(&"declined"), "{stdout}");
    assert!(
        lines.contains(&"['cancelled', 'declined', 'signed', 'signed']"),
        "{stdout}"
    );
    let (_, friendship) = call(
        base,
        "GET",
        "/api/v1/partnerships?city=us-hou&kind=friendship",
        None,
        None,
    );
    assert_eq!(friendship["items"][0]["status"], "active", "{friendship}");

    // The evidence bundle: the signed document verifies offline under the registry key given
    // out of band (no warning), and another file is refused by the `document` check.
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
    assert!(lines.contains(&"refused, as it should be"), "{stdout}");
    // Houston's office: every step it subscribed to was queued for its endpoint, in order.
    assert_eq!(
        lines.last(),
        Some(
            &"signature_request.sent, signature_request.declined, signature_request.sent, mou.executed"
        ),
        "{stdout}"
    );
    // The signing steps wrote their files in their own directory, not in the checkout.
    let left: Vec<_> = std::fs::read_dir(start.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["target"]);
}

crate::on_both_backends!(readme_walkthroughs);

/// The witness walkthrough of docs/witnessing.md ("Try it: two witnesses on one machine" and
/// "Checked with the policy"), run as written in one bash shell in a stand-in checkout.
/// Between the two blocks the shell does what the page tells the reader to do by hand: start the registry with the policy (on a free port,
/// given as `AMITY`). The witnesses listen on the page's fixed ports, so the two backends take
/// turns.
fn witnessing_walkthrough(backend: Backend) {
    static FIXED_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = FIXED_PORTS.lock().unwrap_or_else(|p| p.into_inner());
    let db = TestDb::create(backend);
    let checkout = db.dir.path();
    amity::log::registry_key::create(&checkout.join("keys"), "amity.localhost").unwrap();
    stand_in_checkout(checkout);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let page = doc("docs/witnessing.md");
    let restart = format!(
        "AMITY_WITNESS_POLICY=witnesses.policy AMITY_BIND=127.0.0.1:{port} \"$AMITY_BIN\" serve \
         > serve.out 2>&1 &\n\
         for _ in $(seq 1 100); do curl -sf $AMITY/healthz > /dev/null && break; sleep 0.1; done\n\
         ADMIN=$(amity admin create-token --role admin)\n\
         curl -sf -X POST $AMITY/api/v1/admin/cities -H \"Authorization: Bearer $ADMIN\" \
         -H 'Content-Type: application/json' \
         -d '{{\"code\": \"de-ber\", \"name\": \"Berlin\", \"country\": \"DE\", \"lat\": 52.52, \"lon\": 13.40}}' \
         > /dev/null\n"
    );
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2> /dev/null || true' EXIT\n{}{restart}{}",
        readme_block(&page, "## Try it: two witnesses on one machine"),
        readme_block(&page, "### Checked with the policy"),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(checkout)
        .env("AMITY", format!("http://127.0.0.1:{port}"))
        .env_remove("AMITY_BIN")
        .env("DATABASE_URL", &db.url)
        .env_remove("AMITY_KEYS_DIR")
        .env_remove("AMITY_WITNESS_POLICY")
        .env_remove("AMITY_TOKEN")
        .env_remove("RUST_LOG")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let serve_log = std::fs::read_to_string(checkout.join("serve.out")).unwrap_or_default();
    assert!(out.status.success(), "{stdout}\n{stderr}\n{serve_log}");
    // The witnessed checkpoint: the registry's line and one cosignature line per city.
    let signature_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .collect();
    assert_eq!(signature_lines.len(), 3, "{stdout}");
    assert!(
        signature_lines[1..]
            .iter()
            .any(|l| l.contains("witness.berlin.example/w1"))
    );
    assert!(
        signature_lines[1..]
            .iter()
            .any(|l| l.contains("witness.lyon.example/w1"))
    );
    assert!(
        stdout.contains(
            "PASS  witness quorum: quorum met (group partners: 2 of berlin, lyon); cosigned by \
             berlin, lyon; missing none"
        ),
        "{stdout}"
    );
}

crate::on_both_backends!(witnessing_walkthrough);

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
