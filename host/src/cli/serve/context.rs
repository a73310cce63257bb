//! What every handler of the API shares.

use super::limiter::AuthLimiter;
use std::sync::Arc;
use weir::control::registry::Registry;
use weir::control::tenants::Tenant;

/// What every handler shares.
pub struct Api {
    /// The jobs.
    pub registry: Registry,
    /// The tenants.
    pub tenants: Vec<Arc<Tenant>>,
    /// Failed authentications by address.
    pub limiter: AuthLimiter,
    /// The host admin's token digest, if there is an admin.
    pub admin: Option<[u8; 32]>,
    /// Status streams open, per tenant (counted by `stream.rs`).
    pub streams: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}
