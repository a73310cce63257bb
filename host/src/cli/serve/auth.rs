//! Who is calling: every request is authenticated before its body is read.
//!
//! - The bearer token's SHA-256 is compared with every tenant's digest in
//!   full (constant time: how long it takes does not say how much of a
//!   digest matched, nor which tenant's).
//! - Failed attempts are counted per source address
//!   ([`super::limiter::AuthLimiter`]);
//!   past `auth_max_failures` within `auth_window`, every request from that
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
use std::net::SocketAddr;
use std::sync::Arc;
use weir::control::tenants::Tenant;

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
