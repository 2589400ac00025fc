//! A throwaway PostgreSQL cluster for this test process, for machines where
//! AMITY_TEST_POSTGRES_URL is not set but the server programs are installed (see build.rs).
//!
//! One cluster is made on first use and shared by every test of the process: `initdb` into a
//! temp dir, `postgres` listening only on a Unix socket in that dir (no TCP port to collide
//! with). A small watchdog shell, started beside it, waits for this process to end, however it
//! ends (a panic, SIGKILL), then stops the server and removes the dir; libtest has no hook
//! that runs after the last test. initdb refuses to run as root, so as root the server runs
//! as the `postgres` system user, which Debian's packages create.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The superuser the cluster is made with (trust authentication, over the socket only).
const USER: &str = "amity";

static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();

/// A URL of the cluster's `postgres` database as its superuser, for making test databases.
/// Panics, saying why, when no cluster can be made: a PostgreSQL test must not pass unrun.
pub fn admin_url() -> String {
    CLUSTER
        .get_or_init(start)
        .clone()
        .unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"))
}

/// The user to run the server as: `None` for this process's own user, or (uid, gid) of
/// `postgres` when this process is root.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let id =
        |flag: &str| -> Result<u32, String> {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .map_err(|e| format!("id: {e}"))?;
            String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| {
            "the tests run as root, and initdb refuses root, but there is no `postgres` user \
             to run the server as (create one, or set AMITY_TEST_POSTGRES_URL)"
                .to_string()
        })
        };
    Ok(Some((id("-u")?, id("-g")?)))
}

/// `program` from `bindir`, run as `user` (through setpriv when that is another user).
fn command(bindir: &Path, program: &str, user: Option<(u32, u32)>) -> Command {
    let program = bindir.join(program);
    match user {
        None => Command::new(program),
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(program);
            c
        }
    }
}

fn start() -> Result<String, String> {
    let bindir = crate::pgbin::server_bindir().ok_or(
        "AMITY_TEST_POSTGRES_URL is not set and no PostgreSQL server programs (initdb, postgres) \
         were found (apt-get install postgresql, or set AMITY_TEST_POSTGRES_BINDIR)",
    )?;
    let user = server_user()?;
    // Kept (not a TempDir): the watchdog removes it after this process is gone.
    let dir: PathBuf = tempfile::Builder::new()
        .prefix("amity-test-pg-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?
        .keep();
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    let mut initdb = command(&bindir, "initdb", user);
    // The program run may be setpriv (as root), so the error names it, not initdb.
    let program = initdb.get_program().to_string_lossy().into_owned();
    let out = initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    // Durability is not under test here (the crash harness uses a real server): no fsyncs.
    let server = command(&bindir, "postgres", user);
    let mut args = vec![server.get_program().to_owned()];
    args.extend(server.get_args().map(ToOwned::to_owned));
    args.extend(
        [
            "-D",
            &data.to_string_lossy(),
            "-k",
            &dir.to_string_lossy(),
            "-c",
            "listen_addresses=",
            "-c",
            "max_connections=300",
            "-F",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        .map(Into::into),
    );
    // $1: this process, $2: the dir; the rest is the server command. Fast shutdown (SIGINT)
    // once this process is gone, then the dir goes.
    let watchdog = r#"
        test_pid=$1 dir=$2; shift 2
        "$@" >"$dir/postgres.log" 2>&1 &
        server=$!
        while kill -0 "$test_pid" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.5; done
        kill -INT "$server" 2>/dev/null
        wait "$server"
        rm -rf "$dir"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .arg("amity-test-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(&dir)
        .args(&args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;

    let url = format!("postgres://{USER}@/postgres?host={}", dir.display());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        use diesel::Connection;
        match diesel::PgConnection::establish(&url) {
            Ok(_) => return Ok(url),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
                return Err(format!(
                    "the throwaway cluster did not start ({e}); its log:\n{log}"
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
