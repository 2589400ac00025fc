//! `amity-verify`: the auditor's offline checks, built without the server.
//!
//! `amity-verify bundle FILE…` checks evidence bundles (docs/formats/bundle.md),
//! `amity-verify signature` checks one MOU signature (docs/formats/statements.md), and
//! `amity-verify audit --server URL` replays a whole registry over its public API. Each prints
//! every check and exits 0 only when all pass; the rules are those of docs/audit-rules.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use amity_verify::audit::{self, AuditOptions};
use amity_verify::policy::Policy;
use amity_verify_cli::{HttpFetch, render_audit};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "amity-verify",
    version,
    about = "Check Amity evidence bundles and MOU signatures offline, or audit a whole registry over its API"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audit a whole registry over its public API: the signed checkpoint, its consistency with
    /// the one kept from the last run, every entry replayed (root, registry rules, key
    /// bindings), every MOU signature re-verified, and the served state against the log.
    Audit {
        /// The registry's base URL.
        #[arg(long, env = "AMITY_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// A file that keeps the last checkpoint that passed; the next run proves the log
        /// extends it.
        #[arg(long)]
        state: Option<PathBuf>,
        /// The registry key you trust (C2SP vkey); without it the kept one, else the served one
        /// (trusted on first use, said plainly).
        #[arg(long = "registry-key", env = "AMITY_REGISTRY_KEY")]
        registry_key: Option<String>,
        /// An auditor's token: documents and evidence are then checked against their logged
        /// hashes too.
        #[arg(long, env = "AMITY_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Seconds each request may take.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// A witness policy (C2SP tlog-policy file): the checkpoint relied on must carry
        /// valid cosignatures from its quorum; the report names who cosigned. Without it no
        /// witness is required, and the report says so.
        #[arg(long, env = "AMITY_AUDIT_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Check evidence bundles (GET /api/v1/mous/{id}/bundle): inclusion proofs into the signed
    /// checkpoint, the MOU, its versions and keys as logged, and every signature of the chain.
    Bundle {
        /// One or more bundle files; each is reported in turn.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Your copy of a document of the current version: its SHA-256 must be one of the
        /// version's. Repeat for each language of a multilingual version.
        #[arg(long)]
        document: Vec<PathBuf>,
        /// The registry key you trust (C2SP vkey, from GET /api/v1/log/key or the registry's
        /// published keys/registry.vkey); without it each bundle's own key is used, with a
        /// warning that a pass then shows only consistency.
        #[arg(long = "registry-key", env = "AMITY_REGISTRY_KEY")]
        registry_key: Option<String>,
        /// A witness policy (C2SP tlog-policy file): the checkpoint relied on must carry
        /// valid cosignatures from its quorum; the report names who cosigned. Without it no
        /// witness is required, and the report says so.
        #[arg(long, env = "AMITY_AUDIT_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Check one MOU signature: statement bytes, armored SSHSIG and the signer's key line.
    Signature {
        /// The statement bytes that were signed.
        #[arg(long)]
        statement: PathBuf,
        /// The armored SSHSIG.
        #[arg(long)]
        signature: PathBuf,
        /// The signer's public key line, `ssh-ed25519 AAAA...`.
        #[arg(long)]
        key: String,
    },
}

fn main() -> ExitCode {
    match Args::parse().command {
        Command::Audit {
            server,
            state,
            registry_key,
            token,
            timeout,
            policy,
        } => {
            let policy = match policy.as_deref().map(Policy::read).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("amity-verify: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let client = HttpFetch::new(&server, token, Duration::from_secs(timeout.max(1)));
            let opts = AuditOptions {
                state: state.clone(),
                registry_key,
                policy,
            };
            match audit::run(&client, &opts) {
                Ok(report) => {
                    let _ = render_audit(&report, &mut std::io::stdout());
                    if report.passed() {
                        if let Some(state) = &state {
                            println!("kept this checkpoint in {}", state.display());
                        }
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("amity-verify: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bundle {
            files,
            document,
            registry_key,
            policy,
        } => {
            let policy = match policy.as_deref().map(Policy::read).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("amity-verify: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mut all_pass = true;
            for file in &files {
                if files.len() > 1 {
                    println!("== {}", file.display());
                }
                match amity_verify::bundle::verify_file(
                    file,
                    &document,
                    registry_key.clone(),
                    policy.clone(),
                ) {
                    Ok(report) => {
                        let _ = report.render(&mut std::io::stdout());
                        all_pass &= report.passed();
                    }
                    Err(e) => {
                        eprintln!("amity-verify: {e}");
                        all_pass = false;
                    }
                }
            }
            if all_pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Signature {
            statement,
            signature,
            key,
        } => {
            let read =
                std::fs::read(&statement).map_err(|e| format!("{}: {e}", statement.display()));
            let armored = std::fs::read_to_string(&signature)
                .map_err(|e| format!("{}: {e}", signature.display()));
            let outcome = read.and_then(|bytes| {
                armored.and_then(|armored| {
                    amity_verify::offline::check_signature(&bytes, &armored, &key)
                        .map_err(|e| e.to_string())
                })
            });
            match outcome {
                Ok(good) => {
                    println!("{good}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("amity-verify: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
