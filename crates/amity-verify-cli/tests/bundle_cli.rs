//! The standalone binary against a bundle the server produced (an executed MOU with two
//! versions and three signatures, written by the server's bundle test with
//! `AMITY_UPDATE_VERIFY_FIXTURE=crates/amity-verify-cli/tests/fixtures`): it passes with the
//! registry key and the document, and any change to what it proves makes it fail, naming the
//! check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_amity-verify");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn vkey() -> String {
    std::fs::read_to_string(fixture("registry.vkey"))
        .unwrap()
        .trim()
        .to_string()
}

/// Runs the binary; (exit success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("amity-verify runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_served_bundle_verifies_with_the_registry_key_and_document() {
    let bundle = fixture("executed-mou.bundle.json");
    let doc = fixture("executed-mou.txt");
    let key = vkey();
    let (ok, out, err) = run(&[
        "bundle",
        bundle.to_str().unwrap(),
        "--registry-key",
        &key,
        "--document",
        doc.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("PASS  key_bound [signature seq 1]"), "{out}");
    assert!(out.contains("PASS  document"), "{out}");
    assert!(
        out.lines().last().unwrap().starts_with("verdict: PASS"),
        "{out}"
    );
    assert!(!out.contains("WARNING"), "{out}");
}

#[test]
fn tampering_and_a_foreign_key_fail_naming_the_check() {
    let dir = std::env::temp_dir().join(format!("amity-verify-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read_to_string(fixture("executed-mou.bundle.json")).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_str(&original).unwrap();
    // The MOU claims another title than its proven mou.created entry.
    bundle["mou"]["title"] = serde_json::Value::String("Another treaty".into());
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let key = vkey();
    let (ok, out, _) = run(&["bundle", tampered.to_str().unwrap(), "--registry-key", &key]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL  mou_logged [mou]"), "{out}");

    // A document other than the current version.
    let other = dir.join("other.txt");
    std::fs::write(&other, b"Version one").unwrap();
    let bundle = fixture("executed-mou.bundle.json");
    let (ok, out, _) = run(&[
        "bundle",
        bundle.to_str().unwrap(),
        "--registry-key",
        &key,
        "--document",
        other.to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAIL  document"), "{out}");

    // Another registry's key: the checkpoint does not verify.
    let foreign = "amity.localhost+2e8ab5f0+AdfJnlMkVjWAb9qKqHG1HMmDuJqnDkdpqdWphTgPJ9Ig";
    let (ok, out, err) = run(&[
        "bundle",
        bundle.to_str().unwrap(),
        "--registry-key",
        foreign,
    ]);
    assert!(!ok, "{out}{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_files_and_non_bundles_are_clear_errors() {
    let (ok, _, err) = run(&["bundle", "/nonexistent/bundle.json"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/bundle.json"), "{err}");
    let vkey_file = fixture("registry.vkey");
    let (ok, _, err) = run(&["bundle", vkey_file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not an evidence bundle"), "{err}");
}
