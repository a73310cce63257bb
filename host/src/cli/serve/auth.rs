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

/// Who a request comes from.
#[derive(Clone)]
pub enum Caller {
    /// A tenant: its own jobs.
    Tenant(Arc<Tenant>),
    /// The host admin: every tenant's usage and the host's, no jobs.
    Admin,
}

/// Who the token `headers` carry belongs to: a tenant, or the admin.
pub fn identify(
    tenants: &[Arc<Tenant>],
    admin: Option<&[u8; 32]>,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
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
    // Every digest is compared in full, with no early exit.
    let same = |d: &[u8; 32]| {
        d.iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    };
    let mut found = None;
    for t in tenants {
        if same(&t.token_sha256) {
            found = Some(Caller::Tenant(t.clone()));
        }
    }
    if admin.is_some_and(same) {
        found = Some(Caller::Admin);
    }
    found.ok_or_else(|| ApiError::Unauthorized("the API token is not valid".into()))
}

/// Identify the caller, counting a failure against its address.
fn identify_counted(
    api: &Api,
    ip: std::net::IpAddr,
    request: &Request,
) -> Result<Caller, ApiError> {
    if let Some(wait) = api.limiter.blocked(ip) {
        return Err(ApiError::TooManyFailures(wait.as_secs().max(1)));
    }
    identify(&api.tenants, api.admin.as_ref(), request.headers()).inspect_err(|e| {
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
    })
}

/// The middleware of routes for anyone with a token (`/v1/whoami`, the
/// admin's): rate limit, authenticate, hand the [`Caller`] to the handler.
/// These routes take no body.
pub async fn authenticate_any(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = identify_counted(&api, peer.ip(), &request)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The middleware: rate limit, authenticate, bound the body, then hand the
/// tenant to the handler.
pub async fn authenticate(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tenant = match identify_counted(&api, peer.ip(), &request)? {
        Caller::Tenant(t) => t,
        Caller::Admin => {
            return Err(ApiError::Unauthorized(
                "this is the host admin's token: it reads every tenant's usage (/v1/admin/host), not a tenant's jobs; use the tenant's token".into(),
            ));
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
