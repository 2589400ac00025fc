//! Two `amity serve` processes on one PostgreSQL database (same registry key), written to at
//! once: the log never forks and has every index exactly once, every checkpoint either
//! process hands out is consistent with every other (proofs served by either process), and
//! signers racing for one chain position through different processes get one winner and one
//! `stale_chain_head`, leaving the MOU's chain contiguous.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::log_checks::{self, Seen};
use crate::process::{ServeProcess, audit, debug_bin, host_admin_token};
use crate::signing::{Signatory, enroll, parse, statement, submit, upload};
use crate::support::{Backend, Http, Remote, TestDb, status_body};

/// Chain positions fought over by two signers, each through its own process.
const RACES: usize = 12;
/// Signatories of the racing city; a version can take this many signatures.
const RACERS: usize = 5;

crate::postgres_test! {
fn two_servers_on_one_postgres_database() {
    let db = TestDb::create(Backend::Postgres);
    let bin = debug_bin();
    let keys = db.dir.path().join("keys");
    let log = db.dir.path().join("servers.log");
    let admin = host_admin_token(&bin, &db.url);
    // One after the other: the first creates the registry key and runs the migrations.
    let p1 = ServeProcess::start(&bin, &db.url, &keys, &log);
    let p2 = ServeProcess::start(&bin, &db.url, &keys, &log);
    let servers = [p1.client(), p2.client()];
    let verifier = log_checks::verifier(&servers[0]);
    assert_eq!(
        verifier.to_vkey(),
        log_checks::verifier(&servers[1]).to_vkey(),
        "both processes sign with the same registry key"
    );

    // Two cities, offices, a confirmed partnership (proposed on one process, confirmed on
    // the other), enrolled signatories, and an MOU that stays open: it needs 20 signatories
    // of us-hou and one of cn-sha, who never signs.
    for (i, (code, country)) in [("us-hou", "US"), ("cn-sha", "CN")].iter().enumerate() {
        let r = servers[i].post(
            "/api/v1/admin/cities",
            Some(&admin),
            &json!({"code": code, "name": code, "country": country}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let a = office_token(&servers[0], &admin, "us-hou");
    let b = office_token(&servers[1], &admin, "cn-sha");
    let r = servers[0].post(
        "/api/v1/partnerships",
        Some(&a),
        &json!({"cities": ["us-hou", "cn-sha"], "kind": "sister", "established": "1979"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let partnership = r.json()["id"].as_str().expect("id").to_string();
    let r = servers[1].post(
        &format!("/api/v1/partnerships/{partnership}/confirm"),
        Some(&b),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let racers: Vec<Arc<Signatory>> = (0..RACERS)
        .map(|i| {
            let mut s = Signatory::new(60 + i as u8, &format!("signer{i}@us-hou"), &a);
            enroll(&servers[i % 2], &admin, &mut s);
            Arc::new(s)
        })
        .collect();
    let r = servers[0].post(
        "/api/v1/mous",
        Some(&a),
        &json!({
            "partnership": partnership,
            "title": "Racing signatures",
            "required_signers": [
                {"city": "us-hou", "role": "signatory", "count": 20},
                {"city": "cn-sha", "role": "signatory", "count": 1},
            ],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let mou = r.json()["id"].as_str().expect("mou id").to_string();

    // Background: writers on both processes and a checkpoint watcher on each.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut background = Vec::new();
    for t in 0..4 {
        let (srv, admin, a, b, stop) = (
            servers[t % 2].clone(),
            admin.clone(),
            a.clone(),
            b.clone(),
            stop.clone(),
        );
        background.push(thread::spawn(move || {
            background_writes(&srv, &admin, &a, &b, t, &stop)
        }));
    }
    for srv in &servers {
        let (srv, seen, stop, v) = (srv.clone(), seen.clone(), stop.clone(), verifier.clone());
        background.push(thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let cp = log_checks::checkpoint(&srv, &v);
                seen.lock().expect("seen").push(cp);
                thread::sleep(Duration::from_millis(25));
            }
            0
        }));
    }

    // The races: both fetch the statement at the same head, then submit at the same moment,
    // one through each process.
    let mut version = 0;
    let mut signed_this_version: Vec<usize> = Vec::new();
    let mut wins = 0;
    for race in 0..RACES {
        if version == 0 || RACERS - signed_this_version.len() < 2 {
            let doc = format!("Racing signatures, version {}", version + 1);
            let r = upload(&servers[race % 2], &a, &mou, doc.as_bytes());
            assert_eq!(r.status, 201, "{}", r.text());
            version += 1;
            signed_this_version.clear();
        }
        let pair: Vec<usize> = (0..RACERS)
            .filter(|i| !signed_this_version.contains(i))
            .take(2)
            .collect();
        let barrier = Arc::new(Barrier::new(2));
        let contenders: Vec<_> = pair
            .iter()
            .enumerate()
            .map(|(side, &who)| {
                let (srv, s, mou, barrier) = (
                    servers[side].clone(),
                    racers[who].clone(),
                    mou.clone(),
                    barrier.clone(),
                );
                thread::spawn(move || {
                    let st = statement(&srv, &s, &mou);
                    let sig = s.sign(&st);
                    barrier.wait();
                    submit(&srv, &s.office, &mou, &st, &sig)
                })
            })
            .collect();
        let replies: Vec<_> = contenders
            .into_iter()
            .map(|h| h.join().expect("a racer panicked"))
            .collect();
        let won: Vec<usize> = (0..2).filter(|&i| replies[i].status == 201).collect();
        assert_eq!(
            won.len(),
            1,
            "race {race}: exactly one signer takes the position: {} / {}",
            replies[0].text(),
            replies[1].text()
        );
        let lost = 1 - won[0];
        replies[lost].assert_problem(409, "stale_chain_head");
        signed_this_version.push(pair[won[0]]);
        wins += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let background_writes: usize = background
        .into_iter()
        .map(|h| h.join().expect("a background thread panicked"))
        .sum();

    // The log: the same on both, indices 0..n-1 once each, hashing to the checkpoints both
    // processes sign now (the same size, so the same root).
    let finals = [
        log_checks::checkpoint(&servers[0], &verifier),
        log_checks::checkpoint(&servers[1], &verifier),
    ];
    assert_eq!(
        (finals[0].size, finals[0].root),
        (finals[1].size, finals[1].root)
    );
    let entries = log_checks::all_entries(&servers[0], &finals[0]);
    assert_eq!(entries, log_checks::all_entries(&servers[1], &finals[1]));
    assert_eq!(entries.len() as u64, finals[0].size);

    // Every checkpoint handed out by either process is consistent with every other one, the
    // proof served by either process.
    let mut all = seen.lock().expect("seen").clone();
    all.extend(finals.iter().cloned());
    let distinct = log_checks::distinct_by_size(&all);
    assert!(
        distinct.len() > 5,
        "too few checkpoints: {}",
        distinct.len()
    );
    let step = distinct.len().div_ceil(20);
    let sample: Vec<&Seen> = distinct.iter().step_by(step).collect();
    let mut proofs = 0;
    for (i, old) in sample.iter().enumerate() {
        for (j, new) in sample.iter().enumerate().skip(i + 1) {
            log_checks::assert_consistent(&servers[(i + j) % 2], old, new);
            proofs += 1;
        }
    }
    for (i, old) in distinct.iter().enumerate() {
        log_checks::assert_consistent(&servers[i % 2], old, &finals[0]);
    }

    // The chain: one link per won race, seq 1..n, each linking the statement before it.
    let chain = servers[1].get(&format!("/api/v1/mous/{mou}/chain")).json();
    assert_eq!(
        chain,
        servers[0].get(&format!("/api/v1/mous/{mou}/chain")).json()
    );
    let links = chain["signatures"].as_array().expect("signatures");
    assert_eq!(links.len(), wins);
    let mut prev = "0".repeat(64);
    for (i, link) in links.iter().enumerate() {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(link["statement"].as_str().expect("statement"))
            .expect("base64");
        let st = parse(&bytes);
        assert_eq!(
            st.seq,
            i as u64 + 1,
            "chain sequence has a gap or duplicate"
        );
        assert_eq!(
            st.prev,
            prev,
            "link {} does not follow the one before",
            i + 1
        );
        prev = hex::encode(Sha256::digest(&bytes));
    }
    let signature_entries = entries
        .iter()
        .filter(|e| e["type"] == "mou.signature_added" && e.to_string().contains(&mou))
        .count();
    assert_eq!(
        signature_entries, wins,
        "one log entry per accepted signature"
    );
    // The MOU's own audit passes every check but the one it is kept open by on purpose.
    let report = crate::signing::audit(&servers[0], &mou);
    let failed = crate::signing::failures(&report);
    assert!(
        failed.iter().all(|(check, _)| check == "required_signers"),
        "{failed:?}"
    );

    // The auditor's view, through one process then the other, keeping its state between.
    let state = db.dir.path().join("audit-state.json");
    for srv in &servers {
        let (ok, text) = audit(&bin, &srv.base, &state);
        assert!(ok, "amity audit fails against {}:\n{text}", srv.base);
    }
    println!(
        "TWO SERVERS RESULT log_size={} races={RACES} chain_links={wins} background_writes={background_writes} \
         checkpoints={} consistency_proofs_checked={}",
        finals[0].size,
        distinct.len(),
        proofs + distinct.len()
    );
    drop((p1, p2));
}
}

fn office_token(srv: &Remote, admin: &str, city: &str) -> String {
    let r = srv.post(
        "/api/v1/admin/offices",
        Some(admin),
        &json!({"city": city, "name": "Office of International Affairs"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let office = r.json()["id"].as_str().expect("office id").to_string();
    let r = srv.post(
        "/api/v1/admin/tokens",
        Some(admin),
        &json!({"role": "office", "office": office}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["token"].as_str().expect("token").to_string()
}

/// Independent writes until `stop`: a city, a partnership with it that is then cut off, and
/// a key registered for the partner city. Every one must succeed. Returns how many it made.
fn background_writes(
    srv: &Remote,
    admin: &str,
    a: &str,
    b: &str,
    t: usize,
    stop: &AtomicBool,
) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
    let mut n = 0;
    let mut writes = 0;
    while !stop.load(Ordering::SeqCst) {
        let code = format!("fr-w{t}x{n}");
        let r = srv.post(
            "/api/v1/admin/cities",
            Some(admin),
            &json!({"code": code, "name": code, "country": "FR"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let r = srv.post(
            "/api/v1/partnerships",
            Some(a),
            &json!({"cities": ["us-hou", code], "kind": "friendship"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().expect("id").to_string();
        let r = srv.post(
            &format!("/api/v1/partnerships/{id}/status"),
            Some(a),
            &status_body("cut_off", Some("Two-server drill")),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let key = SigningKey::from_bytes(&rng.r#gen::<[u8; 32]>());
        let s = Signatory::with_key(key, &format!("deputy{t}x{n}@cn-sha"), b);
        let r = crate::signing::register(srv, &s);
        assert_eq!(r.status, 201, "{}", r.text());
        writes += 4;
        n += 1;
    }
    writes
}
