//! What an operator meets first, through the real binary: flags given as environment
//! variables, a fresh checkout that must stay clean, secrets that must stay out of logs, and
//! client commands that must not hang on a silent server.

use std::process::Command;

use serde_json::json;

use crate::both_backends;
use crate::cli::{BIN, amity, call, serve_with_env, start_serving};

/// A city with an office and that office's token, on the server at `base`.
fn office_of_houston(base: &str, db: &str) -> String {
    let out = amity(&["admin", "create-token", "--role", "admin"], db);
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let city = json!({"code": "us-hou", "name": "Houston", "country": "US"});
    assert_eq!(
        call(
            base,
            "POST",
            "/api/v1/admin/cities",
            Some(&admin),
            Some(city)
        )
        .0,
        201
    );
    let office = json!({"city": "us-hou", "name": "Office of International Affairs"});
    assert_eq!(
        call(
            base,
            "POST",
            "/api/v1/admin/offices",
            Some(&admin),
            Some(office)
        )
        .0,
        201
    );
    let out = amity(
        &[
            "admin",
            "create-token",
            "--role",
            "office",
            "--city",
            "us-hou",
        ],
        db,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A signatory key pair made with `amity keygen` in `dir`; the private key's path.
fn signer_key(dir: &std::path::Path) -> std::path::PathBuf {
    let key = dir.join("signer_ed25519");
    succeeds(
        Command::new(BIN)
            .args(["keygen", "-C", "j.doe@us-hou", "-f"])
            .arg(&key),
        "amity keygen",
    );
    key
}

/// Runs `command`, failing the test with `what` and its stderr unless it succeeds.
fn succeeds(command: &mut Command, what: &str) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `AMITY_AUTO_APPROVE_KEYS` takes the usual spellings of yes and no, and each one means what
/// it says: a key registered through `amity keys register` is active at once, or waits.
#[test]
fn boolean_variables_take_the_usual_spellings() {
    for (value, status) in [
        ("1", "active"),
        ("yes", "active"),
        ("ON", "active"),
        ("True", "active"),
        ("0", "pending"),
        ("no", "pending"),
        ("Off", "pending"),
        ("false", "pending"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("amity.db").display());
        let srv = serve_with_env(&db, &[], &[("AMITY_AUTO_APPROVE_KEYS", value)]);
        let office = office_of_houston(&srv.base, &db);
        let key = signer_key(dir.path());
        let out = succeeds(
            Command::new(BIN)
                .args(["keys", "register", "--signer", "j.doe@us-hou"])
                .args([
                    "--city", "us-hou", "--server", &srv.base, "--token", &office,
                ])
                .arg("--key")
                .arg(&key),
            &format!("AMITY_AUTO_APPROVE_KEYS={value}"),
        );
        let registered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            registered["status"], status,
            "AMITY_AUTO_APPROVE_KEYS={value}: {registered}"
        );
    }

    // Anything else is refused before the server starts, naming the variable's values.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("a.db").display()),
        )
        .env("AMITY_KEYS_DIR", dir.path().join("keys"))
        .env("AMITY_AUTO_APPROVE_KEYS", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'maybe'") && err.contains("--auto-approve-keys"),
        "{err}"
    );
    assert!(
        !dir.path().join("a.db").exists(),
        "refused, yet it opened the database"
    );
}

/// Runs `git` in `dir`, panicking with its output when it fails.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=amity-test",
            "-c",
            "user.email=test@amity.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs (the test copies the checkout's tracked files)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The README's first step in a fresh clone: `amity serve` with every default (./amity.db,
/// ./keys), a write, a stop. The checkout must still be clean: nothing tracked rewritten,
/// nothing new that git would offer to commit.
#[test]
fn first_serve_leaves_a_fresh_checkout_clean() {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let clone = tempfile::tempdir().unwrap();
    // The working tree's tracked files (with this change's .gitignore), as a clone has them.
    let tracked = git(source, &["ls-files", "-z"]);
    for path in tracked.split('\0').filter(|p| !p.is_empty()) {
        let from = source.join(path);
        if !from.is_file() {
            continue; // deleted in the working tree, not yet committed
        }
        let to = clone.path().join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    git(clone.path(), &["init", "-q"]);
    git(clone.path(), &["add", "-A"]);
    git(clone.path(), &["commit", "-q", "-m", "clone"]);

    let mut command = Command::new(BIN);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(clone.path())
        .env_remove("DATABASE_URL")
        .env_remove("AMITY_KEYS_DIR")
        .env_remove("AMITY_ORIGIN")
        .stderr(std::process::Stdio::null());
    let served = start_serving(command);
    // The server made its registry key and serves it.
    let (status, _) = call(&served.base, "GET", "/api/v1/log/key", None, None);
    assert_eq!(status, 200);
    drop(served);

    for made in [
        "amity.db",
        "keys/registry.skey",
        "keys/registry.vkey",
        "keys/registry.pub",
    ] {
        assert!(
            clone.path().join(made).is_file(),
            "serve did not make {made}"
        );
    }
    let status = git(
        clone.path(),
        &["status", "--porcelain", "--untracked-files=all"],
    );
    assert_eq!(status, "", "the first serve left the checkout dirty");
}

/// What a command printed, both streams.
fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `url` with `password` as the password of its userinfo (replacing any), for a server that
/// either checks it (the CI role's) or ignores it (trust authentication).
fn with_password(url: &str, password: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').expect("a PostgreSQL URL with a user");
    match userinfo.split_once(':') {
        Some((user, existing)) => (url.to_string(), format!("{user}:{existing}")),
        None => (
            format!("{scheme}://{userinfo}:{password}@{host}"),
            format!("{userinfo}:{password}"),
        ),
    }
}

/// `migrate` and `serve` name the database they use, but never its password: not when they
/// work, not when the connection fails, not in `--help` when DATABASE_URL is set.
#[test]
fn database_passwords_never_printed() {
    let password = "pw-never-printed-7391";
    // Nothing listens on port 1: the connection fails, and the error must not carry it.
    let unreachable = format!("postgres://amity:{password}@127.0.0.1:1/amity?connect_timeout=5");
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["migrate"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
        &["serve", "--help"][..],
        &["admin", "create-token", "--role", "admin"][..],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("DATABASE_URL", &unreachable)
            .env("AMITY_KEYS_DIR", dir.path().join("keys"))
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        let text = printed(&out);
        assert!(
            !text.contains(password),
            "{args:?} printed the password:\n{text}"
        );
        if args[0] == "migrate" {
            assert!(!out.status.success());
            assert!(text.contains("error"), "{text}");
        }
    }
}

both_backends!(database_password_not_logged_by_a_working_server, |srv| {
    let password = "pw-never-printed-5120";
    let (url, secret) = match srv.db.backend() {
        crate::support::Backend::Postgres => with_password(&srv.db.url, password),
        // No password to hide; the test still shows what is printed is the URL given.
        crate::support::Backend::Sqlite => (srv.db.url.clone(), password.to_string()),
    };
    let out = Command::new(BIN)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", printed(&out));
    let text = printed(&out);
    assert!(text.contains("migrations are up to date ("), "{text}");
    assert!(
        !text.contains(&secret),
        "migrate printed the password:\n{text}"
    );

    // serve: everything it prints and logs from start until it listens, then a stop.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .env("AMITY_KEYS_DIR", dir.path().join("keys"))
        .env("RUST_LOG", "trace")
        .stderr(std::fs::File::create(&log).unwrap());
    let served = start_serving(command);
    let first = served.announced.clone();
    drop(served);
    let text = format!("{first}{}", std::fs::read_to_string(&log).unwrap());
    assert!(first.contains("(database: "), "{first}");
    assert!(
        !text.contains(&secret),
        "serve printed the password:\n{text}"
    );
    if srv.db.backend() == crate::support::Backend::Postgres {
        assert!(first.contains(":***@"), "{first}");
    }
});

/// Runs `amity` with `args`, killing it (and failing) if it is still running after `limit`.
fn run_bounded(args: &[&str], limit: std::time::Duration) -> (std::process::Output, f64) {
    let started = std::time::Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("AMITY_TOKEN")
        .env_remove("AMITY_SERVER")
        .env_remove("AMITY_HTTP_TIMEOUT")
        .env_remove("AMITY_CONNECT_TIMEOUT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("amity {args:?} still waiting after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed().as_secs_f64())
}

/// A registry that accepts connections and never answers: `keys register` and `sign` give up
/// after --timeout with a message that says so, instead of hanging.
#[test]
fn client_commands_give_up_on_a_silent_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    // Accepts and holds every connection open, reading nothing and writing nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let key = signer_key(dir.path());
    let document = dir.path().join("mou.txt");
    std::fs::write(&document, "Memorandum text").unwrap();
    let key = key.to_str().unwrap();
    let document = document.to_str().unwrap();
    let common = ["--server", &server, "--token", "amity_x", "--timeout", "1"];
    let register = [
        &[
            "keys",
            "register",
            "--signer",
            "j.doe@us-hou",
            "--city",
            "us-hou",
            "--key",
            key,
        ][..],
        &common[..],
    ]
    .concat();
    let sign = [
        &[
            "sign",
            "--mou",
            "0195",
            "--document",
            document,
            "--key",
            key,
        ][..],
        &common[..],
    ]
    .concat();
    for args in [register, sign] {
        let (out, seconds) = run_bounded(&args, std::time::Duration::from_secs(20));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{server}: no complete answer within 1 s")),
            "{args:?}: {err}"
        );
        // One exchange timed out; well under the 20 s the test allows.
        assert!(seconds < 10.0, "{args:?} took {seconds} s");
    }

    let (out, _) = run_bounded(
        &[
            "keys",
            "register",
            "--signer",
            "a@us-hou",
            "--city",
            "us-hou",
            "--key",
            key,
            "--server",
            &server,
            "--token",
            "t",
            "--timeout",
            "0",
        ],
        std::time::Duration::from_secs(20),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--timeout must be a positive number"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
