//! Lines into the host's log, tagged with the connector. Never log personal data
//! (names, emails): log counts and ids.

use crate::bindings::door::connector::host::{LogLevel, log as host_log};

fn write(level: LogLevel, message: &str) {
    // Natively (unit tests) there is no host: print instead.
    if cfg!(target_arch = "wasm32") {
        host_log(level, message);
    } else {
        eprintln!("[{level:?}] {message}");
    }
}

pub fn debug(message: &str) {
    write(LogLevel::Debug, message)
}
pub fn info(message: &str) {
    write(LogLevel::Info, message)
}
pub fn warn(message: &str) {
    write(LogLevel::Warn, message)
}
pub fn error(message: &str) {
    write(LogLevel::Error, message)
}
