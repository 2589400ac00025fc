//! Interop with OpenSSH and the signatory's CLI: keys made by `ssh-keygen` and by
//! `amity keygen`, signatures made by `ssh-keygen -Y sign` and by `amity sign`, stored
//! signatures checked by `ssh-keygen -Y verify` and `amity verify`; and SSHSIG shapes the
//! server refuses over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::both_backends;
use crate::signing::{Signatory, audit, create_mou, enroll, statement, submit, upload};
use crate::support::World;

const BIN: &str = env!("CARGO_BIN_EXE_amity");
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
const MOU_NS: &str = "amity-mou-v1@amity.localhost";
const KEY_NS: &str = "amity-key-v1@amity.localhost";

pub(crate) fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .env_remove("AMITY_SERVER")
        .env_remove("AMITY_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A new unencrypted Ed25519 key made by `ssh-keygen` at `dir/name`: (private key file, public
/// key line as `ssh-keygen` wrote it, comment included).
pub(crate) fn ssh_keygen_ed25519(dir: &Path, name: &str, comment: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    ok(
        run(
            SSH_KEYGEN,
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                comment,
                "-f",
                p(&key),
            ],
            b"",
        ),
        "ssh-keygen -t ed25519",
    );
    let line = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (key, line.trim().to_string())
}

/// `ssh-keygen -Y sign` of `file` in the MOU namespace with the private key at `key`; the
/// armored signature it wrote beside the file.
pub(crate) fn ssh_keygen_sign(key: &Path, file: &Path) -> String {
    ok(
        run(
            SSH_KEYGEN,
            &["-Y", "sign", "-f", p(key), "-n", MOU_NS, p(file)],
            b"",
        ),
        "ssh-keygen -Y sign",
    );
    std::fs::read_to_string(format!("{}.sig", file.display())).unwrap()
}

/// `ssh-keygen -Y verify` of `message` against the signature file `sig`, as `signer` of the
/// `allowed` signers file, in the MOU namespace.
pub(crate) fn ssh_keygen_verify(
    allowed: &Path,
    signer: &str,
    sig: &Path,
    message: &[u8],
) -> Output {
    run(
        SSH_KEYGEN,
        &[
            "-Y",
            "verify",
            "-f",
            p(allowed),
            "-I",
            signer,
            "-n",
            MOU_NS,
            "-s",
            p(sig),
        ],
        message,
    )
}

/// `amity verify` of one signature: the statement file, the signature file, the key line.
pub(crate) fn amity_verify_statement(statement: &Path, sig: &Path, key: &str) -> Output {
    run(
        BIN,
        &[
            "verify",
            "--statement",
            p(statement),
            "--signature",
            p(sig),
            "--key",
            key,
        ],
        b"",
    )
}

both_backends!(openssh_and_cli_sign_one_mou, |srv| {
    let w = World::build(&srv);
    let dir = tempfile::tempdir().unwrap();

    // Houston's mayor: a key made by ssh-keygen, registered with a proof made by ssh-keygen.
    let (hou_key, hou_pub) = ssh_keygen_ed25519(dir.path(), "hou", "mayor@us-hou");
    let public = amity::crypto::keys::PublicKey::parse_openssh_line(&hou_pub).unwrap();
    let c = srv
        .get_as("/api/v1/cities/us-hou/keys/challenge", &w.a)
        .json();
    let proof = amity::crypto::statement::KeyRegistrationStatement {
        action: "register".into(),
        challenge: c["challenge"].as_str().unwrap().into(),
        city: "us-hou".into(),
        public_key: public.to_openssh_line_without_comment(),
        registry: c["registry"].as_str().unwrap().into(),
        role: "signatory".into(),
        signer: "mayor@us-hou".into(),
        r#type: "amity.localhost/schemas/key-event/v1".into(),
    }
    .to_bytes()
    .unwrap();
    assert_eq!(c["namespace"], KEY_NS);
    let proof_sig = ok(
        run(
            SSH_KEYGEN,
            &["-Y", "sign", "-f", p(&hou_key), "-n", KEY_NS],
            &proof,
        ),
        "ssh-keygen -Y sign proof",
    );
    let r = srv.post(
        "/api/v1/cities/us-hou/keys",
        Some(&w.a),
        &json!({"signer": "mayor@us-hou", "role": "signatory", "public_key": hou_pub.trim(),
                "proof": {"statement": STANDARD.encode(&proof), "signature": proof_sig}}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let hou_id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        srv.post(
            &format!("/api/v1/keys/{hou_id}/approve"),
            Some(&w.admin),
            &json!({})
        )
        .status,
        200
    );

    // Shanghai's mayor: `amity keygen`, whose private file ssh-keygen reads, then
    // `amity keys register`.
    let sha_key = dir.path().join("sha");
    ok(
        run(
            BIN,
            &["keygen", "-f", p(&sha_key), "-C", "mayor@cn-sha"],
            b"",
        ),
        "amity keygen",
    );
    let derived = ok(
        run(SSH_KEYGEN, &["-y", "-f", p(&sha_key)], b""),
        "ssh-keygen -y",
    );
    let sha_pub = std::fs::read_to_string(dir.path().join("sha.pub")).unwrap();
    assert_eq!(derived.split(' ').nth(1), sha_pub.split(' ').nth(1));
    let server = ["--server", srv.base.as_str(), "--token", w.b.as_str()];
    let out = run(
        BIN,
        &[
            &[
                "keys",
                "register",
                "--key",
                p(&sha_key),
                "--signer",
                "mayor@cn-sha",
                "--city",
                "cn-sha",
            ][..],
            &server[..],
        ]
        .concat(),
        b"",
    );
    let registered: serde_json::Value =
        serde_json::from_str(&ok(out, "amity keys register")).unwrap();
    assert_eq!(registered["status"], "pending");
    let sha_id = registered["id"].as_str().unwrap();
    assert_eq!(
        srv.post(
            &format!("/api/v1/keys/{sha_id}/approve"),
            Some(&w.admin),
            &json!({})
        )
        .status,
        200
    );

    let mou = create_mou(&srv, &w.a, &w.partnership);
    let doc = b"Memorandum of Understanding between Houston and Shanghai\n".to_vec();
    assert_eq!(upload(&srv, &w.a, &mou, &doc).status, 201);
    let doc_file = dir.path().join("mou.txt");
    std::fs::write(&doc_file, &doc).unwrap();

    // Houston signs with plain ssh-keygen over the statement the server offers.
    let r = srv.get_as(
        &format!("/api/v1/mous/{mou}/signing-statement?signer=mayor@us-hou&role=signatory"),
        &w.a,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let st_file = dir.path().join("statement.json");
    std::fs::write(&st_file, &r.body).unwrap();
    let sig = ssh_keygen_sign(&hou_key, &st_file);
    let r = submit(&srv, &w.a, &mou, &r.body, &sig);
    assert_eq!(r.status, 201, "{}", r.text());

    // Shanghai: `amity sign` refuses a document that is not the current version...
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&wrong, b"another text").unwrap();
    let sign_args = |document: &str| -> Vec<String> {
        [
            "sign",
            "--key",
            p(&sha_key),
            "--mou",
            &mou,
            "--document",
            document,
        ]
        .iter()
        .chain(server.iter())
        .map(|s| s.to_string())
        .collect()
    };
    let args = sign_args(p(&wrong));
    let out = run(
        BIN,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        b"",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to sign"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...and signs the right one, which executes the MOU.
    let args = sign_args(p(&doc_file));
    let accepted: serde_json::Value = serde_json::from_str(&ok(
        run(
            BIN,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            b"",
        ),
        "amity sign",
    ))
    .unwrap();
    assert_eq!(accepted["seq"], 2);
    assert_eq!(accepted["state"], "executed");

    // Every stored signature passes `ssh-keygen -Y verify` and `amity verify`.
    let chain = srv.get(&format!("/api/v1/mous/{mou}/chain")).json();
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("mayor@us-hou {hou_pub}\nmayor@cn-sha {sha_pub}"),
    )
    .unwrap();
    for link in chain["signatures"].as_array().unwrap() {
        let stmt = STANDARD
            .decode(link["statement"].as_str().unwrap())
            .unwrap();
        let sig_file = dir.path().join(format!("sig{}", link["seq"]));
        std::fs::write(&sig_file, link["signature"].as_str().unwrap()).unwrap();
        let signer = link["signer"].as_str().unwrap();
        ok(
            ssh_keygen_verify(&allowed, signer, &sig_file, &stmt),
            "ssh-keygen -Y verify",
        );
        let stmt_file = dir.path().join(format!("st{}", link["seq"]));
        std::fs::write(&stmt_file, &stmt).unwrap();
        let key = if signer == "mayor@us-hou" {
            &hou_pub
        } else {
            &sha_pub
        };
        let said = ok(
            amity_verify_statement(&stmt_file, &sig_file, key.trim()),
            "amity verify",
        );
        assert!(said.starts_with("Good signature by"), "{said}");
        // An edited statement fails both.
        let mut edited = stmt.clone();
        let last = edited.len() - 3;
        edited[last] ^= 1;
        std::fs::write(&stmt_file, &edited).unwrap();
        let out = amity_verify_statement(&stmt_file, &sig_file, key.trim());
        assert!(!out.status.success());
        let out = ssh_keygen_verify(&allowed, signer, &sig_file, &edited);
        assert!(!out.status.success());
    }
    assert_eq!(audit(&srv, &mou)["verdict"], "pass");
    assert_eq!(
        srv.get(&format!("/api/v1/partnerships/{}", w.partnership))
            .json()["status"],
        "active"
    );
});

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn put(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// An SSHSIG blob assembled field by field, armored the way ssh-keygen armors.
fn armored(s: &Signatory, reserved: &[u8], hash: &[u8], raw_sig: &[u8], trailer: &[u8]) -> String {
    let mut blob = b"SSHSIG".to_vec();
    blob.extend_from_slice(&1u32.to_be_bytes());
    put(&mut blob, &s.public.to_blob());
    put(&mut blob, MOU_NS.as_bytes());
    put(&mut blob, reserved);
    put(&mut blob, hash);
    let mut sig = Vec::new();
    put(&mut sig, b"ssh-ed25519");
    put(&mut sig, raw_sig);
    put(&mut blob, &sig);
    blob.extend_from_slice(trailer);
    let b64 = STANDARD.encode(blob);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN SSH SIGNATURE-----\n{}\n-----END SSH SIGNATURE-----\n",
        lines.join("\n")
    )
}

both_backends!(malformed_signatures_are_refused, |srv| {
    let w = World::build(&srv);
    let mut houston = Signatory::new(41, "mayor@us-hou", &w.a);
    enroll(&srv, &w.admin, &mut houston);
    let mou = create_mou(&srv, &w.a, &w.partnership);
    assert_eq!(upload(&srv, &w.a, &mou, b"text").status, 201);
    let st = statement(&srv, &houston, &mou);
    let good = amity::crypto::sshsig::parse_armored(&houston.sign(&st)).unwrap();
    let raw = good.signature().to_bytes();
    // S + L: the same verification equation, another encoding.
    let mut s_plus_l = raw;
    let mut carry = 0u16;
    for (s, l) in s_plus_l[32..].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    let size = srv.log_size();
    for (sig, code) in [
        (armored(&houston, b"", b"sha512", &raw, b""), None),
        (
            armored(&houston, b"", b"sha512", &s_plus_l, b""),
            Some("non_canonical_signature"),
        ),
        (
            armored(&houston, b"x", b"sha512", &raw, b""),
            Some("reserved_not_empty"),
        ),
        (
            armored(&houston, b"", b"sha256", &raw, b""),
            Some("unsupported_hash"),
        ),
        (
            armored(&houston, b"", b"sha512", &raw, b"\0"),
            Some("trailing_bytes"),
        ),
    ] {
        match code {
            // The reassembled original is byte-identical to what we sign: the harness is sound.
            None => assert_eq!(sig, houston.sign(&st)),
            Some(code) => {
                submit(&srv, &w.a, &mou, &st, &sig).assert_problem(422, code);
                assert_eq!(srv.log_size(), size);
            }
        }
    }
    assert_eq!(
        submit(&srv, &w.a, &mou, &st, &houston.sign(&st)).status,
        201
    );
});
