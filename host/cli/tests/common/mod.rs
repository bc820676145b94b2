//! What the binary's end-to-end tests share: the `epms` command, free ports, tokens.
#![allow(dead_code)] // each test binary uses its part

use std::process::Command;

/// The `epms` binary, compiling connectors into `cache`.
pub fn epms(cache: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_epms"));
    cmd.env("EPMS_CACHE_DIR", cache);
    cmd
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The token `epms token create` printed (it must have succeeded).
pub fn created_token(create: &mut Command) -> String {
    let out = create.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
