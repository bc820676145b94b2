//! What a connector's store holds: the WASI and HTTP contexts, the outbound gate, and
//! the meters that tell a trap's cause (CPU, memory) after the fact.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::contract::v1;
use crate::gate::OutboundGate;
use crate::limits::SandboxLimits;

/// Bytes of guest stderr kept (a panic message, mostly).
const STDERR_BYTES: usize = 16 * 1024;

pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) gate: OutboundGate,
    pub(crate) memory: MemoryMeter,
    pub(crate) cpu: CpuMeter,
    pub(crate) log: LogSink,
    stderr: MemoryOutputPipe,
}

impl HostState {
    pub(crate) fn new(gate: OutboundGate, limits: &SandboxLimits, vendor: String) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        // No preopens, no environment, no arguments, no sockets, no inherited stdio:
        // the only way out is wasi:http through the gate.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
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
        }
    }

    /// The end of what the guest wrote to stderr, for a trap's message.
    pub(crate) fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        let start = text.char_indices().rev().nth(1_999).map_or(0, |(i, _)| i);
        text[start..].to_owned()
    }
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
        let mut end = message.len().min(sink.line_bytes);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let message = &message[..end];
        let vendor = sink.vendor.as_str();
        match level {
            v1::LogLevel::Trace => tracing::trace!(connector = vendor, "{message}"),
            v1::LogLevel::Debug => tracing::debug!(connector = vendor, "{message}"),
            v1::LogLevel::Info => tracing::info!(connector = vendor, "{message}"),
            v1::LogLevel::Warn => tracing::warn!(connector = vendor, "{message}"),
            v1::LogLevel::Error => tracing::error!(connector = vendor, "{message}"),
        }
    }
}
