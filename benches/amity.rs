//! Micro benchmarks, each group next to the raw baseline it is judged against (same file,
//! same run): SSHSIG parse + `verify_strict` against bare ed25519-dalek `verify_strict` and
//! batch verification; statement parse and re-serialization; Merkle append and proofs on the
//! real storage at 10^3 .. 10^6 entries against a one-row durable SQLite commit; checkpoint
//! signing; SHA-256 over 64 MiB.
//!
//! `cargo bench --bench amity` (SQLite). With `AMITY_BENCH_POSTGRES_URL` (a URL whose role may
//! create databases) the storage benchmarks also run on PostgreSQL. `AMITY_BENCH_MERKLE_MAX`
//! caps the largest tree (default 1000000). Trees are built once with the bulk append path
//! and kept under `target/bench-merkle/` (SQLite) or in `amity_bench_merkle_<n>` databases.

// Test and benchmark harness code: a panic is how it reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use amity::crypto::keys::PublicKey;
use amity::crypto::sshsig;
use amity::crypto::statement::{GENESIS_PREV, MouSignatureStatement, mou_signature_namespace};
use amity::db::{Db, DbError, tree};
use amity::domain::entries::{EntryBody, LogEntry, TokenRevoked};
use amity::log::note::{Checkpoint, NoteSigner, sign_checkpoint};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "amity.localhost";

fn key(n: u64) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn statement() -> MouSignatureStatement {
    let key = key(1);
    MouSignatureStatement {
        action: MouSignatureStatement::ACTION.into(),
        doc_sha256: Some("ab".repeat(32)),
        documents: None,
        mou_id: "0190f5c2-7a3b-7cde-8f01-23456789abcd".into(),
        mou_version: 1,
        prev: GENESIS_PREV.into(),
        registry: ORIGIN.into(),
        role: "signatory".into(),
        seq: 1,
        signed_at: "2026-11-28T12:00:00Z".into(),
        signer: "mayor@us-hou".into(),
        signer_city: "us-hou".into(),
        signer_key: PublicKey::from_signing_key(&key).fingerprint(),
        r#type: MouSignatureStatement::type_for(ORIGIN),
    }
}

fn crypto(c: &mut Criterion) {
    let ns = mou_signature_namespace(ORIGIN);
    let bytes = statement().to_bytes().expect("statement");
    let armored = sshsig::sign(&key(1), &ns, &bytes).expect("sign");
    let mut g = c.benchmark_group("signature");
    g.bench_function("sshsig_parse_and_verify_strict", |b| {
        b.iter(|| {
            let sig = sshsig::parse_armored(black_box(&armored)).expect("parses");
            sshsig::verify(&sig, &ns, black_box(&bytes), None).expect("verifies")
        })
    });
    // Baselines: ed25519-dalek alone over the same signed data.
    let signed = sshsig::signed_data(&ns, &bytes);
    let sk = key(1);
    let vk = sk.verifying_key();
    let sig = sk.sign(&signed);
    g.bench_function("baseline_ed25519_verify_strict", |b| {
        b.iter(|| {
            vk.verify_strict(black_box(&signed), black_box(&sig))
                .expect("ok")
        })
    });
    for n in [64usize, 1024] {
        let keys: Vec<SigningKey> = (0..n as u64).map(key).collect();
        let msgs: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("message {i}").into_bytes())
            .collect();
        let sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let vks: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("baseline_ed25519_verify_batch_{n}"), |b| {
            b.iter(|| ed25519_dalek::verify_batch(&refs, &sigs, &vks).expect("ok"))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("statement");
    g.bench_function("parse_strict", |b| {
        b.iter(|| MouSignatureStatement::parse_strict(black_box(&bytes)).expect("parses"))
    });
    let parsed = MouSignatureStatement::parse_strict(&bytes).expect("parses");
    g.bench_function("to_bytes", |b| {
        b.iter(|| black_box(&parsed).to_bytes().expect("serializes"))
    });
    g.finish();

    let mut g = c.benchmark_group("checkpoint");
    let signer = NoteSigner::new(ORIGIN, key(9)).expect("signer");
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size: 1_000_000,
        root: [3u8; 32],
        extensions: Vec::new(),
    };
    g.bench_function("sign", |b| {
        b.iter(|| sign_checkpoint(black_box(&checkpoint), &[&signer]).expect("signs"))
    });
    g.finish();

    let mut g = c.benchmark_group("sha256");
    let data = vec![0x5au8; 64 * 1024 * 1024];
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("baseline_64mib", |b| {
        b.iter(|| Sha256::digest(black_box(&data)))
    });
    g.finish();
}

/// A database holding a log of exactly `n` entries, built once with the bulk append path.
fn tree_db(backend: &str, n: u64) -> Option<Db> {
    let url = match backend {
        "sqlite" => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-merkle");
            std::fs::create_dir_all(&dir).ok()?;
            format!("sqlite://{}", dir.join(format!("tree-{n}.db")).display())
        }
        _ => {
            let admin = std::env::var("AMITY_BENCH_POSTGRES_URL").ok()?;
            let name = format!("amity_bench_merkle_{n}");
            let mut conn = diesel::PgConnection::establish(&admin).expect("PostgreSQL");
            let exists: i64 = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
            ))
            .load::<Count>(&mut conn)
            .expect("query")[0]
                .n;
            if exists == 0 {
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create database");
            }
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
    };
    let db = Db::open(&url, 2).expect("open");
    let size = db.read(amity::db::log::size).expect("size") as u64;
    if size > n {
        panic!("{url} holds {size} entries, more than {n}: remove it");
    }
    let started = std::time::Instant::now();
    let mut done = size;
    while done < n {
        let chunk = (n - done).min(20_000);
        let entries: Vec<LogEntry> = (done..done + chunk)
            .map(|i| LogEntry::new(0, bench_token(format!("bench-{i}"))).expect("entry"))
            .collect();
        db.write(|tx| tx.append_batch(&entries)).expect("append");
        done += chunk;
    }
    if size < n {
        eprintln!(
            "built a {backend} log of {n} entries in {:.1?}",
            started.elapsed()
        );
    }
    Some(db)
}

/// A small entry of a real kind, for benchmarks that only append to the tree.
fn bench_token(token: String) -> EntryBody {
    EntryBody::TokenRevoked(TokenRevoked { token })
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn storage(c: &mut Criterion) {
    let max: u64 = std::env::var("AMITY_BENCH_MERKLE_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let entry = LogEntry::new(0, bench_token("append".into())).expect("entry");
    for backend in ["sqlite", "postgres"] {
        let mut g = c.benchmark_group(format!("merkle_{backend}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for n in [1_000u64, 10_000, 100_000, 1_000_000] {
            if n > max {
                continue;
            }
            let Some(db) = tree_db(backend, n) else {
                continue;
            };
            // Append one entry (row + the Merkle nodes it completes) in a transaction that
            // is rolled back, so every sample appends at size n and no fsync is timed.
            g.bench_function(format!("append_at_{n}"), |b| {
                b.iter(|| {
                    let r: Result<(), DbError> = db.write(|tx| {
                        tx.append(&entry)?;
                        Err(DbError::Aborted("rolled back by the benchmark".into()))
                    });
                    black_box(r.is_err())
                })
            });
            let mut i = 0u64;
            g.bench_function(format!("inclusion_proof_at_{n}"), |b| {
                b.iter(|| {
                    i = (i + 7919) % n;
                    db.read(|c| tree::inclusion_proof(c, None, i, n))
                        .expect("proof")
                })
            });
            // The same through the node cache, warmed by the samples before (the server's
            // read path: db/node_cache.rs).
            let cache = amity::db::node_cache::NodeCache::new(1 << 20);
            let mut i = 0u64;
            g.bench_function(format!("inclusion_proof_cached_at_{n}"), |b| {
                b.iter(|| {
                    i = (i + 7919) % n;
                    db.read(|c| tree::inclusion_proof(c, Some(&cache), i, n))
                        .expect("proof")
                })
            });
            let mut m = 0u64;
            g.bench_function(format!("consistency_proof_at_{n}"), |b| {
                b.iter(|| {
                    m = (m + 7919) % (n - 1);
                    db.read(|c| tree::consistency_proof(c, None, m + 1, n))
                        .expect("proof")
                })
            });
        }
        g.finish();
    }

    // Baseline: one row committed durably (WAL, synchronous=FULL, as Amity configures SQLite).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("commit.db");
    let mut conn =
        diesel::SqliteConnection::establish(&path.display().to_string()).expect("sqlite");
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);",
    )
    .expect("setup");
    let mut g = c.benchmark_group("sqlite");
    g.sample_size(20);
    g.bench_function("baseline_one_row_durable_commit", |b| {
        b.iter_batched(
            || vec![1u8; 64],
            |v| {
                conn.transaction(|c| {
                    diesel::sql_query("INSERT INTO t (v) VALUES (?)")
                        .bind::<diesel::sql_types::Binary, _>(v)
                        .execute(c)
                })
                .expect("commit")
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = crypto, storage
}
criterion_main!(benches);
