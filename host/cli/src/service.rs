//! The long-running host: configuration, the store, the bundled connectors, the admin
//! API and the scheduler. `epms serve`, `epms token create` and `epms sync` share it.
//!
//! Configuration is TOML; every key can be overridden by an environment variable
//! named `EPMS_` + the key path in capitals, nested keys joined by `__`
//! (`EPMS_LISTEN`, `EPMS_SCHEDULER__MAX_CONCURRENT`). Without a file the defaults
//! work: API on 127.0.0.1:8080, data in `./epms-data`.
//!
//! Secrets in the store are sealed with a master key kept in `<data_dir>/master.key`
//! (hex, created with mode 0600 on first start). Losing it loses the stored
//! credentials' secrets, nothing else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt as _;
use epms_api::{AppState, SchedulerConfig};
use epms_runtime::signing::{PublicKey, TrustedKeys};
use epms_runtime::{LoadedConnector, NetworkAccess, Runtime, RuntimeConfig, SandboxLimits};
use epms_store::{SecretBox, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `epms.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the admin API listens.
    pub listen: String,
    /// The redb file (unless `store` names another) and the master key live here.
    pub data_dir: PathBuf,
    /// Where the store lives: a `postgres://…` URL for a fleet of hosts on one
    /// database, or a redb file (`redb:<path>`, or a path). Default: `epms.redb` in
    /// `data_dir`. A shared store needs `master_key_file` (the fleet's one key).
    pub store: Option<String>,
    /// This host's name in sync leases and the sync history (default: the machine's
    /// host name and the process id).
    pub host_id: Option<String>,
    /// Compiled-connector cache (default: the user's cache directory).
    pub cache_dir: Option<PathBuf>,
    /// Let connectors reach loopback addresses (a PMS simulator); off in production.
    pub allow_loopback: bool,
    /// The master key sealing stored secrets (default: `master.key` in `data_dir`).
    /// Give every host of a fleet the same file; keep it out of the data directory's
    /// backups.
    pub master_key_file: Option<PathBuf>,
    pub scheduler: SchedulerConfig,
    pub connectors: ConnectorsConfig,
    pub sandbox: SandboxConfig,
    pub webhooks: WebhooksConfig,
}

/// Webhook delivery (`[webhooks]`). Destinations follow the connectors' address rules
/// (`allow_loopback`, `sandbox.allow_private`) and, when set, the allow-list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Deliver from this host (subscriptions are shared by a fleet: each is
    /// delivered by one host at a time).
    pub enabled: bool,
    /// Host names webhooks may reach (`*.example.com` for a domain); empty: any host
    /// the address rules allow.
    pub allowed_hosts: Vec<String>,
    /// Longest wait for a receiver, in seconds (1 to 300).
    pub timeout_seconds: u64,
    /// The first retry's delay in seconds (1 to 3,600); it doubles with each failure
    /// in a row, up to an hour.
    pub retry_base_seconds: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            enabled: true,
            allowed_hosts: Vec::new(),
            timeout_seconds: 10,
            retry_base_seconds: 5,
        }
    }
}

impl Config {
    /// Where webhooks may be delivered.
    pub fn webhook_policy(&self) -> epms_webhooks::DestinationPolicy {
        epms_webhooks::DestinationPolicy {
            network: NetworkAccess {
                allow_loopback: self.allow_loopback,
                allow_private: self.sandbox.allow_private,
            },
            allowed_hosts: self.webhooks.allowed_hosts.clone(),
        }
    }

    fn webhook_dispatch(&self) -> epms_webhooks::DispatcherConfig {
        epms_webhooks::DispatcherConfig {
            policy: self.webhook_policy(),
            timeout: Duration::from_secs(self.webhooks.timeout_seconds),
            retry_base: Duration::from_secs(self.webhooks.retry_base_seconds),
            host_id: host_id(self),
            lease_ttl: Duration::from_secs(self.scheduler.lease_seconds),
            ..epms_webhooks::DispatcherConfig::default()
        }
    }
}

/// The sandbox every connector runs in (`[sandbox]`); the defaults suit a 5,000-unit
/// property on a small machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Let connectors reach private-network addresses (RFC 1918, unique-local,
    /// link-local, carrier-grade NAT): a PMS inside the operator's own network. The
    /// cloud metadata address is link-local, so allow this only where none is reachable.
    pub allow_private: bool,
    /// Guest CPU time per call, in milliseconds (10 to 600,000).
    pub cpu_budget_ms: u64,
    /// Wall-clock time per call, network waits included, in seconds (1 to 3,600).
    pub call_timeout_secs: u64,
    /// Guest memory per sync, in MiB (16 to 4,096).
    pub memory_mib: usize,
    /// Largest answer the host buffers for a connector, in MiB (1 to 1,024).
    pub response_body_mib: usize,
    /// Largest request body a connector may send, in KiB (1 to 65,536).
    pub request_body_kib: usize,
    /// Upper bounds of a connector's own HTTP timeouts, in seconds (1 to 600).
    pub connect_timeout_secs: u64,
    pub first_byte_timeout_secs: u64,
    pub between_bytes_timeout_secs: u64,
    /// Log lines a sync's connector may write before further lines are dropped.
    pub log_lines: usize,
    /// Host memory one sync's connector may make the host hold (answers in flight,
    /// records read, cursors, its resource table), in MiB (32 to 16,384); more than the
    /// largest answer plus the resource table's reservation.
    pub host_memory_mib: usize,
    /// Host resources (requests, headers, bodies, streams) a connector may hold at once
    /// (16 to 4,096); each reserves 64 KiB of the host-memory budget.
    pub resources: usize,
    /// Longest text a record field or an error message may hold, in bytes (256 to 1,048,576).
    pub field_bytes: usize,
    /// Longest next-page cursor, in bytes (256 to 1,048,576).
    pub cursor_bytes: usize,
    /// Wall-clock time a whole sync's reading may take, in seconds (1 to 86,400).
    pub session_timeout_secs: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let d = SandboxLimits::default();
        SandboxConfig {
            allow_private: false,
            cpu_budget_ms: d.cpu_budget.as_millis() as u64,
            call_timeout_secs: d.call_timeout.as_secs(),
            memory_mib: d.memory_bytes >> 20,
            response_body_mib: d.response_body_bytes >> 20,
            request_body_kib: d.request_body_bytes >> 10,
            connect_timeout_secs: d.connect_timeout.as_secs(),
            first_byte_timeout_secs: d.first_byte_timeout.as_secs(),
            between_bytes_timeout_secs: d.between_bytes_timeout.as_secs(),
            log_lines: d.log_lines,
            host_memory_mib: d.host_memory_bytes >> 20,
            resources: d.resources,
            field_bytes: d.field_bytes,
            cursor_bytes: d.cursor_bytes,
            session_timeout_secs: d.session_timeout.as_secs(),
        }
    }
}

impl SandboxConfig {
    /// The limits, once each value is checked against its range.
    pub fn limits(&self) -> anyhow::Result<SandboxLimits> {
        fn within<T: PartialOrd + std::fmt::Display>(
            key: &str,
            v: T,
            min: T,
            max: T,
        ) -> anyhow::Result<T> {
            anyhow::ensure!(
                v >= min && v <= max,
                "sandbox.{key} = {v} is outside {min} to {max}"
            );
            Ok(v)
        }
        let secs = |key: &str, v: u64| within(key, v, 1, 600).map(Duration::from_secs);
        let limits = SandboxLimits {
            cpu_budget: Duration::from_millis(within(
                "cpu_budget_ms",
                self.cpu_budget_ms,
                10,
                600_000,
            )?),
            call_timeout: Duration::from_secs(within(
                "call_timeout_secs",
                self.call_timeout_secs,
                1,
                3_600,
            )?),
            memory_bytes: within("memory_mib", self.memory_mib, 16, 4_096)? << 20,
            response_body_bytes: within("response_body_mib", self.response_body_mib, 1, 1_024)?
                << 20,
            request_body_bytes: within("request_body_kib", self.request_body_kib, 1, 65_536)? << 10,
            connect_timeout: secs("connect_timeout_secs", self.connect_timeout_secs)?,
            first_byte_timeout: secs("first_byte_timeout_secs", self.first_byte_timeout_secs)?,
            between_bytes_timeout: secs(
                "between_bytes_timeout_secs",
                self.between_bytes_timeout_secs,
            )?,
            log_lines: within("log_lines", self.log_lines, 0, 1_000_000)?,
            host_memory_bytes: within("host_memory_mib", self.host_memory_mib, 32, 16_384)? << 20,
            resources: within("resources", self.resources, 16, 4_096)?,
            field_bytes: within("field_bytes", self.field_bytes, 256, 1 << 20)?,
            cursor_bytes: within("cursor_bytes", self.cursor_bytes, 256, 1 << 20)?,
            session_timeout: Duration::from_secs(within(
                "session_timeout_secs",
                self.session_timeout_secs,
                1,
                86_400,
            )?),
            ..SandboxLimits::default()
        };
        let needed = limits.response_body_bytes + limits.resource_reservation();
        anyhow::ensure!(
            limits.host_memory_bytes > needed,
            "sandbox.host_memory_mib = {} leaves no room: the largest answer ({} MiB) and the resource table ({} resources × 64 KiB) need more than {} MiB",
            self.host_memory_mib,
            self.response_body_mib,
            self.resources,
            needed >> 20
        );
        Ok(limits)
    }
}

/// Which uploaded connectors the host accepts (`[connectors]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// Public keys (`epms-ed25519-public …`, as `epms connector keygen` writes them)
    /// whose signatures are accepted. In the environment: comma-separated.
    pub trusted_keys: Vec<String>,
    /// Development only: accept unsigned components.
    pub allow_unsigned: bool,
}

impl ConnectorsConfig {
    pub fn trust(&self) -> anyhow::Result<TrustedKeys> {
        let keys = self
            .trusted_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                PublicKey::parse(k).with_context(|| format!("connectors.trusted_keys[{i}]"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(TrustedKeys {
            keys,
            allow_unsigned: self.allow_unsigned,
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("epms-data"),
            store: None,
            host_id: None,
            cache_dir: None,
            allow_loopback: false,
            master_key_file: None,
            scheduler: SchedulerConfig::default(),
            connectors: ConnectorsConfig::default(),
            sandbox: SandboxConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// Reads `path` (if any), applies the environment's overrides and checks the result.
pub fn load_config(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Config> {
    let mut value: Value = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        }
        None => Value::Object(Default::default()),
    };
    let defaults = serde_json::to_value(Config::default())?;
    apply_env(&defaults, &mut value, "EPMS", &env)?;
    let config: Config = serde_json::from_value(value).context("invalid configuration")?;
    config
        .listen
        .parse::<SocketAddr>()
        .with_context(|| format!("listen = {:?} is not an address:port", config.listen))?;
    config
        .scheduler
        .validate()
        .map_err(|e| anyhow::anyhow!("scheduler: {e}"))?;
    config.connectors.trust()?;
    config.sandbox.limits()?;
    let w = &config.webhooks;
    if !(1..=300).contains(&w.timeout_seconds) {
        anyhow::bail!("webhooks.timeout_seconds must be between 1 and 300");
    }
    if !(1..=3600).contains(&w.retry_base_seconds) {
        anyhow::bail!("webhooks.retry_base_seconds must be between 1 and 3600");
    }
    Ok(config)
}

/// Walks the default configuration's keys; where `PREFIX_KEY` is set, its value
/// replaces the file's, typed like the default (bool, number, else string).
fn apply_env(
    defaults: &Value,
    value: &mut Value,
    prefix: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let (Value::Object(keys), Value::Object(target)) = (defaults, value) else {
        return Ok(());
    };
    for (key, default) in keys {
        let name = format!("{prefix}_{}", key.to_uppercase());
        if default.is_object() {
            let child = target
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Default::default()));
            apply_env(default, child, &format!("{name}_"), env)?;
            continue;
        }
        let Some(raw) = env(&name) else { continue };
        let typed = match default {
            Value::Bool(_) => Value::Bool(
                raw.parse()
                    .with_context(|| format!("{name}={raw:?}: expected true or false"))?,
            ),
            Value::Number(_) => Value::Number(
                raw.parse::<u64>()
                    .with_context(|| format!("{name}={raw:?}: expected a whole number"))?
                    .into(),
            ),
            Value::Array(_) => Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            ),
            _ => Value::String(raw),
        };
        target.insert(key.clone(), typed);
    }
    Ok(())
}

/// Opens the store the configuration names (see [`Config::store`]), with the master
/// key that seals stored secrets: `master_key_file`, or `master.key` in the data
/// directory when none is given and the store is this host's own redb file (keep it
/// elsewhere so that a copy of the data directory alone does not open the secrets). A
/// shared store refuses to start without a key file: each host generating its own
/// would seal secrets that the others cannot open.
///
/// Residents' names and emails live in the store: the data directory is made readable
/// by its owner only (0700) and a redb file 0600.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    let data_dir = config.data_dir.as_path();
    private_dir(data_dir)?;
    let location = config
        .store
        .clone()
        .unwrap_or_else(|| data_dir.join("epms.redb").display().to_string());
    let shared = location.contains("://") && !location.starts_with("redb://");
    let key_path = match (&config.master_key_file, shared) {
        (Some(file), _) => file.clone(),
        (None, false) => data_dir.join("master.key"),
        (None, true) => anyhow::bail!(
            "a shared store needs the fleet's master key: set master_key_file (or EPMS_MASTER_KEY_FILE) to the same key file on every host"
        ),
    };
    let hex = match std::fs::read_to_string(&key_path) {
        Ok(hex) => hex,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !shared => {
            let hex = SecretBox::generate_hex();
            write_private(&key_path, &hex)?;
            hex
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", key_path.display())),
    };
    let secrets = SecretBox::from_hex(hex.trim())
        .with_context(|| format!("{} is not a master key", key_path.display()))?;
    let store = epms_store::port::open(&location, secrets)
        .with_context(|| format!("opening the store {}", redacted(&location)))?;
    if !shared {
        let file = location
            .strip_prefix("redb://")
            .or_else(|| location.strip_prefix("redb:"))
            .unwrap_or(&location);
        owner_only(Path::new(file), 0o600)?;
    }
    Ok(store)
}

/// A store location fit for messages: a URL's password is not shown.
pub fn redacted(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => location.to_owned(),
    }
}

/// This host's name in leases and sync history.
pub fn host_id(config: &Config) -> String {
    config.host_id.clone().unwrap_or_else(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "host".into());
        format!("{name}-{}", std::process::id())
    })
}

/// Creates `dir` if needed and makes it its owner's alone (0700).
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    owner_only(dir, 0o700)
}

/// Sets `path`'s permission bits (a directory made earlier with looser ones, or a file
/// its library created with the process's umask).
fn owner_only(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    let _ = (path, mode);
    Ok(())
}

/// Creates `path` for `text`, readable by its owner only (keys).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The host's shared state: the bundled connectors, then the versions installed
/// through the API (and their activations), with the configured trust.
pub async fn app_state(
    store: Arc<dyn Storage>,
    runtime: Arc<Runtime>,
    connectors: HashMap<String, Arc<LoadedConnector>>,
    config: &Config,
) -> anyhow::Result<AppState> {
    let mut state = AppState::new(store, runtime, connectors);
    state.host_id = host_id(config).into();
    state.lease_ttl = Duration::from_secs(config.scheduler.lease_seconds);
    state.webhook_policy = Arc::new(config.webhook_policy());
    *state.trust.write().unwrap_or_else(|p| p.into_inner()) = config.connectors.trust()?;
    let problems = epms_api::plugins::restore(&state).await?;
    for p in problems {
        eprintln!("epms: warning: {p}");
    }
    Ok(state)
}

/// The sandbox runtime and every connector built into this binary, by vendor.
pub async fn load_connectors(
    config: &Config,
) -> anyhow::Result<(Arc<Runtime>, HashMap<String, Arc<LoadedConnector>>)> {
    let mut runtime_config = RuntimeConfig::new(
        config
            .cache_dir
            .clone()
            .unwrap_or_else(crate::default_cache_dir),
    );
    runtime_config.network = NetworkAccess {
        allow_loopback: config.allow_loopback,
        allow_private: config.sandbox.allow_private,
    };
    runtime_config.limits = config.sandbox.limits()?;
    let runtime = Runtime::new(runtime_config)?;
    let mut connectors = HashMap::new();
    for (package, wasm) in crate::bundled::BUNDLED {
        let c = runtime
            .load_bytes(wasm, package)
            .await
            .with_context(|| format!("loading the bundled connector {package}"))?;
        tracing::info!(vendor = %c.info().vendor, version = %c.info().version, "connector loaded");
        connectors.insert(c.info().vendor.clone(), Arc::new(c));
    }
    Ok((Arc::new(runtime), connectors))
}

/// Binds the API's address (before anything tells a user it is there).
pub async fn bind(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))
}

/// Resolves on Ctrl-C, and on Unix on SIGTERM too (what service managers send). The
/// handlers are registered by this call, not when the future is first polled.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Serves the API on `listener` and runs the scheduler until Ctrl-C or SIGTERM;
/// then lets running syncs end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: &Config,
) -> anyhow::Result<()> {
    // Before anything serves: a signal arriving as soon as the port answers is not lost.
    let stop_requested = stop_signal().context("installing the signal handlers")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = config.scheduler.enabled.then(|| {
        tokio::spawn(epms_api::scheduler::run(
            state.clone(),
            config.scheduler.clone(),
            stopped.clone(),
        ))
    });
    let webhooks = config.webhooks.enabled.then(|| {
        let mut stopping = stopped.clone();
        tokio::spawn(epms_webhooks::run(
            state.store.clone(),
            config.webhook_dispatch(),
            epms_webhooks::dispatcher::system_clock(),
            async move {
                let _ = stopping.wait_for(|s| *s).await;
            },
        ))
    });
    let mut api_stopped = stopped;
    let shutdown = async move {
        let _ = api_stopped.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(
        axum::serve(
            // Answers go out as written, not held back for a delayed ACK.
            listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %e, "could not set TCP_NODELAY");
                }
            }),
            epms_api::app(state),
        )
        .with_graceful_shutdown(shutdown)
        .into_future(),
    );
    stop_requested.await;
    eprintln!("stopping: letting running syncs finish");
    let _ = stop.send(true);
    server.await??;
    if let Some(s) = scheduler {
        s.await?;
    }
    if let Some(w) = webhooks {
        w.await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn no_file_and_no_environment_gives_the_defaults() {
        assert_eq!(load_config(None, env_of(&[])).unwrap(), Config::default());
    }

    #[test]
    fn the_environment_overrides_the_file_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("epms.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/epms\"\n[scheduler]\nmax_concurrent = 2\njitter_percent = 5\n",
        )
        .unwrap();
        let config = load_config(
            Some(&file),
            env_of(&[
                ("EPMS_DATA_DIR", "/srv/epms"),
                ("EPMS_SCHEDULER__MAX_CONCURRENT", "16"),
                ("EPMS_SCHEDULER__ENABLED", "false"),
                ("EPMS_CACHE_DIR", "/tmp/c"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.data_dir, PathBuf::from("/srv/epms"));
        assert_eq!(config.cache_dir, Some(PathBuf::from("/tmp/c")));
        assert_eq!(config.scheduler.max_concurrent, 16);
        assert_eq!(config.scheduler.jitter_percent, 5);
        assert!(!config.scheduler.enabled);
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("epms.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let e = format!("{:#}", load_config(Some(&file), env_of(&[])).unwrap_err());
        assert!(e.contains("lisen"), "{e}");
        let e = format!(
            "{:#}",
            load_config(None, env_of(&[("EPMS_SCHEDULER__MAX_ATTEMPTS", "many")])).unwrap_err()
        );
        assert!(e.contains("EPMS_SCHEDULER__MAX_ATTEMPTS"), "{e}");
        let e = format!(
            "{:#}",
            load_config(None, env_of(&[("EPMS_LISTEN", "nowhere")])).unwrap_err()
        );
        assert!(e.contains("nowhere"), "{e}");
        let e = format!(
            "{:#}",
            load_config(
                None,
                env_of(&[("EPMS_SCHEDULER__DEFAULT_INTERVAL_MINUTES", "1")])
            )
            .unwrap_err()
        );
        assert!(e.contains("default_interval_minutes"), "{e}");
    }

    #[test]
    fn the_sandbox_is_configured_in_its_section_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("epms.toml");
        std::fs::write(&file, "[sandbox]\nallow_private = true\nmemory_mib = 256\n").unwrap();
        let config = load_config(
            Some(&file),
            env_of(&[("EPMS_SANDBOX__CALL_TIMEOUT_SECS", "120")]),
        )
        .unwrap();
        assert!(config.sandbox.allow_private);
        let limits = config.sandbox.limits().unwrap();
        assert_eq!(limits.memory_bytes, 256 << 20);
        assert_eq!(limits.call_timeout, Duration::from_secs(120));
        assert_eq!(
            SandboxConfig::default().limits().unwrap(),
            SandboxLimits::default(),
            "the defaults are the runtime's"
        );
        let e = format!(
            "{:#}",
            load_config(None, env_of(&[("EPMS_SANDBOX__MEMORY_MIB", "1")])).unwrap_err()
        );
        assert!(e.contains("sandbox.memory_mib"), "{e}");
        let e = format!(
            "{:#}",
            load_config(None, env_of(&[("EPMS_SANDBOX__HOST_MEMORY_MIB", "64")])).unwrap_err()
        );
        assert!(
            e.contains("sandbox.host_memory_mib = 64 leaves no room"),
            "the largest answer must fit the host-memory budget: {e}"
        );
        let limits = load_config(
            None,
            env_of(&[
                ("EPMS_SANDBOX__SESSION_TIMEOUT_SECS", "600"),
                ("EPMS_SANDBOX__RESOURCES", "64"),
            ]),
        )
        .unwrap()
        .sandbox
        .limits()
        .unwrap();
        assert_eq!(limits.session_timeout, Duration::from_secs(600));
        assert_eq!(limits.resources, 64);
    }

    #[test]
    fn the_master_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        drop(open_store(&config).unwrap());
        let key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
        drop(open_store(&config).unwrap());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("master.key")).unwrap(),
            key
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// Regression: `epms.redb` was 0644 in a 0755 directory, so any local user could
    /// read residents' names and emails.
    #[cfg(unix)]
    #[test]
    fn the_data_directory_and_database_are_the_owners_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.path().join("elsewhere.key");
        let config = Config {
            data_dir: data.clone(),
            master_key_file: Some(key.clone()),
            ..Config::default()
        };
        drop(open_store(&config).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("epms.redb")), 0o600);
        assert_eq!(mode(&key), 0o600);
        assert!(
            !data.join("master.key").exists(),
            "the key lives where it was told"
        );
        drop(open_store(&config).unwrap());
    }

    #[test]
    fn a_shared_store_needs_the_fleets_key_file_and_never_makes_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            store: Some("postgres://epms:secret@db.invalid/epms".into()),
            ..Config::default()
        };
        let e = open_store(&config).err().unwrap().to_string();
        assert!(e.contains("master_key_file"), "{e}");
        config.master_key_file = Some(dir.path().join("fleet.key"));
        let e = format!("{:#}", open_store(&config).err().unwrap());
        assert!(e.contains("fleet.key"), "{e}");
        assert!(!dir.path().join("fleet.key").exists(), "no key is made up");
        assert!(!dir.path().join("master.key").exists());
        assert_eq!(
            redacted("postgres://epms:secret@db.invalid/epms"),
            "postgres://epms:***@db.invalid/epms"
        );
    }
}
