//! API errors: one JSON shape, `{"error": CODE, "message": TEXT,
//! "request_id": ID}`, with the status code that says what to do. Every
//! response carries its request's id in `X-Request-Id` (the client's, when
//! it sent a sane one); an internal error tells the client only that id,
//! and the log has the detail under it.

use super::bodies::{ErrorBody, ErrorCode};
use crate::service::review::ReviewError;
use crate::service::{StoreError, SubmitError, Unavailable};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `Retry-After` of a `503` while the store's disk is full, in seconds: the
/// store probes itself every second, but space comes back at an
/// operator's pace.
pub const STORE_RETRY_AFTER_S: u64 = 30;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request being handled (set by [`with_request_id`]).
    static REQUEST_ID: String;
}

/// The client's request id if it is sane (1 to 64 letters, digits or
/// `-_.:+/=`, so that it is safe in logs and headers), else a new one.
pub fn request_id(headers: &axum::http::HeaderMap) -> String {
    let sane = |id: &&str| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
    };
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(sane)
        .map_or_else(new_request_id, str::to_string)
}

fn new_request_id() -> String {
    crate::digest::to_hex(&rand::random::<[u8; 12]>())
}

/// Runs the handling of a request with its id in reach of the errors it
/// produces, and puts the id on the response.
pub async fn with_request_id(
    id: String,
    handling: impl std::future::Future<Output = Response>,
) -> Response {
    let mut response = REQUEST_ID.scope(id.clone(), handling).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a bearer token is required (Authorization: Bearer TOKEN)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this route does not take that method; the routes are in /openapi.json")]
    MethodNotAllowed,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the upload is larger than {limit} bytes; reduce it and upload again")]
    TooLarge { limit: u64 },
    #[error("{0}; send the request again")]
    TimedOut(String),
    #[error("the service is busy; retry in {retry_after_s} s")]
    Busy { retry_after_s: u64 },
    /// The store cannot write: a full disk passes (retry), a read-only
    /// file system waits for an operator (do not).
    #[error("{}", match .0 {
        Unavailable::Full => format!("the service cannot store anything now: its disk is full; retry in {STORE_RETRY_AFTER_S} s"),
        Unavailable::ReadOnly => "the service cannot store anything: its storage is read-only until an operator repairs it".to_string(),
    })]
    StoreUnavailable(Unavailable),
    /// The detail is for the log: it may name paths and files.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StoreUnavailable(Unavailable::Full) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StoreUnavailable(Unavailable::ReadOnly) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::TooLarge { .. } => ErrorCode::TooLarge,
            ApiError::TimedOut(_) => ErrorCode::Timeout,
            ApiError::Busy { .. } => ErrorCode::Busy,
            ApiError::StoreUnavailable(Unavailable::Full) => ErrorCode::StorageFull,
            ApiError::StoreUnavailable(Unavailable::ReadOnly) => ErrorCode::StorageReadOnly,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Outside a request's scope (never in the server): an id of its own.
        let request_id = REQUEST_ID
            .try_with(Clone::clone)
            .unwrap_or_else(|_| new_request_id());
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(request_id, error = %detail, "internal error");
                format!("internal error; quote request id {request_id}")
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: self.code(),
            message,
            request_id,
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Busy { retry_after_s } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::StoreUnavailable(Unavailable::Full) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(STORE_RETRY_AFTER_S));
            }
            _ => {}
        }
        response
    }
}

/// `Query`, its rejection in the error body: a `400` that names the
/// parameter that did not parse.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(query)| ApiQuery(query))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.unavailable() {
            Some(cause) => ApiError::StoreUnavailable(cause),
            None => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            // The caller sets the pause; see `uploads`.
            SubmitError::Busy(_) => ApiError::Busy { retry_after_s: 1 },
            SubmitError::BadAccount => ApiError::BadRequest(e.to_string()),
            SubmitError::NoDocuments(_) => ApiError::NotFound(e.to_string()),
            SubmitError::Review(e) => e.into(),
            SubmitError::Store(e) => e.into(),
        }
    }
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotInQueue(_) => ApiError::NotFound(e.to_string()),
            ReviewError::Claimed { .. } | ReviewError::NotClaimant { .. } => {
                ApiError::Conflict(e.to_string())
            }
            ReviewError::NoItems | ReviewError::UnknownItem(_) => {
                ApiError::BadRequest(e.to_string())
            }
            ReviewError::Store(e) => e.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("a worker task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    fn answer(kind: ErrorKind) -> Response {
        let error = StoreError::Upload {
            path: "/srv/intake.db/uploads/ab/abcd".into(),
            cause: Error::from(kind),
        };
        ApiError::from(error).into_response()
    }

    #[test]
    fn a_full_store_is_503_with_retry_after_and_a_read_only_one_507_without() {
        let full = answer(ErrorKind::StorageFull);
        assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            full.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(STORE_RETRY_AFTER_S))
        );
        let read_only = answer(ErrorKind::ReadOnlyFilesystem);
        assert_eq!(read_only.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(read_only.headers().get(header::RETRY_AFTER).is_none());
        // Any other I/O failure stays an internal error, its path unsaid.
        let other = answer(ErrorKind::PermissionDenied);
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
