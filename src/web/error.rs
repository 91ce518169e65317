//! The web layer's error type: where every domain error meets HTTP, once.
//!
//! What a person reads is always a catalog key with its parameters ([`Msg`]); the
//! cause of a 5xx stays chained for the log and is never shown.

use crate::i18n::Msg;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A refusal the user can act on.
    #[error("{0}")]
    BadRequest(Msg),
    #[error("authentication required")]
    Unauthorized,
    #[error("you do not have permission for this")]
    Forbidden,
    #[error("the form has expired or was not sent from Casebook")]
    Csrf,
    #[error("too many failed attempts; try again later")]
    Throttled,
    #[error("payload too large")]
    TooLarge,
    #[error("internal error")]
    Internal(#[source] Cause),
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

    /// A refusal named by a catalog key.
    pub fn bad_request(key: &'static str) -> Self {
        AppError::BadRequest(Msg::new(key))
    }

    /// A failure of ours, with its cause kept for the log.
    pub fn internal(e: impl Into<Cause>) -> Self {
        AppError::Internal(e.into())
    }

    /// What the reader is told, as a catalog message.
    pub fn message(&self) -> Msg {
        match self {
            AppError::BadRequest(m) => m.clone(),
            AppError::Csrf => Msg::new("error.csrf"),
            other => Msg::new(match other.status_code().as_u16() {
                401 => "error.401",
                403 => "error.403",
                404 => "error.404",
                413 => "error.413",
                429 => "error.429",
                _ => "error.500",
            }),
        }
    }

    /// The cause chain of an internal error, for the log.
    pub fn cause_chain(&self) -> String {
        let mut out = String::new();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
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

    /// JSON, which /api callers expect; HTML pages are rendered from this error by
    /// the `error_pages` middleware in the reader's language.
    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(_) = self {
            tracing::error!(cause = %self.cause_chain(), "internal error");
        }
        let msg = self.message();
        let params: serde_json::Map<String, serde_json::Value> = msg
            .params
            .iter()
            .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(v.as_str())))
            .collect();
        let mut resp = HttpResponse::build(self.status_code());
        if matches!(self, AppError::Unauthorized) {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        resp.json(serde_json::json!({
            "error": self.code(),
            "message": msg.to_string(),
            "key": msg.key,
            "params": params,
        }))
    }
}

// ---- Domain errors, mapped once ----

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::internal(other),
        }
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Query(q) => q.into(),
            other => AppError::internal(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        AppError::internal(e)
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(e)
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<crate::storage::StorageError> for AppError {
    fn from(e: crate::storage::StorageError) -> Self {
        AppError::internal(e)
    }
}

impl From<crate::mail::IngestError> for AppError {
    fn from(e: crate::mail::IngestError) -> Self {
        AppError::internal(e)
    }
}

impl From<crate::mail::ingest::group::GroupError> for AppError {
    fn from(e: crate::mail::ingest::group::GroupError) -> Self {
        use crate::mail::ingest::group::GroupError;
        match e {
            GroupError::Busy => AppError::Throttled,
            other => AppError::internal(other),
        }
    }
}

impl From<crate::cases::workflow::WorkflowError> for AppError {
    fn from(e: crate::cases::workflow::WorkflowError) -> Self {
        use crate::cases::workflow::WorkflowError;
        use crate::mail::outbound::OutboundError;
        match e {
            WorkflowError::Invalid(k) => AppError::bad_request(k),
            WorkflowError::NotFound => AppError::NotFound,
            WorkflowError::Mail(OutboundError::Address(a)) => {
                AppError::BadRequest(Msg::new("workflow.invalid_address").with("address", a))
            }
            WorkflowError::Mail(OutboundError::NoRecipient) => {
                AppError::bad_request("workflow.no_recipient")
            }
            WorkflowError::Db(d) => d.into(),
            other => AppError::internal(other),
        }
    }
}

impl From<crate::cases::canned::CannedError> for AppError {
    fn from(e: crate::cases::canned::CannedError) -> Self {
        use crate::cases::canned::CannedError;
        match e {
            CannedError::Invalid(m) => AppError::BadRequest(m),
            CannedError::NotFound => AppError::NotFound,
            CannedError::Forbidden => AppError::Forbidden,
            CannedError::Db(e) => e.into(),
        }
    }
}

impl From<crate::reports::views::ViewError> for AppError {
    fn from(e: crate::reports::views::ViewError) -> Self {
        use crate::reports::views::ViewError;
        match e {
            ViewError::Invalid(m) => AppError::BadRequest(m),
            ViewError::Db(e) => e.into(),
        }
    }
}

impl From<crate::cases::merge::MergeError> for AppError {
    fn from(e: crate::cases::merge::MergeError) -> Self {
        use crate::cases::merge::MergeError;
        match e {
            MergeError::Invalid(k) => AppError::bad_request(k),
            MergeError::NotFound => AppError::NotFound,
            MergeError::Db(d) => d.into(),
            other => AppError::internal(other),
        }
    }
}

impl From<crate::mailboxes::MailboxError> for AppError {
    fn from(e: crate::mailboxes::MailboxError) -> Self {
        use crate::mailboxes::MailboxError as E;
        match e {
            E::Db(d) => d.into(),
            E::NotFound(_) => AppError::NotFound,
            E::Ingest(i) => i.into(),
            E::Pool(_) => AppError::internal(e),
            E::Invalid(detail) => {
                AppError::BadRequest(Msg::new("mailboxes.error.invalid").with("detail", detail))
            }
            E::Exists(name) => {
                AppError::BadRequest(Msg::new("mailboxes.error.exists").with("name", name))
            }
            E::Password(detail) => {
                AppError::BadRequest(Msg::new("mailboxes.error.password").with("detail", detail))
            }
            // Connection, TLS, login, folder and IMAP failures: the server's own words.
            other => AppError::BadRequest(Msg::new("mailboxes.error.server").with("detail", other)),
        }
    }
}

impl From<crate::auth::users::UserError> for AppError {
    fn from(e: crate::auth::users::UserError) -> Self {
        use crate::auth::users::UserError as E;
        match e {
            E::Exists => AppError::bad_request("admin.error.exists"),
            E::BadEmail => AppError::bad_request("admin.error.email"),
            E::BadName => AppError::bad_request("admin.error.name"),
            E::WeakPassword => AppError::bad_request("admin.error.password"),
            E::NotFound => AppError::NotFound,
            E::Db(d) => d.into(),
            E::Hash(_) => AppError::internal(e),
        }
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
            AssignError::NoCase => AppError::bad_request("quarantine.no_case"),
            AssignError::Ingest(i) => i.into(),
            AssignError::Storage(s) => AppError::internal(s),
            AssignError::Db(d) => d.into(),
        }
    }
}

impl From<crate::bundles::thumbnail::ThumbError> for AppError {
    fn from(e: crate::bundles::thumbnail::ThumbError) -> Self {
        use crate::bundles::thumbnail::ThumbError as E;
        match e {
            E::NotAnImage(_) => AppError::NotFound,
            E::Read(r) => r.into(),
            other => AppError::internal(other),
        }
    }
}

impl From<crate::bundles::stored::ReadError> for AppError {
    fn from(e: crate::bundles::stored::ReadError) -> Self {
        use crate::bundles::stored::ReadError as E;
        match e {
            E::NotFound => AppError::NotFound,
            E::Refused => AppError::bad_request("bundle.refused"),
            E::Entry(r) => {
                AppError::BadRequest(Msg::new("bundle.refused_because").with("reason", r))
            }
            E::Storage(s) => AppError::internal(s),
            E::Db(d) => d.into(),
        }
    }
}

impl From<crate::mail::ingest::proposal::ProposalError> for AppError {
    fn from(e: crate::mail::ingest::proposal::ProposalError) -> Self {
        use crate::mail::ingest::proposal::ProposalError as E;
        match e {
            E::NotFound => AppError::NotFound,
            E::Forbidden => AppError::Forbidden,
            E::Db(d) => d.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_and_hide_it() {
        let io = std::io::Error::other("disk on fire");
        let e = AppError::internal(io);
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(e.cause_chain().contains("disk on fire"));
        assert_eq!(e.message().key, "error.500");
    }

    #[test]
    fn refusals_are_catalog_messages() {
        let e = AppError::BadRequest(Msg::new("workflow.invalid_address").with("address", "x@"));
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert!(e.message().render(crate::i18n::Lang::Zh).contains("x@"));
    }
}
