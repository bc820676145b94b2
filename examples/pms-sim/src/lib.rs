//! A PMS simulator: deterministic generated portfolios ([`dataset`]) served over
//! loopback HTTP in each vendor's wire format ([`vendors`]), usable in-process from
//! tests ([`Simulator`]) or as the `pms-sim` binary.

pub mod dataset;
pub mod vendors;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use dataset::Portfolio;

/// The simulator's shared state: the portfolio it serves, replaceable at run time.
#[derive(Clone)]
pub struct SimState {
    portfolio: Arc<RwLock<Portfolio>>,
}

impl SimState {
    pub fn new(portfolio: Portfolio) -> Self {
        SimState {
            portfolio: Arc::new(RwLock::new(portfolio)),
        }
    }

    /// Reads the portfolio. A poisoned lock (a panicking writer) still yields the data.
    pub fn read<R>(&self, f: impl FnOnce(&Portfolio) -> R) -> R {
        let guard = self.portfolio.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut Portfolio) -> R) -> R {
        let mut guard = self.portfolio.write().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

/// A running simulator: one loopback listener per vendor.
pub struct Simulator {
    pub state: SimState,
    vendors: Vec<(String, SocketAddr)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Simulator {
    /// Serves `portfolio` on ephemeral loopback ports, one per vendor.
    pub async fn start(portfolio: Portfolio) -> anyhow::Result<Simulator> {
        let state = SimState::new(portfolio);
        let mut vendors = Vec::new();
        let mut tasks = Vec::new();
        for (name, router) in [("acme", vendors::acme::router(state.clone()))] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "simulator listener stopped");
                }
            }));
            vendors.push((name.to_owned(), addr));
        }
        Ok(Simulator {
            state,
            vendors,
            tasks,
        })
    }

    /// The base URL of a vendor's API.
    pub fn base_url(&self, vendor: &str) -> Option<String> {
        self.vendors
            .iter()
            .find(|(v, _)| v == vendor)
            .map(|(_, a)| format!("http://{a}"))
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
