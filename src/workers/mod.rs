//! The background jobs beside the server: the outbox sender, the IMAP poller and the
//! SQLite search indexer. Each takes the pool and the few settings it needs (never
//! the web state), runs its database work on blocking threads, and handles failure
//! one way: [`blocking`] logs it with its causes, and the loop backs off and goes on.

pub mod digests;
pub mod indexer;
pub mod live;
pub mod notify;
pub mod outbox;
pub mod poller;
pub mod reanalyze;

use std::error::Error;

/// An error from a job, with its causes.
pub type JobError = Box<dyn Error + Send + Sync>;

/// `error: cause: cause…`, for the log.
pub fn cause_chain(e: &(dyn Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let part = c.to_string();
        if !s.ends_with(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = c.source();
    }
    s
}

/// Runs `f` on a blocking thread (in the caller's span). On failure, logs `what` with
/// the cause chain and returns None: the caller backs off and tries again later.
pub async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, JobError> + Send + 'static,
) -> Option<T> {
    let span = tracing::Span::current();
    let joined = tokio::task::spawn_blocking(move || span.in_scope(f)).await;
    match joined {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %cause_chain(e.as_ref()), "{what}");
            None
        }
        Err(e) => {
            tracing::warn!(error = %cause_chain(&e), "{what}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chains_causes() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(cause_chain(&e), "outer: inner");
    }
}
