//! Reads from a PostgreSQL streaming replica (issue 17, item 4): writes go to the primary,
//! the reads of GET requests to the replica, a read naming a log index waits for the replica
//! or reads from the primary, and a replica that lags or goes down costs no read and no
//! write.
//!
//! Needs a real replica of the server at AMITY_TEST_POSTGRES_URL, named by
//! AMITY_TEST_POSTGRES_REPLICA_URL (`.ci/run` makes one with `pg_basebackup -R`; its role may
//! run `pg_wal_replay_pause()`). Without it the test says so and does nothing, except in CI,
//! where it fails. The server reaches the replica through a TCP proxy the test owns, so the
//! test can cut the replica off mid-run.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Backend, Reply, TestServer, World};
use diesel::{Connection, RunQueryDsl};

/// The replica to test against, or `None` (after saying why) when there is none outside CI.
fn replica_url() -> Option<String> {
    match std::env::var("AMITY_TEST_POSTGRES_REPLICA_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI must test the read replica: set AMITY_TEST_POSTGRES_REPLICA_URL (.ci/run does)"
        ),
        _ => {
            eprintln!(
                "replica tests not run: AMITY_TEST_POSTGRES_REPLICA_URL is not set (.ci/run sets one up)"
            );
            None
        }
    }
}

/// `host:port` of a `postgres://user:pass@host:port/db` URL.
fn host_port(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let after_user = after_scheme
        .rsplit_once('@')
        .map_or(after_scheme, |(_, rest)| rest);
    let authority = after_user.split(['/', '?']).next().unwrap_or(after_user);
    if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:5432")
    }
}

/// `url` pointed at `authority` and database `name`.
fn with_authority_and_db(url: &str, authority: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
    let query = rest.split_once('?').map(|(_, q)| q);
    let at = if user.is_empty() { "" } else { "@" };
    let mut out = format!("{scheme}://{user}{at}{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The replica URL for the test database at `primary_url` (a database of the server at
/// AMITY_TEST_POSTGRES_URL), when the tests have a replica; for the crash harness.
pub fn replica_url_for(primary_url: &str) -> Option<String> {
    let replica = std::env::var("AMITY_TEST_POSTGRES_REPLICA_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    Some(with_authority_and_db(
        &replica,
        &host_port(&replica),
        &db_name(primary_url),
    ))
}

fn db_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// A TCP proxy to the replica that the test can cut (every connection closed, new ones
/// refused) and restore.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let port = listener.local_addr().expect("bound").port();
        let open = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (open2, live2) = (Arc::clone(&open), Arc::clone(&live));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !open2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let mut held = live2.lock().expect("proxy streams");
                for s in [&client, &server] {
                    if let Ok(clone) = s.try_clone() {
                        held.push(clone);
                    }
                }
                drop(held);
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, open, live }
    }

    /// The replica goes away: open connections drop, new ones are refused.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for s in self.live.lock().expect("proxy streams").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// Runs `sql` on the replica directly (not through the proxy).
fn on_replica(url: &str, sql: &str) {
    let mut conn = diesel::PgConnection::establish(url).expect("replica connects");
    diesel::sql_query(sql)
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{sql} on the replica: {e}"));
}

fn get_at(srv: &TestServer, path: &str, index: i64) -> Reply {
    srv.send_with(
        "GET",
        path,
        &[("Amity-Min-Log-Index", &index.to_string())],
        Vec::new(),
    )
}

fn served_by(r: &Reply) -> &str {
    r.header("amity-read-from").unwrap_or("(none)")
}

#[test]
fn reads_go_to_the_replica_and_survive_its_lag_and_loss() {
    let Some(replica) = replica_url() else {
        return;
    };
    let proxy = Proxy::start(host_port(&replica));
    let mut direct = String::new();
    let srv = TestServer::start_with(Backend::Postgres, |s| {
        let name = db_name(&s.database_url);
        direct = with_authority_and_db(&replica, &host_port(&replica), &name);
        s.replica_url = Some(with_authority_and_db(
            &replica,
            &format!("127.0.0.1:{}", proxy.port),
            &name,
        ));
        s.replica_wait_ms = 3_000;
    });
    let w = World::build(&srv);

    // Written on the primary; read, once replayed, from the replica.
    let paris = srv.city(&w.admin, "fr-par", "Paris");
    let index = paris["log_index"].as_i64().expect("log index");
    let r = get_at(&srv, "/api/v1/cities/fr-par", index);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        served_by(&r),
        "replica",
        "a replayed entry is read from the replica"
    );
    let r = srv.get("/api/v1/cities?country=FR");
    assert_eq!((r.status, served_by(&r)), (200, "replica"));
    // A write's own reads, and its answer, are the primary's: no header on it.
    let rome = srv.city(&w.admin, "it-rom", "Rome");
    assert!(rome["log_index"].as_i64().unwrap() > index);

    // The replica lags: replay paused, a write on the primary.
    on_replica(&direct, "SELECT pg_wal_replay_pause()");
    let madrid = srv.city(&w.admin, "es-mad", "Madrid");
    let index = madrid["log_index"].as_i64().expect("log index");
    // Health is the primary's, with the replica's lag beside it.
    let health = srv.get("/healthz").json();
    assert_eq!(health["log_size"], serde_json::json!(index + 1), "{health}");
    assert_eq!(health["replica"]["status"], "ok", "{health}");
    assert!(
        health["replica"]["lag_entries"].as_i64() >= Some(1),
        "{health}"
    );
    // Without read-your-writes the replica answers as of its replay: Madrid is not there yet.
    let stale = srv.get("/api/v1/cities/es-mad");
    assert_eq!(
        (stale.status, served_by(&stale)),
        (404, "replica"),
        "{}",
        stale.text()
    );
    // With it, the read waits for the replica, then reads from the primary.
    let started = Instant::now();
    let fresh = get_at(&srv, "/api/v1/cities/es-mad", index);
    assert_eq!(
        (fresh.status, served_by(&fresh)),
        (200, "primary"),
        "{}",
        fresh.text()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(2_500),
        "it waited first"
    );
    on_replica(&direct, "SELECT pg_wal_replay_resume()");
    let r = get_at(&srv, "/api/v1/cities/es-mad", index);
    assert_eq!((r.status, served_by(&r)), (200, "replica"), "caught up");

    // The replica goes down: reads fall back to the primary, writes go on, nothing is lost.
    proxy.cut();
    let health = srv.get("/healthz");
    assert_eq!(
        health.status, 200,
        "a server whose replica is down still works"
    );
    assert_eq!(health.json()["replica"]["status"], "unreachable");
    assert!(
        srv.get("/metrics")
            .text()
            .contains("amity_replica_lag_entries -1")
    );
    let r = srv.get("/api/v1/cities/fr-par");
    assert_eq!((r.status, served_by(&r)), (200, "primary"), "{}", r.text());
    let bonn = srv.city(&w.admin, "de-bon", "Bonn");
    let index = bonn["log_index"].as_i64().expect("log index");
    let r = get_at(&srv, "/api/v1/cities/de-bon", index);
    assert_eq!((r.status, served_by(&r)), (200, "primary"));
    let r = srv.get(&format!("/api/v1/log/entries/{index}"));
    assert_eq!(r.status, 200, "{}", r.text());

    // Back: after the set-aside period the replica serves again, with every write replayed.
    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get_at(&srv, "/api/v1/cities/de-bon", index);
        assert_eq!(r.status, 200, "{}", r.text());
        if served_by(&r) == "replica" {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never served again");
        thread::sleep(Duration::from_millis(200));
    }

    // A bad index is refused, on reads and writes alike.
    for method in ["GET", "POST"] {
        let r = srv.send_with(
            method,
            "/api/v1/cities",
            &[("Amity-Min-Log-Index", "-1")],
            Vec::new(),
        );
        r.assert_problem(400, "invalid_min_log_index");
    }

    // What served the reads is counted.
    let metrics = srv.get("/metrics").text();
    for served in ["replica", "primary"] {
        assert!(
            metrics.contains(&format!(
                "amity_replica_reads_total{{served_by=\"{served}\"}}"
            )),
            "{metrics}"
        );
    }

    // Nothing went to the replica that the primary does not hold: the registry audits clean.
    let state = tempfile::tempdir().expect("temp dir");
    let (passed, text) = crate::audit::audit(&srv, &state.path().join("audit.json"));
    assert!(passed, "{text}");
}
