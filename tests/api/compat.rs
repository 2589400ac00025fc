//! A registry written by the previous release keeps working with this code. The fixture in
//! tests/fixtures/compat/ was made over HTTP by the release binary (see its README and
//! make.sh); each test restores it into a fresh database, starts the current server on it with
//! the fixture's registry key, and checks what an auditor, a signatory or an office of that
//! registry relies on: the old entries are served byte for byte, the checkpoint an auditor
//! kept is proven consistent, the old evidence bundle verifies, new writes continue the log,
//! and the old tokens still open the API.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use amity::log::merkle;
use amity::log::note::{NoteVerifier, open_checkpoint};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::audit::audit_with;
use crate::support::{Backend, TestDb, TestServer, status_body};

const BIN: &str = env!("CARGO_BIN_EXE_amity");
const ORIGIN: &str = "amity.localhost";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compat")
}

/// What one backend's half of the fixture holds.
struct Old {
    dir: PathBuf,
    manifest: Value,
    tokens: Value,
}

impl Old {
    fn load(backend: Backend) -> Old {
        let dir = fixture().join(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        });
        let read = |name: &str| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
        };
        Old {
            manifest: read("manifest.json"),
            tokens: read("tokens.json"),
            dir,
        }
    }

    fn token(&self, name: &str) -> String {
        self.tokens[name].as_str().unwrap().to_string()
    }

    fn id(&self, name: &str) -> String {
        self.manifest["ids"][name].as_str().unwrap().to_string()
    }

    fn size(&self) -> u64 {
        self.manifest["size"].as_u64().unwrap()
    }
}

/// Copies a fixture directory into `to`, with private key files made owner-only again (git
/// keeps no file modes, and the server and ssh-keygen refuse a private key others can read).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        let target = to.join(f.file_name());
        std::fs::copy(f.path(), &target).unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        let private = name == "registry.skey" || !name.contains('.');
        let mode = if private { 0o600 } else { 0o644 };
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// Restores the old registry into a fresh test database and starts the current server on it,
/// which runs its own migrations over the old schema.
fn restore(backend: Backend) -> (TestServer, Old) {
    let old = Old::load(backend);
    let db = TestDb::create(backend);
    match backend {
        Backend::Sqlite => {
            std::fs::copy(old.dir.join("amity.db"), db.dir.path().join("amity.db")).unwrap();
        }
        Backend::Postgres => {
            let dump = std::fs::read_to_string(old.dir.join("dump.sql")).unwrap();
            db.exec_pg_script(&dump).unwrap();
        }
    }
    let keys = db.dir.path().join("fixture-keys");
    copy_dir(&fixture().join("keys"), &keys);
    let srv = TestServer::start_on(db, Some(&keys), |_| {});
    (srv, old)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn decode_entry(view: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(view["entry"].as_str().unwrap())
        .unwrap()
}

/// (a) Every old entry is served with exactly the bytes, leaf hash and kind it had, by the
/// list and by the single-entry route.
fn old_entries_are_served_unchanged(srv: &TestServer, old: &Old) {
    let expected = old.manifest["entries"].as_array().unwrap();
    assert_eq!(expected.len() as u64, old.size());
    let mut served = Vec::new();
    while served.len() < expected.len() {
        let page = srv
            .get(&format!(
                "/api/v1/log/entries?start={}&limit=1000",
                served.len()
            ))
            .json();
        let entries = page["entries"].as_array().unwrap();
        assert!(!entries.is_empty(), "the log ends at {}", served.len());
        served.extend(entries.iter().cloned());
    }
    for (want, got) in expected.iter().zip(&served) {
        let index = want["index"].as_u64().unwrap();
        assert_eq!(got["index"].as_u64(), Some(index));
        let single = srv.get(&format!("/api/v1/log/entries/{index}")).json();
        for view in [got, &single] {
            let bytes = decode_entry(view);
            assert_eq!(
                sha256_hex(&bytes),
                want["sha256"].as_str().unwrap(),
                "entry {index} changed: {}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(view["leaf_hash"], want["leaf_hash"], "entry {index}");
            assert_eq!(view["kind"], want["kind"], "entry {index}");
            assert_eq!(
                hex::encode(merkle::leaf_hash(&bytes)),
                want["leaf_hash"].as_str().unwrap()
            );
        }
    }
}

/// The current checkpoint, verified under the fixture's registry key: (size, root).
fn current_checkpoint(srv: &TestServer, verifier: &NoteVerifier) -> (u64, merkle::Hash) {
    let note = srv.get("/api/v1/log/checkpoint").text();
    let (c, _) = open_checkpoint(&note, ORIGIN, std::slice::from_ref(verifier)).unwrap();
    (c.size, c.root)
}

/// (b) The checkpoint the old audit kept is proven consistent with the server's current one.
fn kept_checkpoint_is_consistent(srv: &TestServer, old: &Old) {
    let state: Value =
        serde_json::from_slice(&std::fs::read(old.dir.join("audit-state.json")).unwrap()).unwrap();
    let vkey = std::fs::read_to_string(fixture().join("keys/registry.vkey")).unwrap();
    assert_eq!(state["vkey"].as_str().unwrap(), vkey.trim());
    assert_eq!(
        srv.get("/api/v1/log/key").json()["vkey"].as_str(),
        Some(vkey.trim()),
        "the server does not sign with the fixture's registry key"
    );
    let verifier = NoteVerifier::from_vkey(vkey.trim()).unwrap();
    let (kept, _) = open_checkpoint(
        state["checkpoint"].as_str().unwrap(),
        ORIGIN,
        std::slice::from_ref(&verifier),
    )
    .unwrap();
    assert_eq!(kept.size, old.size());
    let (size, root) = current_checkpoint(srv, &verifier);
    assert!(size >= kept.size);
    let proof = srv
        .get(&format!(
            "/api/v1/log/proof/consistency?from={}&to={size}",
            kept.size
        ))
        .json();
    let hashes: Vec<merkle::Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| merkle::hash_from_slice(&hex::decode(h.as_str().unwrap()).unwrap()).unwrap())
        .collect();
    merkle::verify_consistency(kept.size, size, &kept.root, &root, &hashes).unwrap();
}

/// `amity audit` of the current binary, with a copy of the state the old audit kept.
fn audit_passes(srv: &TestServer, old: &Old, state: &Path) {
    let (ok, text) = audit_with(srv, state, &["--token", &old.token("auditor")]);
    assert!(ok, "{text}");
    assert!(text.contains("kept from the previous audit"), "{text}");
    assert!(text.contains("verdict: PASS"), "{text}");
}

/// (c) The old evidence bundle of the executed MOU verifies offline with the current binary.
fn old_bundle_verifies(old: &Old) {
    let vkey = std::fs::read_to_string(fixture().join("keys/registry.vkey")).unwrap();
    let out = Command::new(BIN)
        .arg("verify")
        .arg(old.dir.join("bundle.json"))
        .arg("--registry-key")
        .arg(vkey.trim())
        .arg("--document")
        .arg(fixture().join("documents/mou.txt"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("verdict: PASS"), "{text}");
}

/// (e) The tokens the old release issued still authenticate, each with its role, and the one
/// it revoked stays revoked.
fn old_tokens_authenticate(srv: &TestServer, old: &Old) {
    let evidence = format!("/api/v1/activities/{}/evidence/1", old.id("activity"));
    assert_eq!(srv.get(&evidence).status, 401);
    for who in ["auditor", "admin", "office_us_hou", "office_cn_sha"] {
        let r = srv.get_as(&evidence, &old.token(who));
        assert_eq!(r.status, 200, "{who}: {}", r.text());
    }
    // Berlin's office is not a party to the activity's partnership: known, but not allowed.
    let r = srv.get_as(&evidence, &old.token("office_de_ber"));
    assert_eq!(r.status, 403, "{}", r.text());
    srv.get_as(&evidence, &old.token("revoked"))
        .assert_problem(401, "token_revoked");
}

/// (f) The documents the old release stored whole in their rows, moved into chunks by the
/// migration to chunked storage, are served byte for byte, and the audit below hashes them
/// again from the chunks.
fn old_documents_are_served_unchanged(srv: &TestServer, old: &Old) {
    let auditor = old.token("auditor");
    let mou = old.id("mou");
    for (path, file) in [
        (
            format!("/api/v1/mous/{mou}/versions/1/document"),
            "mou-v1.txt",
        ),
        (format!("/api/v1/mous/{mou}/versions/2/document"), "mou.txt"),
        (
            format!("/api/v1/activities/{}/evidence/1", old.id("activity")),
            "programme.txt",
        ),
    ] {
        let want = std::fs::read(fixture().join("documents").join(file)).unwrap();
        let r = srv.get_as(&path, &auditor);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert!(
            r.body == want,
            "{path} is not {file} as the old release stored it"
        );
        assert_eq!(
            r.header("etag"),
            Some(format!("\"sha256:{}\"", sha256_hex(&want)).as_str())
        );
    }
}

/// Signs the current version of `mou` with `amity sign`, as a signatory of the old registry
/// whose key the old release registered and approved.
fn sign(srv: &TestServer, token: &str, key: &Path, mou: &str, document: &Path) {
    let out = Command::new(BIN)
        .args(["sign", "--server", &srv.base, "--token", token, "--key"])
        .arg(key)
        .args(["--mou", mou, "--document"])
        .arg(document)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (d) New writes with the old tokens and keys land after the old entries.
fn new_writes_continue_the_log(srv: &TestServer, old: &Old) {
    let size = old.size() as i64;
    assert_eq!(srv.log_size(), size);
    let admin = old.token("admin");
    let hou = old.token("office_us_hou");
    let sha = old.token("office_cn_sha");

    srv.city(&admin, "it-rom", "Rome");
    let city = srv.entry(size);
    assert_eq!(
        (city["type"].as_str(), city["city"].as_str()),
        (Some("city.created"), Some("it-rom"))
    );

    let sister = old.id("partnership_sister");
    // A new MOU on the same partnership, signed by both mayors with the keys the old release
    // approved.
    let r = srv.post(
        "/api/v1/mous",
        Some(&hou),
        &json!({"partnership": sister, "title": "Climate MOU"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let mou = r.json()["id"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("climate.txt");
    std::fs::write(
        &document,
        "Memorandum of Understanding on Climate Cooperation\n",
    )
    .unwrap();
    let r = srv.send(
        "POST",
        &format!("/api/v1/mous/{mou}/versions?filename=climate.txt"),
        Some(&hou),
        Some(("text/plain", std::fs::read(&document).unwrap())),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let keys = dir.path().join("keys");
    copy_dir(&fixture().join("input"), &keys);
    sign(srv, &hou, &keys.join("hou_mayor"), &mou, &document);
    sign(srv, &sha, &keys.join("sha_mayor"), &mou, &document);
    let state = srv.get(&format!("/api/v1/mous/{mou}")).json();
    assert_eq!(state["state"], "executed", "{state}");
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    for s in chain["signatures"].as_array().unwrap() {
        assert!(s["log_index"].as_i64().unwrap() > size, "{s}");
    }
    let audit = srv.get(&format!("/api/v1/mous/{mou}/audit")).json();
    assert_eq!(audit["verdict"], "pass", "{audit}");
    // The old MOU's audit report still passes under the new rules too.
    let audit = srv
        .get(&format!("/api/v1/mous/{}/audit", old.id("mou")))
        .json();
    assert_eq!(audit["verdict"], "pass", "{audit}");

    // A status change continues the partnership's old sequence (registered, confirmed,
    // curtailed, resumed).
    let r = srv.post(
        &format!("/api/v1/partnerships/{sister}/status"),
        Some(&hou),
        &status_body("curtailed", Some("Exchanges paused again")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let index = r.json()["log_index"].as_i64().unwrap();
    assert!(index > size, "{index}");
    assert_eq!(srv.entry(index)["seq"].as_i64(), Some(5));

    // The old entries did not move.
    old_entries_are_served_unchanged(srv, old);
}

fn check_old_registry(backend: Backend) {
    let (srv, old) = restore(backend);
    old_entries_are_served_unchanged(&srv, &old);
    kept_checkpoint_is_consistent(&srv, &old);
    let state = srv.db.dir.path().join("audit-state.json");
    std::fs::copy(old.dir.join("audit-state.json"), &state).unwrap();
    audit_passes(&srv, &old, &state);
    old_bundle_verifies(&old);
    old_tokens_authenticate(&srv, &old);
    old_documents_are_served_unchanged(&srv, &old);
    new_writes_continue_the_log(&srv, &old);
    // The state the first audit kept, and the one the old release kept, both lead on to the
    // checkpoint over the new writes.
    audit_passes(&srv, &old, &state);
    kept_checkpoint_is_consistent(&srv, &old);
    let pristine = srv.db.dir.path().join("old-audit-state.json");
    std::fs::copy(old.dir.join("audit-state.json"), &pristine).unwrap();
    audit_passes(&srv, &old, &pristine);
}

mod old_registry_keeps_working {
    use crate::support::Backend;

    #[test]
    fn sqlite() {
        super::check_old_registry(Backend::Sqlite);
    }

    crate::postgres_test! {
        fn postgres() {
            super::check_old_registry(Backend::Postgres);
        }
    }
}
