//! Decides, when the tests are compiled, which tests that need programs from outside can run
//! here: libtest cannot mark a test ignored once it is running, and a test that returns early
//! is reported as passed although it checked nothing. So each such test carries
//! `#[cfg_attr(not(<cfg>), ignore = "<why>")]` and this script sets the cfg when it can run:
//!
//! - `amity_postgres_tests`: AMITY_TEST_POSTGRES_URL is set, or the PostgreSQL server programs
//!   are installed (the harness then makes a throwaway cluster of its own);
//! - `amity_browser_tests`: Chromium and chromedriver are installed.
//!
//! Under CI both are always set, so a missing piece fails the run instead of being ignored.
//! Installed one of them since the last build? `touch build.rs` (or set the variable).

#[path = "tests/api/pgbin.rs"]
mod pgbin;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=tests/api/pgbin.rs");
    for var in [
        "CI",
        "AMITY_TEST_POSTGRES_URL",
        "AMITY_TEST_POSTGRES_BINDIR",
        "AMITY_CHROMIUM",
        "AMITY_CHROMEDRIVER",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(amity_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(amity_browser_tests)");

    let ci = std::env::var_os("CI").is_some();
    let postgres_url = std::env::var("AMITY_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    let bindir = pgbin::server_bindir();
    if let Some(dir) = &bindir {
        // Removed or upgraded server programs change the answer.
        println!("cargo::rerun-if-changed={}", dir.join("initdb").display());
    }
    if ci || postgres_url || bindir.is_some() {
        println!("cargo::rustc-cfg=amity_postgres_tests");
    }

    let program = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let browser = [
        program("AMITY_CHROMIUM", "/usr/bin/chromium"),
        program("AMITY_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ];
    let installed = browser.iter().all(|p| std::path::Path::new(p).is_file());
    for p in browser.iter().filter(|p| std::path::Path::new(p).is_file()) {
        println!("cargo::rerun-if-changed={p}");
    }
    if ci || installed {
        println!("cargo::rustc-cfg=amity_browser_tests");
    }
}
