//! The witness's HTTP server: `POST /add-checkpoint` (C2SP tlog-witness) and `GET /`, a
//! plain-text page naming the witness, its key and the logs it witnesses.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use amity_verify::witness::{MAX_BODY_BYTES, Refusal, SIZE_CONTENT_TYPE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::{Answer, WitnessService};

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Worker threads (each one event loop; the database work runs on actix's blocking pool).
    pub workers: usize,
    /// Stop gracefully on SIGINT/SIGTERM. Off by default, for a server embedded in tests or
    /// another program that stops it with `Server::handle().stop()`; `amity witness serve`
    /// turns it on.
    pub signals: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            workers: 2,
            signals: false,
        }
    }
}

/// Builds the witness server on `listener`. Await the result (in an actix or tokio runtime)
/// to run it. A request in flight when the server stops either committed its new size and
/// root before answering or did not commit at all.
pub fn build_server(
    service: WitnessService,
    listener: TcpListener,
    options: &ServeOptions,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(service);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            // A larger body is refused with 413 before it is read in full.
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
            .route("/", web::get().to(index))
    })
    .client_request_timeout(Duration::from_secs(10))
    .keep_alive(Duration::from_secs(30))
    .workers(options.workers.max(1))
    .listen(listener)?
    .shutdown_timeout(10);
    if !options.signals {
        server = server.disable_signals();
    }
    Ok(server.run())
}

fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::plaintext())
        .body(body)
}

/// The answer to a refusal: the spec's status with a one-line reason, and for 409 exactly
/// the known size with its content type, which a log reads to retry from that size.
fn refusal(refusal: &Refusal) -> HttpResponse {
    let status =
        StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match refusal {
        Refusal::Conflict { known } => HttpResponse::build(status)
            .insert_header(("Content-Type", SIZE_CONTENT_TYPE))
            .body(format!("{known}\n")),
        other => text(status, format!("{other}\n")),
    }
}

fn internal() -> HttpResponse {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the request was not cosigned\n".into(),
    )
}

async fn add_checkpoint(service: web::Data<WitnessService>, body: web::Bytes) -> HttpResponse {
    let svc = service.get_ref().clone();
    // The check-and-store transaction blocks (fsync, the write lock): off the event loop.
    match web::block(move || svc.add_checkpoint(&body)).await {
        Ok(Ok(Answer::Cosigned(lines))) => text(StatusCode::OK, lines),
        Ok(Ok(Answer::Refused(r))) => {
            tracing::debug!(status = r.status(), reason = %r, "add-checkpoint refused");
            refusal(&r)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "add-checkpoint failed");
            internal()
        }
        Err(e) => {
            tracing::error!(error = %e, "add-checkpoint did not run");
            internal()
        }
    }
}

async fn index(service: web::Data<WitnessService>) -> HttpResponse {
    let svc = service.get_ref().clone();
    let logs = match web::block(move || svc.store().logs()).await {
        Ok(Ok(logs)) => logs,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "reading the witness state failed");
            return internal();
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the witness state did not run");
            return internal();
        }
    };
    let key = service.public_key();
    let mut page = format!(
        "Amity witness {}\n\nThis is a C2SP tlog-witness: logs send checkpoints to POST \
         /add-checkpoint, and it cosigns each one that extends the last it cosigned.\n\n\
         witness key (vkey): {}\n\nlogs witnessed: {}\n",
        key.name(),
        key.to_vkey(),
        logs.len()
    );
    for log in &logs {
        let _ = write!(page, "\n{}\n", log.origin);
        for vkey in &log.vkeys {
            let _ = writeln!(page, "  log key: {vkey}");
        }
        match log.cosigned {
            Some((size, root)) => {
                let _ = writeln!(
                    page,
                    "  cosigned last: size {size}, root {}",
                    B64.encode(root)
                );
            }
            None => {
                let _ = writeln!(page, "  cosigned last: nothing yet");
            }
        }
    }
    text(StatusCode::OK, page)
}
