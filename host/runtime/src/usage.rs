//! What each connector (vendor and version) costs the host: calls, faults, wall
//! time, guest CPU and peak memory, across every session so far. `/metrics` shows it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Which connector: its vendor and version (two versions of one vendor may run at
/// once while one is canaried).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginKey {
    pub vendor: String,
    pub version: String,
    /// The component's hash: two builds with one version string (every rebuild of a
    /// componentize-js connector) are told apart.
    pub sha256: String,
}

/// Totals for one connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginUsage {
    pub calls: u64,
    /// Calls that ended in a trap, a deadline or an exhausted budget (not the typed
    /// PMS errors a connector returns).
    pub faults: u64,
    /// Wall time of calls, waits on the PMS included.
    pub call_time: Duration,
    /// Guest CPU time, counted in epoch ticks (the guest was running when a tick
    /// came): coarse, but it is what the CPU budget measures.
    pub cpu_time: Duration,
    /// The largest linear memory one instance reached.
    pub peak_memory_bytes: u64,
}

#[derive(Debug, Default)]
pub struct UsageStats {
    by_plugin: Mutex<BTreeMap<PluginKey, PluginUsage>>,
}

impl UsageStats {
    pub(crate) fn record(
        &self,
        key: &PluginKey,
        faulted: bool,
        call_time: Duration,
        cpu_time: Duration,
        peak_memory_bytes: u64,
    ) {
        let mut all = self.by_plugin.lock().unwrap_or_else(|p| p.into_inner());
        let u = all.entry(key.clone()).or_default();
        u.calls += 1;
        u.faults += u64::from(faulted);
        u.call_time += call_time;
        u.cpu_time += cpu_time;
        u.peak_memory_bytes = u.peak_memory_bytes.max(peak_memory_bytes);
    }

    /// A copy of the totals, by connector.
    pub fn snapshot(&self) -> BTreeMap<PluginKey, PluginUsage> {
        self.by_plugin
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up_per_connector_and_keeps_the_peak() {
        let stats = UsageStats::default();
        let key = |v: &str| PluginKey {
            vendor: "acme".into(),
            version: v.into(),
            sha256: format!("{v}-hash"),
        };
        let ms = Duration::from_millis;
        stats.record(&key("1.0.0"), false, ms(30), ms(10), 2 << 20);
        stats.record(&key("1.0.0"), true, ms(5), ms(0), 1 << 20);
        stats.record(&key("1.1.0"), false, ms(7), ms(0), 3 << 20);
        let all = stats.snapshot();
        assert_eq!(
            all[&key("1.0.0")],
            PluginUsage {
                calls: 2,
                faults: 1,
                call_time: ms(35),
                cpu_time: ms(10),
                peak_memory_bytes: 2 << 20,
            }
        );
        assert_eq!(all[&key("1.1.0")].calls, 1);
    }
}
