//! Errors as HTTP answers: a status and a JSON body `{"error", "detail"}`, plus fields that help the
//! client go on (the offset covered, for example).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// An error answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short machine-readable name (`bad_request`, `not_found`, ...).
    pub error: &'static str,
    /// What went wrong and how to fix it.
    pub detail: String,
    /// More fields of the body.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// An error with `status`, `error` and `detail`.
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.into(),
            extra: Map::new(),
        }
    }

    /// 400: a bad parameter, cursor or key.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// 404: no such path, or no such key.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 410: the snapshot or changes asked for are no longer retained.
    pub fn gone(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, "gone", detail)
    }

    /// 413: the body is larger than the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than the limit of {limit} bytes: post fewer records per request"
            ),
        )
    }

    /// 415: a content type the endpoint does not read.
    pub fn unsupported(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    /// 503: not ready in time (read-your-writes), or the pipeline stopped.
    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 500: the server could not do what it should have.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// Adds a field to the body.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(name.to_string(), value.into());
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), self.error.into());
        body.insert("detail".into(), self.detail.clone().into());
        body.extend(self.extra.clone());
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body().to_string(),
        )
            .into_response()
    }
}
