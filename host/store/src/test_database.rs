//! A PostgreSQL database of its own for one test (or bench), dropped with it.
//!
//! `EPMS_TEST_POSTGRES` names the server, as the URL of a database to connect to for
//! `CREATE DATABASE` (`.ci/run` sets it). Unset, the local server's default address is
//! tried, and a test finding no server there is skipped, saying so on the terminal;
//! set, the server must answer (a CI run never skips silently). `off` skips.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the test server.
pub const TEST_SERVER_VARIABLE: &str = "EPMS_TEST_POSTGRES";
/// Tried when the variable is unset.
pub const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

pub struct TestDatabase {
    /// The URL of the new database (same server, user and options).
    pub url: String,
    server: String,
    name: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Runs admin statements on a thread of its own (callers may be inside a runtime).
fn admin(server: &str, sql: String) -> Result<(), String> {
    let server = server.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| match e.as_db_error() {
                    Some(db) => db.message().to_owned(),
                    None => e.to_string(),
                })
        })
    })
    .join()
    .map_err(|_| "the admin thread panicked".to_owned())?
}

impl TestDatabase {
    /// A new, empty database for `test`, or `None` when no test server is configured
    /// and none answers at the default address (the skip is written to the terminal,
    /// past the test harness's capture).
    pub fn create(test: &str) -> Option<TestDatabase> {
        let configured = std::env::var(TEST_SERVER_VARIABLE).ok();
        if configured.as_deref() == Some("off") {
            skipped(test, &format!("{TEST_SERVER_VARIABLE}=off"));
            return None;
        }
        let server = configured.clone().unwrap_or(DEFAULT_TEST_SERVER.to_owned());
        let slug: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "epms_test_{}_{}_{slug}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        if let Err(e) = admin(&server, format!("CREATE DATABASE {name}")) {
            if configured.is_some() {
                panic!("{TEST_SERVER_VARIABLE} is set, but the test server refused: {e}");
            }
            skipped(
                test,
                &format!("no PostgreSQL at {DEFAULT_TEST_SERVER} ({e})"),
            );
            return None;
        }
        let url = with_database(&server, &name);
        Some(TestDatabase { url, server, name })
    }
}

impl TestDatabase {
    /// The first column of the first row `sql` returns in this database, as text.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        let (url, sql) = (self.url.clone(), sql.to_owned());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("the test database answers");
                tokio::spawn(connection);
                let messages = client.simple_query(&sql).await.expect("the query runs");
                messages.into_iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                })
            })
        })
        .join()
        .expect("the query thread ends")
    }
}

/// `server` with its database path replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn skipped(test: &str, why: &str) {
    // Straight to the terminal: libtest captures only the print macros.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}; set {TEST_SERVER_VARIABLE}=postgres://user@host:port/db to run it"
    );
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = admin(
            &self.server,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            let _ = writeln!(std::io::stderr(), "could not drop {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_server_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
