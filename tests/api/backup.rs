//! `amity backup`: a copy taken while the server writes restores into a registry that passes
//! `amity audit`, consistent with a checkpoint taken before the backup.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::{Backend, TestServer, World};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("AMITY_TOKEN")
        .output()
        .expect("amity runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_backup_taken_under_writes_restores_and_audits() {
    let srv = TestServer::start(Backend::Sqlite);
    let w = World::build(&srv);
    crate::audit::signed_registry_on(&srv, &w);
    let work = tempfile::tempdir().expect("temp dir");
    let state = work.path().join("audit-state.json");

    // A checkpoint from before the backup, kept by an auditor.
    let (ok, text) = run(&[
        "audit",
        "--server",
        &srv.base,
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let before = srv.log_size();

    // Writes keep landing while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, base, admin) = (stop.clone(), srv.base.clone(), w.admin.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 500 {
                let r = agent
                    .post(format!("{base}/api/v1/admin/cities"))
                    .header("Authorization", format!("Bearer {admin}"))
                    .send_json(serde_json::json!({
                        "code": format!("fr-b{n:03}"), "name": format!("Bourg {n}"), "country": "FR"
                    }))
                    .expect("write");
                assert_eq!(r.status().as_u16(), 201);
                n += 1;
            }
            n
        })
    };
    while srv.log_size() < before + 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let copy = work.path().join("backup.db");
    let (ok, text) = run(&[
        "backup",
        copy.to_str().unwrap(),
        "--database-url",
        &srv.db.url,
    ]);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer thread");
    assert!(ok, "{text}");
    let copied: i64 = text
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    let after = srv.log_size();
    assert!(
        written > 0 && copied > before && copied <= after,
        "{before} {copied} {after}"
    );

    // Never over an existing file.
    let (ok, text) = run(&[
        "backup",
        copy.to_str().unwrap(),
        "--database-url",
        &srv.db.url,
    ]);
    assert!(!ok && text.contains("already exists"), "{text}");

    // Restore: the copy in a fresh place, served with the same registry key.
    let fresh = tempfile::tempdir().expect("temp dir");
    let restored = fresh.path().join("amity.db");
    std::fs::copy(&copy, &restored).expect("restore copy");
    let keys = srv.db.dir.path().join("keys");
    let url = format!("sqlite://{}", restored.display());
    let again = TestServer::start_with_keys(Backend::Sqlite, Some(&keys), |s| {
        s.database_url = url.clone();
    });
    assert_eq!(again.log_size(), copied);
    // The auditor's pre-backup checkpoint is proven consistent with the restored log, every
    // entry replays, and the root matches the restored server's signed checkpoint.
    let (ok, text) = run(&[
        "audit",
        "--server",
        &again.base,
        "--state",
        state.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{before} -> {copied}")), "{text}");
}

#[test]
fn backup_refuses_postgres_and_missing_databases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("b.db");
    let (ok, text) = run(&[
        "backup",
        out.to_str().unwrap(),
        "--database-url",
        "postgres://amity@localhost/amity",
    ]);
    assert!(
        !ok && text.contains("pg_dump") && text.contains("pg_restore"),
        "{text}"
    );
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let (ok, text) = run(&["backup", out.to_str().unwrap(), "--database-url", &missing]);
    assert!(!ok && text.contains("no SQLite database"), "{text}");
    assert!(!out.exists() && !dir.path().join("none.db").exists());
}
