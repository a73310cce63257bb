//! Logging to the host: lines land in the host's log, tagged with the job and
//! operator that wrote them.

use crate::bindings::weir::dataflow::log::{Level, log};

/// Log at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}
/// Log at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}
/// Log at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
/// Log at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}
