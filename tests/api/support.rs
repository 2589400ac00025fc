//! The test harness: a server per test, a per-test database, and a small HTTP client.

#![allow(dead_code)]

use std::sync::{Arc, mpsc};
use std::thread;

use amity::config::Settings;
use serde_json::{Value, json};

/// A test that needs PostgreSQL: compiled as ignored, with the reason, where build.rs found
/// neither AMITY_TEST_POSTGRES_URL nor the server programs (a test that returned early would
/// be reported as passed).
#[macro_export]
macro_rules! postgres_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        #[cfg_attr(
            not(amity_postgres_tests),
            ignore = "PostgreSQL not available: set AMITY_TEST_POSTGRES_URL or install the \
                      PostgreSQL server (initdb), then rebuild (touch build.rs)"
        )]
        fn $name() $body
    };
}

/// Runs a test body once per backend: `both_backends!(name, |srv| { ... })`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$srv:ident| $body:block) => {
        $crate::both_backends_with!($name, |_settings| (), |$srv| $body);
    };
}

/// Runs functions that take the backend once per backend: `on_both_backends!(f, g)` makes the
/// tests `f::sqlite`, `f::postgres`, `g::sqlite` and `g::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::support::Backend::Sqlite);
            }

            $crate::postgres_test! {
                fn postgres() {
                    super::$name($crate::support::Backend::Postgres);
                }
            }
        }
    )+};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A throwaway database: a file in a temp dir, or a fresh PostgreSQL database.
pub struct TestDb {
    pub url: String,
    /// Holds the SQLite file (if any) and the registry keys of the test server.
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database. PostgreSQL is the server at AMITY_TEST_POSTGRES_URL, else a throwaway
    /// cluster of this process (`pgtemp`); when neither can be had this panics, saying why
    /// (build.rs compiles the PostgreSQL tests as ignored on such a machine).
    pub fn create(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("amity.db").display());
                TestDb { url, dir, pg: None }
            }
            Backend::Postgres => {
                let admin = match std::env::var("AMITY_TEST_POSTGRES_URL") {
                    Ok(url) if !url.is_empty() => url,
                    _ => crate::pgtemp::admin_url(),
                };
                let name = format!("amity_test_{}", uuid::Uuid::now_v7().simple());
                psql_exec(&admin, &format!("CREATE DATABASE {name}"));
                let url = replace_db_name(&admin, &name);
                TestDb {
                    url,
                    dir: tempfile::tempdir().expect("temp dir"),
                    pg: Some((admin, name)),
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        if self.pg.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Runs a PostgreSQL script of many statements (a plain `pg_dump`, say) against the test
    /// database, on a connection of its own, so that the session settings the script makes
    /// (a dump empties `search_path`) end with it.
    pub fn exec_pg_script(&self, sql: &str) -> Result<(), String> {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        if self.backend() != Backend::Postgres {
            return Err("exec_pg_script needs a PostgreSQL test database".into());
        }
        let mut conn = diesel::PgConnection::establish(&self.url).map_err(|e| e.to_string())?;
        conn.batch_execute(sql).map_err(|e| e.to_string())
    }

    /// Runs raw SQL against the test database (to inspect or tamper with it).
    pub fn exec(&self, sql: &str) -> Result<usize, String> {
        use diesel::RunQueryDsl;
        let db = amity::db::Db::open(&self.url, 1).map_err(|e| e.to_string())?;
        let mut conn = db.conn().map_err(|e| e.to_string())?;
        diesel::sql_query(sql)
            .execute(&mut *conn)
            .map_err(|e| e.to_string())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = &self.pg else {
            return;
        };
        // A plain DROP makes PostgreSQL stop an autovacuum worker on the database by itself
        // (after a bulk import there often is one); WITH (FORCE) would have to terminate it,
        // which a non-superuser may not. The server's pool may take a moment to close, hence
        // the retries. Cleanup never fails a test: a leftover database is only noise.
        let mut last = String::new();
        for attempt in 0..20 {
            let sql = if attempt < 15 {
                format!("DROP DATABASE IF EXISTS {name}")
            } else {
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            };
            match try_psql_exec(admin, &sql) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        eprintln!("warning: test database {name} was left behind: {last}");
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let cut = base.rfind('/').expect("postgres URL with a database");
    let mut out = format!("{}/{}", &base[..cut], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn psql_exec(url: &str, sql: &str) {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
    diesel::sql_query(sql)
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn try_psql_exec(url: &str, sql: &str) -> Result<(), String> {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A running server with its own database.
pub struct TestServer {
    pub base: String,
    /// The server's state, for what a test does on the host (never over HTTP). Declared
    /// before `db`, so its connection pools close before the test database is dropped
    /// (PostgreSQL refuses to drop a database with open sessions).
    pub state: amity::api::AppState,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
    agent: ureq::Agent,
    /// Every request and its reply, once [`TestServer::record`] was called (the API examples
    /// are recorded this way: tests/api/examples.rs).
    recording: std::sync::Mutex<Option<Vec<Exchange>>>,
}

/// A request sent and the reply it got.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub reply_status: u16,
    pub reply_content_type: Option<String>,
    pub reply_body: Vec<u8>,
}

/// A response, read fully.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a problem document with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            (self.status, self.header("content-type")),
            (status, Some("application/problem+json")),
            "body: {}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["code"], code, "body: {body}");
        assert_eq!(body["status"], status);
        assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
        assert!(body["title"].is_string() && body["detail"].is_string());
        body
    }
}

impl TestServer {
    pub fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {})
    }

    /// Starts a server with adjusted settings.
    pub fn start_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_with_keys(backend, None, adjust)
    }

    /// Starts a server that signs with the registry key found in `keys` (copied), as a second
    /// deployment holding the same key would.
    pub fn start_with_keys(
        backend: Backend,
        keys: Option<&std::path::Path>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestServer {
        let db = TestDb::create(backend);
        Self::start_on(db, keys, adjust)
    }

    /// Starts a server on a database that already exists (restored from a fixture, say),
    /// with the registry key found in `keys` (copied) if given.
    pub fn start_on(
        db: TestDb,
        keys: Option<&std::path::Path>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestServer {
        if let Some(from) = keys {
            let to = db.dir.path().join("keys");
            std::fs::create_dir_all(&to).expect("keys dir");
            for f in std::fs::read_dir(from).expect("keys") {
                let f = f.expect("key file");
                std::fs::copy(f.path(), to.join(f.file_name())).expect("copy key");
            }
        }
        let mut settings = Settings::for_database(&db.url, db.dir.path().join("keys"));
        adjust(&mut settings);
        let (state, listener) = amity::server::prepare(settings).expect("server prepares");
        let port = listener.local_addr().expect("bound").port();
        let host_state = state.clone();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = amity::server::build(state, listener, false).expect("server builds");
                let _ = tx.send(server.handle());
                let _ = server.await;
            })
        });
        let handle = rx.recv().expect("server handle");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        TestServer {
            base: format!("http://127.0.0.1:{port}"),
            state: host_state,
            db,
            handle,
            agent,
            recording: std::sync::Mutex::new(None),
        }
    }

    /// Records every exchange from now on.
    pub fn record(&self) {
        *self.recording.lock().expect("recording") = Some(Vec::new());
    }

    /// The exchanges recorded so far.
    pub fn recorded(&self) -> Vec<Exchange> {
        self.recording
            .lock()
            .expect("recording")
            .clone()
            .unwrap_or_default()
    }

    fn keep(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        reply: &Reply,
    ) {
        if let Some(log) = self.recording.lock().expect("recording").as_mut() {
            log.push(Exchange {
                method: method.to_string(),
                path: path.to_string(),
                content_type: content_type.map(str::to_string),
                body: body.to_vec(),
                reply_status: reply.status,
                reply_content_type: reply.header("content-type").map(str::to_string),
                reply_body: reply.body.clone(),
            });
        }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Sends a request with an optional bearer token, body and content type.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let sent = body.as_ref().map(|(t, b)| (t.to_string(), b.clone()));
        let reply =
            request(&self.agent, &self.base, method, path, token, body, &[]).expect("request sent");
        let (content_type, bytes) = sent.map_or((None, Vec::new()), |(t, b)| (Some(t), b));
        self.keep(method, path, content_type.as_deref(), &bytes, &reply);
        reply
    }

    /// Sends a request with extra headers (cookies, form content types).
    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut res = self
            .agent
            .run(req.body(body).expect("request builds"))
            .expect("request sent");
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = res.body_mut().read_to_vec().expect("body read");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None)
    }

    pub fn get_as(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }

    /// The committed log size, from /healthz.
    pub fn log_size(&self) -> i64 {
        let r = self.get("/healthz");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["log_size"].as_i64().expect("log_size")
    }

    /// A log entry as parsed JSON.
    pub fn entry(&self, index: i64) -> Value {
        use base64::Engine;
        let r = self.get(&format!("/api/v1/log/entries/{index}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(r.json()["entry"].as_str().expect("entry"))
            .expect("base64");
        serde_json::from_slice(&bytes).expect("entry JSON")
    }

    /// Issues a token on the host, as `amity admin create-token` does.
    pub fn host_token(&self, role: amity::domain::tokens::Role, office: Option<&str>) -> String {
        let db = amity::db::Db::open(&self.db.url, 1).expect("db");
        let req = amity::domain::tokens::TokenRequest::validate(
            role,
            office.map(str::to_string),
            None,
            amity::domain::dates::now_micros(),
        )
        .expect("valid request");
        db.write(|tx| amity::db::tokens::issue(tx, req))
            .expect("token issued")
            .token
    }

    /// A SQL literal of a token's stored hash, for the backend in use.
    pub fn token_hash_sql(&self, token: &str) -> String {
        let hex: String = amity::crypto::token_hash(token)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        match self.backend() {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// A SQL literal for raw bytes given as hex, for the backend in use.
    pub fn blob_sql(&self, hex: &str) -> String {
        match self.backend() {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// Drops the append-only triggers, as an attacker with database access would.
    pub fn drop_append_only_triggers(&self) {
        let tables = ["log_entries", "log_nodes", "checkpoints", "status_events"];
        for table in tables {
            let statements = match self.backend() {
                Backend::Sqlite => vec![
                    format!("DROP TRIGGER {table}_no_update"),
                    format!("DROP TRIGGER {table}_no_delete"),
                ],
                Backend::Postgres => vec![
                    format!("DROP TRIGGER {table}_append_only ON {table}"),
                    format!("DROP TRIGGER {table}_no_truncate ON {table}"),
                ],
            };
            for sql in statements {
                self.db.exec(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Drops the triggers that keep stored documents' chunks append-only, as an attacker with
    /// database access would, so a test can rewrite a document's bytes.
    pub fn unlock_documents(&self) {
        let statements: &[&str] = match self.backend() {
            Backend::Sqlite => &[
                "DROP TRIGGER document_chunks_no_update",
                "DROP TRIGGER document_chunks_attached_no_insert",
                "DROP TRIGGER document_chunks_attached_no_delete",
            ],
            Backend::Postgres => &["DROP TRIGGER document_chunks_append_only ON document_chunks"],
        };
        for sql in statements {
            self.db.exec(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    /// SQL that rewrites the one chunk of a stored document of at most 1 MiB to `bytes`;
    /// `owner` is a query selecting the document's `blob_id`. Needs `unlock_documents`.
    pub fn rewrite_document_sql(&self, owner: &str, bytes: &[u8]) -> String {
        format!(
            "UPDATE document_chunks SET data = {} WHERE seq = 0 AND blob_id = ({owner})",
            self.blob_sql(&hex::encode(bytes))
        )
    }

    pub fn admin(&self) -> String {
        self.host_token(amity::domain::tokens::Role::Admin, None)
    }

    /// Creates a city through the API.
    pub fn city(&self, admin: &str, code: &str, name: &str) -> Value {
        let country = code[..2].to_ascii_uppercase();
        // Made-up but stable coordinates, so maps have something to draw.
        let sum: u32 = code.bytes().map(u32::from).sum();
        let lat = f64::from(sum % 120) - 60.0;
        let lon = f64::from((sum * 7) % 340) - 170.0;
        let r = self.post(
            "/api/v1/admin/cities",
            Some(admin),
            &json!({"code": code, "name": name, "country": country, "lat": lat, "lon": lon}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }

    /// Creates an office for `city` and an office token; returns the token.
    pub fn office(&self, admin: &str, city: &str) -> String {
        let r = self.post(
            "/api/v1/admin/offices",
            Some(admin),
            &json!({"city": city, "name": format!("International Affairs of {city}")}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        let office = r.json()["id"].as_str().expect("office id").to_string();
        let r = self.post(
            "/api/v1/admin/tokens",
            Some(admin),
            &json!({"role": "office", "office": office}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["token"].as_str().expect("token").to_string()
    }

    /// Imports the real data set (`data/twin_cities.csv`) through the API, as `admin`.
    pub fn import_data_set(&self, admin: &str) {
        let csv = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/twin_cities.csv"))
            .expect("data set");
        let r = self.send(
            "POST",
            "/api/v1/admin/import",
            Some(admin),
            Some(("text/csv", csv)),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// Proposes a partnership between two cities; returns its id.
    pub fn propose(&self, token: &str, a: &str, b: &str) -> String {
        let r = self.post(
            "/api/v1/partnerships",
            Some(token),
            &json!({"cities": [a, b], "kind": "sister", "established": "1979"}),
        );
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().expect("id").to_string()
    }
}

/// One HTTP exchange with `headers` besides the token's, read fully; `Err` only when no
/// response arrived (refused, reset).
pub fn request(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Result<Reply, ureq::Error> {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let bytes = match body {
        Some((content_type, bytes)) => {
            req = req.header("Content-Type", content_type);
            bytes
        }
        None => Vec::new(),
    };
    let request = req.body(bytes).expect("request builds");
    let mut res = agent.run(request)?;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = res
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn test_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

/// What the signing helpers need from a server: the in-process `TestServer` or a `Remote`
/// (a separate `amity serve` process).
pub trait Http {
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply;

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None)
    }

    fn get_as(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }
}

impl Http for TestServer {
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        TestServer::send(self, method, path, token, body)
    }
}

impl<T: Http> Http for std::sync::Arc<T> {
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        (**self).send(method, path, token, body)
    }
}

/// A client of a server running elsewhere (a spawned `amity serve`).
#[derive(Clone)]
pub struct Remote {
    pub base: String,
    agent: ureq::Agent,
    /// The highest log index this client wrote or must see: sent as `Amity-Min-Log-Index`,
    /// so a server reading from a replica answers with this client's writes in (-1: none).
    /// Shared by clones.
    min_index: Arc<std::sync::atomic::AtomicI64>,
}

impl Remote {
    pub fn new(base: &str) -> Remote {
        Remote {
            base: base.trim_end_matches('/').to_string(),
            agent: test_agent(),
            min_index: Arc::new(std::sync::atomic::AtomicI64::new(-1)),
        }
    }

    /// From now on, reads must reflect log entry `index` (read-your-writes).
    pub fn read_your_writes(&self, index: i64) {
        self.min_index
            .fetch_max(index, std::sync::atomic::Ordering::SeqCst);
    }

    /// Like `send`, but a request that got no answer (the server died) is an `Err`.
    pub fn try_send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Reply, ureq::Error> {
        let index = self.min_index.load(std::sync::atomic::Ordering::SeqCst);
        let index = index.to_string();
        let headers: &[(&str, &str)] = if index.starts_with('-') {
            &[]
        } else {
            &[("Amity-Min-Log-Index", &index)]
        };
        request(&self.agent, &self.base, method, path, token, body, headers)
    }

    pub fn try_post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Reply, ureq::Error> {
        self.try_send(
            "POST",
            path,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
    }
}

impl Http for Remote {
    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        self.try_send(method, path, token, body)
            .unwrap_or_else(|e| panic!("{method} {}{path}: no answer: {e}", self.base))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(false));
    }
}

/// A registry with three cities (A = us-hou, B = cn-sha, C = de-ber), an office token each,
/// an admin and an auditor, and a proposed partnership A-B.
pub struct World {
    pub admin: String,
    pub auditor: String,
    pub a: String,
    pub b: String,
    pub c: String,
    pub partnership: String,
}

impl World {
    pub fn build(srv: &TestServer) -> World {
        let admin = srv.admin();
        srv.city(&admin, "us-hou", "Houston");
        srv.city(&admin, "cn-sha", "Shanghai");
        srv.city(&admin, "de-ber", "Berlin");
        let a = srv.office(&admin, "us-hou");
        let b = srv.office(&admin, "cn-sha");
        let c = srv.office(&admin, "de-ber");
        let auditor = srv.host_token(amity::domain::tokens::Role::Auditor, None);
        let partnership = srv.propose(&a, "us-hou", "cn-sha");
        World {
            admin,
            auditor,
            a,
            b,
            c,
            partnership,
        }
    }
}

/// A status change body.
pub fn status_body(status: &str, reason: Option<&str>) -> Value {
    let mut body = json!({
        "status": status,
        "effective_date": "2022-03-01",
        "decided_date": "2022-02-28",
        "deciding_body": "City Council",
        "reason_category": "political",
    });
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    body
}

/// Runs a test body once per backend on servers with adjusted settings:
/// `both_backends_with!(name, |s| s.flag = true, |srv| { ... })`.
#[macro_export]
macro_rules! both_backends_with {
    ($name:ident, |$s:ident| $adjust:expr, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                let $srv = $crate::support::TestServer::start_with(
                    $crate::support::Backend::Sqlite,
                    |$s| {
                        $adjust;
                    },
                );
                $body
            }

            $crate::postgres_test! {
                fn postgres() {
                    let $srv = $crate::support::TestServer::start_with(
                        $crate::support::Backend::Postgres,
                        |$s| {
                            $adjust;
                        },
                    );
                    $body
                }
            }
        }
    };
}

/// A `multipart/form-data` part:  field name, optional (file name, content type), bytes.
pub type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

/// A `multipart/form-data` body of `parts`; returns its content type and bytes.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "amity-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, content_type)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
