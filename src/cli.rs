//! The `amity` command line: the server, migrations and host-side administration.

use std::io::Write;

use amity_verify_cli::ClientError;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db::{self, Db};
use crate::domain::cities::CityCode;
use crate::domain::dates::{format_micros, now_micros, parse_instant};
use crate::domain::tokens::{Role, TokenRequest};
use crate::signatory;

/// The CLI's one error type: a message for the operator.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

impl From<db::DbError> for CliError {
    fn from(e: db::DbError) -> Self {
        match e {
            db::DbError::Domain(d) => CliError(d.message),
            other => CliError(other.to_string()),
        }
    }
}

impl From<crate::domain::DomainError> for CliError {
    fn from(e: crate::domain::DomainError) -> Self {
        CliError(e.message)
    }
}

impl From<crate::server::StartupError> for CliError {
    fn from(e: crate::server::StartupError) -> Self {
        match e {
            crate::server::StartupError::Database(d) => CliError::from(d),
            other => CliError(other.to_string()),
        }
    }
}

impl From<amity_verify_cli::ClientError> for CliError {
    fn from(e: amity_verify_cli::ClientError) -> Self {
        CliError(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(e.to_string())
    }
}

/// Not `Debug`: the commands hold `DATABASE_URL` (with its password) and bearer tokens.
#[derive(Parser)]
#[command(
    name = "amity",
    version,
    about = "Amity: the registry of record for sister-city partnerships and their MOUs",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// `Serve` carries every server setting and the other commands a URL or two; the value is
// parsed once per process and moved out at once, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Start the HTTP service (SQLite in ./amity.db unless DATABASE_URL says otherwise).
    Serve {
        #[command(flatten)]
        settings: Settings,
        /// Load the bundled real data set (data/twin_cities.csv: 24,704 partnerships from
        /// Wikipedia, CC BY-SA 4.0) into the database first, then a seeded engagement sample
        /// labelled as such (docs/using.md), so there is a registry to see. Not for a
        /// registry of record.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// Database: `sqlite://PATH` or `postgres://...`.
        #[arg(
            long = "database-url",
            env = "DATABASE_URL",
            hide_env_values = true,
            default_value = "sqlite://amity.db"
        )]
        database_url: String,
    },
    /// Audit a registry over its public API: verify the signed checkpoint, prove it consistent
    /// with the one kept in --state, replay every entry and recompute the root. Exit status 0
    /// only when every check passes.
    Audit {
        /// The registry's base URL.
        #[arg(long, env = "AMITY_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// File that keeps the last verified checkpoint between runs (created if missing).
        #[arg(long)]
        state: Option<std::path::PathBuf>,
        /// The registry key to trust (C2SP vkey); otherwise the one in --state, else the
        /// server's own (trust on first use).
        #[arg(long = "registry-key")]
        registry_key: Option<String>,
        /// An auditor token, to also check the (non-public) MOU documents against the log.
        #[arg(long, env = "AMITY_TOKEN", hide_env_values = true)]
        token: Option<String>,

        /// A witness policy (C2SP tlog-policy file, docs/witnessing.md): the checkpoint relied
        /// on must carry valid cosignatures from its quorum, and the report names who
        /// cosigned. Without it no witness is required, and the report says so.
        #[arg(long, env = "AMITY_AUDIT_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Import partnerships from a CSV file (`city1,country1,lat1,lng1,city2,country2,lat2,lng2`,
    /// the format of data/twin_cities.csv): cities and active partnerships, one log entry each.
    /// Bad rows are reported with their line and reason; running it again imports nothing new.
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
        /// Plan and report, write nothing.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Write the refused rows (line, reason, detail) to this CSV file.
        #[arg(long)]
        rejects: Option<std::path::PathBuf>,
        /// Database: `sqlite://PATH` or `postgres://...`.
        #[arg(
            long = "database-url",
            env = "DATABASE_URL",
            hide_env_values = true,
            default_value = "sqlite://amity.db"
        )]
        database_url: String,
    },
    /// Copy a SQLite registry to a new FILE while the server may be running (a consistent
    /// snapshot of one commit). For PostgreSQL use pg_dump / pg_restore (see docs/operations.md).
    Backup {
        /// The new file (refused if it exists).
        file: PathBuf,
        /// Database: `sqlite://PATH` (PostgreSQL is refused with the pg_dump command to use).
        #[arg(
            long = "database-url",
            env = "DATABASE_URL",
            hide_env_values = true,
            default_value = "sqlite://amity.db"
        )]
        database_url: String,
    },
    /// Make an Ed25519 key pair in OpenSSH format (usable by ssh-keygen too).
    Keygen {
        /// Private key file; the public key goes to FILE.pub.
        #[arg(short = 'f', long = "file", default_value = "amity_ed25519")]
        file: PathBuf,
        /// Comment on the public key, e.g. `j.doe@us-hou`.
        #[arg(short = 'C', long = "comment", default_value = "")]
        comment: String,
        /// Make the registry's checkpoint-signing key instead, in --keys-dir (for deployments
        /// that manage keys themselves; `serve` creates one on first start otherwise).
        #[arg(long, conflicts_with_all = ["file", "comment"])]
        registry: bool,
        /// With --registry: where the key files go.
        #[arg(long = "keys-dir", env = "AMITY_KEYS_DIR", default_value = "keys")]
        keys_dir: PathBuf,
        /// With --registry: the registry origin the key signs for (its key name).
        #[arg(long, env = "AMITY_ORIGIN", default_value = "amity.localhost")]
        origin: String,
    },
    /// Signatory keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign an MOU: fetch the statement, check it against your copies of the documents, sign
    /// with your key, submit.
    Sign {
        /// Your private key file (OpenSSH format).
        #[arg(long)]
        key: PathBuf,
        /// The MOU id.
        #[arg(long)]
        mou: String,
        /// Your copy of the document you reviewed; its SHA-256 must match the current version.
        /// A multilingual version: give `--document` once per language, every document of
        /// the version (the statement commits to all of them).
        #[arg(long, required = true)]
        document: Vec<PathBuf>,
        /// `<handle>@<city code>` (default: the signer the key is registered to).
        #[arg(long)]
        signer: Option<String>,
        /// Default: the role the key is registered for.
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Check offline either an evidence bundle (`amity verify BUNDLE.json [--document FILE]
    /// [--registry-key VKEY]`: every check, exit status 0 only when all pass) or one MOU
    /// signature (`amity verify --statement FILE --signature FILE --key LINE`).
    Verify {
        /// An evidence bundle from GET /api/v1/mous/{id}/bundle.
        bundle: Option<PathBuf>,
        /// With a bundle: your copy of a document of the current version (its SHA-256 must be
        /// one of the version's); repeat for each language of a multilingual version.
        #[arg(long)]
        document: Vec<PathBuf>,
        /// With a bundle: the registry key you trust (C2SP vkey, from GET /api/v1/log/key);
        /// without it the bundle's own key is used, with a warning.
        #[arg(long = "registry-key")]
        registry_key: Option<String>,
        /// The statement bytes that were signed.
        #[arg(long)]
        statement: Option<PathBuf>,
        /// The armored SSHSIG.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// The signer's public key line, `ssh-ed25519 AAAA...`.
        #[arg(long)]
        key: Option<String>,
        /// With a bundle: a witness policy (C2SP tlog-policy file, docs/witnessing.md) whose
        /// quorum must have cosigned the bundle's checkpoint.
        #[arg(long, env = "AMITY_AUDIT_POLICY")]
        policy: Option<PathBuf>,
    },
    /// Run a C2SP tlog-witness that cosigns the registry's checkpoints (a partner city runs
    /// it on its own host; see docs/witnessing.md).
    Witness {
        #[command(subcommand)]
        command: crate::witness::cli::WitnessCommand,
    },
    /// Registry administration on the host (never over HTTP).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        /// Database: `sqlite://PATH` or `postgres://...`.
        #[arg(
            long = "database-url",
            env = "DATABASE_URL",
            hide_env_values = true,
            default_value = "sqlite://amity.db",
            global = true
        )]
        database_url: String,
    },
}

/// Where the registry API is and who is calling it.
#[derive(Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the registry.
    #[arg(long, env = "AMITY_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// The office's bearer token.
    #[arg(long, env = "AMITY_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Seconds to wait for each whole exchange with the registry before giving up.
    #[arg(long = "timeout", env = "AMITY_HTTP_TIMEOUT", default_value_t = 30.0)]
    pub timeout_secs: f64,
    /// Seconds to wait for the connection to the registry to open.
    #[arg(
        long = "connect-timeout",
        env = "AMITY_CONNECT_TIMEOUT",
        default_value_t = 10.0
    )]
    pub connect_timeout_secs: f64,
}

impl ServerArgs {
    /// The client for these arguments; a timeout that is not a positive number of seconds
    /// is refused (zero would mean "give up at once", not "no limit").
    pub fn client(&self) -> Result<signatory::Client, CliError> {
        let seconds = |flag: &str, v: f64| {
            std::time::Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| CliError(format!("{flag} must be a positive number of seconds")))
        };
        let timeouts = signatory::Timeouts {
            connect: seconds("--connect-timeout", self.connect_timeout_secs)?,
            overall: seconds("--timeout", self.timeout_secs)?,
        };
        Ok(signatory::Client::new(&self.server, &self.token, timeouts))
    }
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Register a signatory's key with proof of possession (the key signs a challenge).
    Register {
        /// The signatory's private key file (OpenSSH format); it never leaves this machine.
        #[arg(long)]
        key: PathBuf,
        /// `<handle>@<city code>`, e.g. `j.doe@us-hou`.
        #[arg(long)]
        signer: String,
        /// e.g. `signatory` or `witness`.
        #[arg(long, default_value = "signatory")]
        role: String,
        /// The city code (your office's city).
        #[arg(long)]
        city: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Issue a bearer token and print it (it is shown only once).
    CreateToken {
        /// admin, auditor, office or association (keeps the city groups it creates).
        #[arg(long)]
        role: String,
        /// For office tokens: the city whose (only) office the token acts for.
        #[arg(long)]
        city: Option<String>,
        /// For office tokens: the office id, when the city has several offices.
        #[arg(long)]
        office: Option<String>,
        /// Expiry: RFC 3339 time or YYYY-MM-DD.
        #[arg(long)]
        expires: Option<String>,
    },
}

/// Sets up logging: `RUST_LOG` filters (default `info`), `AMITY_LOG_FORMAT=json` for JSON lines.
pub fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let json = match &cli.command {
        Command::Serve { settings, .. } => settings.log_format == "json",
        _ => std::env::var("AMITY_LOG_FORMAT").is_ok_and(|f| f == "json"),
    };
    let default = match &cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve { settings, demo } => serve(settings, demo),
        Command::Migrate { database_url } => {
            let db = Db::open(&database_url, 1)?;
            for name in db.applied_migrations() {
                println!("applied migration {name}");
            }
            println!(
                "migrations are up to date ({})",
                db::redact_url(&database_url)
            );
            Ok(())
        }
        Command::Audit {
            server,
            state,
            registry_key,
            token,
            policy,
        } => audit(
            &server,
            token,
            amity_verify::audit::AuditOptions {
                state,
                registry_key,
                policy: read_policy(policy.as_deref())?,
            },
        ),
        Command::Import {
            file,
            dry_run,
            rejects,
            database_url,
        } => import(&file, dry_run, rejects.as_deref(), &database_url),
        Command::Backup { file, database_url } => {
            let report = crate::db::backup::backup(&database_url, &file)?;
            println!(
                "backed up {} log entries to {} (restore: point DATABASE_URL at a copy of it)",
                report.log_size,
                file.display()
            );
            Ok(())
        }
        Command::Keygen {
            registry: true,
            keys_dir,
            origin,
            ..
        } => {
            let private = keys_dir.join(crate::log::registry_key::PRIVATE_FILE);
            if private.exists() {
                return Err(CliError(format!(
                    "{} already exists; a registry keeps its key (move it away to replace it)",
                    private.display()
                )));
            }
            let signer = crate::log::registry_key::create(&keys_dir, &origin)
                .map_err(|e| CliError(e.to_string()))?;
            println!("{}", signer.verifier().to_vkey());
            eprintln!(
                "wrote {} (private, mode 0600) and the public {} and {}",
                private.display(),
                crate::log::registry_key::VKEY_FILE,
                crate::log::registry_key::SSH_FILE
            );
            Ok(())
        }
        Command::Keygen { file, comment, .. } => Ok(signatory::keygen(&file, &comment)?),
        Command::Keys {
            command:
                KeysCommand::Register {
                    key,
                    signer,
                    role,
                    city,
                    server,
                },
        } => {
            let client = server.client()?;
            let key = signatory::register_key(&client, &key, &signer, &role, &city)?;
            println!("{key:#}");
            Ok(())
        }
        Command::Sign {
            key,
            mou,
            document,
            signer,
            role,
            server,
        } => {
            let client = server.client()?;
            let accepted = signatory::sign(
                &client,
                signatory::SignRequest {
                    key_file: &key,
                    mou: &mou,
                    documents: &document,
                    signer: signer.as_deref(),
                    role: role.as_deref(),
                },
            )?;
            println!("{accepted:#}");
            Ok(())
        }
        Command::Verify {
            bundle,
            document,
            registry_key,
            statement,
            signature,
            key,
            policy,
        } => match (bundle, statement, signature, key) {
            (Some(bundle), None, None, None) => verify_bundle(
                &bundle,
                &document,
                registry_key,
                read_policy(policy.as_deref())?,
            ),
            (None, Some(statement), Some(signature), Some(key))
                if document.is_empty() && registry_key.is_none() && policy.is_none() =>
            {
                println!("{}", signatory::verify(&statement, &signature, &key)?);
                Ok(())
            }
            _ => Err(CliError(
                "give either a bundle (amity verify BUNDLE.json [--document FILE] \
                 [--registry-key VKEY]) or one signature (amity verify --statement FILE \
                 --signature FILE --key 'ssh-ed25519 ...'), not both and not part of one"
                    .into(),
            )),
        },
        Command::Witness { command } => crate::witness::cli::run(command),
        Command::Admin {
            command,
            database_url,
        } => match command {
            AdminCommand::CreateToken {
                role,
                city,
                office,
                expires,
            } => create_token(&database_url, &role, city, office, expires),
        },
    }
}

/// The demo data set, built into the binary so `serve --demo` works anywhere.
const DEMO_CSV: &[u8] = include_bytes!("../data/twin_cities.csv");

fn serve(settings: Settings, demo: bool) -> Result<(), CliError> {
    let bind = settings.bind.clone();
    let database = db::redact_url(&settings.database_url);
    let open_files = crate::server::raise_open_file_limit();
    tracing::info!(?open_files, "open file limit");
    let (state, listener) = crate::server::prepare(settings)?;
    if demo {
        let started = std::time::Instant::now();
        let report = crate::db::import::import_csv(&state.db, DEMO_CSV, false, |_, _| {})?;
        let _ = writeln!(
            std::io::stdout(),
            "demo data: {} cities and {} partnerships loaded in {:.1} s (Wikipedia lists of \
             twin towns and sister cities, CC BY-SA 4.0)",
            report.cities,
            report.partnerships,
            started.elapsed().as_secs_f64()
        );
        let sample = crate::demo::record_sample(&state.db, state.today())?;
        let _ = writeln!(
            std::io::stdout(),
            "demo data: {} sample activities with {} outcomes and {} commitments ({} resolved) \
             for {}, and a named group of them (/briefings) (seeded, generated, labelled as a \
             sample in each text; not real data)",
            sample.activities,
            sample.outcomes,
            sample.commitments,
            sample.resolved,
            sample.cities.join(", ")
        );
    }
    let addr = listener.local_addr()?;
    // A closed stdout (a supervisor that stopped reading) must not take the server down, so
    // these lines ignore write errors instead of using println!.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "Amity is listening on http://{addr} (database: {database}, requested bind {bind})"
    );
    let _ = writeln!(
        out,
        "First admin token: run `amity admin create-token --role admin` on this host with the \
         same DATABASE_URL (tokens are never issued anonymously over HTTP)"
    );
    let _ = out.flush();
    actix_web::rt::System::new().block_on(crate::server::run(state, listener))?;
    Ok(())
}

fn import(
    file: &std::path::Path,
    dry_run: bool,
    rejects: Option<&std::path::Path>,
    database_url: &str,
) -> Result<(), CliError> {
    use std::io::IsTerminal;
    let text = std::fs::read(file).map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    let db = Db::open(database_url, 2)?;
    let started = std::time::Instant::now();
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = crate::db::import::import_csv(&db, &text, dry_run, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout();
    let verb = if report.dry_run {
        "would create"
    } else {
        "created"
    };
    let _ = writeln!(out, "{} rows read from {}", report.rows, file.display());
    let _ = writeln!(
        out,
        "{verb} {} cities and {} partnerships in {seconds:.2} s",
        report.cities, report.partnerships
    );
    let mut by_reason = std::collections::BTreeMap::new();
    for r in &report.rejects {
        *by_reason.entry(r.reason.as_str()).or_insert(0u64) += 1;
    }
    let _ = writeln!(out, "{} rows refused", report.rejects.len());
    for (reason, n) in &by_reason {
        let _ = writeln!(out, "  {reason}: {n}");
    }
    if let Some(path) = rejects {
        let mut w = csv::Writer::from_path(path)
            .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        let result: Result<(), csv::Error> = (|| {
            w.write_record(["line", "reason", "detail"])?;
            for r in &report.rejects {
                w.write_record([r.line.to_string().as_str(), r.reason.as_str(), &r.detail])?;
            }
            w.flush()?;
            Ok(())
        })();
        result.map_err(|e| CliError(format!("{}: {e}", path.display())))?;
        let _ = writeln!(out, "refused rows written to {}", path.display());
    }
    Ok(())
}

fn audit(
    server: &str,
    token: Option<String>,
    opts: amity_verify::audit::AuditOptions,
) -> Result<(), CliError> {
    let client =
        amity_verify_cli::HttpFetch::new(server, token, std::time::Duration::from_secs(60));
    let report = amity_verify::audit::run(&client, &opts).map_err(ClientError::from)?;
    let _ = amity_verify_cli::render_audit(&report, &mut std::io::stdout());
    if report.passed() {
        if let Some(state) = &opts.state {
            println!("kept this checkpoint in {}", state.display());
        }
        Ok(())
    } else {
        Err(CliError(
            "the audit found problems (see FAIL lines above)".into(),
        ))
    }
}

/// The witness policy at `path`, if one was given.
fn read_policy(
    path: Option<&std::path::Path>,
) -> Result<Option<amity_verify::policy::Policy>, CliError> {
    path.map(amity_verify::policy::Policy::read)
        .transpose()
        .map_err(CliError)
}

/// `amity verify BUNDLE.json`: every check of the bundle, one line each, then the verdict.
fn verify_bundle(
    path: &std::path::Path,
    document: &[PathBuf],
    registry_key: Option<String>,
    policy: Option<amity_verify::policy::Policy>,
) -> Result<(), CliError> {
    let report = crate::bundle::verify_file(path, document, registry_key, policy)
        .map_err(|e| CliError(e.to_string()))?;
    let _ = report.render(&mut std::io::stdout());
    if report.passed() {
        Ok(())
    } else {
        Err(CliError(
            "the bundle does not verify (see FAIL lines above)".into(),
        ))
    }
}

fn create_token(
    database_url: &str,
    role: &str,
    city: Option<String>,
    office: Option<String>,
    expires: Option<String>,
) -> Result<(), CliError> {
    let role = Role::parse(role).ok_or_else(|| {
        CliError(format!(
            "unknown role {role:?}: use admin, auditor, office or association"
        ))
    })?;
    let db = Db::open(database_url, 1)?;
    let office = match (role, office, city) {
        (Role::Office, Some(office), _) => Some(office),
        (Role::Office, None, Some(city)) => {
            let code = CityCode::parse(&city)?;
            let offices = db.read(|c| db::cities::offices_of(c, code.as_str()))?;
            match offices.as_slice() {
                [(id, _)] => Some(id.clone()),
                [] => {
                    return Err(CliError(format!(
                        "city `{city}` has no office yet: create one with POST /api/v1/admin/offices"
                    )));
                }
                _ => {
                    return Err(CliError(format!(
                        "city `{city}` has several offices; pick one with --office ID"
                    )));
                }
            }
        }
        (Role::Office, None, None) => {
            return Err(CliError("an office token needs --city or --office".into()));
        }
        (_, None, None) => None,
        (_, _, _) => {
            return Err(CliError(
                "--city and --office apply to office tokens only".into(),
            ));
        }
    };
    let expires_at = expires
        .as_deref()
        .map(|t| parse_instant("expires", t))
        .transpose()?;
    let request = TokenRequest::validate(role, office, expires_at, now_micros())?;
    let issued = db.write(|tx| db::tokens::issue(tx, request))?;
    println!("{}", issued.token);
    eprintln!(
        "issued {} token {}{}{} (shown once; store it now)",
        issued.role.as_str(),
        issued.id,
        issued
            .city
            .as_deref()
            .map(|c| format!(" for {c}"))
            .unwrap_or_default(),
        issued
            .expires_at
            .map(|t| format!(", expires {}", format_micros(t)))
            .unwrap_or_default()
    );
    Ok(())
}
