//! `amity witness`: the C2SP tlog-witness server end to end over HTTP (in-process, and as a
//! separate process killed with SIGKILL), and its command line.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use amity::witness::{self, ServeOptions, WitnessService};
use amity_verify::cosignature::{Cosignature, CosignerKey};
use amity_verify::merkle::{self, Hash, MemoryTree};
use amity_verify::note::{Checkpoint, NoteSigner, sign_checkpoint};
use amity_verify::witness::{AddCheckpoint, MAX_BODY_BYTES};
use ed25519_dalek::SigningKey;
use rand::Rng;

use crate::process::debug_bin;
use crate::support::{Reply, request};

const ORIGIN: &str = "amity.test/log";
const WITNESS_NAME: &str = "witness.test/w1";

fn log_signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap()
}

/// An honest log of `n` entries, and a fork of it that rewrote everything from `fork_at`.
fn tree(n: u64, fork_at: Option<u64>) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        let entry = match fork_at {
            Some(f) if i >= f => format!("rewritten entry {i}"),
            _ => format!("entry {i}"),
        };
        t.push(entry.as_bytes()).unwrap();
    }
    t
}

fn root(t: &MemoryTree, size: u64) -> Hash {
    merkle::root(size, &mut &*t).unwrap()
}

/// The log's signed checkpoint of the first `size` entries of `t`.
fn note(t: &MemoryTree, size: u64, signer: &NoteSigner) -> String {
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: root(t, size),
        extensions: vec![],
    };
    sign_checkpoint(&cp, &[signer]).unwrap()
}

/// The request from `old` to `size` of `t`, with the proof a log would send.
fn body(t: &MemoryTree, old: u64, size: u64, signer: &NoteSigner) -> String {
    let proof = if old == 0 || old >= size {
        vec![]
    } else {
        merkle::consistency_proof(old, size, &mut &*t).unwrap()
    };
    AddCheckpoint::to_body(old, &proof, &note(t, size, signer))
}

/// The checkpoint body a cosignature covers: the note up to its blank line.
fn checkpoint_body(note: &str) -> &str {
    &note[..note.rfind("\n\n").unwrap() + 1]
}

/// Asserts a 200 whose body is one cosignature line by `key` over the checkpoint in `body`.
fn assert_cosigned(reply: &Reply, key: &CosignerKey, body: &str) -> Cosignature {
    assert_eq!(reply.status, 200, "body: {}", reply.text());
    let text = reply.text();
    let line = text.strip_suffix('\n').expect("the line ends in a newline");
    assert!(!line.contains('\n'), "one line: {text:?}");
    let cosig = Cosignature::parse_line(line).unwrap();
    let note = body.split_once("\n\n").unwrap().1;
    key.verify(&cosig, checkpoint_body(note)).unwrap();
    cosig
}

/// Checks a cosignature line from the spec's text alone, without `amity_verify`: the key id
/// is the first 4 bytes of SHA-256(name || "\n" || 0x04 || key), the line's blob is key id,
/// 8-byte big-endian time and an Ed25519 signature over `cosignature/v1\ntime <t>\n<body>`.
fn verify_by_the_spec(vkey: &str, line: &str, checkpoint_body: &str) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use sha2::Digest as _;
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, key_b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let raw = B64.decode(key_b64).unwrap();
    assert_eq!((raw.len(), raw[0]), (33, 0x04));
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(&raw);
    let id = h.finalize()[..4].to_vec();
    assert_eq!(hex::encode(&id), id_hex);
    let key = ed25519_dalek::VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).unwrap();
    let (line_name, blob) = line
        .strip_prefix("\u{2014} ")
        .unwrap()
        .trim_end_matches('\n')
        .split_once(' ')
        .unwrap();
    assert_eq!(line_name, name);
    let blob = B64.decode(blob).unwrap();
    assert_eq!((blob.len(), &blob[..4]), (76, id.as_slice()));
    let time = u64::from_be_bytes(blob[4..12].try_into().unwrap());
    let msg = format!("cosignature/v1\ntime {time}\n{checkpoint_body}");
    let sig = ed25519_dalek::Signature::from_slice(&blob[12..]).unwrap();
    key.verify_strict(msg.as_bytes(), &sig).unwrap();
}

/// Asserts the spec's 409: the known size and its content type.
fn assert_conflict(reply: &Reply, known: u64) {
    assert_eq!(
        (reply.status, reply.header("content-type"), reply.text()),
        (409, Some("text/x.tlog.size"), format!("{known}\n")),
    );
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

fn post(agent: &ureq::Agent, base: &str, body: &[u8]) -> Result<Reply, ureq::Error> {
    request(
        agent,
        base,
        "POST",
        "/add-checkpoint",
        None,
        Some(("text/plain", body.to_vec())),
        &[],
    )
}

/// A witness state directory with a key and the test log added.
fn witness_dir() -> (tempfile::TempDir, CosignerKey) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("witness");
    let key = witness::keygen(&dir, WITNESS_NAME).unwrap();
    let added = witness::add_log(&dir, ORIGIN, &log_signer().verifier().to_vkey()).unwrap();
    assert!(added.new_log && added.new_key);
    (tmp, key)
}

/// An in-process witness server on a free port.
struct Witness {
    base: String,
    service: WitnessService,
    handle: actix_web::dev::ServerHandle,
    agent: ureq::Agent,
}

impl Witness {
    fn start(dir: &Path) -> Witness {
        let service = witness::open(dir).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let svc = service.clone();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server =
                    witness::build_server(svc, listener, &ServeOptions::default()).unwrap();
                let _ = tx.send(server.handle());
                let _ = server.await;
            })
        });
        Witness {
            base: format!("http://127.0.0.1:{port}"),
            service,
            handle: rx.recv().unwrap(),
            agent: agent(),
        }
    }

    fn post(&self, body: &str) -> Reply {
        post(&self.agent, &self.base, body.as_bytes()).unwrap()
    }

    fn stored(&self) -> Option<(u64, Hash)> {
        let logs = self.service.store().logs().unwrap();
        logs.iter().find(|l| l.origin == ORIGIN).unwrap().cosigned
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(true));
    }
}

#[test]
fn witness_answers_every_status_of_the_spec() {
    let (tmp, key) = witness_dir();
    let w = Witness::start(&tmp.path().join("witness"));
    let signer = log_signer();
    let honest = tree(12, None);
    let fork = tree(12, Some(6));

    // 404: a log the witness does not know, even well signed.
    let other = NoteSigner::new("other.test/log", SigningKey::from_bytes(&[8; 32])).unwrap();
    let cp = Checkpoint {
        origin: "other.test/log".into(),
        size: 3,
        root: root(&honest, 3),
        extensions: vec![],
    };
    let unknown = AddCheckpoint::to_body(0, &[], &sign_checkpoint(&cp, &[&other]).unwrap());
    assert_eq!(w.post(&unknown).status, 404);
    assert_eq!(w.stored(), None);

    // 200: first contact, old 0 and no proof.
    let first = body(&honest, 0, 5, &signer);
    let reply = w.post(&first);
    assert_cosigned(&reply, &key, &first);
    let note5 = note(&honest, 5, &signer);
    verify_by_the_spec(&key.to_vkey(), &reply.text(), checkpoint_body(&note5));
    assert_eq!(w.stored(), Some((5, root(&honest, 5))));
    // 200: the same checkpoint again.
    let again = body(&honest, 5, 5, &signer);
    assert_cosigned(&w.post(&again), &key, &again);
    // 200: a larger checkpoint with a consistency proof from the stored one.
    let grown = body(&honest, 5, 8, &signer);
    assert_cosigned(&w.post(&grown), &key, &grown);
    assert_eq!(w.stored(), Some((8, root(&honest, 8))));

    // 409: an old size that is not the stored one.
    assert_conflict(&w.post(&body(&honest, 0, 10, &signer)), 8);
    assert_conflict(&w.post(&body(&honest, 5, 10, &signer)), 8);
    // 409: the stored size with another root (a fork), kept as evidence.
    assert_conflict(&w.post(&body(&fork, 8, 8, &signer)), 8);
    // 422: a proof that does not verify (the fork cannot be proven from the stored root).
    let forked = body(&fork, 8, 12, &signer);
    assert_eq!(w.post(&forked).status, 422);
    let mut proof = merkle::consistency_proof(8, 12, &mut &honest).unwrap();
    proof[0][0] ^= 1;
    let tampered = AddCheckpoint::to_body(8, &proof, &note(&honest, 12, &signer));
    let reply = w.post(&tampered);
    assert_eq!(
        (reply.status, reply.header("content-type")),
        (422, Some("text/plain; charset=utf-8")),
        "{}",
        reply.text()
    );
    let evidence = w.service.store().refusals().unwrap();
    assert_eq!(
        evidence
            .iter()
            .map(|(o, s, _, _)| (o.as_str(), *s))
            .collect::<Vec<_>>(),
        [(ORIGIN, 409), (ORIGIN, 422), (ORIGIN, 422)],
        "the fork and the bad proofs are recorded, the stale old sizes are not"
    );

    // 400: old beyond the checkpoint's size, and malformed bodies.
    let beyond = AddCheckpoint::to_body(13, &[], &note(&honest, 12, &signer));
    assert_eq!(w.post(&beyond).status, 400);
    let cp12 = note(&honest, 12, &signer);
    for bad in [
        format!("old 08\n\n{cp12}"),
        format!("old 8\nnot base64\n\n{cp12}"),
        format!("old 8\n{cp12}"),
        "nonsense".to_string(),
        format!("old 8\n\n{}", cp12.replace("\u{2014}", "-")),
    ] {
        let reply = w.post(&bad);
        assert_eq!(reply.status, 400, "{bad:?}: {}", reply.text());
    }
    // 403: signed by a key the witness does not trust for the origin.
    let stranger = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[9; 32])).unwrap();
    assert_eq!(w.post(&body(&honest, 8, 12, &stranger)).status, 403);
    // A body beyond the limit is refused before it is parsed.
    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    assert!(matches!(w.post(&huge).status, 400 | 413));

    // None of the refusals moved the stored checkpoint, and the honest log still extends it.
    assert_eq!(w.stored(), Some((8, root(&honest, 8))));
    let honest12 = body(&honest, 8, 12, &signer);
    assert_cosigned(&w.post(&honest12), &key, &honest12);

    // The page names the witness, its key and the log.
    let page = request(&w.agent, &w.base, "GET", "/", None, None, &[]).unwrap();
    let text = page.text();
    assert_eq!(page.status, 200);
    for needle in [WITNESS_NAME, &key.to_vkey(), ORIGIN, "size 12"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[test]
fn state_survives_a_restart() {
    let (tmp, key) = witness_dir();
    let dir = tmp.path().join("witness");
    let signer = log_signer();
    let honest = tree(9, None);
    {
        let w = Witness::start(&dir);
        let first = body(&honest, 0, 5, &signer);
        assert_cosigned(&w.post(&first), &key, &first);
    }
    let w = Witness::start(&dir);
    // The witness remembers size 5: from 0 is a conflict naming it...
    assert_conflict(&w.post(&body(&honest, 0, 9, &signer)), 5);
    // ...and from 5 with a proof it cosigns.
    let next = body(&honest, 5, 9, &signer);
    assert_cosigned(&w.post(&next), &key, &next);
    assert_eq!(w.stored(), Some((9, root(&honest, 9))));
}

/// Racing requests from one old size to different sizes: one wins, the others get 409, and
/// what is stored is the winner's. Never a cosignature the stored state would roll back.
#[test]
fn concurrent_requests_are_serialised() {
    let (tmp, key) = witness_dir();
    let w = Witness::start(&tmp.path().join("witness"));
    let signer = log_signer();
    let honest = tree(200, None);
    let first = body(&honest, 0, 2, &signer);
    assert_cosigned(&w.post(&first), &key, &first);
    let mut known = 2;
    for round in 0..15u64 {
        let sizes = [known + 1, known + 2 + round % 3, known + 5, known + 7];
        let barrier = Arc::new(Barrier::new(sizes.len()));
        let answers: Vec<(u64, Reply)> = thread::scope(|s| {
            let handles: Vec<_> = sizes
                .iter()
                .map(|&size| {
                    let (barrier, w, honest, signer) = (&barrier, &w, &honest, &signer);
                    s.spawn(move || {
                        let b = body(honest, known, size, signer);
                        barrier.wait();
                        (size, w.post(&b))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<u64> = answers
            .iter()
            .filter(|(_, r)| r.status == 200)
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one wins: {answers:?}");
        for (size, reply) in &answers {
            if reply.status != 200 {
                assert_eq!(reply.status, 409, "size {size}: {}", reply.text());
            }
        }
        known = won[0];
        assert_eq!(w.stored(), Some((known, root(&honest, known))));
    }
}

/// `amity witness serve` as a separate process.
struct WitnessProcess {
    child: Child,
    base: String,
    vkey: String,
}

impl WitnessProcess {
    fn start(dir: &Path, log: &Path) -> WitnessProcess {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(debug_bin())
            .args(["witness", "serve", "--bind", "127.0.0.1:0", "--dir"])
            .arg(dir)
            .env_remove("AMITY_WITNESS_BIND")
            .env_remove("AMITY_WITNESS_DIR")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut vkey = String::new();
        let mut line = String::new();
        while !line.contains("http://") {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                let _ = child.wait();
                panic!(
                    "amity witness serve exited before listening; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Some(k) = line.trim().strip_prefix("witness key: ") {
                vkey = k.to_string();
            }
        }
        thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .to_string();
        WitnessProcess { child, base, vkey }
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = Command::new(debug_bin())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env_remove("AMITY_WITNESS_DIR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// SIGKILL at a random point of a stream of requests: after a restart the witness's size is
/// the last one a client got a cosignature for, or later (one whose answer was lost), never
/// earlier; and it refuses another root for the size it stored and for every size it
/// acknowledged.
#[test]
fn sigkill_never_loses_an_acknowledged_cosignature() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("witness");
    let log = tmp.path().join("witness.log");
    let (ok, vkey, err) = cli(&["witness", "keygen", "--name", WITNESS_NAME], &dir);
    assert!(ok, "{err}");
    let key = CosignerKey::from_vkey(vkey.trim()).unwrap();
    let (ok, _, err) = cli(
        &[
            "witness",
            "add-log",
            "--origin",
            ORIGIN,
            "--key",
            &log_signer().verifier().to_vkey(),
        ],
        &dir,
    );
    assert!(ok, "{err}");

    let signer = Arc::new(log_signer());
    let honest = Arc::new(tree(400, None));
    let fork = tree(400, Some(0));
    let mut rng = rand::thread_rng();
    // Every (size, root) a client was given a cosignature for, over all rounds.
    let mut acknowledged: Vec<(u64, Hash)> = Vec::new();
    let mut known = 0u64;
    for round in 0..3 {
        let w = WitnessProcess::start(&dir, &log);
        assert_eq!(w.vkey, key.to_vkey());
        let kill_after = rng.gen_range(3..40);
        let (tx, rx) = mpsc::channel::<(u64, Hash)>();
        let client = {
            let (base, honest, signer, key) =
                (w.base.clone(), honest.clone(), signer.clone(), key.clone());
            thread::spawn(move || {
                let agent = agent();
                let mut old = known;
                let mut step = 0u64;
                loop {
                    step += 1;
                    let size = old + 1 + step % 3;
                    if size > honest.size() {
                        return;
                    }
                    let b = body(&honest, old, size, &signer);
                    let Ok(reply) = post(&agent, &base, b.as_bytes()) else {
                        return; // the witness was killed
                    };
                    assert_cosigned(&reply, &key, &b);
                    old = size;
                    if tx.send((size, root(&honest, size))).is_err() {
                        return;
                    }
                }
            })
        };
        let mut acked_this_round = 0;
        while acked_this_round < kill_after {
            let Ok(ack) = rx.recv() else { break };
            acknowledged.push(ack);
            acked_this_round += 1;
        }
        // The client keeps sending while the witness dies, at whatever stage its next
        // request is in.
        w.kill9();
        acknowledged.extend(rx.iter());
        client.join().unwrap();
        assert!(!acknowledged.is_empty(), "round {round}: nothing cosigned");
        let &(last_acked, _) = acknowledged.last().unwrap();

        let w = WitnessProcess::start(&dir, &log);
        let agent = agent();
        // A request from 0 tells the stored size (409 names it).
        let probe = body(&honest, 0, honest.size(), &signer);
        let reply = post(&agent, &w.base, probe.as_bytes()).unwrap();
        assert_eq!(reply.status, 409, "{}", reply.text());
        let stored: u64 = reply.text().trim().parse().unwrap();
        assert!(
            stored >= last_acked,
            "round {round}: stored {stored} but size {last_acked} was cosigned"
        );
        // Another root at the stored size, and at every acknowledged size, is refused.
        let at_stored = AddCheckpoint::to_body(stored, &[], &note(&fork, stored, &signer));
        assert_conflict(
            &post(&agent, &w.base, at_stored.as_bytes()).unwrap(),
            stored,
        );
        for &(size, honest_root) in &acknowledged {
            assert_ne!(root(&fork, size), honest_root);
            let forked = AddCheckpoint::to_body(size, &[], &note(&fork, size, &signer));
            assert_eq!(
                post(&agent, &w.base, forked.as_bytes()).unwrap().status,
                409
            );
        }
        // The stored root is the honest one: the honest log extends it.
        let next = body(&honest, stored, stored + 1, &signer);
        assert_cosigned(
            &post(&agent, &w.base, next.as_bytes()).unwrap(),
            &key,
            &next,
        );
        known = stored + 1;
        acknowledged.push((known, root(&honest, known)));
        drop(w);
    }
}

#[test]
fn witness_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("witness");

    let (ok, _, err) = cli(&["witness", "keygen", "--name", "bad name"], &dir);
    assert!(!ok && err.contains("not a valid witness name"), "{err}");
    let (ok, out, err) = cli(&["witness", "keygen", "--name", WITNESS_NAME], &dir);
    assert!(ok, "{err}");
    let key = CosignerKey::from_vkey(out.trim()).unwrap();
    assert_eq!(key.name(), WITNESS_NAME);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("witness.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(dir.join("witness.key")).unwrap();
    let (ok, _, err) = cli(&["witness", "keygen", "--name", "witness.test/w2"], &dir);
    assert!(!ok && err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(dir.join("witness.key")).unwrap(), before);

    let vkey = log_signer().verifier().to_vkey();
    let add = |origin: &str, key: &str| {
        cli(
            &["witness", "add-log", "--origin", origin, "--key", key],
            &dir,
        )
    };
    let (ok, _, err) = add(ORIGIN, "not a key");
    assert!(!ok && err.contains("is not a log key"), "{err}");
    // A cosigner key (type 0x04) is not a log key.
    let (ok, _, err) = add(WITNESS_NAME, &key.to_vkey());
    assert!(!ok && err.contains("is not a log key"), "{err}");
    let (ok, _, err) = add("other.test/log", &vkey);
    assert!(!ok && err.contains("origin"), "{err}");
    let (ok, out, err) = add(ORIGIN, &vkey);
    assert!(
        ok && out.contains("added log") && out.contains(&vkey),
        "{out}{err}"
    );
    let (ok, out, _) = add(ORIGIN, &vkey);
    assert!(ok && out.contains("already known"), "{out}");

    let (ok, out, err) = cli(&["witness", "list"], &dir);
    assert!(ok, "{err}");
    for needle in [
        key.to_vkey().as_str(),
        ORIGIN,
        vkey.as_str(),
        "cosigned nothing yet",
    ] {
        assert!(out.contains(needle), "{needle} in {out}");
    }

    // serve refuses to start with a key other users can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path: PathBuf = dir.join("witness.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (ok, _, err) = cli(&["witness", "serve", "--bind", "127.0.0.1:0"], &dir);
        assert!(!ok && err.contains("chmod 600"), "{err}");
    }
}
