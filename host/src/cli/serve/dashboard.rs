//! The dashboard's page and assets, built into the binary (see
//! `host/build.rs` and `dashboard/`), served at `/` without a token: they
//! hold nothing of any tenant's. The page signs in with a tenant's token,
//! kept in the browser's session storage, and reads the API with it.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// `dashboard/dist`'s files: path (relative, `/`-separated) and bytes.
static ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// Shown when the binary was built before the dashboard.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>weir</title>\
<p>This <code>weir</code> was built without its dashboard. Build it with \
<code>bash scripts/dashboard.sh</code> (npm), then <code>cargo build --release -p weir</code> again. \
The REST API (<code>/v1/jobs</code>) and <code>/metrics</code> work without it.";

/// Only these may load: the page's own scripts, styles and API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
form-action 'none'; frame-ancestors 'none'";

/// `/` and `/assets/…`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

fn find(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

async fn index() -> Response {
    let body: Vec<u8> = find("index.html").map_or(NOT_BUILT.as_bytes().to_vec(), <[u8]>::to_vec);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some(bytes) = find(&format!("assets/{file}")) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, mime(&file)),
            // Vite names each asset by a hash of its content.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

fn mime(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, e)| e) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn types_by_extension() {
        assert_eq!(
            super::mime("index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(super::mime("x.css"), "text/css; charset=utf-8");
        assert_eq!(super::mime("x"), "application/octet-stream");
    }
}
