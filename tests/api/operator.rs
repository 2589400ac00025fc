//! What an operator meets first, through the real binary: flags given as environment
//! variables, a fresh checkout that must stay clean, secrets that must stay out of logs, and
//! client commands that must not hang on a silent server.

use std::process::Command;

use serde_json::json;

use crate::cli::{BIN, amity, call, serve_with_env};

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
        let key = dir.path().join("signer_ed25519");
        let out = Command::new(BIN)
            .args(["keygen", "-C", "j.doe@us-hou", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(BIN)
            .args([
                "keys",
                "register",
                "--signer",
                "j.doe@us-hou",
                "--city",
                "us-hou",
            ])
            .args(["--server", &srv.base, "--token", &office, "--key"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "AMITY_AUTO_APPROVE_KEYS={value}: {}",
            String::from_utf8_lossy(&out.stderr)
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
