//! `amity witness ...`: the command line of a witness (see docs/witnessing.md).

use std::io::Write as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand};

use super::{DEFAULT_BIND, ServeOptions, WitnessError};
use crate::cli::CliError;

impl From<WitnessError> for CliError {
    fn from(e: WitnessError) -> Self {
        CliError(e.to_string())
    }
}

/// The witness's state directory.
#[derive(Clone, Args)]
pub struct DirArg {
    /// The witness's state directory: its key (witness.key) and its database (witness.db).
    #[arg(long = "dir", env = "AMITY_WITNESS_DIR", default_value = super::DEFAULT_DIR)]
    pub dir: PathBuf,
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Make the witness's Ed25519 cosigning key in --dir (refused if one exists) and print its
    /// public key (vkey), which the registry's policy names the witness by.
    Keygen {
        /// The witness's name, a note key name such as `witness.berlin.example/w1` (no spaces,
        /// no `+`).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Add a log to cosign for, or another key for a known log. Safe while `serve` runs.
    AddLog {
        /// The log's origin, the first line of its checkpoints (the registry's is in GET
        /// /api/v1/log/key).
        #[arg(long)]
        origin: String,
        /// The log's public key, a C2SP vkey `<origin>+<key id>+<base64>` (GET
        /// /api/v1/log/key on the registry). Check it with the registry's operators out of
        /// band: the witness trusts whatever this key signs.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Print the witness's key, and each log with its keys and what was cosigned last.
    List {
        #[command(flatten)]
        dir: DirArg,
    },
    /// Serve POST /add-checkpoint (C2SP tlog-witness) and GET / until SIGINT or SIGTERM.
    Serve {
        /// Address to listen on; put a TLS reverse proxy in front for other hosts.
        #[arg(long, env = "AMITY_WITNESS_BIND", default_value = DEFAULT_BIND)]
        bind: String,
        /// Worker threads.
        #[arg(long, env = "AMITY_WITNESS_WORKERS", default_value_t = 2)]
        workers: usize,
        #[command(flatten)]
        dir: DirArg,
    },
}

pub fn run(command: WitnessCommand) -> Result<(), CliError> {
    let mut out = std::io::stdout();
    match command {
        WitnessCommand::Keygen { name, dir } => {
            let key = super::keygen(&dir.dir, &name)?;
            let _ = writeln!(out, "{}", key.to_vkey());
            eprintln!(
                "made the witness key {} in {} (keep it private; back up the key, never \
                 witness.db, see docs/witnessing.md)",
                key.name(),
                dir.dir.join(super::key::KEY_FILE).display()
            );
            Ok(())
        }
        WitnessCommand::AddLog { origin, key, dir } => {
            let added = super::add_log(&dir.dir, &origin, &key)?;
            let what = match (added.new_log, added.new_key) {
                (true, _) => "added log",
                (false, true) => "added a key to log",
                (false, false) => "already known: log",
            };
            let _ = writeln!(out, "{what} {} with key {}", added.origin, added.vkey);
            Ok(())
        }
        WitnessCommand::List { dir } => {
            match super::key::load(&dir.dir) {
                Ok(cosigner) => {
                    let _ = writeln!(out, "witness key: {}", cosigner.public().to_vkey());
                }
                Err(e) => {
                    let _ = writeln!(out, "witness key: none ({e})");
                }
            }
            let logs = super::list(&dir.dir)?;
            if logs.is_empty() {
                let _ = writeln!(out, "no logs: add one with `amity witness add-log`");
            }
            for log in logs {
                let _ = writeln!(out, "log {}", log.origin);
                for vkey in &log.vkeys {
                    let _ = writeln!(out, "  key {vkey}");
                }
                match log.cosigned {
                    Some((size, root)) => {
                        let _ = writeln!(
                            out,
                            "  cosigned size {size} root {} at {}",
                            B64.encode(root),
                            crate::domain::dates::format_micros(
                                log.updated_at.saturating_mul(1_000_000)
                            )
                        );
                    }
                    None => {
                        let _ = writeln!(out, "  cosigned nothing yet");
                    }
                }
            }
            Ok(())
        }
        WitnessCommand::Serve { bind, workers, dir } => serve(&dir.dir, &bind, workers),
    }
}

fn serve(dir: &std::path::Path, bind: &str, workers: usize) -> Result<(), CliError> {
    let service = super::open(dir)?;
    let logs = super::list(dir)?;
    if logs.is_empty() {
        eprintln!(
            "warning: the witness knows no log yet, so it refuses every checkpoint (404); add \
             one with `amity witness add-log`"
        );
    }
    let listener = std::net::TcpListener::bind(bind)
        .map_err(|e| CliError(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr()?;
    let vkey = service.public_key().to_vkey();
    let options = ServeOptions {
        workers,
        signals: true,
    };
    // A closed stdout (a supervisor that stopped reading) must not stop the witness: write
    // errors are ignored.
    let _ = writeln!(out_lock(), "witness key: {vkey}");
    let _ = writeln!(
        out_lock(),
        "Amity witness {} is listening on http://{addr} (state in {}, {} logs)",
        service.public_key().name(),
        dir.display(),
        logs.len()
    );
    let _ = out_lock().flush();
    // The server is built inside the runtime it runs on.
    let run = async move {
        match super::build_server(service, listener, &options) {
            Ok(server) => server.await,
            Err(e) => Err(e),
        }
    };
    actix_web::rt::System::new().block_on(run)?;
    Ok(())
}

fn out_lock() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}
