//! SSHSIG parser: armored text and the binary blob. The parser promises a single byte
//! representation per signature, so whatever it accepts must re-encode to the same bytes.
#![no_main]

use amity_verify::sshsig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sig) = sshsig::parse_blob(data) {
        assert_eq!(sig.to_blob(), data, "accepted a non-canonical blob");
        // Verification of a parsed signature must not panic either.
        let _ = sshsig::verify(&sig, sig.namespace(), b"message", Some(sig.public_key()));
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(sig) = sshsig::parse_armored(text)
    {
        let again = sshsig::parse_armored(&sig.to_armored()).expect("own armor re-parses");
        assert_eq!(again, sig);
    }
});
