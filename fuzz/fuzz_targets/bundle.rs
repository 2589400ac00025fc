//! Offline evidence bundles: the strict parser, then the verifier over whatever parses
//! (a hostile bundle must yield a failing report, never a panic).
#![no_main]

use amity_verify::bundle::{self, VerifyOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bundle::parse(data) {
        let _ = bundle::verify(&b, &VerifyOptions::default());
    }
});
