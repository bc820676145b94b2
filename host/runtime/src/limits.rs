//! The sandbox's limits: one small value, set by the host's configuration.

use std::time::Duration;

/// Limits applied to every connector call. Defaults suit a 5,000-unit property on a
/// small machine; the host's configuration may change them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Guest CPU time allowed per call, measured in epoch ticks of `epoch_tick`.
    pub cpu_budget: Duration,
    /// Wall-clock time allowed per call, waiting on the network included.
    pub call_timeout: Duration,
    /// Linear memory (and other growable state) allowed per store.
    pub memory_bytes: usize,
    /// Largest response body the host buffers for the guest.
    pub response_body_bytes: usize,
    /// Largest request body the guest may send.
    pub request_body_bytes: usize,
    /// Upper bounds for the guest's own HTTP timeouts (wasmtime's defaults are 600 s).
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub between_bytes_timeout: Duration,
    /// Log lines a store may write before further lines are dropped.
    pub log_lines: usize,
    /// Longest log line kept (bytes); longer lines are cut.
    pub log_line_bytes: usize,
    /// Host memory one session may make the host hold: bodies in flight, the records
    /// read so far, cursors, and the resource table's reservation (see `budget`).
    pub host_memory_bytes: usize,
    /// Host resources (requests, fields, bodies, futures, streams) a guest may hold
    /// at once.
    pub resources: usize,
    /// Longest text a record field, a cursor or an error message may hold (bytes).
    pub field_bytes: usize,
    /// Longest cursor a page may return (bytes).
    pub cursor_bytes: usize,
    /// Wall-clock time a whole session (one sync: every page of every read) may take.
    pub session_timeout: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            cpu_budget: Duration::from_secs(5),
            call_timeout: Duration::from_secs(60),
            memory_bytes: 128 << 20,
            response_body_bytes: 64 << 20,
            request_body_bytes: 4 << 20,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(30),
            between_bytes_timeout: Duration::from_secs(30),
            log_lines: 1_000,
            log_line_bytes: 4_096,
            host_memory_bytes: 256 << 20,
            resources: 256,
            field_bytes: 4_096,
            cursor_bytes: 8_192,
            session_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// How often the engine's epoch advances. A call's CPU budget is counted in these
/// ticks, so budgets are accurate to about one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

impl SandboxLimits {
    /// The CPU budget as a number of epoch ticks (at least one).
    pub fn cpu_budget_ticks(&self) -> u64 {
        (self.cpu_budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    /// What the resource table may hold at most, reserved from the host-memory budget
    /// when a session opens.
    pub fn resource_reservation(&self) -> usize {
        self.resources.saturating_mul(crate::budget::RESOURCE_BYTES)
    }

    /// `requested` bounded by `max`; a missing request gets the maximum.
    pub fn clamp(requested: Option<Duration>, max: Duration) -> Duration {
        requested.map_or(max, |r| r.min(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_budget_counts_whole_ticks_and_never_zero() {
        let mut limits = SandboxLimits {
            cpu_budget: Duration::from_millis(250),
            ..SandboxLimits::default()
        };
        assert_eq!(limits.cpu_budget_ticks(), 25);
        limits.cpu_budget = Duration::from_millis(1);
        assert_eq!(limits.cpu_budget_ticks(), 1);
    }

    #[test]
    fn clamp_bounds_guest_timeouts() {
        let max = Duration::from_secs(30);
        for (requested, expected) in [
            (None, max),
            (Some(Duration::from_secs(600)), max),
            (Some(Duration::from_secs(2)), Duration::from_secs(2)),
        ] {
            assert_eq!(SandboxLimits::clamp(requested, max), expected);
        }
    }
}
