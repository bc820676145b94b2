//! A PMS simulator: deterministic generated portfolios ([`dataset`]) served over
//! loopback HTTP in each vendor's wire format ([`vendors`]), with a control API
//! ([`control`]) to mutate the data and inject faults ([`faults`]). Usable in-process
//! from tests ([`Simulator`]) or as the `pms-sim` binary.

pub mod control;
pub mod dataset;
pub mod faults;
pub mod vendors;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt as _;
use dataset::{Portfolio, Spec};
use faults::{Fault, FaultKind};
use serde::{Deserialize, Serialize};

/// The simulator's shared state: the portfolio it serves, the faults armed, and the
/// spec it was generated from (for reset).
#[derive(Clone)]
pub struct SimState {
    portfolio: Arc<RwLock<Portfolio>>,
    faults: Arc<Mutex<Vec<Fault>>>,
    spec: Arc<Mutex<Option<Spec>>>,
    /// Request times per vendor, for vendors that rate-limit (AppFolio).
    pub(crate) requests: Arc<
        Mutex<std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    >,
    /// Vendors whose own rate limit is switched off (tests that read a lot).
    unlimited: Arc<Mutex<std::collections::HashSet<String>>>,
    /// Nanoseconds the vendor APIs spent making answers, across every request.
    answering: Arc<AtomicU64>,
}

impl SimState {
    pub fn new(portfolio: Portfolio) -> Self {
        SimState {
            portfolio: Arc::new(RwLock::new(portfolio)),
            faults: Arc::new(Mutex::new(Vec::new())),
            spec: Arc::new(Mutex::new(None)),
            requests: Arc::default(),
            unlimited: Arc::default(),
            answering: Arc::default(),
        }
    }

    /// How long the vendor APIs have spent making answers so far, from a request's
    /// arrival at the router to its response (body built; the simulator's answers
    /// are whole bodies, not streams). Not the loopback or the client: a benchmark
    /// subtracts this to see what the simulator itself cost it.
    pub fn answering_time(&self) -> Duration {
        Duration::from_nanos(self.answering.load(Ordering::Relaxed))
    }

    /// Switches a vendor's own rate limit (AppFolio's 7 requests / 15 s) on or off.
    pub fn set_rate_limit(&self, vendor: &str, enabled: bool) {
        let mut off = self.unlimited.lock().unwrap_or_else(|p| p.into_inner());
        if enabled {
            off.remove(vendor);
        } else {
            off.insert(vendor.to_owned());
        }
    }

    pub fn rate_limit_enabled(&self, vendor: &str) -> bool {
        !self
            .unlimited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(vendor)
    }

    /// Reads the portfolio. A poisoned lock (a panicking writer) still yields the data.
    pub fn read<R>(&self, f: impl FnOnce(&Portfolio) -> R) -> R {
        let guard = self.portfolio.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    pub fn write<R>(&self, f: impl FnOnce(&mut Portfolio) -> R) -> R {
        let mut guard = self.portfolio.write().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut guard);
        for p in &mut guard.properties {
            p.invalidate();
        }
        out
    }

    /// Arms a fault.
    pub fn add_fault(&self, fault: Fault) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(fault);
    }

    pub fn clear_faults(&self) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The first armed fault matching a request, counted down.
    pub fn take_fault(&self, vendor: &str, signature: &str) -> Option<FaultKind> {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let i = faults
            .iter()
            .position(|f| f.vendor == vendor && signature.contains(&f.endpoint))?;
        let kind = faults[i].kind.clone();
        if let Some(times) = &mut faults[i].times {
            *times = times.saturating_sub(1);
            if *times == 0 {
                faults.remove(i);
            }
        }
        Some(kind)
    }

    /// Regenerates the portfolio from its spec (if it has one) and clears faults.
    pub fn reset(&self) {
        self.clear_faults();
        if let Some(spec) = self.spec.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            self.write(|p| *p = dataset::generate(&spec));
        }
    }
}

/// Where each vendor's API is and how to log in: what `pms-sim serve` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub control_url: String,
    pub vendors: Vec<VendorEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorEntry {
    pub vendor: String,
    pub base_url: String,
    /// Every field of the credential the simulator accepts, secrets included.
    pub credential: Vec<(String, String)>,
    pub properties: Vec<String>,
}

/// A running simulator: one loopback listener per vendor and one for control.
pub struct Simulator {
    pub state: SimState,
    vendors: Vec<(String, SocketAddr)>,
    control: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn time_answer(
    axum::extract::State(answering): axum::extract::State<Arc<AtomicU64>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    answering.fetch_add(nanos, Ordering::Relaxed);
    response
}

async fn listen(router: Router) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // Answers go out as written: with Nagle's algorithm a large answer's last
        // segment waits for the client's delayed ACK (about 40 ms a request).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
        });
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "simulator listener stopped");
        }
    });
    Ok((addr, task))
}

impl Simulator {
    /// Serves `portfolio` on ephemeral loopback ports, one per vendor.
    pub async fn start(portfolio: Portfolio) -> anyhow::Result<Simulator> {
        Self::start_with(SimState::new(portfolio)).await
    }

    /// Generates a portfolio from `spec` and serves it; `reset` regenerates it.
    pub async fn generate(spec: Spec) -> anyhow::Result<Simulator> {
        let state = SimState::new(dataset::generate(&spec));
        *state.spec.lock().unwrap_or_else(|p| p.into_inner()) = Some(spec);
        Self::start_with(state).await
    }

    async fn start_with(state: SimState) -> anyhow::Result<Simulator> {
        let mut vendors = Vec::new();
        let mut tasks = Vec::new();
        for (name, router) in vendors::routers(&state) {
            let timed = router.layer(axum::middleware::from_fn_with_state(
                state.answering.clone(),
                time_answer,
            ));
            let (addr, task) = listen(timed).await?;
            vendors.push((name.to_owned(), addr));
            tasks.push(task);
        }
        let (control, task) = listen(control::router(state.clone())).await?;
        tasks.push(task);
        Ok(Simulator {
            state,
            vendors,
            control,
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

    /// The control API's base URL.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.control)
    }

    pub fn manifest(&self) -> Manifest {
        self.state.read(|p| Manifest {
            control_url: self.control_url(),
            vendors: self
                .vendors
                .iter()
                .map(|(vendor, addr)| VendorEntry {
                    vendor: vendor.clone(),
                    base_url: format!("http://{addr}"),
                    credential: p
                        .credential(vendor)
                        .map(|c| c.fields.clone())
                        .unwrap_or_default(),
                    properties: p
                        .properties
                        .iter()
                        .filter(|x| &x.vendor == vendor)
                        .map(|x| x.id.clone())
                        .collect(),
                })
                .collect(),
        })
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
