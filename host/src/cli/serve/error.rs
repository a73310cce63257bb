//! A refused or failed API call, as an HTTP status and a JSON message.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weir::control::admission::AdmissionError;
use weir::control::registry::RegistryError;

/// A refused or failed API call: status code and a message saying what to
/// do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or one no tenant has.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed authentications from this address: wait this many
    /// seconds.
    #[error("too many failed authentications from this address; try again in {0} s")]
    TooManyFailures(u64),
    /// The request body is larger than the tenant may upload.
    #[error("{0}")]
    TooLarge(String),
    /// No such job for this tenant.
    #[error("no job `{0}` (`weir list` shows your jobs)")]
    NotFound(String),
    /// The job is in a state that does not allow the call.
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or the job or component is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Over a quota of the tenant.
    #[error("{0}")]
    Quota(String),
    /// A valid token that may not do this (a tenant's on the admin's
    /// routes).
    #[error("{0}")]
    Forbidden(String),
    /// The job did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// A failure of the host.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Quota(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if let ApiError::TooManyFailures(secs) = self
            && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::Quota(_)
            | AdmissionError::Forbidden { .. }
            | AdmissionError::Kafka(_) => ApiError::Quota(e.to_string()),
            AdmissionError::Io { .. } => ApiError::Internal(e.to_string()),
            AdmissionError::Body(_)
            | AdmissionError::Parse(_)
            | AdmissionError::Invalid(_)
            | AdmissionError::Served { .. }
            | AdmissionError::Upload { .. } => ApiError::Invalid(e.to_string()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Running(_) => ApiError::Conflict(e.to_string()),
            RegistryError::TooMany { .. } => ApiError::Quota(e.to_string()),
            RegistryError::Io { .. } => ApiError::Internal(e.to_string()),
        }
    }
}
