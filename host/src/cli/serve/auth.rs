//! Who is calling: every request is authenticated before its body is read.
//!
//! - The bearer token's SHA-256 is compared with every tenant's digest in
//!   full (constant time: how long it takes does not say how much of a
//!   digest matched, nor which tenant's).
//! - Failed attempts are counted per source address; past
//!   `auth_max_failures` within `auth_window`, every request from that
//!   address is answered `429 Too Many Requests` until the window has
//!   passed — valid tokens too, or a guess that hit would show. Failures
//!   are logged (the first of a window, and the block).
//! - A request whose declared body is larger than the tenant's upload
//!   quota is refused (`413`) before a byte of it is read; the router's
//!   body limit (the largest quota) bounds bodies that declare no length.
//!
//! The tenant found is handed to the handler as a request extension.

use super::context::Api;
use super::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir::control::tenants::Tenant;

/// Addresses remembered at most (older windows are dropped first), so a
/// flood from many addresses cannot grow the table without end.
const MAX_ADDRESSES: usize = 65_536;

/// Failed authentications per source address.
pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

impl AuthLimiter {
    /// At most `max_failures` failed attempts per address within `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            by_address: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long `ip` must still wait, if it is blocked.
    fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let mut map = self.lock();
        let f = *map.get(&ip)?;
        let passed = f.since.elapsed();
        if passed >= self.window {
            map.remove(&ip);
            return None;
        }
        (f.count >= self.max_failures).then(|| self.window - passed)
    }

    /// Count a failure of `ip`; returns its failures in this window.
    fn fail(&self, ip: IpAddr) -> u32 {
        let mut map = self.lock();
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            let window = self.window;
            map.retain(|_, f| f.since.elapsed() < window);
            if map.len() >= MAX_ADDRESSES
                && let Some(oldest) = map.iter().min_by_key(|(_, f)| f.since).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
        }
        let f = map.entry(ip).or_insert(Failures {
            since: Instant::now(),
            count: 0,
        });
        if f.since.elapsed() >= self.window {
            *f = Failures {
                since: Instant::now(),
                count: 0,
            };
        }
        f.count += 1;
        f.count
    }
}

/// The tenant whose token `headers` carry.
pub fn tenant_of<'a>(
    tenants: &'a [Arc<Tenant>],
    headers: &HeaderMap,
) -> Result<&'a Arc<Tenant>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "no API token: send `Authorization: Bearer <token>` (the CLI takes --token or WEIR_TOKEN)".into(),
            )
        })?;
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(token.trim().as_bytes()).into()
    };
    // Every tenant's digest is compared in full, with no early exit.
    let mut found = None;
    for t in tenants {
        let diff = t
            .token_sha256
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(t);
        }
    }
    found.ok_or_else(|| ApiError::Unauthorized("the API token is not valid".into()))
}

/// The middleware: rate limit, authenticate, bound the body, then hand the
/// tenant to the handler.
pub async fn authenticate(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = peer.ip();
    if let Some(wait) = api.limiter.blocked(ip) {
        return Err(ApiError::TooManyFailures(wait.as_secs().max(1)));
    }
    let tenant = match tenant_of(&api.tenants, request.headers()) {
        Ok(t) => t.clone(),
        Err(e) => {
            let n = api.limiter.fail(ip);
            if n == 1 {
                tracing::warn!(client = %ip, path = %request.uri().path(), "failed authentication: {e}");
            } else if n == api.limiter.max_failures {
                tracing::warn!(
                    client = %ip,
                    "{n} failed authentications within {} s: refusing every request from this address until the window has passed",
                    api.limiter.window.as_secs()
                );
            }
            return Err(e);
        }
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > tenant.quotas.max_upload_bytes
    {
        return Err(ApiError::TooLarge(format!(
            "the request body is {len} bytes, more than tenant `{}` may upload (max_upload = {} bytes)",
            tenant.name, tenant.quotas.max_upload_bytes
        )));
    }
    request.extensions_mut().insert(tenant);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_failures_and_freed_after_the_window() {
        let l = AuthLimiter::new(3, Duration::from_millis(200));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(l.blocked(a).is_none());
            l.fail(a);
        }
        assert!(l.blocked(a).is_some());
        assert!(l.blocked(b).is_none(), "another address is not blocked");
        std::thread::sleep(Duration::from_millis(250));
        assert!(l.blocked(a).is_none());
    }
}
