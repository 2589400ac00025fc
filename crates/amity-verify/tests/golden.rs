//! Golden files of the log entry format: one real entry per kind (`tests/golden/<kind>.json`,
//! taken from a registry that ran the README walkthroughs and one write of every other kind,
//! the same examples as docs/formats/log-entries.md). Each must parse as its typed struct and
//! serialize back to the same bytes, so renaming a field, changing its type, or writing an
//! absent value differently fails here before it changes what auditors read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use amity_verify::entries::{Entry, kinds};

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_golden_entry_round_trips_byte_for_byte() {
    let mut checked = 0;
    for file in std::fs::read_dir(golden_dir()).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let entry =
            Entry::parse_canonical(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(entry.body.kind()),
            "{name} holds a {} entry",
            entry.body.kind()
        );
        assert_eq!(
            String::from_utf8(entry.to_bytes().unwrap()).unwrap(),
            String::from_utf8(bytes).unwrap(),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= kinds::ALL.len());
}

#[test]
fn every_kind_has_a_golden_file() {
    for kind in kinds::ALL {
        let path = golden_dir().join(format!("{kind}.json"));
        assert!(path.exists(), "no golden file for {kind}");
    }
}

#[test]
fn the_docs_show_the_golden_bytes() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/log-entries.md"),
    )
    .unwrap();
    for kind in kinds::ALL {
        let golden = std::fs::read_to_string(golden_dir().join(format!("{kind}.json"))).unwrap();
        assert!(
            docs.lines().any(|l| l == golden),
            "docs/formats/log-entries.md does not show the golden {kind} entry"
        );
    }
}

#[test]
fn the_golden_decline_is_signed_by_its_key() {
    use amity_verify::entries::EntryBody;
    use amity_verify::sshsig;
    use amity_verify::statement::{MouDeclineStatement, mou_decline_namespace};

    let bytes = std::fs::read(golden_dir().join("mou.request_declined.json")).unwrap();
    let entry = Entry::parse_canonical(&bytes).unwrap();
    let EntryBody::MouRequestDeclined(decline) = entry.body else {
        panic!("not a decline");
    };
    let statement = MouDeclineStatement::parse_strict(decline.statement.as_bytes()).unwrap();
    assert_eq!(statement.mou_id, decline.mou);
    assert_eq!(statement.request_id, decline.request);
    assert_eq!(statement.reason, decline.reason);
    assert_eq!(statement.signer, decline.signer);
    assert_eq!(statement.signer_key, decline.key_fingerprint);
    let sig = sshsig::parse_armored(&decline.signature).unwrap();
    assert_eq!(sig.public_key().fingerprint(), decline.key_fingerprint);
    sshsig::verify(
        &sig,
        &mou_decline_namespace(&statement.registry),
        decline.statement.as_bytes(),
        None,
    )
    .unwrap();
}

#[test]
fn the_documented_form_v2_statement_commits_to_the_golden_bilingual_version() {
    use amity_verify::entries::EntryBody;
    use amity_verify::statement::MouSignatureStatement;

    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/statements.md"),
    )
    .unwrap();
    let example = docs
        .lines()
        .find(|l| l.starts_with(r#"{"action":"sign","documents":"#))
        .expect("docs/formats/statements.md shows a form v2 statement");
    let statement = MouSignatureStatement::parse_strict(example.as_bytes()).unwrap();
    assert!(docs.contains(&format!("one line, {} bytes", example.len())));
    let bytes = std::fs::read(golden_dir().join("mou.version_uploaded.2.json")).unwrap();
    let EntryBody::MouVersionUploaded(version) = Entry::parse_canonical(&bytes).unwrap().body
    else {
        panic!("not a version");
    };
    assert_eq!(statement.mou_id, version.mou);
    assert_eq!(statement.committed_documents(), version.commitment());
}
