//! The operator's `config` table from the job file.
//!
//! Configuration is immutable for the life of an instance, so keeping it in
//! the guest is not "state": the host passes it again to every new instance.

use crate::Error;
use crate::bindings::weir::dataflow::types::OperatorError;
use serde::de::DeserializeOwned;
use std::sync::OnceLock;

static CONFIG: OnceLock<String> = OnceLock::new();

/// Keep the operator's config (a second init, which the host never does,
/// keeps the first).
pub(crate) fn store(config: String) {
    let _ = CONFIG.set(config);
}

/// Called by the generated `init` export.
pub fn init(config: String) -> Result<(), OperatorError> {
    store(config);
    // Guests have no stderr unless granted: report panics through the host's
    // log, which attaches the last error line to the trap it reports.
    std::panic::set_hook(Box::new(|info| {
        crate::log::error(&format!("panicked: {info}"))
    }));
    Ok(())
}

/// The operator's `config` table from the job file, deserialized.
///
/// ```no_run
/// #[derive(serde::Deserialize)]
/// struct Cfg { threshold: f64 }
/// # fn f() -> Result<(), weir_guest::Error> {
/// let cfg: Cfg = weir_guest::config()?;
/// # let _ = cfg.threshold;
/// # Ok(())
/// # }
/// ```
pub fn config<T: DeserializeOwned>() -> Result<T, Error> {
    let raw = CONFIG.get().map(String::as_str).unwrap_or("{}");
    serde_json::from_str(raw).map_err(|e| Error::msg(format_args!("operator config: {e}")))
}
