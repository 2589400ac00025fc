//! CSV import: the reader and the row planner (country resolution, coordinates, codes).
#![no_main]

use amity::domain::import::{self, Existing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rows) = import::read_csv(data) {
        let n = rows.len() as u64;
        let plan = import::plan(rows, &Existing::default());
        assert_eq!(plan.rows, n);
        assert!(plan.partnerships.len() + plan.rejects.len() <= n as usize);
    }
});
