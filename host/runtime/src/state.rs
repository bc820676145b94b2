//! What a connector's store holds: the WASI and HTTP contexts, the outbound gate, and
//! the meters that tell a trap's cause (CPU, memory) after the fact.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use std::sync::Arc;

use crate::budget::{Charge, HostBudget, RESOURCE_BYTES};
use crate::contract::v1;
use crate::gate::OutboundGate;
use crate::limits::SandboxLimits;

/// Bytes of guest stderr kept (a panic message, mostly).
const STDERR_BYTES: usize = 16 * 1024;

/// What stands for guest text that held a secret.
pub(crate) const WITHHELD: &str = "[withheld: the text held a secret of this credential]";

pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) gate: OutboundGate,
    pub(crate) memory: MemoryMeter,
    pub(crate) cpu: CpuMeter,
    pub(crate) log: LogSink,
    stderr: MemoryOutputPipe,
    pub(crate) budget: Arc<HostBudget>,
    /// The resource table's worst case, held for the session's life.
    _resources: Charge,
}

impl HostState {
    pub(crate) fn new(
        gate: OutboundGate,
        limits: &SandboxLimits,
        vendor: String,
        budget: Arc<HostBudget>,
        resources: Charge,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        // No preopens, no environment, no arguments, no sockets, no inherited stdio:
        // the only way out is wasi:http through the gate.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(RESOURCE_BYTES);
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources);
        HostState {
            wasi,
            http,
            table,
            gate,
            memory: MemoryMeter {
                limit: limits.memory_bytes,
                exceeded: false,
                peak: 0,
            },
            cpu: CpuMeter {
                budget_ticks: limits.cpu_budget_ticks(),
                ticks: 0,
                exceeded: false,
            },
            log: LogSink {
                vendor,
                lines_left: limits.log_lines,
                line_bytes: limits.log_line_bytes,
                dropped: 0,
            },
            stderr,
            budget,
            _resources: resources,
        }
    }

    /// The end of what the guest wrote to stderr, for a trap's message (pass it through
    /// [`Self::guest_text`]: it reaches logs and the API).
    pub(crate) fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        let start = text.char_indices().rev().nth(1_999).map_or(0, |(i, _)| i);
        text[start..].to_owned()
    }

    /// Text a guest wrote, as the host may keep it (in logs, errors, the sync
    /// history): cut to `max_bytes`, control characters escaped, and withheld whole if
    /// it holds a secret of the credential in any form the scanner knows.
    pub(crate) fn guest_text(&self, text: &str, max_bytes: usize) -> String {
        let mut end = text.len().min(max_bytes);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text[..end];
        if self.gate.holds_secret(text.as_bytes()) {
            return WITHHELD.to_owned();
        }
        escape_control(text)
    }
}

/// `text` with every control character (C0, DEL, C1) and every character that moves or
/// reorders lines (U+2028, U+2029, bidirectional overrides) written as an escape
/// (`\n`, `\u{202e}`), so that text a guest wrote stays on one line and reads as
/// written.
pub fn escape_control(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

/// Guest CPU time of the current call, in epoch ticks.
pub(crate) struct CpuMeter {
    pub budget_ticks: u64,
    pub ticks: u64,
    pub exceeded: bool,
}

/// Caps memory growth and remembers whether the cap was hit.
pub(crate) struct MemoryMeter {
    pub limit: usize,
    pub exceeded: bool,
    pub peak: usize,
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            // Trap rather than let the guest see a failed grow: a Rust guest would
            // abort anyway, and a trap names the cause.
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes reached (wanted {desired})",
                self.limit
            ));
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The guest's log lines, into `tracing`, bounded.
pub(crate) struct LogSink {
    vendor: String,
    lines_left: usize,
    line_bytes: usize,
    pub dropped: u64,
}

impl v1::door::connector::host::Host for HostState {
    fn log(&mut self, level: v1::LogLevel, message: String) {
        let sink = &mut self.log;
        if sink.lines_left == 0 {
            sink.dropped += 1;
            return;
        }
        sink.lines_left -= 1;
        // Guest text is a field, never the format, and its control characters are
        // escaped: a newline in it cannot forge a host log line.
        let guest = self.guest_text(&message, self.log.line_bytes);
        let vendor = self.log.vendor.as_str();
        match level {
            v1::LogLevel::Trace => tracing::trace!(connector = vendor, %guest, "connector log"),
            v1::LogLevel::Debug => tracing::debug!(connector = vendor, %guest, "connector log"),
            v1::LogLevel::Info => tracing::info!(connector = vendor, %guest, "connector log"),
            v1::LogLevel::Warn => tracing::warn!(connector = vendor, %guest, "connector log"),
            v1::LogLevel::Error => tracing::error!(connector = vendor, %guest, "connector log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_control;

    #[test]
    fn guest_text_cannot_break_or_reorder_a_log_line() {
        assert_eq!(escape_control("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            escape_control("ok\n2026-12-01T00:00:00Z ERROR epms: forged\r\x1b[31m"),
            "ok\\n2026-12-01T00:00:00Z ERROR epms: forged\\r\\u{1b}[31m"
        );
        assert_eq!(
            escape_control("a\u{2028}b\u{202e}c"),
            "a\\u{2028}b\\u{202e}c"
        );
        assert!(
            !escape_control("x\u{85}y").contains('\u{85}'),
            "C1 next-line"
        );
    }
}
