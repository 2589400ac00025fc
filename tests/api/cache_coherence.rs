//! The node cache never serves a stale or foreign item (issue: performance, second round,
//! item 1): two `amity serve` processes on one database write at once, one with the node
//! cache (the default) and one without (`AMITY_NODE_CACHE_ENTRIES=0`). While they write, and
//! after, inclusion proofs, consistency proofs and entries for random sizes and indices must be
//! byte for byte the same from both. Both backends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::on_both_backends;
use crate::process::{ServeProcess, debug_bin, host_admin_token};
use crate::support::{Backend, Http, Remote, TestDb};

/// Cities each process writes.
const WRITES: usize = 40;

fn log_size(server: &Remote) -> u64 {
    let r = server.get("/healthz");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["log_size"].as_u64().expect("log size")
}

/// Random paths over a log of `size` entries, the same from both processes byte for byte.
fn compare(cached: &Remote, uncached: &Remote, rng: &mut rand::rngs::StdRng, size: u64) -> usize {
    let mut compared = 0;
    for _ in 0..12 {
        let to = rng.gen_range(1..=size);
        let index = rng.gen_range(0..to);
        let from = rng.gen_range(1..=to);
        for path in [
            format!("/api/v1/log/proof/inclusion?index={index}&size={to}"),
            format!("/api/v1/log/proof/consistency?from={from}&to={to}"),
            format!("/api/v1/log/entries/{index}"),
        ] {
            let a = cached.get(&path);
            let b = uncached.get(&path);
            assert_eq!(a.status, 200, "{path}: {}", a.text());
            assert_eq!(
                a.body, b.body,
                "{path}: the cached process answered otherwise"
            );
            compared += 1;
        }
    }
    compared
}

fn cached_and_uncached_processes_agree(backend: Backend) {
    let db = TestDb::create(backend);
    let bin = debug_bin();
    let keys = db.dir.path().join("keys");
    let log = db.dir.path().join("servers.log");
    let admin = host_admin_token(&bin, &db.url);
    let with_cache = ServeProcess::start(&bin, &db.url, &keys, &log);
    let without = ServeProcess::start_with_env(
        &bin,
        &db.url,
        &keys,
        &log,
        &[("AMITY_NODE_CACHE_ENTRIES", std::ffi::OsStr::new("0"))],
    );
    let (cached, uncached) = (with_cache.client(), without.client());
    let metrics = |server: &Remote| server.get("/metrics").text();
    assert!(metrics(&uncached).contains("amity_node_cache_entries 0"));

    let before = log_size(&cached);
    // Both processes write at once while the test reads from both.
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = [(cached.clone(), "a"), (uncached.clone(), "b")]
        .into_iter()
        .map(|(server, tag)| {
            let admin = admin.clone();
            thread::spawn(move || {
                for i in 0..WRITES {
                    let r = server.post(
                        "/api/v1/admin/cities",
                        Some(&admin),
                        &json!({"code": format!("fr-{tag}{i:03}"), "name": "Ville", "country": "FR"}),
                    );
                    assert_eq!(r.status, 201, "{}", r.text());
                }
            })
        })
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_261_206);
    let mut compared = 0;
    let stop = writing.clone();
    let watcher = thread::spawn(move || {
        for w in writers {
            w.join().expect("a writer");
        }
        stop.store(false, Ordering::SeqCst);
    });
    while writing.load(Ordering::SeqCst) {
        let size = log_size(&cached).min(log_size(&uncached));
        if size > 0 {
            compared += compare(&cached, &uncached, &mut rng, size);
        }
    }
    watcher.join().expect("the writers");
    let size = log_size(&cached);
    assert_eq!(size, log_size(&uncached));
    assert_eq!(
        size as usize,
        before as usize + 2 * WRITES,
        "every write logged once"
    );
    // After the writes, with every node read at least once by the cached process.
    for _ in 0..5 {
        compared += compare(&cached, &uncached, &mut rng, size);
    }
    assert!(compared >= 5 * 36, "{compared} paths compared");
    let hits: u64 = metrics(&cached)
        .lines()
        .find_map(|l| l.strip_prefix("amity_node_cache_hits "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the hit counter");
    assert!(hits > 0, "the cached process answered from its cache");
}

on_both_backends!(cached_and_uncached_processes_agree);
