//! C2SP signed notes and tlog checkpoints: note opening with a known verifier, checkpoint
//! body parsing (one encoding per checkpoint, so it must round-trip) and verifier keys.
#![no_main]

use std::sync::LazyLock;

use amity_verify::note::{self, Checkpoint, NoteSigner, NoteVerifier};
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

const ORIGIN: &str = "amity.example/log";

// A fixed key, so the seed corpus can hold notes this verifier accepts.
static SIGNER: LazyLock<NoteSigner> = LazyLock::new(|| {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7u8; 32])).expect("fixed key name is valid")
});

// The registry key of the run that produced the seed checkpoints, so real notes open.
const SEED_REGISTRY_VKEY: &str =
    "amity.localhost+b1d87a32+AV7nS9jUImiYVzYqzqLYacmCAPFNyil58V7qfbyccH7B";

fuzz_target!(|data: &[u8]| {
    let seed = NoteVerifier::from_vkey(SEED_REGISTRY_VKEY).expect("seed vkey parses");
    let verifiers = [SIGNER.verifier(), seed];
    if let Ok((text, sigs)) = note::open_note_bytes(data, &verifiers) {
        assert!(!sigs.is_empty(), "an opened note has a verified signature");
        assert!(data.starts_with(text.as_bytes()));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = note::open_checkpoint(text, "amity.localhost", &verifiers);
    if let Ok(cp) = Checkpoint::parse_text(text) {
        assert_eq!(cp.to_text().expect("parsed checkpoint encodes"), text);
        // A checkpoint we sign must open again to the same checkpoint.
        if let Ok(signed) = note::sign_checkpoint(&cp, &[&SIGNER]) {
            let (opened, _) = note::open_note(&signed, &verifiers).expect("own note opens");
            assert_eq!(opened, text);
        }
    }
    if let Ok(v) = NoteVerifier::from_vkey(text) {
        assert_eq!(
            NoteVerifier::from_vkey(&v.to_vkey())
                .expect("own vkey parses")
                .to_vkey(),
            v.to_vkey()
        );
    }
});
