//! API errors: JSON `{"error": {"code", "message"}}` with the matching status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `unauthorized`.
    pub code: &'static str,
    /// For people; never holds secrets or internals.
    pub message: String,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed or a value is out of range.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: valid credentials without the right.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: clashes with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 405: the path does not take this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// 415: the body is not in a type the endpoint reads.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// Any other status, with a code derived from it (`request_timeout`, ...).
    pub fn other(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            408 => "request_timeout",
            500 => "internal",
            503 => "unavailable",
            s if s < 500 => "client_error",
            _ => "server_error",
        };
        Self::new(status, code, message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {retry_after} s"),
            )
        }
    }

    /// 500; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }

    /// 503: a dependency (the database) is unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl From<dmarc_store::StoreError> for ApiError {
    fn from(e: dmarc_store::StoreError) -> Self {
        match e {
            dmarc_store::StoreError::Timeout => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the query ran longer than the server allows and was stopped; narrow the \
                 period or the filters",
            ),
            dmarc_store::StoreError::Conflict(message) => ApiError::conflict(message),
            e @ dmarc_store::StoreError::NotFound(_) => ApiError::not_found(e.to_string()),
            e => ApiError::internal(&e),
        }
    }
}

impl From<crate::jobs::JobError> for ApiError {
    fn from(e: crate::jobs::JobError) -> Self {
        match e {
            crate::jobs::JobError::Store(e) => e.into(),
            e => ApiError::internal(&e),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The error of an [`ErrorBody`].
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `unauthorized`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        });
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dmarc\""),
            );
        }
        response
    }
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<crate::credentials::CredentialError> for ApiError {
    fn from(e: crate::credentials::CredentialError) -> Self {
        if e.is_policy() {
            ApiError::bad_request(e.to_string())
        } else {
            ApiError::internal(&e)
        }
    }
}

/// The error answers of an expensive read (lists, rollups): a bad parameter, no valid
/// credentials, too many reads of the caller at once, the time limit.
#[derive(Debug, utoipa::IntoResponses)]
pub enum ReadErrors {
    /// 400.
    #[response(
        status = 400,
        description = "A parameter or the body is invalid (the message names it)"
    )]
    BadRequest(ErrorBody),
    /// 401.
    #[response(status = 401, description = "No valid access token or API key")]
    Unauthorized(ErrorBody),
    /// 429.
    #[response(
        status = 429,
        description = "Rate limited, or too many expensive requests of this user at once; see Retry-After"
    )]
    TooMany(ErrorBody),
    /// 503.
    #[response(
        status = 503,
        description = "The query ran longer than the time limit and was stopped"
    )]
    Timeout(ErrorBody),
}

/// The error answers of an export: those of [`ReadErrors`], and 403 below the analyst role.
#[derive(Debug, utoipa::IntoResponses)]
pub enum ExportErrors {
    /// 400.
    #[response(
        status = 400,
        description = "A parameter or the body is invalid (the message names it)"
    )]
    BadRequest(ErrorBody),
    /// 401.
    #[response(status = 401, description = "No valid access token or API key")]
    Unauthorized(ErrorBody),
    /// 403.
    #[response(
        status = 403,
        description = "The caller's role (or an API key) may not do this"
    )]
    Forbidden(ErrorBody),
    /// 429.
    #[response(
        status = 429,
        description = "Rate limited, or too many expensive requests of this user at once; see Retry-After"
    )]
    TooMany(ErrorBody),
    /// 503.
    #[response(
        status = 503,
        description = "The query ran longer than the time limit and was stopped"
    )]
    Timeout(ErrorBody),
}

/// The error answers of an operation without parameters reserved to a role: no valid
/// credentials, or not the role.
#[derive(Debug, utoipa::IntoResponses)]
pub enum AdminErrors {
    /// 401.
    #[response(status = 401, description = "No valid access token or API key")]
    Unauthorized(ErrorBody),
    /// 403.
    #[response(
        status = 403,
        description = "The caller's role (or an API key) may not do this"
    )]
    Forbidden(ErrorBody),
}

/// The error answers of a change reserved to a role, with a JSON body: those of
/// [`AdminErrors`], and a body that is invalid, too large or not JSON.
#[derive(Debug, utoipa::IntoResponses)]
pub enum ChangeErrors {
    /// 400.
    #[response(
        status = 400,
        description = "A parameter or the body is invalid (the message names it)"
    )]
    BadRequest(ErrorBody),
    /// 401.
    #[response(status = 401, description = "No valid access token or API key")]
    Unauthorized(ErrorBody),
    /// 403.
    #[response(
        status = 403,
        description = "The caller's role (or an API key) may not do this"
    )]
    Forbidden(ErrorBody),
    /// 413.
    #[response(status = 413, description = "The body is larger than its limit")]
    TooLarge(ErrorBody),
    /// 415.
    #[response(
        status = 415,
        description = "The body is not JSON (Content-Type: application/json)"
    )]
    NotJson(ErrorBody),
}
