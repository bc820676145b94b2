//! The sandboxed plugin runtime: loads PMS connector components and calls them
//! under limits.
//!
//! One [`Runtime`] per host: one wasmtime `Engine` with epoch interruption and a
//! ticker thread, one `Linker`, a cache of compiled artefacts. Each component becomes
//! a [`LoadedConnector`] (compiled once, pre-instantiated once). Each sync opens a
//! [`ConnectorSession`]: a fresh store and instance for one credential, owned by the
//! task that runs the sync, dropped when it ends. A trap, a deadline or an
//! out-of-memory fails that session's call with a classified [`CallError`]; the
//! runtime and every other session carry on.

pub mod budget;
pub mod cache;
pub mod cassette;
pub mod connect;
pub mod contract;
pub mod credential;
mod error;
pub mod gate;
pub mod limits;
mod outgoing_handler;
mod output;
pub mod policy;
pub mod secrets;
pub mod signing;
mod state;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use epms_model::{ConnectorInfo, Lease, Page, PmsProperty, Resident, Unit};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, Store, UpdateDeadline};
use wasmtime_wasi_http::{WasiHttp, WasiHttpView};

pub use cache::{CacheOutcome, sha256_hex};
pub use credential::{Credential, CredentialError};
pub use error::{CallError, LoadError};
pub use gate::{OutboundCounts, OutboundStats};
pub use limits::{EPOCH_TICK, SandboxLimits};
pub use policy::NetworkAccess;
pub use usage::{PluginKey, PluginUsage};

use budget::{Charge, HostBudget, OverBudget};
use contract::v1;
use gate::OutboundGate;
use output::GuestRecord;
use policy::OutboundPolicy;
use state::HostState;

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where compiled artefacts are kept.
    pub cache_dir: PathBuf,
    pub limits: SandboxLimits,
    pub network: NetworkAccess,
    /// Use wasmtime's pooling allocator (faster instantiation). If the machine
    /// cannot reserve its memory, the runtime falls back to on-demand allocation.
    pub pooling: bool,
    /// Most instances alive at once under pooling.
    pub max_instances: u32,
    /// How connectors' host names are resolved (once per request; see [`connect`]).
    pub resolver: Arc<dyn connect::Resolver>,
}

impl RuntimeConfig {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        RuntimeConfig {
            cache_dir: cache_dir.into(),
            limits: SandboxLimits::default(),
            network: NetworkAccess::default(),
            pooling: true,
            max_instances: 64,
            resolver: Arc::new(connect::SystemResolver),
        }
    }
}

/// The plugin runtime. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: cache::ArtefactCache,
    config: RuntimeConfig,
    stats: Arc<OutboundStats>,
    usage: Arc<usage::UsageStats>,
    pooling: bool,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(pooling: Option<&RuntimeConfig>) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    if let Some(rc) = pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(rc.max_instances);
        pool.total_core_instances(rc.max_instances * 8);
        pool.total_memories(rc.max_instances * 2);
        pool.total_tables(rc.max_instances * 4);
        pool.max_memory_size(rc.limits.memory_bytes);
        // A slot's first MiB of linear memory (a Rust guest starts with 17 pages) and
        // its tables stay mapped when an instance ends; with PAGEMAP_SCAN (Linux 6.7+;
        // `Auto` falls back to madvise elsewhere) only the pages the guest dirtied are
        // reset, by memset. The next instance then takes no page faults there and
        // the end of one takes no madvise. Measured in the runtime bench: instantiate
        // median 9.7 -> 7.1 µs, a session opened and dropped 19.5 -> 13.9 µs. The
        // cost: up to 1 MiB resident per pooled memory slot that has been used.
        pool.linear_memory_keep_resident(1 << 20);
        pool.table_keep_resident(64 << 10);
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let (engine, pooling) = if config.pooling {
            match Engine::new(&engine_config(Some(&config))) {
                Ok(engine) => (engine, true),
                Err(e) => {
                    tracing::warn!(error = %e, "pooling allocator unavailable; using on-demand allocation");
                    (Engine::new(&engine_config(None))?, false)
                }
            }
        } else {
            (Engine::new(&engine_config(None))?, false)
        };

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let weak = engine.weak();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("epms-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        match weak.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => break,
                        }
                    }
                })?;
        }

        let mut linker = Linker::new(&engine);
        // A Rust guest's std imports wasi:cli/clocks/random/filesystem even when
        // unused; they are linked against an empty context (see `HostState::new`).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<_, WasiHttp>(
            &mut linker,
            &Default::default(),
            HostState::http,
        )?;
        outgoing_handler::add_to_linker(&mut linker)?;
        v1::door::connector::host::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )?;

        let cache = cache::ArtefactCache::new(&config.cache_dir, &engine)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            config,
            stats: Arc::new(OutboundStats::default()),
            usage: Arc::default(),
            pooling,
            ticker_stop,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.config.limits
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// Outbound HTTP counters across every session so far.
    pub fn outbound(&self) -> OutboundCounts {
        self.stats.snapshot()
    }

    /// Calls, faults, time, CPU and peak memory per connector, across every session.
    pub fn plugin_usage(&self) -> BTreeMap<PluginKey, PluginUsage> {
        self.usage.snapshot()
    }

    /// Loads one component from a file.
    pub async fn load_file(&self, path: &Path) -> Result<LoadedConnector, LoadError> {
        let wasm = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_bytes(&wasm, &path.display().to_string()).await
    }

    /// Loads one component from its bytes; `source` names it in messages.
    pub async fn load_bytes(
        &self,
        wasm: &[u8],
        source: &str,
    ) -> Result<LoadedConnector, LoadError> {
        check_component_header(wasm)?;
        let started = Instant::now();
        let sha256 = sha256_hex(wasm);
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        let bytes = wasm.to_vec();
        let sha = sha256.clone();
        let (component, cache_outcome) =
            tokio::task::spawn_blocking(move || cache.load(&engine, &bytes, &sha))
                .await
                .map_err(|e| LoadError::Compile(e.to_string()))?
                .map_err(|e| LoadError::Compile(format!("{e:#}")))?;

        let contract_version = contract_version(&self.engine, &component)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsatisfiedImport(format!("{e:#}")))?;
        let pre = v1::PmsConnectorPre::new(instance_pre).map_err(|e| LoadError::MissingExport {
            version: contract_version.clone(),
            detail: format!("{e:#}"),
        })?;

        let mut connector = LoadedConnector {
            info: ConnectorInfo {
                vendor: String::new(),
                display_name: String::new(),
                version: String::new(),
                contract_version: contract_version.clone(),
                config_fields: Vec::new(),
                status_vocabulary: Vec::new(),
            },
            sha256,
            source: source.to_owned(),
            pre,
            cache_outcome,
            load_time: Duration::ZERO,
        };
        let mut session = self
            .open(
                &connector,
                None,
                "(loading)".to_owned(),
                cassette::Tape::Off,
            )
            .await
            .map_err(LoadError::Info)?;
        let wit_info = session.call_info().await.map_err(LoadError::Info)?;
        connector.info = v1::info_into_model(wit_info, contract_version);
        validate_info(&connector.info)?;
        connector.load_time = started.elapsed();
        tracing::info!(
            vendor = %connector.info.vendor,
            version = %connector.info.version,
            contract = %connector.info.contract_version,
            cache = ?connector.cache_outcome,
            ms = connector.load_time.as_secs_f64() * 1e3,
            "connector loaded"
        );
        Ok(connector)
    }

    /// Loads every `*.wasm` in `dir`, one connector per vendor. A component that
    /// fails to load is reported and skipped; the others still load.
    pub async fn load_dir(&self, dir: &Path) -> Result<DirLoad, LoadError> {
        let io = |source| LoadError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        let mut out = DirLoad::default();
        for path in paths {
            match self.load_file(&path).await {
                Ok(c) => {
                    if let Some(existing) = out.connectors.get(&c.info.vendor) {
                        out.failures.push((
                            path,
                            LoadError::DuplicateVendor {
                                vendor: c.info.vendor.clone(),
                                existing: existing.source.clone(),
                            },
                        ));
                    } else {
                        out.connectors.insert(c.info.vendor.clone(), Arc::new(c));
                    }
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "connector refused");
                    out.failures.push((path, e));
                }
            }
        }
        Ok(out)
    }

    /// A fresh instance of `connector` for one credential (one sync).
    pub async fn session(
        &self,
        connector: &LoadedConnector,
        credential: &Credential,
    ) -> Result<ConnectorSession, CallError> {
        self.session_with_tape(connector, credential, cassette::Tape::Off)
            .await
    }

    /// A session whose exchanges are recorded, or answered from a cassette with no
    /// network (see [`cassette`]).
    pub async fn session_with_tape(
        &self,
        connector: &LoadedConnector,
        credential: &Credential,
        tape: cassette::Tape,
    ) -> Result<ConnectorSession, CallError> {
        self.open(
            connector,
            Some(credential),
            connector.info.vendor.clone(),
            tape,
        )
        .await
    }

    async fn open(
        &self,
        connector: &LoadedConnector,
        credential: Option<&Credential>,
        vendor: String,
        tape: cassette::Tape,
    ) -> Result<ConnectorSession, CallError> {
        let limits = self.config.limits.clone();
        let (policy, secrets, settings) = match credential {
            Some(c) => (
                Some(
                    OutboundPolicy::for_base_url(c.base_url(), self.config.network)
                        .map_err(|e| CallError::Credential(e.to_string()))?,
                ),
                c.secrets().clone(),
                v1::config(c.settings()),
            ),
            None => (None, secrets::Secrets::default(), Vec::new()),
        };
        let budget = HostBudget::new(limits.host_memory_bytes);
        let over = |e: OverBudget| CallError::Host(format!("sandbox limits: {e}"));
        let resources = budget
            .charge("the resource table", limits.resource_reservation())
            .map_err(over)?;
        let records = budget
            .charge("the records and cursors read", 0)
            .map_err(over)?;
        let gate = OutboundGate::new(
            policy,
            secrets,
            limits.clone(),
            self.stats.clone(),
            tape,
            self.config.resolver.clone(),
            budget.clone(),
        );
        let mut store = Store::new(
            &self.engine,
            HostState::new(gate, &limits, vendor, budget, resources),
        );
        store.limiter(|s| &mut s.memory);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let cpu = &mut ctx.data_mut().cpu;
            cpu.ticks += 1;
            if cpu.ticks > cpu.budget_ticks {
                cpu.exceeded = true;
                Err(wasmtime::format_err!("CPU budget exhausted"))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let started = Instant::now();
        let bindings = tokio::time::timeout(
            limits.call_timeout,
            connector.pre.instantiate_async(&mut store),
        )
        .await
        .map_err(|_| CallError::Deadline {
            timeout: limits.call_timeout,
        })?
        .map_err(|e| classify_trap(&store, &limits, e))?;
        Ok(ConnectorSession {
            store,
            bindings,
            config: settings,
            call_timeout: limits.call_timeout,
            limits,
            poisoned: false,
            instantiate_time: started.elapsed(),
            usage: self.usage.clone(),
            // The load-time `info` call of a component not yet known is not usage.
            plugin: credential.is_some().then(|| PluginKey {
                vendor: connector.info.vendor.clone(),
                version: connector.info.version.clone(),
                sha256: connector.sha256.clone(),
            }),
            opened: started,
            call_started: started,
            denials_before: 0,
            on_page: None,
            records,
        })
    }
}

/// What [`Runtime::load_dir`] found.
#[derive(Default)]
pub struct DirLoad {
    /// By vendor.
    pub connectors: BTreeMap<String, Arc<LoadedConnector>>,
    pub failures: Vec<(PathBuf, LoadError)>,
}

/// A compiled, validated, pre-instantiated connector.
pub struct LoadedConnector {
    info: ConnectorInfo,
    sha256: String,
    source: String,
    pre: v1::PmsConnectorPre<HostState>,
    cache_outcome: CacheOutcome,
    load_time: Duration,
}

impl LoadedConnector {
    pub fn info(&self) -> &ConnectorInfo {
        &self.info
    }
    /// Hex sha-256 of the component's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// Where it was loaded from.
    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }
    pub fn load_time(&self) -> Duration {
        self.load_time
    }
}

/// One instance of a connector for one credential. Owned by one task; every call
/// runs under the CPU budget, the wall-clock timeout and the memory limit.
pub struct ConnectorSession {
    store: Store<HostState>,
    bindings: v1::PmsConnector,
    config: Vec<v1::wit::Setting>,
    limits: SandboxLimits,
    poisoned: bool,
    instantiate_time: Duration,
    usage: Arc<usage::UsageStats>,
    /// Whose usage the calls count as (`None` while the component is being loaded).
    plugin: Option<PluginKey>,
    /// When the session opened: the whole session is bounded by `session_timeout`.
    opened: Instant,
    /// The current call's time limit: `call_timeout`, or what is left of the session.
    call_timeout: Duration,
    call_started: Instant,
    /// The gate's refusals before the current call began.
    denials_before: u64,
    on_page: Option<PageObserver>,
    /// What the records and cursors returned so far hold, kept for the session's life.
    records: Charge,
}

/// Told of every page an `all_*` read takes: its kind and how many records it held.
pub type PageObserver = Box<dyn Fn(epms_model::RecordKind, usize) + Send + Sync>;

/// Most pages one read may take: a connector whose cursor never ends is broken.
pub const MAX_PAGES: usize = 100_000;

impl ConnectorSession {
    /// How long instantiation took.
    pub fn instantiate_time(&self) -> Duration {
        self.instantiate_time
    }

    /// Peak linear memory the guest asked for, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().memory.peak
    }

    /// Peak host memory the session made the host hold, in bytes (the resource
    /// table's reservation included).
    pub fn peak_host_memory(&self) -> usize {
        self.store.data().budget.peak()
    }

    /// Calls `observer` after every page `all_units`, `all_residents` and
    /// `all_leases` read (for progress displays).
    pub fn observe_pages(&mut self, observer: PageObserver) {
        self.on_page = Some(observer);
    }

    fn page_read(&self, kind: epms_model::RecordKind, records: usize) {
        if let Some(f) = &self.on_page {
            f(kind, records);
        }
    }

    /// Why the last outbound request was denied, if any was.
    pub fn last_denial(&self) -> Option<String> {
        self.store.data().gate.last_denial()
    }

    fn begin(&mut self) -> Result<(), CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        let left = self
            .limits
            .session_timeout
            .saturating_sub(self.opened.elapsed());
        if left.is_zero() {
            self.poisoned = true;
            return Err(CallError::SessionDeadline {
                timeout: self.limits.session_timeout,
            });
        }
        self.call_timeout = self.limits.call_timeout.min(left);
        let cpu = &mut self.store.data_mut().cpu;
        cpu.ticks = 0;
        cpu.exceeded = false;
        self.store.set_epoch_deadline(1);
        self.call_started = Instant::now();
        self.denials_before = self.store.data().gate.denials();
        Ok(())
    }

    /// The connector's error for the call just made. When the sandbox refused a request
    /// during the call, that refusal is the error, whatever the guest reported (a body
    /// write that failed first reads as a transport failure; a JavaScript `fetch()`
    /// sees one opaque `NetworkError`): a bad base URL is a configuration problem, not
    /// a PMS outage to retry.
    fn pms_error(&self, e: v1::wit::ConnectorError) -> CallError {
        let gate = &self.store.data().gate;
        if gate.denials() > self.denials_before {
            let reason = gate.last_denial().unwrap_or_default();
            return CallError::Connector(epms_model::ConnectorError::Config {
                message: format!("request refused by the sandbox: {reason}"),
            });
        }
        let mut error: epms_model::ConnectorError = e.into();
        // The message reaches the sync history and the logs: bounded, one line, and
        // never a secret.
        let message = error.message_mut();
        *message = self.guest_text(message);
        CallError::Connector(error)
    }

    /// Text a guest wrote, as the host may keep it: at most `field_bytes`, control
    /// characters escaped, withheld whole if it holds a secret of the credential.
    fn guest_text(&self, text: &str) -> String {
        self.store.data().guest_text(text, self.limits.field_bytes)
    }

    /// Checks a page before the host keeps it (see [`output`]) and charges what it
    /// holds to the session.
    fn keep<T: GuestRecord>(
        &mut self,
        records: Vec<T>,
        next: Option<String>,
    ) -> Result<Page<T>, CallError> {
        let scanner = self.store.data().gate.scanner()?;
        let mut held = output::check_records(&records, self.limits.field_bytes, &scanner)?;
        if let Some(cursor) = &next {
            if cursor.len() > self.limits.cursor_bytes {
                return Err(CallError::BadOutput(format!(
                    "the next-page cursor is {} bytes long; the most a cursor may hold is {}",
                    cursor.len(),
                    self.limits.cursor_bytes
                )));
            }
            if scanner.found_in(cursor.as_bytes()) {
                return Err(CallError::BadOutput(
                    "the next-page cursor holds a secret of the credential (withheld)".into(),
                ));
            }
            // The pager keeps a digest of it.
            held += cursor.len() + Pager::SEEN_BYTES;
        }
        drop(scanner);
        if let Err(over) = self.records.grow(held) {
            self.poisoned = true;
            return Err(self.host_memory(over.what));
        }
        Ok(Page { records, next })
    }

    fn host_memory(&self, what: &str) -> CallError {
        over_budget(&self.limits, what)
    }

    fn finish<T>(
        &mut self,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let data = self.store.data();
        // Past the host-memory budget the call fails, whatever the guest made of the
        // refusal it saw.
        if let Some(what) = data.budget.exceeded() {
            self.poisoned = true;
            return Err(self.host_memory(what));
        }
        if let Some(plugin) = &self.plugin {
            self.usage.record(
                plugin,
                !matches!(outcome, Ok(Ok(_))),
                self.call_started.elapsed(),
                EPOCH_TICK.saturating_mul(u32::try_from(data.cpu.ticks).unwrap_or(u32::MAX)),
                data.memory.peak as u64,
            );
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                self.poisoned = true;
                Err(classify_trap(&self.store, &self.limits, e))
            }
            Err(_) if self.call_timeout < self.limits.call_timeout => {
                self.poisoned = true;
                Err(CallError::SessionDeadline {
                    timeout: self.limits.session_timeout,
                })
            }
            Err(_) => {
                self.poisoned = true;
                Err(CallError::Deadline {
                    timeout: self.limits.call_timeout,
                })
            }
        }
    }

    async fn call_info(&mut self) -> Result<v1::wit::ConnectorInfo, CallError> {
        self.begin()?;
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(self.call_timeout, api.call_info(&mut self.store)).await;
        self.finish(out)
    }

    /// Validates the credential against the PMS.
    pub async fn check(&mut self) -> Result<(), CallError> {
        self.begin()?;
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(
            self.call_timeout,
            api.call_check(&mut self.store, &self.config),
        )
        .await;
        self.finish(out)?.map_err(|e| self.pms_error(e))
    }

    /// The PMS properties the credential sees.
    pub async fn list_properties(&mut self) -> Result<Vec<PmsProperty>, CallError> {
        self.begin()?;
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(
            self.call_timeout,
            api.call_list_properties(&mut self.store, &self.config),
        )
        .await;
        let props = self.finish(out)?.map_err(|e| self.pms_error(e))?;
        let props = props.into_iter().map(Into::into).collect();
        Ok(self.keep(props, None)?.records)
    }

    /// One page of units.
    pub async fn read_units(
        &mut self,
        property: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Unit>, CallError> {
        self.begin()?;
        let cursor = cursor.map(str::to_owned);
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(
            self.call_timeout,
            api.call_read_units(&mut self.store, &self.config, property, cursor.as_ref()),
        )
        .await;
        let page = self.finish(out)?.map_err(|e| self.pms_error(e))?;
        self.keep(
            page.records.into_iter().map(Into::into).collect(),
            page.next,
        )
    }

    /// One page of residents.
    pub async fn read_residents(
        &mut self,
        property: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Resident>, CallError> {
        self.begin()?;
        let cursor = cursor.map(str::to_owned);
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(
            self.call_timeout,
            api.call_read_residents(&mut self.store, &self.config, property, cursor.as_ref()),
        )
        .await;
        let page = self.finish(out)?.map_err(|e| self.pms_error(e))?;
        self.keep(
            page.records.into_iter().map(Into::into).collect(),
            page.next,
        )
    }

    /// One page of leases.
    pub async fn read_leases(
        &mut self,
        property: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Lease>, CallError> {
        self.begin()?;
        let cursor = cursor.map(str::to_owned);
        let api = self.bindings.door_connector_connector();
        let out = tokio::time::timeout(
            self.call_timeout,
            api.call_read_leases(&mut self.store, &self.config, property, cursor.as_ref()),
        )
        .await;
        let page = self.finish(out)?.map_err(|e| self.pms_error(e))?;
        self.keep(
            page.records.into_iter().map(Into::into).collect(),
            page.next,
        )
    }

    /// Every unit of a property, following cursors.
    pub async fn all_units(&mut self, property: &str) -> Result<Vec<Unit>, CallError> {
        let mut out = Vec::new();
        let mut pager = Pager::default();
        while let Some(cursor) = pager.next_cursor() {
            let page = self.read_units(property, cursor.as_deref()).await?;
            self.page_read(epms_model::RecordKind::Units, page.records.len());
            out.extend(page.records);
            pager.advance(page.next)?;
        }
        Ok(out)
    }

    /// Every resident of a property, following cursors.
    pub async fn all_residents(&mut self, property: &str) -> Result<Vec<Resident>, CallError> {
        let mut out = Vec::new();
        let mut pager = Pager::default();
        while let Some(cursor) = pager.next_cursor() {
            let page = self.read_residents(property, cursor.as_deref()).await?;
            self.page_read(epms_model::RecordKind::Residents, page.records.len());
            out.extend(page.records);
            pager.advance(page.next)?;
        }
        Ok(out)
    }

    /// Every lease of a property, following cursors.
    pub async fn all_leases(&mut self, property: &str) -> Result<Vec<Lease>, CallError> {
        let mut out = Vec::new();
        let mut pager = Pager::default();
        while let Some(cursor) = pager.next_cursor() {
            let page = self.read_leases(property, cursor.as_deref()).await?;
            self.page_read(epms_model::RecordKind::Leases, page.records.len());
            out.extend(page.records);
            pager.advance(page.next)?;
        }
        Ok(out)
    }
}

/// Follows a connector's cursors, refusing one that repeats or never ends.
#[derive(Default)]
struct Pager {
    /// `None` before the first page; `Some(None)` once the last page was read.
    next: Option<Option<String>>,
    /// A digest of each cursor seen: a loop is found without keeping the cursors.
    seen: std::collections::HashSet<[u8; 16]>,
    pages: usize,
}

impl Pager {
    /// What remembering one cursor holds (its digest and the set's overhead).
    const SEEN_BYTES: usize = 32;

    fn digest(cursor: &str) -> [u8; 16] {
        use sha2::Digest;
        let full = sha2::Sha256::digest(cursor.as_bytes());
        let mut d = [0u8; 16];
        d.copy_from_slice(&full[..16]);
        d
    }

    /// The cursor of the next page to read (`Some(None)` = the first page), or `None`
    /// when done.
    fn next_cursor(&self) -> Option<Option<String>> {
        match &self.next {
            None => Some(None),
            Some(None) => None,
            Some(Some(c)) => Some(Some(c.clone())),
        }
    }

    fn advance(&mut self, next: Option<String>) -> Result<(), CallError> {
        self.pages += 1;
        if self.pages >= MAX_PAGES {
            return Err(CallError::BadOutput(format!("more than {MAX_PAGES} pages")));
        }
        if let Some(c) = &next
            && !self.seen.insert(Self::digest(c))
        {
            return Err(CallError::BadOutput(format!(
                "cursor {c:?} returned twice: paging would never end"
            )));
        }
        self.next = Some(next);
        Ok(())
    }
}

/// The error of a session that made the host hold more than its budget for `what`.
fn over_budget(limits: &SandboxLimits, what: &str) -> CallError {
    CallError::HostMemory {
        what: format!("{what} would pass the budget"),
        limit_bytes: limits.host_memory_bytes,
    }
}

fn classify_trap(
    store: &Store<HostState>,
    limits: &SandboxLimits,
    error: wasmtime::Error,
) -> CallError {
    let state = store.data();
    if let Some(what) = state.budget.exceeded() {
        return over_budget(limits, what);
    }
    if let Some(wasmtime::component::ResourceTableError::Full) = error.downcast_ref() {
        return CallError::HostMemory {
            what: format!(
                "more than {} host resources (requests, fields, bodies, streams) held at once",
                limits.resources
            ),
            limit_bytes: limits.host_memory_bytes,
        };
    }
    if state.cpu.exceeded {
        return CallError::CpuBudgetExceeded {
            budget: limits.cpu_budget,
        };
    }
    if state.memory.exceeded {
        return CallError::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        };
    }
    let mut message = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    let stderr = state.guest_text(&state.stderr_tail(), limits.field_bytes);
    if !stderr.is_empty() {
        message.push_str("; guest stderr: ");
        message.push_str(&stderr);
    }
    CallError::Trap { message }
}

/// Refuses bytes that are not a component before compiling anything.
fn check_component_header(wasm: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Err(LoadError::NotAComponent(
            "the file is not WebAssembly (no \\0asm header)".into(),
        ));
    }
    // Bytes 4..8: version and layer; layer 1 is a component, layer 0 a core module.
    if wasm[6..8] != [0x01, 0x00] {
        return Err(LoadError::NotAComponent(
            "the file is a core WebAssembly module; build the connector for wasm32-wasip2 so that it is a component".into(),
        ));
    }
    Ok(())
}

/// The contract version a component exports, if this host supports it.
fn contract_version(engine: &Engine, component: &Component) -> Result<String, LoadError> {
    let ty = component.component_type();
    let names: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    let Some(version) = names.iter().find_map(|n| contract::export_version(n)) else {
        return Err(LoadError::MissingContract {
            exports: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        });
    };
    let supported = epms_model::SUPPORTED_CONTRACT_MAJORS;
    match contract::major(version) {
        Some(m) if supported.contains(&m) => Ok(version.to_owned()),
        _ => Err(LoadError::WrongContract {
            found: version.to_owned(),
            supported: supported
                .iter()
                .map(|m| format!("{m}.x"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn validate_info(info: &ConnectorInfo) -> Result<(), LoadError> {
    let bad = |m: String| Err(LoadError::InvalidInfo(m));
    if info.vendor.is_empty()
        || !info
            .vendor
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad(format!(
            "vendor {:?} must be non-empty lower-case letters, digits and dashes",
            info.vendor
        ));
    }
    let mut names = std::collections::HashSet::new();
    for f in &info.config_fields {
        if !names.insert(f.name.as_str()) {
            return bad(format!("config field {:?} declared twice", f.name));
        }
    }
    match info
        .config_fields
        .iter()
        .find(|f| f.name == credential::BASE_URL_FIELD)
    {
        Some(f) if !f.secret => Ok(()),
        Some(_) => bad("the base-url field must not be secret".into()),
        None => bad("no base-url config field: the sandbox needs it to know the PMS host".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_components_from_modules_and_junk() {
        let component = b"\0asm\x0d\x00\x01\x00rest";
        let module = b"\0asm\x01\x00\x00\x00rest";
        assert!(check_component_header(component).is_ok());
        assert!(matches!(
            check_component_header(module),
            Err(LoadError::NotAComponent(m)) if m.contains("core WebAssembly module")
        ));
        assert!(matches!(
            check_component_header(b"PK\x03\x04zipfile"),
            Err(LoadError::NotAComponent(_))
        ));
        assert!(check_component_header(b"").is_err());
    }

    #[test]
    fn pager_stops_on_a_repeated_cursor() {
        let mut p = Pager::default();
        assert_eq!(p.next_cursor(), Some(None));
        p.advance(Some("a".into())).unwrap();
        assert_eq!(p.next_cursor(), Some(Some("a".into())));
        p.advance(Some("b".into())).unwrap();
        assert!(matches!(
            p.advance(Some("a".into())),
            Err(CallError::BadOutput(_))
        ));
        let mut done = Pager::default();
        done.advance(None).unwrap();
        assert_eq!(done.next_cursor(), None);
    }
}
