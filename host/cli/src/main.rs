//! `epms`: the host's command line.

mod connector_cmd;
mod demo;
mod service;
mod service_cmd;
mod shipping_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// See the workspace manifest: planning a sync is allocation-bound.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Connectors compiled into this binary.
mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

#[derive(Parser)]
#[command(
    name = "epms",
    version,
    about = "PMS integration host: sandboxed connectors, reconciliation, admin API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tools for connector authors.
    #[command(subcommand)]
    Connector(connector_cmd::ConnectorCommand),
    /// The whole product on a generated portfolio: simulator, setup, first syncs, then the API.
    Demo(demo::DemoArgs),
    /// Serves the admin API and runs scheduled syncs.
    Serve(service_cmd::ConfigArg),
    /// API tokens.
    #[command(subcommand)]
    Token(service_cmd::TokenCommand),
    /// Runs one sync of one property now and prints what it did.
    Sync(service_cmd::SyncArgs),
}

/// Where compiled artefacts are cached unless `--cache-dir` says otherwise.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("EPMS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("epms")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/epms")))
        .unwrap_or_else(|| std::env::temp_dir().join("epms-cache"))
        .join("artefacts")
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The ecosystem's RUST_LOG; EPMS_LOG is kept as an alias. Default: warnings.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("EPMS_LOG"))
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Connector(cmd) => connector_cmd::run(cmd).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Serve(args) => service_cmd::serve(args).await,
            Command::Token(cmd) => service_cmd::token(cmd),
            Command::Sync(args) => service_cmd::sync(args).await,
        }
    })
}
