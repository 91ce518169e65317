//! The web layer's error type, mapped to an HTTP status once, here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("you do not have permission for this")]
    Forbidden,
    #[error("the form has expired or was not sent from Casebook; reload the page and try again")]
    Csrf,
    #[error("too many failed attempts; try again later")]
    Throttled,
    #[error("payload too large")]
    TooLarge,
    #[error("internal error")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::Csrf => "csrf",
            AppError::Throttled => "throttled",
            AppError::TooLarge => "too_large",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Query(q) => q.into(),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::mail::IngestError> for AppError {
    fn from(e: crate::mail::IngestError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::Throttled => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        // HTML pages get a rendered error page from the `errors` middleware in web/;
        // the body here is JSON, which is what /api callers expect.
        let message = match self {
            AppError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, AppError::Unauthorized) {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        resp.json(serde_json::json!({ "error": self.code(), "message": message }))
    }
}

impl From<crate::bundles::UploadError> for AppError {
    fn from(e: crate::bundles::UploadError) -> Self {
        use crate::bundles::UploadError;
        match e {
            UploadError::NoCase => AppError::NotFound,
            UploadError::Storage(s) => AppError::internal(s),
            UploadError::Db(d) => d.into(),
        }
    }
}

impl From<crate::mail::quarantine::AssignError> for AppError {
    fn from(e: crate::mail::quarantine::AssignError) -> Self {
        use crate::mail::quarantine::AssignError;
        match e {
            AssignError::NoCase => AppError::BadRequest("quarantine.no_case".into()),
            AssignError::Ingest(i) => i.into(),
            AssignError::Storage(s) => AppError::internal(s),
            AssignError::Db(d) => d.into(),
        }
    }
}
