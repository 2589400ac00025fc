//! Signing in the browser (docs/browser-signing.md), in headless Chromium over WebDriver:
//!
//! - Houston's mayor opens their signing link, creates a WebCrypto key (kept, not extractable,
//!   in IndexedDB), an admin approves it, and the mayor signs; the stored signature passes
//!   `ssh-keygen -Y verify` against the registered key, Shanghai's mayor signs with
//!   `ssh-keygen`, the MOU executes and its bundle passes `amity verify`;
//! - Houston's deputy does the same with an OpenSSH key file made by `ssh-keygen`, loaded
//!   into the page;
//! - Shanghai's mayor declines a second MOU from the page, and `amity audit` replays the
//!   decline with its reason;
//! - used and altered links show their refusal pages;
//! - the page's SSHSIG encoder, run in the browser, reproduces a known-answer vector made by
//!   `ssh-keygen -Y sign`;
//! - every request the browser sent during all of it (Chromium's own network log) carries
//!   public keys, statements and signatures only, and nothing of a private key;
//! - no page logs a console error or a CSP violation.
//!
//! The screenshots of the ceremony in docs/browser-signing.md are taken here
//! (`AMITY_UPDATE_README_SCREENSHOT=1`).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::{BROWSER_LOG, PERFORMANCE_LOG, Session, start_driver};
use crate::interop::{ok, p, run, ssh_keygen_ed25519, ssh_keygen_sign, ssh_keygen_verify};
use crate::requests::request_id;
use crate::signing::{create_mou, submit, upload};
use crate::signing_links::link_of;
use crate::support::{Backend, TestServer, World};

const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
const BIN: &str = env!("CARGO_BIN_EXE_amity");
const KEY_NS: &str = "amity-key-v1@amity.localhost";
const MOU_TEXT: &[u8] = b"Memorandum of Understanding on Friendship between Houston and Shanghai\n";
const PROTOCOL_TEXT: &[u8] = b"Protocol on the exchange of students between Houston and Shanghai\n";
const CULTURE_TEXT: &[u8] = b"Agreement on cultural cooperation between Houston and Shanghai\n";
const REASON: &str = "The city council has not approved the exchange programme yet.";

/// The known-answer vector of the verifier crate (`crates/amity-verify/src/sshsig.rs`,
/// `known_answer_vector`): produced by `ssh-keygen -Y sign -n amity-mou-v1@registry.example.org`
/// (OpenSSH 9.2p1) with the Ed25519 key whose seed is the bytes 0, 1, ..., 31.
const KAT_PUBLIC: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const KAT_NAMESPACE: &str = "amity-mou-v1@registry.example.org";
const KAT_MESSAGE: &str = r#"{"action":"sign","doc_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","mou_id":"0b7f3c1e-5a4d-4c2b-9e8f-1a2b3c4d5e6f","mou_version":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","registry":"registry.example.org","role":"signatory","seq":1,"signed_at":"2025-03-14T09:26:53Z","signer":"mayor@fr-paris","signer_city":"fr-paris","signer_key":"SHA256:lbmsoA0yIEcEiVDRnMWuzm+nV+3ZEEpVIURqFoeSspg","type":"registry.example.org/schemas/mou-signature/v1"}"#;
const KAT_SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----\n\
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgA6EHv/POEL4dcN0Y50vAmWfk1j\n\
CbpQ1fHdyGZBJVMbgAAAAhYW1pdHktbW91LXYxQHJlZ2lzdHJ5LmV4YW1wbGUub3JnAAAA\n\
AAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5AAAAQHrSRiZAypPxIQYXxuh0hUXC6v\n\
5yqbGDhexIIYnPjzyjyJtCvTP6z8WgGWU3HonP5NWHED63XMbnvt6xvatkaQI=\n\
-----END SSH SIGNATURE-----\n";

/// Registers an ssh-keygen key through the office (proof signed by ssh-keygen) and has the
/// admin approve it.
fn enroll_ssh_key(srv: &TestServer, w: &World, office: &str, signer: &str, key: &Path, line: &str) {
    let city = signer.rsplit_once('@').expect("handle@city").1;
    let c = srv
        .get_as(&format!("/api/v1/cities/{city}/keys/challenge"), office)
        .json();
    let public = amity::crypto::keys::PublicKey::parse_openssh_line(line).expect("key line");
    let proof = amity::crypto::statement::KeyRegistrationStatement {
        action: "register".into(),
        challenge: c["challenge"].as_str().expect("challenge").into(),
        city: city.into(),
        public_key: public.to_openssh_line_without_comment(),
        registry: "amity.localhost".into(),
        role: "signatory".into(),
        signer: signer.into(),
        r#type: "amity.localhost/schemas/key-event/v1".into(),
    }
    .to_bytes()
    .expect("statement");
    let proof_sig = ok(
        run(
            SSH_KEYGEN,
            &["-Y", "sign", "-f", p(key), "-n", KEY_NS],
            &proof,
        ),
        "ssh-keygen -Y sign proof",
    );
    let r = srv.post(
        &format!("/api/v1/cities/{city}/keys"),
        Some(office),
        &json!({"signer": signer, "role": "signatory", "public_key": line,
                "proof": {"statement": STANDARD.encode(&proof), "signature": proof_sig}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    approve(srv, w, r.json()["id"].as_str().expect("id"));
}

fn approve(srv: &TestServer, w: &World, key_id: &str) {
    let r = srv.post(
        &format!("/api/v1/keys/{key_id}/approve"),
        Some(&w.admin),
        &json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The id of `signer`'s key with this fingerprint, and its public key line.
fn key_by_fingerprint(srv: &TestServer, signer: &str, fingerprint: &str) -> (String, String) {
    let city = signer.rsplit_once('@').expect("handle@city").1;
    let keys = srv.get(&format!("/api/v1/cities/{city}/keys")).json();
    let key = keys
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["fingerprint"] == fingerprint)
        .unwrap_or_else(|| panic!("no key {fingerprint} in {keys:#}"));
    assert_eq!(key["signer"], signer);
    (
        key["id"].as_str().expect("id").to_string(),
        key["public_key"].as_str().expect("line").to_string(),
    )
}

fn send_round(srv: &TestServer, office: &str, mou: &str, requests: Value) -> Value {
    let deadline =
        amity::domain::dates::format_micros(srv.state.db.now() + 10 * 24 * 3600 * 1_000_000);
    let r = srv.post(
        &format!("/api/v1/mous/{mou}/signature-requests"),
        Some(office),
        &json!({"deadline": deadline, "requests": requests}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// Signature `seq` of the MOU's chain: its statement bytes, and its signature written to a file.
fn stored_signature(srv: &TestServer, dir: &Path, mou: &str, seq: usize) -> (Vec<u8>, PathBuf) {
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let link = &chain["signatures"][seq - 1];
    let statement = STANDARD
        .decode(link["statement"].as_str().expect("statement"))
        .expect("base64");
    let sig = dir.join(format!("{mou}-{seq}.sig"));
    std::fs::write(&sig, link["signature"].as_str().expect("signature")).expect("write");
    (statement, sig)
}

struct Scene {
    w: World,
    dir: tempfile::TempDir,
    mou: String,
    protocol: String,
    culture: String,
    deputy_key: PathBuf,
    deputy_pub: String,
    sha_key: PathBuf,
    /// Houston's mayor on the MOU, Houston's deputy on the protocol, Shanghai's mayor on the
    /// cultural agreement.
    link_mayor: String,
    link_deputy: String,
    link_shanghai: String,
}

fn build(srv: &TestServer) -> Scene {
    let w = World::build(srv);
    let dir = tempfile::tempdir().expect("dir");
    // Houston's mayor and deputy have no key yet: their office keeps their addresses.
    for signer in ["mayor@us-hou", "deputy@us-hou"] {
        let r = srv.post(
            &format!("/api/v1/cities/us-hou/contacts/{signer}"),
            Some(&w.a),
            &json!({"email": format!("{}@houston.example", signer.split('@').next().unwrap())}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let (deputy_key, deputy_pub) = ssh_keygen_ed25519(dir.path(), "deputy", "deputy@us-hou");
    let (sha_key, sha_pub) = ssh_keygen_ed25519(dir.path(), "shanghai", "mayor@cn-sha");
    enroll_ssh_key(srv, &w, &w.b, "mayor@cn-sha", &sha_key, &sha_pub);

    let mou = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &mou, MOU_TEXT).status, 201);
    let round = send_round(
        srv,
        &w.a,
        &mou,
        json!([{"signer": "mayor@us-hou", "group": 1}, {"signer": "mayor@cn-sha", "group": 2}]),
    );
    let link_mayor = link_of(srv, &w.a, &mou, &request_id(&round, "mayor@us-hou")).1;

    let protocol = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &protocol, PROTOCOL_TEXT).status, 201);
    let round = send_round(
        srv,
        &w.a,
        &protocol,
        json!([{"signer": "deputy@us-hou"}, {"signer": "mayor@cn-sha"}]),
    );
    let link_deputy = link_of(srv, &w.a, &protocol, &request_id(&round, "deputy@us-hou")).1;

    let culture = create_mou(srv, &w.a, &w.partnership);
    assert_eq!(upload(srv, &w.a, &culture, CULTURE_TEXT).status, 201);
    let round = send_round(
        srv,
        &w.a,
        &culture,
        json!([{"signer": "mayor@us-hou"}, {"signer": "mayor@cn-sha"}]),
    );
    let link_shanghai = link_of(srv, &w.b, &culture, &request_id(&round, "mayor@cn-sha")).1;
    Scene {
        w,
        dir,
        mou,
        protocol,
        culture,
        deputy_key,
        deputy_pub,
        sha_key,
        link_mayor,
        link_deputy,
        link_shanghai,
    }
}

#[test]
#[cfg_attr(
    not(amity_browser_tests),
    ignore = "Chromium not installed: apt-get install chromium chromium-driver (or set \
              AMITY_CHROMIUM and AMITY_CHROMEDRIVER), then rebuild (touch build.rs)"
)]
fn signing_in_headless_chromium() {
    let driver = start_driver();
    let srv = TestServer::start(Backend::Sqlite);
    let scene = build(&srv);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let s = Session::open_with(&driver, &srv.base, true).await;
        known_answer_in_the_browser(&s, &scene).await;
        webcrypto_key_signs(&s, &srv, &scene).await;
        key_file_signs(&s, &srv, &scene).await;
        decline_from_the_page(&s, &srv, &scene).await;
        refused_links(&s, &scene).await;
        only_public_material_went_out(&s, &srv, &scene).await;
        s.client.close().await.expect("close the browser");
    });
}

async fn known_answer_in_the_browser(s: &Session, scene: &Scene) {
    s.visit(&format!("/sign/{}", scene.link_mayor)).await;
    s.wait_text("#key-status", "No key of yours").await;
    let seed: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
    let armored = s
        .client
        .execute_async(
            "const [seedHex, publicB64, namespace, message, done] = arguments;
             const seed = Uint8Array.from(seedHex.match(/../g).map((h) => parseInt(h, 16)));
             const raw = Uint8Array.from(atob(publicB64), (c) => c.charCodeAt(0));
             AmitySshsig.importSeed(seed, raw)
               .then((key) => AmitySshsig.sign(key, namespace, new TextEncoder().encode(message)))
               .then(done, (e) => done('error: ' + e));",
            vec![
                json!(seed),
                json!(KAT_PUBLIC),
                json!(KAT_NAMESPACE),
                json!(KAT_MESSAGE),
            ],
        )
        .await
        .expect("the encoder runs");
    assert_eq!(
        armored.as_str(),
        Some(KAT_SIGNATURE),
        "the page's SSHSIG is byte for byte ssh-keygen's"
    );
}

async fn webcrypto_key_signs(s: &Session, srv: &TestServer, scene: &Scene) {
    let page = format!("/sign/{}", scene.link_mayor);
    s.visit(&page).await;
    s.wait_text("#key-status", "No key of yours").await;
    assert_eq!(s.text("#signer").await, "mayor@us-hou");
    assert!(s.text("#partner-city").await.contains("(cn-sha)"));
    let doc_hash = hex::encode(amity::crypto::sha256(MOU_TEXT));
    assert!(s.text("#documents").await.contains(&doc_hash));
    s.screenshot("signing-link").await;
    s.assert_clean_console(&page).await;

    s.click("#create-key").await;
    s.wait_text("#key-status", "waits for approval").await;
    s.scroll_to("#key-section").await;
    s.screenshot("signing-key-created").await;
    let fingerprint = s.text("#key-fingerprint").await;
    // The private key kept in IndexedDB cannot be read out of the browser.
    let extractable = s
        .client
        .execute_async(
            "const done = arguments[0];
             const open = indexedDB.open('amity-signing', 1);
             open.onsuccess = () => {
               const get = open.result.transaction('keys').objectStore('keys').getAll();
               get.onsuccess = () => done(get.result.map((k) => k.privateKey.extractable));
             };",
            vec![],
        )
        .await
        .expect("read IndexedDB");
    assert_eq!(extractable, json!([false]), "one key, not extractable");
    let (key_id, public) = key_by_fingerprint(srv, "mayor@us-hou", &fingerprint);
    approve(srv, &scene.w, &key_id);

    // Back on the page after the approval: the key kept in the browser signs.
    s.visit(&page).await;
    s.wait_text("#key-status", "approved").await;
    let statement = s.wait_text("#statement", "\"action\":\"sign\"").await;
    assert!(statement.contains(&fingerprint), "{statement}");
    s.scroll_to("#statement-section").await;
    s.screenshot("signing-statement").await;
    s.click("#sign").await;
    s.wait_text("#result", "Signed").await;
    s.scroll_to("#result").await;
    s.screenshot("signing-signed").await;
    s.assert_clean_console(&page).await;

    // The stored signature is an OpenSSH signature by the registered key.
    let dir = scene.dir.path();
    let allowed = dir.join("allowed_mayor");
    std::fs::write(&allowed, format!("mayor@us-hou {public}\n")).expect("write");
    let (statement, sig) = stored_signature(srv, dir, &scene.mou, 1);
    ok(
        ssh_keygen_verify(&allowed, "mayor@us-hou", &sig, &statement),
        "ssh-keygen -Y verify of the browser's signature",
    );

    // Shanghai's mayor signs with ssh-keygen: the MOU executes.
    assert_eq!(
        sign_with_ssh_keygen(srv, scene, &scene.mou)["state"],
        "executed"
    );

    // The MOU's bundle verifies offline.
    let bundle = dir.join("bundle.json");
    let r = srv.get(&format!("/api/v1/mous/{}/bundle", scene.mou));
    assert_eq!(r.status, 200);
    std::fs::write(&bundle, &r.body).expect("write");
    let document = dir.join("mou.txt");
    std::fs::write(&document, MOU_TEXT).expect("write");
    ok(
        run(
            BIN,
            &["verify", p(&bundle), "--document", p(&document)],
            b"",
        ),
        "amity verify of the bundle",
    );
}

/// Shanghai's mayor signs `mou` with `ssh-keygen -Y sign`, submitted by Shanghai's office.
fn sign_with_ssh_keygen(srv: &TestServer, scene: &Scene, mou: &str) -> Value {
    let r = srv.get_as(
        &format!("/api/v1/mous/{mou}/signing-statement?signer=mayor@cn-sha"),
        &scene.w.b,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let file = scene.dir.path().join(format!("shanghai-{mou}.json"));
    std::fs::write(&file, &r.body).expect("write");
    let sig = ssh_keygen_sign(&scene.sha_key, &file);
    let r = submit(srv, &scene.w.b, mou, &r.body, &sig);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// Loads the key file into the page's file input.
async fn load_key_file(s: &Session, key: &Path) {
    s.client
        .find(Locator::Css("#key-file"))
        .await
        .expect("the file input")
        .send_keys(p(key))
        .await
        .expect("choose the key file");
}

async fn key_file_signs(s: &Session, srv: &TestServer, scene: &Scene) {
    let page = format!("/sign/{}", scene.link_deputy);
    s.visit(&page).await;
    s.wait_text("#key-status", "No key of yours").await;
    load_key_file(s, &scene.deputy_key).await;
    s.wait_text("#key-status", "waits for approval").await;
    let fingerprint = s.text("#key-fingerprint").await;
    let (key_id, public) = key_by_fingerprint(srv, "deputy@us-hou", &fingerprint);
    assert_eq!(
        public,
        scene
            .deputy_pub
            .rsplit_once(' ')
            .map(|(k, _)| k)
            .unwrap_or_default(),
        "the registered key is the file's"
    );
    approve(srv, &scene.w, &key_id);
    // The file is read again after the approval: the page keeps it in memory only.
    s.visit(&page).await;
    s.wait_text("#key-status", "No key of yours").await;
    load_key_file(s, &scene.deputy_key).await;
    s.wait_text("#key-status", "approved").await;
    let first = s.wait_text("#statement", "\"seq\":1").await;
    // Shanghai's mayor signs first, with ssh-keygen: the page's statement is stale now. The
    // registry refuses it (409 stale_chain_head), and the page fetches the new statement and
    // asks again.
    sign_with_ssh_keygen(srv, scene, &scene.protocol);
    s.click("#sign").await;
    s.wait_text("#result", "Another signature arrived first")
        .await;
    let second = s.wait_text("#statement", "\"seq\":2").await;
    assert_ne!(first, second);
    s.click("#sign").await;
    // Both cities signed: the protocol is executed.
    s.wait_text("#result", "the MOU is now executed").await;
    // The browser reports the 409 itself; nothing else may be in the console.
    clean_console_but(
        s,
        &["/answer - Failed to load resource: the server responded with a status of 409"],
    )
    .await;
    let allowed = scene.dir.path().join("allowed_deputy");
    std::fs::write(&allowed, format!("deputy@us-hou {}\n", scene.deputy_pub)).expect("write");
    let (statement, sig) = stored_signature(srv, scene.dir.path(), &scene.protocol, 2);
    ok(
        ssh_keygen_verify(&allowed, "deputy@us-hou", &sig, &statement),
        "ssh-keygen -Y verify of the key file's signature",
    );
}

async fn decline_from_the_page(s: &Session, srv: &TestServer, scene: &Scene) {
    let page = format!("/sign/{}", scene.link_shanghai);
    s.visit(&page).await;
    load_key_file(s, &scene.sha_key).await;
    s.wait_text("#key-status", "approved").await;
    s.fill("#decline-reason", REASON).await;
    s.click("#decline").await;
    s.wait_text("#statement", "\"action\":\"decline\"").await;
    s.click("#sign").await;
    s.wait_text("#result", "Declined").await;
    s.assert_clean_console(&page).await;
    let requests = srv
        .get(&format!(
            "/api/v1/mous/{}/signature-requests",
            scene.culture
        ))
        .json();
    let declined = requests["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["signer"] == "mayor@cn-sha")
        .expect("Shanghai's request")
        .clone();
    assert_eq!(declined["state"], "declined");
    assert_eq!(declined["decline"]["reason"], REASON);
    let entry = srv.entry(declined["answer_log_index"].as_i64().expect("index"));
    assert_eq!(entry["type"], "mou.request_declined");
    assert_eq!(entry["reason"], REASON);
    let state = scene.dir.path().join("audit-state.json");
    let (passed, text) = crate::audit::audit(srv, &state);
    assert!(passed, "amity audit:\n{text}");
}

async fn refused_links(s: &Session, scene: &Scene) {
    s.visit(&format!("/sign/{}", scene.link_mayor)).await;
    assert!(
        s.text("#link-refused").await.contains("no longer works"),
        "a used link"
    );
    let first = if scene.link_mayor.starts_with('A') {
        'B'
    } else {
        'A'
    };
    s.visit(&format!("/sign/{first}{}", &scene.link_mayor[1..]))
        .await;
    assert!(
        s.text("#link-refused").await.contains("not valid"),
        "an altered link"
    );
    // The browser reports the 404 and 410 statuses itself; nothing else may be in the console.
    clean_console_but(
        s,
        &[
            "the server responded with a status of 404",
            "the server responded with a status of 410",
        ],
    )
    .await;
}

/// Fails on a console error since the last read other than the browser's own reports of the
/// expected HTTP statuses named in `expected`.
async fn clean_console_but(s: &Session, expected: &[&str]) {
    let log = s.client.issue_cmd(BROWSER_LOG).await.expect("browser log");
    let unexpected: Vec<&Value> = log
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .filter(|e| {
            let m = e["message"].as_str().unwrap_or_default();
            !(e["source"] == "network" && expected.iter().any(|x| m.contains(x)))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

/// Every request Chromium sent during the ceremonies, from its own network log: same origin,
/// and each body is JSON of public keys, statements and signatures only.
async fn only_public_material_went_out(s: &Session, srv: &TestServer, scene: &Scene) {
    let log = s
        .client
        .issue_cmd(PERFORMANCE_LOG)
        .await
        .expect("performance log");
    let mut posts = Vec::new();
    let mut urls = Vec::new();
    for entry in log.as_array().expect("log entries") {
        let message: Value =
            serde_json::from_str(entry["message"].as_str().unwrap_or("{}")).unwrap_or_default();
        if message["message"]["method"] != "Network.requestWillBeSent" {
            continue;
        }
        let request = &message["message"]["params"]["request"];
        let url = request["url"].as_str().unwrap_or_default().to_string();
        if request["method"] == "POST" {
            posts.push((
                url.clone(),
                request["postData"].as_str().map(str::to_string),
            ));
        }
        urls.push(url);
    }
    assert!(!urls.is_empty(), "the network log recorded the session");
    // Chromium's own pages (chrome://) are not the page's requests; every request to the
    // network went to the registry.
    for url in urls.iter().filter(|u| u.starts_with("http")) {
        assert!(
            url.starts_with(&srv.base),
            "a request left the registry's origin: {url}"
        );
    }
    assert!(
        urls.iter().any(|u| u.contains("/sign/")),
        "the pages' requests are in the log"
    );
    // Two key registrations (the browser's key and the key file; Shanghai's key was enrolled
    // by its office) and four answers (two signatures, one of them sent again after the
    // stale chain head, and one decline).
    let count = |suffix: &str| posts.iter().filter(|(u, _)| u.ends_with(suffix)).count();
    assert_eq!(count("/keys"), 2, "{posts:#?}");
    assert_eq!(count("/answer"), 4, "{posts:#?}");
    // What would betray a private key: the key files' text, their base64 body lines, the
    // seeds in base64 and hex.
    let mut secrets: Vec<String> = vec!["PRIVATE KEY".into(), "openssh-key-v1".into()];
    for key in [&scene.deputy_key, &scene.sha_key] {
        let text = std::fs::read_to_string(key).expect("key file");
        secrets.extend(
            text.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
                .map(str::to_string),
        );
        let pair = amity::crypto::keys::read_private_key_file(key).expect("key file parses");
        let seed = pair.signing_key.to_bytes();
        secrets.push(hex::encode(seed));
        secrets.push(STANDARD.encode(seed));
        secrets.push(STANDARD.encode(seed)[..40].to_string());
    }
    for (url, body) in &posts {
        let body = body
            .as_deref()
            .unwrap_or_else(|| panic!("POST {url} recorded without its body"));
        for secret in &secrets {
            assert!(!body.contains(secret.as_str()), "{url} carried {secret}");
        }
        let value: Value = serde_json::from_str(body).expect("a JSON body");
        let allowed = ["public_key", "proof", "statement", "signature"];
        let mut members = Vec::new();
        collect_members(&value, &mut members);
        for member in members {
            assert!(
                allowed.contains(&member.as_str()),
                "{url} sent a member `{member}`: {body}"
            );
        }
    }
}

fn collect_members(value: &Value, out: &mut Vec<String>) {
    if let Some(object) = value.as_object() {
        for (name, inner) in object {
            out.push(name.clone());
            collect_members(inner, out);
        }
    }
}
