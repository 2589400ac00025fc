//! `amity serve` as a separate process: started on a loopback port, killed with SIGKILL or
//! stopped when dropped. For tests that need what an in-process server cannot give: a real
//! crash, or two servers on one database.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::support::Remote;

pub struct ServeProcess {
    child: Child,
    pub base: String,
}

impl ServeProcess {
    /// Starts `bin serve` on `database_url` with the registry key in `keys`, and waits until
    /// it prints its URL (it listens by then). The server's log goes to `log` (appended), so a
    /// failure can be read afterwards.
    pub fn start(bin: &Path, database_url: &str, keys: &Path, log: &Path) -> ServeProcess {
        Self::start_with_env(bin, database_url, keys, log, &[])
    }

    /// [`ServeProcess::start`] with more environment (`AMITY_WITNESS_POLICY`, say).
    pub fn start_with_env(
        bin: &Path,
        database_url: &str,
        keys: &Path,
        log: &Path,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> ServeProcess {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log file");
        let mut child = Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env("AMITY_KEYS_DIR", keys)
            .env("AMITY_LOG_FORMAT", "text")
            .env_remove("AMITY_BIND")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout piped");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while !line.contains("http://") {
            line.clear();
            let n = reader.read_line(&mut line).expect("server stdout");
            if n == 0 {
                let _ = child.wait();
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                panic!("amity serve exited before listening; its log:\n{tail}");
            }
        }
        // Keep draining what the server prints so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        ServeProcess { child, base }
    }

    pub fn client(&self) -> Remote {
        Remote::new(&self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs, as in a power cut of the process (not of the disk).
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an `amity` command with DATABASE_URL set; returns (success, stdout, stderr).
pub fn run_cli(bin: &Path, database_url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("AMITY_TOKEN")
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", bin.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An admin token issued on the host (`amity admin create-token --role admin`).
pub fn host_admin_token(bin: &Path, database_url: &str) -> String {
    let (ok, out, err) = run_cli(
        bin,
        database_url,
        &["admin", "create-token", "--role", "admin"],
    );
    assert!(ok, "create-token failed: {err}");
    out.trim().to_string()
}

/// `amity audit --server BASE --state FILE`: (passed, everything it printed).
pub fn audit(bin: &Path, base: &str, state: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .args(["audit", "--server", base, "--state"])
        .arg(state)
        .env_remove("AMITY_TOKEN")
        .output()
        .expect("amity audit runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The debug binary Cargo built for these tests.
pub fn debug_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_amity"))
}

/// `amity witness serve` as a separate process, on a fixed loopback port so a restart keeps
/// the URL the registry's policy names.
pub struct WitnessProcess {
    child: Option<Child>,
    pub url: String,
}

impl WitnessProcess {
    /// Starts `bin witness serve` on `127.0.0.1:port` (0: any) from the state in `dir`, and
    /// waits until it prints its URL.
    pub fn start(bin: &Path, dir: &Path, port: u16, log: &Path) -> WitnessProcess {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("witness log file");
        let mut child = Command::new(bin)
            .args(["witness", "serve", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{} witness does not start: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout piped");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while !line.contains("http://") {
            line.clear();
            let n = reader.read_line(&mut line).expect("witness stdout");
            if n == 0 {
                let _ = child.wait();
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                panic!("amity witness serve exited before listening; its log:\n{tail}");
            }
        }
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches(['/', '.', ','])
            .to_string();
        WitnessProcess {
            child: Some(child),
            url,
        }
    }

    /// A stand-in for a witness that is not running (between a kill and its restart).
    pub fn dead(url: String) -> WitnessProcess {
        WitnessProcess { child: None, url }
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {}", self.url))
    }

    /// SIGKILL, as a power cut of the witness's process.
    pub fn kill9(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the witness");
            child.wait().expect("reap the witness");
        }
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
