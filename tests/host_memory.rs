//! The host's own memory under the hostile guest's memory attacks: each ends with its
//! classified error, and the process's peak resident memory during it stays within
//! the session's host-memory budget plus the guest's linear memory (measured from
//! `/proc/self/status`; this file is its own test binary so that no other test's
//! memory is counted). Before the budget, each attack pushed the host past 1 GiB.

use std::time::Duration;

use epms_e2e::{load_hostile, loopback_runtime, start_target};
use epms_runtime::{CallError, SandboxLimits};

/// Each answer of the parallel attack: under the 64 MiB response cap, as in the report.
const BIG_ANSWER: usize = 60_000_000;

/// Peak resident memory since the last [`reset_peak`], and resident memory now, in bytes
/// (`None` where `/proc` is not Linux's).
fn rss() -> Option<(usize, usize)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Makes the kernel's peak (VmHWM) start again from the current resident size.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_stays_within_its_budget_under_every_memory_attack() {
    let Some(_) = rss() else {
        eprintln!("skipped: no /proc/self/status on this system");
        return;
    };
    let limits = SandboxLimits {
        call_timeout: Duration::from_secs(30),
        ..SandboxLimits::default()
    };
    let cache = tempfile::tempdir().unwrap();
    let runtime = loopback_runtime(cache.path(), limits.clone());
    let target = start_target(BIG_ANSWER, Duration::from_secs(1)).await;
    let (hostile, credential) = load_hostile(&runtime, &target.base_url(), "pw").await;
    // Warm up: compiled, instantiated and called once, so that the figures below are
    // the attacks' alone.
    let mut warm = runtime.session(&hostile, &credential).await.unwrap();
    warm.read_units("log-injection", None).await.unwrap();
    drop(warm);

    // The budget, the guest's own memory, and room for what no budget sees: the
    // allocator's retention, per-connection buffers, the test's own server.
    let slack = 128 << 20;
    let bound = limits.host_memory_bytes + limits.memory_bytes + slack;
    let mut report = Vec::new();
    for attack in [
        "many-resources",
        "fat-pages",
        "huge-cursor",
        "huge-field",
        "parallel-bodies",
    ] {
        let can_reset = reset_peak();
        let (_, before) = rss().unwrap();
        let mut session = runtime.session(&hostile, &credential).await.unwrap();
        let result = session.all_units(attack).await;
        let host_peak = session.peak_host_memory();
        drop(session);
        let (peak, _) = rss().unwrap();
        let growth = peak.saturating_sub(before);
        match (attack, &result) {
            (
                "many-resources" | "fat-pages" | "parallel-bodies",
                Err(CallError::HostMemory { .. }),
            ) => {}
            ("huge-cursor", Err(CallError::BadOutput(m))) if m.contains("cursor is") => {}
            ("huge-field", Err(CallError::BadOutput(m)))
                if m.contains("number is 16777216 bytes") => {}
            _ => panic!("{attack}: {result:?}"),
        }
        report.push(format!(
            "{attack:>16}: peak RSS {} MiB (+{} MiB over {} MiB before; budget peak {} MiB){}",
            peak >> 20,
            growth >> 20,
            before >> 20,
            host_peak >> 20,
            if can_reset {
                ""
            } else {
                " [peak not resettable: process-wide peak]"
            }
        ));
        if can_reset {
            assert!(
                growth < bound,
                "{attack}: the host grew by {} MiB, more than the budget ({} MiB) + guest memory ({} MiB) + {} MiB",
                growth >> 20,
                limits.host_memory_bytes >> 20,
                limits.memory_bytes >> 20,
                slack >> 20
            );
        }
        assert!(
            host_peak <= limits.host_memory_bytes,
            "{attack}: {host_peak}"
        );
    }
    eprintln!("host memory under attack:\n{}", report.join("\n"));
}
