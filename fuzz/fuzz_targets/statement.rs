//! Signing statements (MOU signature and key registration): only the exact canonical
//! encoding of a valid statement is accepted, so an accepted input re-serializes to itself.
#![no_main]

use amity_verify::statement::{KeyRegistrationStatement, MouSignatureStatement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = MouSignatureStatement::parse_strict(data) {
        assert_eq!(s.to_bytes().expect("valid statement encodes"), data);
    }
    if let Ok(s) = KeyRegistrationStatement::parse_strict(data) {
        assert_eq!(s.to_bytes().expect("valid statement encodes"), data);
        let _ = s.parsed_public_key();
    }
});
