//! The fuzz corpus (fuzz/corpus/<target>/) replayed through the same parsers and properties as
//! the fuzz targets, on every `cargo test`: inputs the fuzzer once found interesting (and any
//! crash, once fixed, is added there) keep being checked without libFuzzer.

use std::path::Path;

use amity::bundle::{self, VerifyOptions};
use amity::crypto::sshsig;
use amity::crypto::statement::{KeyRegistrationStatement, MouSignatureStatement};
use amity::domain::import::{self, Existing};
use amity::log::note::{self, Checkpoint, NoteVerifier};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let path = f.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus for {target}");
    files
}

#[test]
fn sshsig_corpus() {
    let mut parsed = 0;
    for (name, data) in corpus("sshsig") {
        if let Ok(sig) = sshsig::parse_blob(&data) {
            assert_eq!(sig.to_blob(), data, "{name}");
            parsed += 1;
        }
        if let Ok(text) = std::str::from_utf8(&data)
            && let Ok(sig) = sshsig::parse_armored(text)
        {
            assert_eq!(
                sshsig::parse_armored(&sig.to_armored()).as_ref(),
                Ok(&sig),
                "{name}"
            );
            parsed += 1;
        }
    }
    assert!(parsed > 0, "no seed signature parses");
}

#[test]
fn statement_corpus() {
    let mut parsed = 0;
    for (name, data) in corpus("statement") {
        if let Ok(s) = MouSignatureStatement::parse_strict(&data) {
            assert_eq!(s.to_bytes().as_deref(), Ok(data.as_slice()), "{name}");
            parsed += 1;
        }
        if let Ok(s) = KeyRegistrationStatement::parse_strict(&data) {
            assert_eq!(s.to_bytes().as_deref(), Ok(data.as_slice()), "{name}");
            parsed += 1;
        }
    }
    assert!(parsed > 0, "no seed statement parses");
}

#[test]
fn checkpoint_corpus() {
    for (name, data) in corpus("checkpoint") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let _ = note::open_note(text, &[]);
        if let Ok(cp) = Checkpoint::parse_text(text) {
            assert_eq!(cp.to_text().as_deref(), Ok(text), "{name}");
        }
        if let Ok(v) = NoteVerifier::from_vkey(text) {
            assert_eq!(
                NoteVerifier::from_vkey(&v.to_vkey()).map(|v| v.to_vkey()),
                Ok(v.to_vkey()),
                "{name}"
            );
        }
    }
}

#[test]
fn cosignature_corpus() {
    use amity_verify::cosignature::{Cosignature, CosignerKey};
    use amity_verify::witness::AddCheckpoint;
    let mut parsed = 0;
    for (name, data) in corpus("cosignature") {
        if let Ok(req) = AddCheckpoint::parse(&data) {
            let body = AddCheckpoint::to_body(req.old, &req.proof, req.note);
            assert_eq!(body.as_bytes(), data.as_slice(), "{name}");
            parsed += 1;
        }
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(c) = Cosignature::parse_line(text) {
            assert_eq!(c.to_line(), format!("{text}\n"), "{name}");
            parsed += 1;
        }
        if let Ok(key) = CosignerKey::from_vkey(text) {
            assert_eq!(CosignerKey::from_vkey(&key.to_vkey()), Ok(key), "{name}");
            parsed += 1;
        }
    }
    assert!(
        parsed >= 4,
        "the seeds hold two lines, a key and a request body"
    );
}

#[test]
fn bundle_corpus() {
    for (_, data) in corpus("bundle") {
        if let Ok(b) = bundle::parse(&data) {
            let _ = bundle::verify(&b, &VerifyOptions::default());
        }
    }
}

#[test]
fn csv_import_corpus() {
    for (name, data) in corpus("csv_import") {
        if let Ok(rows) = import::read_csv(&data) {
            let n = rows.len();
            let plan = import::plan(rows, &Existing::default());
            assert_eq!(plan.rows, n as u64, "{name}");
            assert!(plan.partnerships.len() + plan.rejects.len() <= n, "{name}");
        }
    }
}
