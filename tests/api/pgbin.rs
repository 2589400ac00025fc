//! Where the PostgreSQL server programs are. Shared, as this one file, by `build.rs` (which
//! decides whether the PostgreSQL tests can run here) and the test harness (which starts a
//! throwaway cluster with them), so both look in the same places.

use std::path::{Path, PathBuf};

/// A directory holding both `initdb` and `postgres`: `AMITY_TEST_POSTGRES_BINDIR` if set, else
/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/<version>/bin` (Debian keeps
/// the server programs there, off the PATH).
pub fn server_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("AMITY_TEST_POSTGRES_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|d| has_server(d));
    }
    let from_pg_config = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| has_server(d)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
