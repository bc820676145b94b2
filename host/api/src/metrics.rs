//! `/metrics` in the Prometheus text format: syncs by outcome, sync durations, open
//! alerts and suggestions by property, last good sync, outbound calls of the sandbox.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use epms_sync::{SyncError, SyncReport};

use crate::AppState;

/// Upper bounds of the sync-duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Counters the service keeps in memory (they restart at zero with the process, as
/// Prometheus counters may).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// (outcome, error code) → syncs.
    syncs: BTreeMap<(&'static str, &'static str), u64>,
    /// Per bucket of `DURATION_BUCKETS`, then +Inf.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    duration_sum: f64,
    duration_count: u64,
}

impl Metrics {
    pub fn record_sync(&self, outcome: &Result<SyncReport, SyncError>, took: Duration) {
        let key = match outcome {
            Ok(r) if r.skipped => ("skipped", ""),
            Ok(_) => ("succeeded", ""),
            Err(e) => ("failed", e.code()),
        };
        let secs = took.as_secs_f64();
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *c.syncs.entry(key).or_default() += 1;
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        c.buckets[bucket] += 1;
        c.duration_sum += secs;
        c.duration_count += 1;
    }
}

/// Label values are quoted; property ids come from administrators.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Per connector (vendor, version): calls, faults, wall time, guest CPU, peak memory.
fn render_plugins(
    out: &mut String,
    usage: &BTreeMap<epms_runtime::PluginKey, epms_runtime::PluginUsage>,
) {
    type Value = fn(&epms_runtime::PluginUsage) -> f64;
    let families: [(&str, &str, &str, Value); 5] = [
        (
            "epms_plugin_calls_total",
            "counter",
            "Calls into connectors.",
            |u| u.calls as f64,
        ),
        (
            "epms_plugin_faults_total",
            "counter",
            "Connector calls ended by a trap, a deadline or an exhausted budget.",
            |u| u.faults as f64,
        ),
        (
            "epms_plugin_call_seconds_total",
            "counter",
            "Wall time of connector calls, waits on the PMS included.",
            |u| u.call_time.as_secs_f64(),
        ),
        (
            "epms_plugin_cpu_seconds_total",
            "counter",
            "Guest CPU time of connector calls (counted in 10 ms epoch ticks).",
            |u| u.cpu_time.as_secs_f64(),
        ),
        (
            "epms_plugin_memory_peak_bytes",
            "gauge",
            "The largest linear memory one connector instance reached.",
            |u| u.peak_memory_bytes as f64,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (key, u) in usage {
            let _ = writeln!(
                out,
                "{name}{{vendor=\"{}\",version=\"{}\",sha256=\"{}\"}} {}",
                escape(&key.vendor),
                escape(&key.version),
                escape(&key.sha256),
                value(u)
            );
        }
    }
}

/// The whole exposition.
pub fn render(state: &AppState) -> Result<String, epms_store::StoreError> {
    let mut out = String::new();
    {
        let c = state
            .metrics
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP epms_syncs_total Syncs finished, by outcome and error code.\n");
        out.push_str("# TYPE epms_syncs_total counter\n");
        for ((outcome, code), n) in &c.syncs {
            let _ = writeln!(
                out,
                "epms_syncs_total{{outcome=\"{outcome}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP epms_sync_duration_seconds Wall time of syncs.\n");
        out.push_str("# TYPE epms_sync_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            cumulative += c.buckets[i];
            let _ = writeln!(
                out,
                "epms_sync_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += c.buckets[DURATION_BUCKETS.len()];
        let _ = writeln!(
            out,
            "epms_sync_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(out, "epms_sync_duration_seconds_sum {}", c.duration_sum);
        let _ = writeln!(out, "epms_sync_duration_seconds_count {}", c.duration_count);
    }

    out.push_str("# HELP epms_open_alerts Open alerts, by property.\n");
    out.push_str("# TYPE epms_open_alerts gauge\n");
    let mut pending = String::new();
    let mut last_ok = String::new();
    for p in state.store.properties()? {
        // A scan of every property: it must not push the ones in use out of the cache.
        let door = state.store.state_for_scan(&p.id)?;
        let id = escape(&p.id);
        let _ = writeln!(
            out,
            "epms_open_alerts{{property=\"{id}\"}} {}",
            door.open_alerts()
        );
        let _ = writeln!(
            pending,
            "epms_pending_suggestions{{property=\"{id}\"}} {}",
            door.suggestions.len()
        );
        if let Some(t) = p.last_sync_ok {
            let _ = writeln!(
                last_ok,
                "epms_last_successful_sync_timestamp_seconds{{property=\"{id}\"}} {t}"
            );
        }
    }
    out.push_str(
        "# HELP epms_pending_suggestions Access suggestions awaiting approval, by property.\n",
    );
    out.push_str("# TYPE epms_pending_suggestions gauge\n");
    out.push_str(&pending);
    out.push_str(
        "# HELP epms_last_successful_sync_timestamp_seconds When the last good sync finished.\n",
    );
    out.push_str("# TYPE epms_last_successful_sync_timestamp_seconds gauge\n");
    out.push_str(&last_ok);

    let o = state.runtime.outbound();
    for (name, help, value) in [
        (
            "epms_outbound_requests_total",
            "Requests connectors sent through the gate.",
            o.requests,
        ),
        (
            "epms_outbound_denied_total",
            "Requests the gate refused (policy).",
            o.denied,
        ),
        (
            "epms_outbound_failed_total",
            "Requests that got no answer.",
            o.failed,
        ),
        (
            "epms_outbound_bytes_sent_total",
            "Bytes connectors sent.",
            o.bytes_sent,
        ),
        (
            "epms_outbound_bytes_received_total",
            "Bytes connectors received.",
            o.bytes_received,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP epms_outbound_seconds_total Time answered requests spent in the gate.\n# TYPE epms_outbound_seconds_total counter\nepms_outbound_seconds_total {}",
        o.nanos as f64 / 1e9
    );
    render_plugins(&mut out, &state.runtime.plugin_usage());
    Ok(out)
}
