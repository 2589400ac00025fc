//! The registry as a witness client (issue 14; docs/witnessing.md): two partner-city witnesses
//! (`amity witness`) cosign its checkpoints under a policy with a quorum of two; cosignatures
//! are served on the checkpoint and in bundles; a stopped witness blocks the quorum but not
//! writes; a witness that knows more than the registry is resynchronised through 409; a
//! forked registry with the same key never gathers the quorum; `amity audit --policy` and
//! `amity verify --policy` say which witnesses cosigned and fail without the quorum.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use amity::config::Settings;
use amity_verify::cosignature::{Cosignature, CosignerKey};
use serde_json::{Value, json};

use crate::process::WitnessProcess;
use crate::signing::{Signatory, create_mou, enroll, sign_mou, upload};
use crate::support::{Backend, TestDb, TestServer, World};

const BIN: &str = env!("CARGO_BIN_EXE_amity");

/// One witness of a partner city, served in this process on a port it keeps across restarts.
pub struct Witness {
    pub name: String,
    pub key: CosignerKey,
    pub dir: tempfile::TempDir,
    pub port: u16,
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Witness {
    /// A new witness named `name` that witnesses the log whose key is `registry_vkey`.
    pub fn new(name: &str, origin: &str, registry_vkey: &str) -> Witness {
        let dir = tempfile::tempdir().unwrap();
        let key = amity::witness::keygen(dir.path(), name).unwrap();
        amity::witness::add_log(dir.path(), origin, registry_vkey).unwrap();
        let mut w = Witness {
            name: name.to_string(),
            key,
            dir,
            port: 0,
            handle: None,
        };
        w.start();
        w
    }

    /// Starts (or restarts) serving on its port, from its state directory.
    pub fn start(&mut self) {
        assert!(self.handle.is_none(), "already running");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.port = listener.local_addr().unwrap().port();
        let service = amity::witness::open(self.dir.path()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = amity::witness::build_server(
                    service,
                    listener,
                    &amity::witness::ServeOptions::default(),
                )
                .unwrap();
                let _ = tx.send(server.handle());
                let _ = server.await;
            })
        });
        self.handle = Some(rx.recv().unwrap());
    }

    /// Stops serving; the state directory stays.
    pub fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            actix_web::rt::System::new().block_on(handle.stop(false));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn policy_line(&self, policy_name: &str) -> String {
        format!(
            "witness {policy_name} {} {}\n",
            self.key.to_vkey(),
            self.url()
        )
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A registry key made before the registry starts, so the witnesses can be told it.
fn registry_key(db: &TestDb) -> String {
    let signer =
        amity::log::registry_key::create(&db.dir.path().join("keys"), "amity.localhost").unwrap();
    signer.verifier().to_vkey()
}

/// Two witnesses, Berlin and Lyon, and a policy that needs both.
fn partner_witnesses(vkey: &str, dir: &Path) -> (Witness, Witness, PathBuf) {
    let berlin = Witness::new("witness.berlin.example/w1", "amity.localhost", vkey);
    let lyon = Witness::new("witness.lyon.example/w1", "amity.localhost", vkey);
    let policy = dir.join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "# Partner cities that witness this registry\nlog {vkey}\n{}{}group partners all berlin lyon\nquorum partners\n",
            berlin.policy_line("berlin"),
            lyon.policy_line("lyon"),
        ),
    )
    .unwrap();
    (berlin, lyon, policy)
}

fn witnessing(policy: &Path) -> impl FnOnce(&mut Settings) {
    let policy = policy.to_path_buf();
    move |s: &mut Settings| {
        s.witness_policy = Some(policy);
        s.witness_interval_ms = 50;
        s.witness_timeout_ms = 2_000;
        s.witness_wait_ms = 15_000;
    }
}

/// The cosignature lines of a served note, by key name.
fn cosigners(note: &str, witnesses: &[&Witness]) -> Vec<String> {
    let body_end = note.rfind("\n\n").unwrap() + 1;
    let body = &note[..body_end];
    let mut names = Vec::new();
    for line in note[body_end + 1..].lines() {
        let Ok(c) = Cosignature::parse_line(line) else {
            continue;
        };
        for w in witnesses {
            if w.key.verify(&c, body).is_ok() {
                names.push(w.name.clone());
            }
        }
    }
    names
}

fn note_size(note: &str) -> i64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// `amity audit --policy` (and `--registry-key`); (passed, output).
fn audit(srv: &TestServer, policy: &Path, vkey: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args([
            "audit",
            "--server",
            &srv.base,
            "--registry-key",
            vkey,
            "--policy",
        ])
        .arg(policy)
        .env_remove("AMITY_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs [`audit`] and checks its verdict and its witness-quorum line.
fn assert_audit(srv: &TestServer, policy: &Path, vkey: &str, passes: bool, quorum_line: &str) {
    let (ok, out) = audit(srv, policy, vkey);
    assert_eq!(ok, passes, "{out}");
    assert!(out.contains(quorum_line), "{out}");
}

/// Creates `n` cities (one log entry each) with names unique to `tag`.
fn write_cities(srv: &TestServer, admin: &str, tag: &str, n: usize) {
    for i in 0..n {
        srv.city(admin, &format!("{tag}{i:03}"), "Town");
    }
}

fn start(backend: Backend) -> (TestServer, Witness, Witness, PathBuf, String) {
    start_with(backend, |_| ())
}

fn start_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
) -> (TestServer, Witness, Witness, PathBuf, String) {
    let db = TestDb::create(backend);
    let vkey = registry_key(&db);
    let (berlin, lyon, policy) = partner_witnesses(&vkey, db.dir.path());
    let srv = TestServer::start_on(db, None, |s| {
        witnessing(&policy)(s);
        adjust(s);
    });
    (srv, berlin, lyon, policy, vkey)
}

/// Cosignatures appear under a steady write load; the quorum's checkpoint is served with
/// `witnessed=1`; the audit with the policy passes and names both witnesses; metrics and the
/// log page show each witness.
fn two_witnesses_cosign_under_load(backend: Backend) {
    let (srv, berlin, lyon, policy, vkey) = start(backend);
    let w = World::build(&srv);
    let writer = {
        let base = srv.base.clone();
        let admin = w.admin.clone();
        std::thread::spawn(move || {
            let remote = crate::support::Remote::new(&base);
            for i in 0..60 {
                let r = remote.try_post(
                    "/api/v1/admin/cities",
                    Some(&admin),
                    &json!({"code": format!("fr-l{i:03}"), "name": "Load", "country": "FR", "lat": 1.0, "lon": 2.0}),
                );
                assert_eq!(r.map(|r| r.status).ok(), Some(201));
            }
        })
    };
    let mut sizes = Vec::new();
    for _ in 0..5 {
        let size = srv.log_size();
        let r = srv.get("/api/v1/log/checkpoint?witnessed=1");
        assert_eq!(r.status, 200, "{}", r.text());
        let note = r.text();
        assert!(
            note_size(&note) >= size,
            "a witnessed checkpoint older than asked"
        );
        let mut by = cosigners(&note, &[&berlin, &lyon]);
        by.sort();
        assert_eq!(by, [berlin.name.clone(), lyon.name.clone()], "{note}");
        sizes.push(note_size(&note));
    }
    writer.join().unwrap();
    assert!(sizes.windows(2).all(|p| p[0] <= p[1]), "{sizes:?}");

    // The plain checkpoint carries whatever cosignatures reached the registry.
    let size = srv.log_size();
    let witnessed = srv.get("/api/v1/log/checkpoint?witnessed=1").text();
    assert_eq!(note_size(&witnessed), size);
    let plain = srv.get("/api/v1/log/checkpoint").text();
    assert_eq!(
        plain, witnessed,
        "the same checkpoint, the same cosignatures"
    );

    assert_audit(
        &srv,
        &policy,
        &vkey,
        true,
        "PASS  witness quorum: quorum met (group partners: 2 of berlin, lyon); cosigned by berlin, lyon; missing none",
    );

    let metrics = srv.get("/metrics").text();
    assert!(
        metrics.contains(&format!(
            "amity_witness_cosigned_size{{witness=\"berlin\"}} {size}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("amity_witness_lag_entries{witness=\"lyon\"} 0"),
        "{metrics}"
    );
    let page = srv.get("/log").text();
    assert!(page.contains("group partners: 2 of berlin, lyon"), "{page}");
    assert!(page.contains("witness.lyon.example/w1"), "{page}");
}

/// Under a steady load of concurrent writers, with no reader asking for `witnessed=1` (so
/// nothing kicks the witness threads) and one witness slower than the other, both are asked
/// to cosign the same checkpoints: nearly every checkpoint the slow witness cosigned is one the
/// fast witness cosigned too, so the quorum is met again and again during the load. Had each
/// witness thread a checkpoint of its own signed, the two would meet on a size by chance only.
fn witnesses_meet_on_one_checkpoint_under_concurrent_load(backend: Backend) {
    // Lyon answers 40 ms later than Berlin, as a witness abroad would.
    let (srv, berlin, lyon, _policy, _vkey) = start_with(backend, |s| {
        let path = s.witness_policy.clone().unwrap();
        let policy = std::fs::read_to_string(&path).unwrap();
        let far = policy
            .lines()
            .map(|line| match line.strip_prefix("witness lyon ") {
                Some(rest) => {
                    let (vkey, url) = rest.split_once(' ').unwrap();
                    let upstream = url.trim_start_matches("http://").to_string();
                    let proxy = slow_proxy(upstream, Duration::from_millis(40));
                    format!("witness lyon {vkey} {proxy}\n")
                }
                None => format!("{line}\n"),
            })
            .collect::<String>();
        std::fs::write(&path, far).unwrap();
    });
    let w = World::build(&srv);
    let size_before = srv.log_size();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (base, admin, stop) = (srv.base.clone(), w.admin.clone(), stop.clone());
            std::thread::spawn(move || {
                let remote = crate::support::Remote::new(&base);
                let mut written = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && written < 5_000 {
                    let r = remote.try_post(
                        "/api/v1/admin/cities",
                        Some(&admin),
                        &json!({"code": format!("it-c{t}{written:04}"), "name": "Load", "country": "IT", "lat": 1.0, "lon": 2.0}),
                    );
                    assert_eq!(r.map(|r| r.status).ok(), Some(201));
                    written += 1;
                }
                written
            })
        })
        .collect();

    // Sizes each witness cosigned since the load began, until Lyon has cosigned ten.
    let db = amity::db::Db::open(&srv.db.url, 1).expect("open the test database");
    let cosigned_by = |rows: &[amity::db::cosignatures::CosignatureRow], name: &str| {
        rows.iter()
            .filter(|r| r.witness == name)
            .map(|r| r.size)
            .collect::<std::collections::BTreeSet<i64>>()
    };
    let started = Instant::now();
    let (mut by_berlin, mut by_lyon) = Default::default();
    while started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
        let rows = db
            .read(|c| amity::db::cosignatures::from_size(c, size_before + 1))
            .unwrap();
        (by_berlin, by_lyon) = (
            cosigned_by(&rows, &berlin.name),
            cosigned_by(&rows, &lyon.name),
        );
        if by_lyon.len() >= 10 {
            break;
        }
    }
    let load_running = writers.iter().all(|t| !t.is_finished());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u32 = writers.into_iter().map(|t| t.join().unwrap()).sum();
    let met: Vec<&i64> = by_lyon.intersection(&by_berlin).collect();
    assert!(
        load_running && by_lyon.len() >= 10,
        "Lyon cosigned {} checkpoints in {:?} and {written} writes",
        by_lyon.len(),
        started.elapsed()
    );
    // Berlin may miss a checkpoint now and then (a slow machine); by chance alone the two
    // meet on a small share.
    assert!(
        met.len() * 10 >= by_lyon.len() * 8,
        "of the {} sizes Lyon cosigned during the load, Berlin cosigned only {met:?}: {by_lyon:?} \
         against {by_berlin:?}",
        by_lyon.len()
    );
}

/// A TCP proxy in front of `upstream` that holds every chunk a client sends for `delay`
/// before passing it on (so each request, also on a kept-alive connection): a witness far
/// away. Returns the proxy's base URL.
fn slow_proxy(upstream: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    return;
                };
                let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone())
                else {
                    return;
                };
                let forward = std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n @ 1..) = client_r.read(&mut buf) {
                        std::thread::sleep(delay);
                        if server_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_w.shutdown(std::net::Shutdown::Write);
                });
                let (mut server_r, mut client_w) = (server, client);
                let _ = std::io::copy(&mut server_r, &mut client_w);
                let _ = client_w.shutdown(std::net::Shutdown::Write);
                let _ = forward.join();
            });
        }
    });
    url
}

/// A stopped witness: writes go on, `witnessed=1` answers 503 naming it, the audit with the
/// policy fails naming it; restarted, it cosigns again.
fn a_stopped_witness_blocks_the_quorum_not_writes(backend: Backend) {
    let (srv, berlin, mut lyon, policy, vkey) = start(backend);
    let w = World::build(&srv);
    assert_eq!(srv.get("/api/v1/log/checkpoint?witnessed=1").status, 200);
    lyon.stop();
    write_cities(&srv, &w.admin, "fr-s", 3);

    let started = Instant::now();
    let r = srv.get("/api/v1/log/checkpoint?witnessed=1");
    let problem = r.assert_problem(503, "witness_quorum_unavailable");
    assert_eq!(r.header("retry-after"), Some("5"));
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("lyon") && !detail.contains("berlin ("),
        "{detail}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(14_000),
        "it waited"
    );

    // Berlin kept cosigning; the plain checkpoint has its line and not Lyon's.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let note = srv.get("/api/v1/log/checkpoint").text();
        if cosigners(&note, &[&berlin, &lyon]) == [berlin.name.clone()] {
            break;
        }
        assert!(Instant::now() < deadline, "berlin never cosigned: {note}");
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_audit(
        &srv,
        &policy,
        &vkey,
        false,
        "FAIL  witness quorum: quorum NOT met (group partners: 2 of berlin, lyon); cosigned by berlin; missing lyon",
    );
    let metrics = srv.get("/metrics").text();
    assert!(
        !metrics.contains("amity_witness_failures{witness=\"lyon\"} 0"),
        "{metrics}"
    );

    lyon.start();
    let r = srv.get("/api/v1/log/checkpoint?witnessed=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let (ok, out) = audit(&srv, &policy, &vkey);
    assert!(ok, "{out}");
}

/// A witness that cosigned more than the registry knows (another client showed it a newer
/// checkpoint of the same log) answers 409 with its size; the registry proves consistency
/// from there and is cosigned again.
fn a_witness_ahead_of_the_registry_resynchronises_through_409(backend: Backend) {
    // The registry's witness threads act only when a reader kicks them, so the test decides
    // who reaches Berlin first.
    let (srv, berlin, lyon, _policy, _vkey) =
        start_with(backend, |s| s.witness_interval_ms = 3_600_000);
    let w = World::build(&srv);
    assert_eq!(srv.get("/api/v1/log/checkpoint?witnessed=1").status, 200);
    let known = srv.log_size();
    write_cities(&srv, &w.admin, "fr-r", 2);
    // Someone else hands Berlin the newer checkpoint, with a proof from what it cosigned.
    let note = srv.get("/api/v1/log/checkpoint").text();
    let size = note_size(&note);
    let proof = srv
        .get(&format!(
            "/api/v1/log/proof/consistency?from={known}&to={size}"
        ))
        .json();
    let hashes: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let body_end = note.rfind("\n\n").unwrap() + 1;
    let registry_only = format!(
        "{}\n{}\n",
        &note[..body_end],
        note[body_end + 1..].lines().next().unwrap()
    );
    let body = amity_verify::witness::AddCheckpoint::to_body(
        u64::try_from(known).unwrap(),
        &hashes,
        &registry_only,
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent
        .post(format!("{}/add-checkpoint", berlin.url()))
        .send(body.as_bytes())
        .unwrap();
    let text = res.body_mut().read_to_string().unwrap();
    assert_eq!(res.status(), 200, "{text}");
    assert!(
        berlin
            .key
            .verify(
                &Cosignature::parse_line(text.trim_end()).unwrap(),
                &note[..body_end]
            )
            .is_ok()
    );

    // The registry still believes Berlin cosigned `known`: its request says `old {known}`,
    // Berlin answers 409 with `size`, and the registry proves consistency from there.

    write_cities(&srv, &w.admin, "fr-q", 2);
    let r = srv.get("/api/v1/log/checkpoint?witnessed=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let note = r.text();
    assert_eq!(note_size(&note), srv.log_size());
    assert_eq!(cosigners(&note, &[&berlin, &lyon]).len(), 2, "{note}");
}

/// A witness killed with SIGKILL again and again under a steady write load (so kills land in
/// the middle of its exchanges with the registry) comes back from its own database and is
/// resynchronised: the quorum is met again on the latest checkpoint, and what the witness
/// stored is what it cosigned last.
fn a_witness_killed_with_sigkill_keeps_cosigning(backend: Backend) {
    use rand::{Rng, SeedableRng};
    let db = TestDb::create(backend);
    let vkey = registry_key(&db);
    let berlin = Witness::new("witness.berlin.example/w1", "amity.localhost", &vkey);
    let lyon_dir = tempfile::tempdir().unwrap();
    let lyon_key = amity::witness::keygen(lyon_dir.path(), "witness.lyon.example/w1").unwrap();
    amity::witness::add_log(lyon_dir.path(), "amity.localhost", &vkey).unwrap();
    let log = lyon_dir.path().join("witness.log");
    let bin = Path::new(BIN);
    let mut lyon = WitnessProcess::start(bin, lyon_dir.path(), 0, &log);
    let port = lyon.port();
    let policy = db.dir.path().join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "{}witness lyon {} {}\ngroup partners all berlin lyon\nquorum partners\n",
            berlin.policy_line("berlin"),
            lyon_key.to_vkey(),
            lyon.url
        ),
    )
    .unwrap();
    let srv = TestServer::start_on(db, None, witnessing(&policy));
    let w = World::build(&srv);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (base, admin, stop) = (srv.base.clone(), w.admin.clone(), stop.clone());
        std::thread::spawn(move || {
            let remote = crate::support::Remote::new(&base);
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let r = remote.try_post(
                    "/api/v1/admin/cities",
                    Some(&admin),
                    &json!({"code": format!("fr-k{i:04}"), "name": "Load", "country": "FR", "lat": 1.0, "lon": 2.0}),
                );
                assert_eq!(r.map(|r| r.status).ok(), Some(201), "writes go on");
                i += 1;
            }
            i
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..300)));
        lyon.kill9();
        lyon = WitnessProcess::start(bin, lyon_dir.path(), port, &log);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().unwrap();
    assert!(written > 0);

    let size = srv.log_size();
    let r = srv.get("/api/v1/log/checkpoint?witnessed=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let note = r.text();
    assert_eq!(note_size(&note), size, "{note}");
    let lyon_cosigned = {
        let body_end = note.rfind("\n\n").unwrap() + 1;
        note[body_end + 1..]
            .lines()
            .filter_map(|l| Cosignature::parse_line(l).ok())
            .any(|c| lyon_key.verify(&c, &note[..body_end]).is_ok())
    };
    assert!(lyon_cosigned, "{note}");
    drop(lyon);
    let listed = Command::new(BIN)
        .args(["witness", "list", "--dir"])
        .arg(lyon_dir.path())
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains(&format!("cosigned size {size} ")),
        "{listed}"
    );
}

/// Forks the registry's database into a fresh one: `amity backup` for SQLite, `pg_dump` for
/// PostgreSQL.
fn fork(srv: &TestServer) -> TestDb {
    let copy = TestDb::create(srv.backend());
    match srv.backend() {
        Backend::Sqlite => {
            let file = copy.url.trim_start_matches("sqlite://").to_string();
            let out = Command::new(BIN)
                .args(["backup", &file])
                .env("DATABASE_URL", &srv.db.url)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Backend::Postgres => {
            let pg_dump = crate::pgbin::server_bindir()
                .map(|d| d.join("pg_dump"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("pg_dump"));
            let out = Command::new(pg_dump)
                .args(["--no-owner", "--no-privileges", "--inserts", &srv.db.url])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Newer pg_dump versions wrap the script in psql meta-commands (`\restrict`),
            // which only psql understands; the SQL between them is what forks the data.
            let script: String = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.starts_with('\\'))
                .map(|l| format!("{l}\n"))
                .collect();
            copy.exec_pg_script(&script).unwrap();
        }
    }
    copy
}

/// Split view: a second database forked from a snapshot, extended differently and served
/// with the same registry key. The witnesses already cosigned the first history beyond the
/// fork, so they refuse the second; its audit with the policy fails naming the missing quorum,
/// while the first passes.
fn a_forked_history_never_gathers_the_quorum(backend: Backend) {
    let (srv, berlin, lyon, policy, vkey) = start(backend);
    let w = World::build(&srv);
    assert_eq!(srv.get("/api/v1/log/checkpoint?witnessed=1").status, 200);
    let forked_db = fork(&srv);
    // The honest history grows and is witnessed past the fork point.
    write_cities(&srv, &w.admin, "fr-h", 3);
    assert_eq!(srv.get("/api/v1/log/checkpoint?witnessed=1").status, 200);

    // The fork, with the same key, writes something else and asks the same witnesses.
    let keys = srv.db.dir.path().join("keys");
    let fork = TestServer::start_on(forked_db, Some(&keys), |s| {
        witnessing(&policy)(s);
        s.witness_wait_ms = 3_000;
    });
    write_cities(&fork, &w.admin, "fr-f", 5);
    assert_eq!(
        fork.get("/api/v1/log/key").json()["vkey"],
        vkey.as_str(),
        "the same registry key"
    );
    let r = fork.get("/api/v1/log/checkpoint?witnessed=1");
    r.assert_problem(503, "witness_quorum_unavailable");
    assert_audit(
        &fork,
        &policy,
        &vkey,
        false,
        "FAIL  witness quorum: quorum NOT met (group partners: 2 of berlin, lyon); cosigned by none; missing berlin, lyon",
    );
    let fork_note = fork.get("/api/v1/log/checkpoint").text();
    assert!(
        cosigners(&fork_note, &[&berlin, &lyon]).is_empty(),
        "{fork_note}"
    );

    let (ok, out) = audit(&srv, &policy, &vkey);
    assert!(ok, "{out}");
}

/// A bundle proven into a witnessed checkpoint verifies with the policy; with its
/// cosignatures stripped or one forged, it fails `witness_quorum`.
fn a_bundle_carries_the_cosigned_checkpoint(backend: Backend) {
    let (srv, berlin, _lyon, policy, vkey) = start(backend);
    let w = World::build(&srv);
    let mut houston = Signatory::new(41, "mayor@us-hou", &w.a);
    let mut shanghai = Signatory::new(42, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut houston);
    enroll(&srv, &w.admin, &mut shanghai);
    let id = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(
        upload(&srv, &w.a, &id, b"Friendship and exchange").status,
        201
    );
    assert_eq!(sign_mou(&srv, &houston, &id).status, 201);
    let r = sign_mou(&srv, &shanghai, &id);
    assert_eq!(r.json()["state"], "executed", "{}", r.text());
    let r = srv.get(&format!("/api/v1/mous/{id}/bundle?witnessed=1"));
    assert_eq!(r.status, 200, "{}", r.text());
    let bundle = r.json();
    let dir = tempfile::tempdir().unwrap();
    let verify = |b: &Value, extra: &[&str]| {
        let path = dir.path().join("bundle.json");
        std::fs::write(&path, serde_json::to_vec(b).unwrap()).unwrap();
        let out = Command::new(BIN)
            .arg("verify")
            .arg(&path)
            .args(["--registry-key", &vkey])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let policy_arg = ["--policy", policy.to_str().unwrap()];
    let (ok, out) = verify(&bundle, &policy_arg);
    assert!(ok, "{out}");
    assert!(
        out.contains("PASS  witness_quorum [checkpoint]: quorum met"),
        "{out}"
    );
    let (ok, out) = verify(&bundle, &[]);
    assert!(ok && out.contains("NOTE: no witness was required"), "{out}");

    let note = bundle["checkpoint"].as_str().unwrap();
    let body_end = note.rfind("\n\n").unwrap() + 1;
    let registry_line = note[body_end + 1..].lines().next().unwrap();
    let mut stripped = bundle.clone();
    stripped["checkpoint"] = json!(format!("{}\n{registry_line}\n", &note[..body_end]));
    let (ok, out) = verify(&stripped, &policy_arg);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL  witness_quorum [checkpoint]: quorum NOT met (group partners: 2 of berlin, lyon); cosigned by none; missing berlin, lyon"),
        "{out}"
    );

    // Berlin's line with one byte of its signature changed.
    let forged_note: String = note
        .lines()
        .map(|line| {
            let mut line = line.to_string();
            if line.starts_with(&format!("\u{2014} {} ", berlin.name)) {
                let c = Cosignature::parse_line(&line).unwrap();
                let mut bad = c.clone();
                bad.signature[0] ^= 1;
                line = bad.to_line().trim_end().to_string();
            }
            line + "\n"
        })
        .collect();
    let mut forged = bundle.clone();
    forged["checkpoint"] = json!(forged_note);
    let (ok, out) = verify(&forged, &policy_arg);
    assert!(!ok, "{out}");
    assert!(
        out.contains("cosignatures that do not verify: berlin"),
        "{out}"
    );
}

/// Without a policy there is no witnessed checkpoint to wait for; bad values are refused.
fn witnessed_needs_a_policy(backend: Backend) {
    let srv = TestServer::start(backend);
    srv.get("/api/v1/log/checkpoint?witnessed=1")
        .assert_problem(409, "no_witness_policy");
    srv.get("/api/v1/log/checkpoint?witnessed=yes")
        .assert_problem(400, "invalid_query");
    assert_eq!(srv.get("/api/v1/log/checkpoint?witnessed=0").status, 200);
    let page = srv.get("/log").text();
    assert!(page.contains("no witness policy"), "{page}");
}

crate::on_both_backends!(
    two_witnesses_cosign_under_load,
    witnesses_meet_on_one_checkpoint_under_concurrent_load,
    a_stopped_witness_blocks_the_quorum_not_writes,
    a_witness_ahead_of_the_registry_resynchronises_through_409,
    a_witness_killed_with_sigkill_keeps_cosigning,
    a_forked_history_never_gathers_the_quorum,
    a_bundle_carries_the_cosigned_checkpoint,
    witnessed_needs_a_policy,
);

#[test]
fn a_bad_policy_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("witness a nokey\nquorum a\n", "policy line 1: witness a"),
        ("# nothing\n", "no quorum line"),
    ];
    for (text, expect) in cases {
        let policy = dir.path().join("bad.policy");
        std::fs::write(&policy, text).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("a.db").display()),
            )
            .env("AMITY_KEYS_DIR", dir.path().join("keys"))
            .env("AMITY_WITNESS_POLICY", &policy)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {text:?}");
        assert!(err.contains(expect), "{err}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("a.db").display()),
        )
        .env("AMITY_KEYS_DIR", dir.path().join("keys"))
        .env("AMITY_WITNESS_POLICY", dir.path().join("missing.policy"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read the witness policy"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
