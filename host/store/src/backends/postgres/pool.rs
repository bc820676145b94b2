//! Connections to PostgreSQL for a synchronous store.
//!
//! tokio-postgres splits a connection in two: the `Connection`, which does the socket
//! I/O and must run on a tokio runtime, and the `Client`, whose requests are messages
//! to it. The connections run on a runtime the pool owns (one thread of its own), and
//! a caller awaits its client's answers with a plain `block_on` on its own thread: it
//! works the same from a tokio worker (an API handler, as redb's calls do), a sync
//! thread or a test, and never nests one runtime in another.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::StoreError;

/// Connections a host opens at most; callers beyond wait for one to come back.
const MAX_CONNECTIONS: usize = 16;
/// How long a caller waits for a connection before the call fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct Pool {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    runtime: Handle,
    state: Mutex<PoolState>,
    returned: Condvar,
    /// Dropped with the pool: the runtime's thread then stops (closing every socket).
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

/// A connection and the statements prepared on it: the server parses and plans each
/// statement once per connection, not once per call.
pub(super) struct Conn {
    pub(super) client: Client,
    pub(super) prepared: RefCell<HashMap<String, Statement>>,
}

/// Statements run through a connection's prepared-statement cache, on the connection
/// itself or in a transaction of it.
pub(super) struct Cached<'a, C> {
    pub(super) inner: &'a C,
    pub(super) prepared: &'a RefCell<HashMap<String, Statement>>,
}

impl<C: GenericClient> Cached<'_, C> {
    async fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        let known = self.prepared.borrow().get(sql).cloned();
        if let Some(statement) = known {
            return Ok(statement);
        }
        let statement = self.inner.prepare(sql).await?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(super) async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.inner.execute(&statement, params).await
    }

    pub(super) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.inner.query(&statement, params).await
    }

    pub(super) async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.inner.query_one(&statement, params).await
    }

    pub(super) async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql).await?;
        self.inner.query_opt(&statement, params).await
    }

    /// Statements with no parameters, not prepared (migrations).
    pub(super) async fn batch_execute(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.inner.batch_execute(sql).await
    }
}

/// A connection taken from the pool; it goes back when dropped (unless it broke).
pub(super) struct Pooled<'a> {
    conn: Option<Conn>,
    pool: &'a Pool,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let mut state = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
        if conn.client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.pool.returned.notify_one();
    }
}

/// Runs a future to completion on the calling thread.
pub(super) fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

impl Pool {
    pub(super) fn new(config: tokio_postgres::Config) -> Result<Pool, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Db(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("epms-postgres".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| StoreError::Db(format!("cannot start the PostgreSQL thread: {e}")))?;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls_config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Db(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Pool {
            config,
            tls: MakeRustlsConnect::new(tls_config),
            runtime: handle,
            state: Mutex::default(),
            returned: Condvar::new(),
            _shutdown: shutdown,
        })
    }

    /// An idle connection, a new one while fewer than the maximum are open, or the
    /// next one returned.
    pub(super) fn get(&self) -> Result<Pooled<'_>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open -= 1;
                    continue;
                }
                return Ok(Pooled {
                    conn: Some(conn),
                    pool: self,
                });
            }
            if state.open < MAX_CONNECTIONS {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(client) => Ok(Pooled {
                        conn: Some(Conn {
                            client,
                            prepared: RefCell::default(),
                        }),
                        pool: self,
                    }),
                    Err(e) => {
                        self.state.lock().unwrap_or_else(|e| e.into_inner()).open -= 1;
                        Err(e)
                    }
                };
            }
            let (next, timeout) = self
                .returned
                .wait_timeout(state, CHECKOUT_TIMEOUT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            if timeout.timed_out() && state.idle.is_empty() && state.open >= MAX_CONNECTIONS {
                return Err(StoreError::Db(format!(
                    "no PostgreSQL connection came free in {} s ({MAX_CONNECTIONS} in use)",
                    CHECKOUT_TIMEOUT.as_secs()
                )));
            }
        }
    }

    fn connect(&self) -> Result<Client, StoreError> {
        let (config, tls) = (self.config.clone(), self.tls.clone());
        let connecting = self.runtime.spawn(async move {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "a PostgreSQL connection ended");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        match block_on(connecting) {
            Ok(result) => result.map_err(StoreError::from),
            Err(e) => Err(StoreError::Db(format!("connecting to PostgreSQL: {e}"))),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's own words (and SQLSTATE) say more than the driver's summary.
        match e.as_db_error() {
            Some(db) => {
                StoreError::Db(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
            }
            None => StoreError::Db(format!("PostgreSQL: {e}")),
        }
    }
}
