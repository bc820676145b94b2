//! What can go wrong loading a connector or calling it.

use std::path::PathBuf;
use std::time::Duration;

use epms_model::ConnectorError;

/// Why a component could not become a usable connector.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("component failed to compile: {0}")]
    Compile(String),
    #[error(
        "component does not export `door:connector/connector` (exports: {exports}); it was not built against the connector contract"
    )]
    MissingContract { exports: String },
    #[error("component was built for connector contract {found}; this host supports {supported}")]
    WrongContract { found: String, supported: String },
    #[error("component does not implement contract {version}: {detail}")]
    MissingExport { version: String, detail: String },
    #[error("component imports something the sandbox does not offer: {0}")]
    UnsatisfiedImport(String),
    #[error("component's info is invalid: {0}")]
    InvalidInfo(String),
    #[error("component failed while describing itself: {0}")]
    Info(#[source] CallError),
    #[error("vendor {vendor:?} is already provided by {existing}")]
    DuplicateVendor { vendor: String, existing: String },
}

/// Why one call into a connector failed. Every variant but `Connector` is the
/// connector's own fault (or a limit it hit); `Connector` is the PMS's answer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("connector used more than its CPU budget of {budget:?}")]
    CpuBudgetExceeded { budget: Duration },
    #[error("connector call did not finish within {timeout:?}")]
    Deadline { timeout: Duration },
    #[error("connector exceeded its memory limit of {limit_bytes} bytes")]
    OutOfMemory { limit_bytes: usize },
    /// The guest made the host hold too much on its behalf (see `budget`).
    #[error(
        "connector made the host hold too much: {what} (host-memory budget {limit_bytes} bytes)"
    )]
    HostMemory { what: String, limit_bytes: usize },
    #[error("the session did not finish within {timeout:?} (every page of every read)")]
    SessionDeadline { timeout: Duration },
    #[error("connector trapped: {message}")]
    Trap { message: String },
    #[error("connector broke the contract: {0}")]
    BadOutput(String),
    #[error("this connector instance failed earlier and cannot be called again")]
    Poisoned,
    #[error("invalid credential: {0}")]
    Credential(String),
    #[error("host error: {0}")]
    Host(String),
}

impl CallError {
    /// A stable code for logs, metrics and API problem types.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::Connector(e) => e.code(),
            CallError::CpuBudgetExceeded { .. } => "cpu-budget",
            CallError::Deadline { .. } => "deadline",
            CallError::OutOfMemory { .. } | CallError::HostMemory { .. } => "out-of-memory",
            CallError::SessionDeadline { .. } => "deadline",
            CallError::Trap { .. } => "trap",
            CallError::BadOutput(_) => "bad-output",
            CallError::Poisoned => "poisoned",
            CallError::Credential(_) => "credential",
            CallError::Host(_) => "host",
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            CallError::Connector(e) => e.is_retryable(),
            CallError::Deadline { .. } | CallError::SessionDeadline { .. } => true,
            _ => false,
        }
    }

    /// The PMS's `Retry-After`, when the connector reported one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Connector(ConnectorError::RateLimited {
                retry_after_seconds: Some(s),
                ..
            }) => Some(Duration::from_secs(u64::from(*s))),
            _ => None,
        }
    }
}
