//! `amity sign` when another signatory takes its chain position first: the server answers 409
//! `stale_chain_head`, and the CLI fetches the new head, signs again and succeeds.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::both_backends;
use crate::signing::{Signatory, create_mou, enroll, upload};
use crate::support::World;

const BIN: &str = env!("CARGO_BIN_EXE_amity");

/// A forwarding proxy that runs `before_first_signature` just before it forwards the first
/// signature submission: a deterministic race.
struct Proxy {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(false));
    }
}

struct ProxyState {
    target: String,
    fired: AtomicBool,
    before_first_signature: Box<dyn Fn() + Send + Sync>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

async fn forward(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<ProxyState>>,
) -> HttpResponse {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = ["authorization", "content-type"]
        .iter()
        .filter_map(|h| {
            req.headers()
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(|v| (h.to_string(), v.to_string()))
        })
        .collect();
    let state = state.get_ref().clone();
    let result = web::block(move || {
        if method == "POST"
            && path.ends_with("/signatures")
            && !state.fired.swap(true, Ordering::SeqCst)
        {
            (state.before_first_signature)();
        }
        let mut builder = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(format!("{}{path}", state.target));
        for (k, v) in &headers {
            builder = builder.header(k, v);
        }
        let mut res = agent().run(builder.body(body.to_vec()).expect("request"))?;
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = res.body_mut().read_to_vec()?;
        Ok::<_, ureq::Error>((status, content_type, bytes))
    })
    .await;
    match result {
        Ok(Ok((status, content_type, bytes))) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .content_type(content_type)
        .body(bytes),
        _ => HttpResponse::BadGateway().finish(),
    }
}

fn start_proxy(target: String, before_first_signature: Box<dyn Fn() + Send + Sync>) -> Proxy {
    let state = Arc::new(ProxyState {
        target,
        fired: AtomicBool::new(false),
        before_first_signature,
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(state.clone()))
                    .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                    .default_service(web::to(forward))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            let _ = tx.send(server.handle());
            let _ = server.await;
        })
    });
    Proxy {
        base: format!("http://127.0.0.1:{port}"),
        handle: rx.recv().expect("proxy handle"),
    }
}

both_backends!(amity_sign_retries_after_a_stale_head, |srv| {
    let w = World::build(&srv);
    let mut hou = Signatory::new(21, "mayor@us-hou", &w.a);
    let mut sha = Signatory::new(22, "mayor@cn-sha", &w.b);
    enroll(&srv, &w.admin, &mut hou);
    enroll(&srv, &w.admin, &mut sha);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    let doc = b"Memorandum: exchanges of students, officials and artists.".to_vec();
    assert_eq!(upload(&srv, &w.a, &mou, &doc).status, 201);

    // Houston's mayor signs position 1 just before Shanghai's submission reaches the server.
    let (base, office, mou_id) = (srv.base.clone(), w.a.clone(), mou.clone());
    let hou_key = hou.key.clone();
    let proxy = start_proxy(
        srv.base.clone(),
        Box::new(move || {
            let agent = agent();
            let mut r = agent
                .get(&format!(
                    "{base}/api/v1/mous/{mou_id}/signing-statement?signer=mayor@us-hou&role=signatory"
                ))
                .header("Authorization", &format!("Bearer {office}"))
                .call()
                .expect("statement");
            let statement = r.body_mut().read_to_vec().expect("body");
            let ns = amity::crypto::statement::mou_signature_namespace("amity.localhost");
            let signature = amity::crypto::sshsig::sign(&hou_key, &ns, &statement).expect("sign");
            let body = json!({"statement": STANDARD.encode(&statement), "signature": signature});
            let r = agent
                .post(&format!("{base}/api/v1/mous/{mou_id}/signatures"))
                .header("Authorization", &format!("Bearer {office}"))
                .send_json(&body)
                .expect("submit");
            assert_eq!(r.status().as_u16(), 201, "the competing signature lands");
        }),
    );

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("sha_mayor");
    amity::crypto::keys::write_keypair_files(&key_file, &sha.key, "mayor@cn-sha").unwrap();
    let doc_file = dir.path().join("mou.txt");
    std::fs::write(&doc_file, &doc).unwrap();
    let out = Command::new(BIN)
        .args(["sign", "--key"])
        .arg(&key_file)
        .args(["--mou", &mou, "--document"])
        .arg(&doc_file)
        .args(["--server", &proxy.base, "--token", &w.b])
        .output()
        .expect("amity sign runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("another signature took position 1"),
        "{stderr}"
    );
    let accepted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (accepted["seq"].as_i64(), accepted["state"].as_str()),
        (Some(2), Some("executed"))
    );
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let signers: Vec<&str> = chain["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["signer"].as_str().unwrap())
        .collect();
    assert_eq!(signers, ["mayor@us-hou", "mayor@cn-sha"]);
});
