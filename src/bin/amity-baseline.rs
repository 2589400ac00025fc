//! The bare endpoints the load benchmark (`bench/load.sh`) judges Amity against, served by
//! the same actix-web on the same machine, measured by the same load generator in the same
//! run. Not part of the registry: it has no database, no auth and no log.
//!
//! - `GET /json`: a small JSON document (the ceiling for reads);
//! - `POST /api/v1/mous/{id}/signatures`: parses the same signature body Amity takes (JSON,
//!   base64 statement parsed strictly, armored SSHSIG) and runs `verify_strict` (the ceiling
//!   for signature submission);
//! - `POST /upload`: hashes the streamed request body with SHA-256 (the ceiling for uploads).
//!
//! Usage: amity-baseline [BIND] (default 127.0.0.1:8089), or `amity-baseline batch-verify N
//! [THREADS]` to print the raw batch-verification rate over N signatures (on one thread, or
//! split into THREADS equal batches verified at once, one per thread).

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "amity.localhost";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureBody {
    statement: String,
    signature: String,
}

async fn json() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok", "registry": ORIGIN, "size": 1}))
}

async fn verify(id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let Ok(b) = serde_json::from_slice::<SignatureBody>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    match amity::domain::signatures::parse_submission(&b.statement, &b.signature, ORIGIN, &id) {
        Ok(sub) if sub.verifies_under_own_key => {
            HttpResponse::Created().json(serde_json::json!({"seq": sub.statement.seq}))
        }
        _ => HttpResponse::UnprocessableEntity().finish(),
    }
}

async fn upload(mut body: web::Payload) -> HttpResponse {
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => hasher.update(&bytes),
            Err(_) => return HttpResponse::BadRequest().finish(),
        }
    }
    HttpResponse::Created().json(serde_json::json!({"sha256": hex::encode(hasher.finalize())}))
}

/// `amity-baseline batch-verify N`: the raw rate of ed25519-dalek's batch verification over N
/// fresh signatures of SSHSIG-sized messages, the baseline `amity audit`'s signature phase is
/// judged against (bench/audit.sh runs both in one run). With `threads` > 1 the signatures are
/// split into that many batches, verified at the same time on their own threads: the rate
/// the machine's cores give together, for comparison with an audit that uses them all.
fn batch_verify(n: usize, threads: usize) {
    use ed25519_dalek::{Signer, SigningKey};
    let mut rng = rand::rngs::OsRng;
    let keys: Vec<SigningKey> = (0..64).map(|_| SigningKey::generate(&mut rng)).collect();
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|i| format!("SSHSIG-sized signed data {i:0>180}").into_bytes())
        .collect();
    let signatures: Vec<ed25519_dalek::Signature> = messages
        .iter()
        .zip(keys.iter().cycle())
        .map(|(m, key)| key.sign(m))
        .collect();
    let verifying: Vec<ed25519_dalek::VerifyingKey> = keys
        .iter()
        .cycle()
        .take(n)
        .map(SigningKey::verifying_key)
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let threads = threads.max(1);
    let chunk = n.div_ceil(threads).max(1);
    let started = std::time::Instant::now();
    let ok = std::thread::scope(|scope| {
        let handles: Vec<_> = refs
            .chunks(chunk)
            .zip(signatures.chunks(chunk))
            .zip(verifying.chunks(chunk))
            .map(|((m, s), k)| scope.spawn(move || ed25519_dalek::verify_batch(m, s, k).is_ok()))
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "batch-verify n={n} threads={threads} ok={ok} seconds={secs:.3} signatures_per_s={:.0}",
        n as f64 / secs.max(1e-9)
    );
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("batch-verify") {
        let n = args.next().and_then(|v| v.parse().ok()).unwrap_or(100_000);
        let threads = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        batch_verify(n, threads);
        return Ok(());
    }
    let bind = first.unwrap_or_else(|| "127.0.0.1:8089".into());
    HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(64 * 1024))
            .route("/json", web::get().to(json))
            .route("/api/v1/mous/{id}/signatures", web::post().to(verify))
            .route("/upload", web::post().to(upload))
    })
    .bind(bind)?
    .run()
    .await
}
