//! Signing links (docs/browser-signing.md): the capability URL that lets one requested
//! signatory open, sign or decline one signature request in the browser.
//!
//! A link's token is an HMAC of the request id under a key derived from the registry's
//! private key, so every server of a registry (they share that key) computes the same link,
//! the e-mail worker renders it when it sends the request e-mail, and the database holds only
//! the token's SHA-256: a copy of the database yields no working link, and a token changed in
//! one character hashes to nothing stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a token is computed with; never stored, never logged.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for HMAC-SHA256.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of every length")
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Length of a token: base64url (no padding) of 32 bytes.
pub const TOKEN_LEN: usize = 43;

impl LinkKey {
    /// The link key of a registry, from the text of its private key file (`registry.skey`).
    /// A label separates it from every other use of that key.
    pub fn derive(registry_secret: &[u8]) -> LinkKey {
        LinkKey(hmac(registry_secret, &[b"amity signing-link key v1"]))
    }

    /// The token of the link to `request_id`.
    pub fn token(&self, request_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac(
            &self.0,
            &[b"amity-signing-link-v1\n", request_id.as_bytes()],
        ))
    }

    /// The hash the database keeps of the link to `request_id`.
    pub fn stored_hash(&self, request_id: &str) -> String {
        token_hash(&self.token(request_id))
    }
}

/// Hex SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(super::sha256(token.as_bytes()))
}

/// Whether `s` has the shape of a token (43 base64url characters); anything else names no
/// link and is not even looked up.
pub fn well_formed(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The page a link opens: `<public url>/sign/<token>`.
pub fn url(public_url: &str, token: &str) -> String {
    format!("{}/sign/{token}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_request_per_registry_and_well_formed() {
        let a = LinkKey::derive(b"registry one");
        let b = LinkKey::derive(b"registry two");
        let t = a.token("req-1");
        assert!(well_formed(&t), "{t}");
        assert_eq!(t, a.token("req-1"), "the same link on every server");
        assert_ne!(t, a.token("req-2"));
        assert_ne!(t, b.token("req-1"));
        assert_eq!(a.stored_hash("req-1"), token_hash(&t));
        assert_ne!(a.stored_hash("req-1"), t, "the hash is not the token");
        assert!(!well_formed(&t[1..]));
        assert!(!well_formed(&format!("{}=", &t[1..])));
        assert_eq!(format!("{a:?}"), "LinkKey(..)");
    }
}
