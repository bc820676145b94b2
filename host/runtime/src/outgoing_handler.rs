//! The `wasi:http/outgoing-handler` a guest links: wasmtime-wasi-http's own, which
//! then lets go of the request's options.
//!
//! `handle` takes its `request-options` by ownership, but wasmtime-wasi-http 48 only
//! reads them and leaves them in the store's resource table. Every request kept one
//! entry, so a session died with a host-memory error once an honest connector had
//! made about as many requests as [`crate::SandboxLimits::resources`].

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host as _;
use wasmtime_wasi_http::p2::bindings::http::types::{
    ErrorCode, Host as _, OutgoingRequest, RequestOptions,
};
use wasmtime_wasi_http::p2::types::HostFutureIncomingResponse;
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// The interface as wasmtime-wasi-http defines it (the guests' `0.2.x` imports resolve
/// to it); a mismatch leaves every connector's import unresolved, which every test that
/// runs a connector sees.
const INTERFACE: &str = "wasi:http/outgoing-handler@0.2.12";

/// Links `wasi:http/outgoing-handler` with the options released after each request.
pub(crate) fn add_to_linker<T: WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.instance(INTERFACE)?.func_wrap(
        "handle",
        |mut store: StoreContextMut<'_, T>,
         (request, options): (Resource<OutgoingRequest>, Option<Resource<RequestOptions>>)| {
            Ok((handle(&mut store.data_mut().http(), request, options)?,))
        },
    )
}

fn handle(
    http: &mut WasiHttpCtxView<'_>,
    request: Resource<OutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> wasmtime::Result<Result<Resource<HostFutureIncomingResponse>, ErrorCode>> {
    let owned = options
        .as_ref()
        .map(|options| Resource::<RequestOptions>::new_own(options.rep()));
    let response = http.handle(request, options);
    if let Some(options) = owned {
        http.table.delete(options)?;
    }
    match response {
        Ok(future) => Ok(Ok(future)),
        Err(error) => Ok(Err(http.convert_error_code(error)?)),
    }
}
