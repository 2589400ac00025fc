//! The network side of auditing an Amity registry: [`HttpFetch`] reads the registry's public
//! API for `amity_verify::audit`. Used by the `amity-verify` binary here and by the server
//! crate's `amity audit`, so both read a registry the same way.

use std::time::Duration;

use amity_verify::audit::{AuditError, Fetch};

/// Why a client command (`amity audit`, `amity sign`, `amity keys register`,
/// `amity-verify audit`) could not finish: the one error type they share.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The audit could not run to its verdict.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The registry could not be reached, or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The registry answered with a refusal.
    #[error("{0}")]
    Refused(String),
    /// A local file could not be read or written.
    #[error("{0}")]
    File(String),
    /// Local input (a key, a statement, a signature) is not usable.
    #[error("{0}")]
    Invalid(String),
}

/// The most an answer may weigh: a page of log entries or an MOU document is far smaller.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024 * 1024;

/// A small HTTP client for the registry's public read API.
pub struct HttpFetch {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
    /// The log index every read must reflect (`Amity-Min-Log-Index`); -1: none.
    min_index: std::sync::atomic::AtomicI64,
}

impl HttpFetch {
    /// A client for the registry at `server` (e.g. `http://127.0.0.1:8080`); `token` is an
    /// auditor's (or admin's) bearer token, which lets the audit read documents and evidence.
    /// Each request gives up after `timeout`.
    pub fn new(server: &str, token: Option<String>, timeout: Duration) -> HttpFetch {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        HttpFetch {
            base: server.trim_end_matches('/').to_string(),
            agent,
            token,
            min_index: std::sync::atomic::AtomicI64::new(-1),
        }
    }
}

impl Fetch for HttpFetch {
    fn get_bytes(&self, path: &str) -> Result<Vec<u8>, AuditError> {
        let url = format!("{}{path}", self.base);
        let failed = |e: ureq::Error| AuditError::Fetch(format!("GET {url}: {e}"));
        let mut req = self.agent.get(&url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let index = self.min_index.load(std::sync::atomic::Ordering::SeqCst);
        if index >= 0 {
            req = req.header("Amity-Min-Log-Index", &index.to_string());
        }
        let mut res = req.call().map_err(failed)?;
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(failed)?;
        if status != 200 {
            return Err(AuditError::Fetch(format!(
                "GET {url}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(body)
    }

    fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn read_through(&self, size: u64) {
        if let Some(last) = size.checked_sub(1).and_then(|i| i64::try_from(i).ok()) {
            self.min_index
                .fetch_max(last, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Prints an audit report the way both commands show it: one line per check, the replay's
/// rate, then the verdict.
pub fn render_audit(
    report: &amity_verify::audit::Report,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for check in &report.checks {
        let mark = if check.ok { "PASS" } else { "FAIL" };
        writeln!(out, "{mark}  {}: {}", check.name, check.detail)?;
    }
    writeln!(
        out,
        "{} entries replayed ({:.0} entries/s)",
        report.size, report.entries_per_second
    )?;
    writeln!(
        out,
        "verdict: {}",
        if report.passed() { "PASS" } else { "FAIL" }
    )
}
