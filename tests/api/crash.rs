//! Crash safety: the release server is killed with SIGKILL at random moments while several
//! clients write, and restarted on the same database and keys. After every restart each write
//! that was answered 2xx must be in the log at the index it was given, every checkpoint handed
//! out before must be consistent with the new one, and `amity audit` must pass.
//!
//! Two partner-city witnesses (`amity witness serve`, release binary) cosign throughout, and
//! one of them is killed with SIGKILL in some rounds too: after the last round the quorum must
//! cosign the final log, and no witness may ever have cosigned two roots for one size in any
//! checkpoint the registry handed out.
//!
//! Long, so `#[ignore]`d for a plain `cargo test`; CI runs it against the release binary:
//! `AMITY_BIN=target/release/amity cargo test --release --test api crash -- --ignored`.
//! AMITY_CRASH_ROUNDS (kills per backend, default 20) and AMITY_CRASH_SEED (to replay a run)
//! are optional.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::log_checks::{self, Seen};
use crate::process::{ServeProcess, WitnessProcess, audit, host_admin_token};
use crate::signing::{Signatory, enroll, registration_body};
use crate::support::{Backend, Http, Remote, TestDb, status_body};

/// Concurrent writing clients per round (plus one that keeps fetching checkpoints).
const WRITERS: usize = 4;

/// A write the server acknowledged with 2xx: which log entry must hold it.
#[derive(Debug, Clone)]
struct Ack {
    what: &'static str,
    entry_type: &'static str,
    log_index: i64,
    /// A value the entry must contain (the id of what was written).
    needle: String,
    round: usize,
}

/// What all clients of a run share.
#[derive(Default)]
struct Record {
    acks: Mutex<Vec<Ack>>,
    checkpoints: Mutex<Vec<String>>,
    /// Anything that is neither 2xx nor "no answer because the server died".
    failures: Mutex<Vec<String>>,
    /// Writes that were sent but never answered: in flight when the kill came.
    unanswered: std::sync::atomic::AtomicUsize,
}

impl Record {
    fn fail(&self, what: String) {
        self.failures.lock().expect("failures").push(what);
    }
}

/// A writing client's home city: set up before the first kill, used in every round.
struct Home {
    city: String,
    office: String,
    signatory: Signatory,
}

fn release_bin() -> PathBuf {
    let bin = std::env::var("AMITY_BIN").unwrap_or_else(|_| {
        panic!("AMITY_BIN must name the amity binary to crash (e.g. target/release/amity)")
    });
    let path = PathBuf::from(bin);
    assert!(path.is_file(), "AMITY_BIN={} is not a file", path.display());
    path
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

#[test]
#[ignore = "long: run by .ci/run with AMITY_BIN=target/release/amity and --ignored"]
fn crash_sqlite() {
    run(Backend::Sqlite);
}

#[test]
#[ignore = "long: run by .ci/run with AMITY_BIN=target/release/amity and --ignored"]
fn crash_postgres() {
    assert!(
        std::env::var("AMITY_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()),
        "the crash harness needs AMITY_TEST_POSTGRES_URL for its PostgreSQL half"
    );
    run(Backend::Postgres);
}

fn run(backend: Backend) {
    let bin = release_bin();
    let rounds = env_number("AMITY_CRASH_ROUNDS").unwrap_or(20) as usize;
    let seed = env_number("AMITY_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
    });
    println!(
        "crash harness {backend:?}: seed {seed} (AMITY_CRASH_SEED={seed} replays the kill times), {rounds} kills"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let db = TestDb::create(backend);
    let keys = db.dir.path().join("keys");
    let log = db.dir.path().join("server.log");
    let state = db.dir.path().join("audit-state.json");
    let admin = host_admin_token(&bin, &db.url);
    let record = Arc::new(Record::default());

    // The registry key first, so the witnesses can be told it before the registry starts.
    let registry_vkey = amity::log::registry_key::create(&keys, "amity.localhost")
        .expect("registry key")
        .verifier()
        .to_vkey();
    let mut witnesses: Vec<CrashWitness> = ["witness.berlin.example/w1", "witness.lyon.example/w1"]
        .iter()
        .map(|name| CrashWitness::start(&bin, db.dir.path(), name, &registry_vkey))
        .collect();
    let policy = db.dir.path().join("witnesses.policy");
    std::fs::write(
        &policy,
        format!(
            "witness berlin {} {}\nwitness lyon {} {}\ngroup partners all berlin lyon\nquorum partners\n",
            witnesses[0].key.to_vkey(),
            witnesses[0].process.url,
            witnesses[1].key.to_vkey(),
            witnesses[1].process.url,
        ),
    )
    .expect("policy");
    // A webhook receiver in this process: every status change must reach it at least once,
    // however the kills fall (docs/notifications.md).
    let receiver = crate::webhooks::Receiver::start();
    // On PostgreSQL, with a streaming replica when the tests have one (CI does): reads go
    // there, so the harness also checks that reading from a replica loses nothing.
    let replica = crate::replica::replica_url_for(&db.url).filter(|_| backend == Backend::Postgres);
    let mut serve_env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("AMITY_WITNESS_POLICY", policy.as_os_str()),
        ("AMITY_WITNESS_INTERVAL_MS", std::ffi::OsStr::new("50")),
        ("AMITY_WITNESS_WAIT_MS", std::ffi::OsStr::new("30000")),
        ("AMITY_WEBHOOK_ALLOW_INTERNAL", std::ffi::OsStr::new("1")),
        ("AMITY_WEBHOOK_TIMEOUT_MS", std::ffi::OsStr::new("1000")),
        ("AMITY_OUTBOX_POLL_MS", std::ffi::OsStr::new("20")),
    ];
    if let Some(url) = &replica {
        serve_env.push(("AMITY_REPLICA_URL", std::ffi::OsStr::new(url.as_str())));
    }
    let srv = ServeProcess::start_with_env(&bin, &db.url, &keys, &log, &serve_env);
    let client = srv.client();
    let vkey = log_checks::verifier(&client).to_vkey();
    let homes: Vec<Arc<Home>> = (0..WRITERS)
        .map(|t| Arc::new(home(&client, &admin, t, &mut rng)))
        .collect();
    for h in &homes {
        let r = client.post(
            &format!("/api/v1/cities/{}/webhooks", h.city),
            Some(&admin),
            &json!({"url": format!("{}/{}", receiver.url, h.city),
                    "event_types": ["partnership.status_changed"]}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mut last = log_checks::checkpoint(&client, &log_checks::verifier(&client));
    let (ok, text) = audit(&bin, &client.base, &state);
    assert!(ok, "amity audit fails before any kill:\n{text}");

    let mut srv = Some(srv);
    for round in 0..rounds {
        let running = srv.take().expect("a running server");
        let client = running.client();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (t, h) in homes.iter().enumerate() {
            let (client, h, admin, record, stop) = (
                client.clone(),
                h.clone(),
                admin.clone(),
                record.clone(),
                stop.clone(),
            );
            let seed = rng.r#gen::<u64>();
            threads.push(thread::spawn(move || {
                let mut w = Writer {
                    client,
                    admin,
                    home: h,
                    record,
                    round,
                    thread: t,
                    rng: StdRng::seed_from_u64(seed),
                    stop,
                };
                w.run();
            }));
        }
        {
            let (client, record, stop) = (client.clone(), record.clone(), stop.clone());
            threads.push(thread::spawn(move || {
                watch_checkpoints(&client, &record, &stop)
            }));
        }
        // The kill lands anywhere from early in the round's first writes to deep into it.
        let wait = Duration::from_millis(rng.gen_range(50..1200));
        thread::sleep(wait);
        // Every other round on average, a witness dies too, mid-exchange as likely as not.
        let witness_killed = rng.gen_bool(0.5).then(|| rng.gen_range(0..witnesses.len()));
        if let Some(w) = witness_killed {
            witnesses[w].kill9_and_restart(&bin);
        }
        running.kill9();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().expect("a client thread panicked");
        }

        let restarted = ServeProcess::start_with_env(&bin, &db.url, &keys, &log, &serve_env);
        last = verify_after_restart(&bin, &restarted.client(), &vkey, &record, &last, &state)
            .unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        srv = Some(restarted);
    }

    // The quorum cosigns the final log, and no witness cosigned two roots for one size.
    let last_client = srv.as_ref().expect("a running server").client();
    let final_size = last_client.get("/healthz").json()["log_size"]
        .as_i64()
        .expect("log size");
    let r = last_client.get("/api/v1/log/checkpoint?witnessed=1");
    assert_eq!(r.status, 200, "no quorum on the final log: {}", r.text());
    let final_note = r.text();
    let witnessed_size: i64 = final_note
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("size line");
    assert!(witnessed_size >= final_size, "{final_note}");
    record
        .checkpoints
        .lock()
        .expect("checkpoints")
        .push(final_note);
    let cosignatures =
        one_root_per_size(&record.checkpoints.lock().expect("checkpoints"), &witnesses);

    let (events, deliveries, repeats) = every_event_delivered(&receiver, &record);
    // Reads the last server process served from the replica (its counters start at zero).
    let metrics = last_client.get("/metrics").text();
    let replica_reads: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("amity_replica_reads_total{served_by=\"replica\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    if replica.is_some() {
        assert!(
            replica_reads > 0,
            "no read was served by the replica:\n{metrics}"
        );
    }
    let failures = record.failures.lock().expect("failures").clone();
    assert!(
        failures.is_empty(),
        "requests failed other than by the kill:\n{}",
        failures.join("\n")
    );
    let acks = record.acks.lock().expect("acks").len();
    let checkpoints = record.checkpoints.lock().expect("checkpoints").len();
    let unanswered = record.unanswered.load(Ordering::SeqCst);
    println!(
        "CRASH RESULT backend={backend:?} replica={} replica_reads={replica_reads} seed={seed} kills={rounds} writes_acknowledged={acks} \
         writes_lost=0 writes_in_flight_at_kill={unanswered} checkpoints_checked={checkpoints} \
         witness_cosignatures_checked={cosignatures} witness_kills={} log_size={} \
         webhook_events={events} webhook_deliveries={deliveries} webhook_repeats={repeats} \
         webhook_events_lost=0 seconds={:.1}",
        if replica.is_some() {
            "attached"
        } else {
            "none"
        },
        witnesses.iter().map(|w| w.kills).sum::<usize>(),
        last.size,
        started.elapsed().as_secs_f64()
    );
    drop(srv);
    // A few writes per round at least, or the harness proved little.
    assert!(
        acks >= rounds * 3,
        "only {acks} writes were acknowledged in {rounds} rounds"
    );
}

/// Waits until every acknowledged status change reached the webhook endpoint of each home city
/// it concerns, at least once; a message delivered again (its server killed between the POST
/// and recording it) carries the same `webhook-id` and body. Returns (events, deliveries,
/// repeated deliveries).
fn every_event_delivered(
    receiver: &crate::webhooks::Receiver,
    record: &Record,
) -> (usize, usize, usize) {
    use std::collections::{BTreeMap, BTreeSet};
    let acked: BTreeSet<i64> = record
        .acks
        .lock()
        .expect("acks")
        .iter()
        .filter(|a| a.entry_type == "partnership.status_changed")
        .map(|a| a.log_index)
        .collect();
    // (log index, endpoint path) -> every (webhook-id, body) delivered there.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut by_event: BTreeMap<(i64, String), Vec<(String, String)>> = BTreeMap::new();
        let got = receiver.received();
        for r in &got {
            let body: Value = serde_json::from_str(&r.body).expect("a JSON message");
            let index = body["data"]["log_index"].as_i64().expect("log_index");
            by_event
                .entry((index, r.path.clone()))
                .or_default()
                .push((r.header("webhook-id").to_string(), r.body.clone()));
        }
        let missing: Vec<i64> = acked
            .iter()
            .filter(|i| !by_event.keys().any(|(j, _)| j == *i))
            .copied()
            .collect();
        if missing.is_empty() {
            let mut repeats = 0;
            for ((index, path), copies) in &by_event {
                assert!(
                    copies.iter().all(|c| c == &copies[0]),
                    "event {index} reached {path} as different messages: {copies:?}"
                );
                repeats += copies.len() - 1;
            }
            return (acked.len(), got.len(), repeats);
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged status changes never reached their webhook: log indices {missing:?}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// A witness process of the harness, with its key and state directory.
struct CrashWitness {
    key: amity_verify::cosignature::CosignerKey,
    dir: PathBuf,
    log: PathBuf,
    process: WitnessProcess,
    kills: usize,
}

impl CrashWitness {
    fn start(bin: &Path, under: &Path, name: &str, registry_vkey: &str) -> CrashWitness {
        let dir = under.join(name.replace(['/', '.'], "-"));
        let key = amity::witness::keygen(&dir, name).expect("witness key");
        amity::witness::add_log(&dir, "amity.localhost", registry_vkey).expect("witness log");
        let log = dir.join("witness.log");
        let process = WitnessProcess::start(bin, &dir, 0, &log);
        CrashWitness {
            key,
            dir,
            log,
            process,
            kills: 0,
        }
    }

    /// SIGKILL, then the same witness again on the same port and state.
    fn kill9_and_restart(&mut self, bin: &Path) {
        let port = self.process.port();
        let url = self.process.url.clone();
        // The new process takes the old one's place only once the old one is dead.
        let dead = std::mem::replace(&mut self.process, WitnessProcess::dead(url));
        dead.kill9();
        self.process = WitnessProcess::start(bin, &self.dir, port, &self.log);
        self.kills += 1;
    }
}

/// Checks every cosignature in `notes` against the witnesses' keys: each must verify, and no
/// witness may have cosigned two roots for one size. Returns how many were checked.
fn one_root_per_size(notes: &[String], witnesses: &[CrashWitness]) -> usize {
    use amity_verify::cosignature::Cosignature;
    let mut roots: std::collections::HashMap<(String, String), String> =
        std::collections::HashMap::new();
    let mut checked = 0;
    for note in notes {
        let body_end = note.rfind("\n\n").expect("a note") + 1;
        let body = &note[..body_end];
        let mut lines = body.lines();
        let (_, size, root) = (
            lines.next(),
            lines.next().unwrap_or_default(),
            lines.next().unwrap_or_default(),
        );
        for line in note[body_end + 1..].lines() {
            let Ok(c) = Cosignature::parse_line(line) else {
                continue;
            };
            let Some(w) = witnesses.iter().find(|w| w.key.name() == c.name) else {
                continue;
            };
            assert!(
                w.key.verify(&c, body).is_ok(),
                "a cosignature that does not verify: {note}"
            );
            checked += 1;
            let previous = roots.insert((c.name.clone(), size.to_string()), root.to_string());
            assert!(
                previous.is_none_or(|p| p == root),
                "{} cosigned two roots for size {size}",
                c.name
            );
        }
    }
    checked
}

/// The checks after a restart; returns the new checkpoint. An `Err` says what was lost.
fn verify_after_restart(
    bin: &Path,
    client: &Remote,
    vkey: &str,
    record: &Record,
    before: &Seen,
    state: &Path,
) -> Result<Seen, String> {
    let verifier = log_checks::verifier(client);
    if verifier.to_vkey() != vkey {
        return Err("the registry key changed across the restart".into());
    }
    let now = log_checks::checkpoint(client, &verifier);
    // Reads from here on see the whole checkpointed log, from a replica too.
    client.read_your_writes(i64::try_from(now.size).unwrap_or(i64::MAX) - 1);
    // Every checkpoint handed out before (by size; two roots for one size fail here) must be
    // a prefix of the new one, checked with the project's verifier over the signed roots.
    let mut seen: Vec<Seen> = record
        .checkpoints
        .lock()
        .expect("checkpoints")
        .iter()
        .map(|note| log_checks::open(note, &verifier))
        .collect();
    seen.push(before.clone());
    for old in log_checks::distinct_by_size(&seen) {
        if old.size > now.size {
            return Err(format!(
                "checkpoint {} was handed out but the log restarted at {}: signed entries were lost",
                old.size, now.size
            ));
        }
        log_checks::assert_consistent(client, &old, &now);
    }
    // Every acknowledged write is at its index, in an entry of its type naming it.
    let entries = log_checks::all_entries(client, &now);
    let acks = record.acks.lock().expect("acks").clone();
    let mut lost = Vec::new();
    for a in &acks {
        let ok = usize::try_from(a.log_index)
            .ok()
            .and_then(|i| entries.get(i))
            .is_some_and(|e| e["type"] == a.entry_type && e.to_string().contains(&a.needle));
        if !ok {
            lost.push(format!("round {}: {a:?}", a.round));
        }
    }
    if !lost.is_empty() {
        return Err(format!(
            "{} acknowledged writes are not in the log:\n{}",
            lost.len(),
            lost.join("\n")
        ));
    }
    // The state the API serves for acknowledged resources, not only the log.
    for a in acks.iter().filter(|a| a.what == "partnership") {
        let r = client.get(&format!("/api/v1/partnerships/{}", a.needle));
        if r.status != 200 {
            return Err(format!("partnership {} is gone: {}", a.needle, r.text()));
        }
    }
    for a in acks.iter().filter(|a| a.what == "signature") {
        let r = client.get(&format!("/api/v1/mous/{}/chain", a.needle));
        let ok = r.status == 200
            && r.json()["signatures"]
                .as_array()
                .is_some_and(|links| links.iter().any(|l| l["log_index"] == a.log_index));
        if !ok {
            return Err(format!(
                "signature at log index {} is missing from MOU {}'s chain",
                a.log_index, a.needle
            ));
        }
    }
    let (ok, text) = audit(bin, &client.base, state);
    if !ok {
        return Err(format!("amity audit fails after the restart:\n{text}"));
    }
    Ok(now)
}

/// A city with an office and an enrolled signatory, for one writing client.
fn home(client: &Remote, admin: &str, t: usize, rng: &mut StdRng) -> Home {
    let city = format!("us-home{t}");
    let r = client.post(
        "/api/v1/admin/cities",
        Some(admin),
        &json!({"code": city, "name": format!("Home {t}"), "country": "US"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = client.post(
        "/api/v1/admin/offices",
        Some(admin),
        &json!({"city": city, "name": "Office of International Affairs"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let office_id = r.json()["id"].as_str().expect("office id").to_string();
    let r = client.post(
        "/api/v1/admin/tokens",
        Some(admin),
        &json!({"role": "office", "office": office_id}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let office = r.json()["token"].as_str().expect("token").to_string();
    let key = SigningKey::from_bytes(&rng.r#gen::<[u8; 32]>());
    let mut signatory = Signatory::with_key(key, &format!("mayor@{city}"), &office);
    enroll(client, admin, &mut signatory);
    Home {
        city,
        office,
        signatory,
    }
}

/// Fetches checkpoints until the server dies, keeping every note it is handed.
fn watch_checkpoints(client: &Remote, record: &Record, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match client.try_send("GET", "/api/v1/log/checkpoint", None, None) {
            Ok(r) if r.status == 200 => record
                .checkpoints
                .lock()
                .expect("checkpoints")
                .push(r.text()),
            Ok(r) => record.fail(format!("checkpoint: {} {}", r.status, r.text())),
            Err(_) => return,
        }
        thread::sleep(Duration::from_millis(40));
    }
}

/// One writing client for one round: a fresh partner city, its office and signatory, a
/// partnership, then MOUs, signatures, status changes and key events until the server dies.
struct Writer {
    client: Remote,
    admin: String,
    home: Arc<Home>,
    record: Arc<Record>,
    round: usize,
    thread: usize,
    rng: StdRng,
    stop: Arc<AtomicBool>,
}

/// Why a client stops: the server died (expected) or it answered wrongly (recorded).
enum Stop {
    NoAnswer,
    Refused,
}

impl Writer {
    fn run(&mut self) {
        let _ = self.script();
    }

    /// A request whose answer must be 2xx; `None` body sends nothing.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Value, Stop> {
        match self.client.try_send(method, path, Some(token), body) {
            Ok(r) if (200..300).contains(&r.status) => {
                if r.header("content-type")
                    .is_some_and(|c| c.starts_with("application/json"))
                {
                    Ok(r.json())
                } else {
                    Ok(Value::String(r.text()))
                }
            }
            Ok(r) => {
                self.record.fail(format!(
                    "round {} client {}: {method} {path}: {} {}",
                    self.round,
                    self.thread,
                    r.status,
                    r.text()
                ));
                Err(Stop::Refused)
            }
            // No answer: the server was killed (the write may or may not have committed).
            Err(_) => Err(Stop::NoAnswer),
        }
    }

    /// A logged write: on 2xx, records which entry must now hold it.
    fn write(
        &self,
        what: &'static str,
        entry_type: &'static str,
        path: &str,
        token: &str,
        body: (&str, Vec<u8>),
        needle: impl FnOnce(&Value) -> String,
    ) -> Result<Value, Stop> {
        let v = self
            .call("POST", path, token, Some(body))
            .inspect_err(|why| {
                if matches!(why, Stop::NoAnswer) {
                    self.record.unanswered.fetch_add(1, Ordering::SeqCst);
                }
            })?;
        let Some(log_index) = v["log_index"].as_i64() else {
            self.record
                .fail(format!("{path}: 2xx without a log_index: {v}"));
            return Err(Stop::Refused);
        };
        // As a client of a server with a read replica would: its next reads see this write.
        self.client.read_your_writes(log_index);
        self.record.acks.lock().expect("acks").push(Ack {
            what,
            entry_type,
            log_index,
            needle: needle(&v),
            round: self.round,
        });
        Ok(v)
    }

    fn json(v: &Value) -> (&'static str, Vec<u8>) {
        ("application/json", v.to_string().into_bytes())
    }

    fn script(&mut self) -> Result<(), Stop> {
        let admin = self.admin.clone();
        let home = self.home.clone();
        let code = format!("fr-r{}t{}", self.round, self.thread);
        let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();

        self.write(
            "city",
            "city.created",
            "/api/v1/admin/cities",
            &admin,
            Self::json(&json!({"code": code, "name": format!("Partner {code}"), "country": "FR"})),
            |_| code.clone(),
        )?;
        let office = self.write(
            "office",
            "office.created",
            "/api/v1/admin/offices",
            &admin,
            Self::json(&json!({"city": code, "name": "Relations internationales"})),
            id,
        )?;
        let token = self.write(
            "token",
            "token.issued",
            "/api/v1/admin/tokens",
            &admin,
            Self::json(&json!({"role": "office", "office": id(&office)})),
            id,
        )?;
        let token = token["token"].as_str().unwrap_or_default().to_string();
        let key = SigningKey::from_bytes(&self.rng.r#gen::<[u8; 32]>());
        let partner = Signatory::with_key(key, &format!("maire@{code}"), &token);
        let key_id = self.register_key(&partner)?;
        self.write(
            "key approval",
            "key.approved",
            &format!("/api/v1/keys/{key_id}/approve"),
            &admin,
            Self::json(&json!({})),
            |_| key_id.clone(),
        )?;
        let partnership = self.write(
            "partnership",
            "partnership.registered",
            "/api/v1/partnerships",
            &home.office,
            Self::json(
                &json!({"cities": [home.city, code], "kind": "sister", "established": "1986"}),
            ),
            id,
        )?;
        let pid = id(&partnership);
        self.write(
            "confirmation",
            "partnership.status_changed",
            &format!("/api/v1/partnerships/{pid}/confirm"),
            &token,
            Self::json(&json!({})),
            |_| pid.clone(),
        )?;

        // Then a steady mix until the kill.
        let mut n = 0u64;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(Stop::NoAnswer);
            }
            let mou = self.write(
                "mou",
                "mou.created",
                "/api/v1/mous",
                &home.office,
                Self::json(
                    &json!({"partnership": pid, "title": format!("Exchange programme {n}")}),
                ),
                id,
            )?;
            let mou = id(&mou);
            let doc = format!(
                "Memorandum {n} between {} and {code}, draft {}",
                home.city,
                self.rng.r#gen::<u64>()
            );
            self.write(
                "document",
                "mou.version_uploaded",
                &format!("/api/v1/mous/{mou}/versions?filename=mou.txt"),
                &home.office,
                ("text/plain; charset=utf-8", doc.into_bytes()),
                |_| mou.clone(),
            )?;
            self.sign(&home.signatory, &mou)?;
            self.sign(&partner, &mou)?;
            let (status, by) = if n.is_multiple_of(2) {
                ("curtailed", &home.office)
            } else {
                ("active", &token)
            };
            self.write(
                "status change",
                "partnership.status_changed",
                &format!("/api/v1/partnerships/{pid}/status"),
                by,
                Self::json(&status_body(status, Some("Crash drill"))),
                |_| pid.clone(),
            )?;
            // A key event: a deputy's key registered, then revoked.
            let key = SigningKey::from_bytes(&self.rng.r#gen::<[u8; 32]>());
            let deputy =
                Signatory::with_key(key, &format!("deputy{n}@{}", home.city), &home.office);
            let deputy_id = self.register_key(&deputy)?;
            self.write(
                "key revocation",
                "key.revoked",
                &format!("/api/v1/keys/{deputy_id}/revoke"),
                &home.office,
                Self::json(&json!({"reason": "crash drill"})),
                |_| deputy_id.clone(),
            )?;
            n += 1;
        }
    }

    /// Registers a key with proof of possession; returns its id.
    fn register_key(&self, s: &Signatory) -> Result<String, Stop> {
        let c = self.call(
            "GET",
            &format!("/api/v1/cities/{}/keys/challenge", s.city),
            &s.office,
            None,
        )?;
        let challenge = c["challenge"].as_str().unwrap_or_default();
        let body = registration_body(
            s,
            challenge,
            &s.public.to_openssh_line_without_comment(),
            &s.key,
        );
        let v = self.write(
            "key registration",
            "key.registered",
            &format!("/api/v1/cities/{}/keys", s.city),
            &s.office,
            Self::json(&body),
            |v| v["id"].as_str().unwrap_or_default().to_string(),
        )?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// Fetches the signing statement, signs it, submits it.
    fn sign(&self, s: &Signatory, mou: &str) -> Result<(), Stop> {
        let path = format!(
            "/api/v1/mous/{mou}/signing-statement?signer={}&role={}",
            s.signer, s.role
        );
        let statement = match self.client.try_send("GET", &path, Some(&s.office), None) {
            Ok(r) if r.status == 200 => r.body,
            Ok(r) => {
                self.record
                    .fail(format!("{path}: {} {}", r.status, r.text()));
                return Err(Stop::Refused);
            }
            Err(_) => return Err(Stop::NoAnswer),
        };
        use base64::Engine;
        let body = json!({
            "statement": base64::engine::general_purpose::STANDARD.encode(&statement),
            "signature": s.sign(&statement),
        });
        let mou = mou.to_string();
        self.write(
            "signature",
            "mou.signature_added",
            &format!("/api/v1/mous/{mou}/signatures"),
            &s.office,
            Self::json(&body),
            |_| mou.clone(),
        )?;
        Ok(())
    }
}
