//! Witness cosignatures (C2SP tlog-cosignature, `cosignature/v1`): signature lines, cosigner
//! verifier keys, verification over a fixed checkpoint body, and tlog-witness `add-checkpoint`
//! request bodies. One encoding per
//! cosignature, so whatever parses must round-trip byte for byte.
#![no_main]

use std::sync::LazyLock;

use amity_verify::cosignature::{Cosignature, Cosigner, CosignerKey};
use amity_verify::witness::AddCheckpoint;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

const BODY: &str = "amity.example/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

// A fixed witness, so inputs can carry cosignatures that verify.
static WITNESS: LazyLock<Cosigner> = LazyLock::new(|| {
    Cosigner::new("witness.example/w1", SigningKey::from_bytes(&[5u8; 32]))
        .expect("fixed witness name is valid")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpoint::parse(data) {
        let body = AddCheckpoint::to_body(req.old, &req.proof, req.note);
        assert_eq!(body.as_bytes(), data, "one encoding per request body");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Cosignature::parse_line(text) {
        assert_eq!(c.to_line(), format!("{text}\n"), "one encoding per line");
        let _ = WITNESS.public().verify(&c, BODY);
    }
    if let Ok(key) = CosignerKey::from_vkey(text) {
        let again = CosignerKey::from_vkey(&key.to_vkey()).expect("own vkey parses");
        assert_eq!(again, key, "a key survives its own encoding");
    }
    // Whatever body the input is, a cosignature made over it verifies over it alone.
    if let Ok(c) = WITNESS.cosign(text, 1_700_000_000) {
        WITNESS.public().verify(&c, text).expect("own cosignature verifies");
    }
});
