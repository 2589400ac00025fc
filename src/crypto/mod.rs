//! Bearer-token generation and hashing. OpenSSH keys, SSHSIG signatures and the signed
//! statements are verification code and live in the standalone `amity-verify` crate; they are
//! re-exported here so the server names them in one place.

pub use amity_verify::{keys, sha256, sshsig, statement, strict_batch};

pub mod signing_link;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// The prefix that marks Amity bearer tokens, so a leaked one is easy to recognise in logs or
/// secret scanners.
pub const TOKEN_PREFIX: &str = "amity_";

/// A new bearer token: 256 random bits from the OS, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database stores of a token: its SHA-256, never the token.
pub fn token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
