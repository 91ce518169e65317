//! `GET /events`: Server-Sent Events for live pages. Each change to a case (see
//! `workers/live.rs`) arrives as `event: change` with `{"case", "action"}`; a comment
//! every 15 s keeps proxies from closing the stream. The pages work without it.

use super::{AppError, CurrentUser, HasRole, State, STAFF};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

const KEEPALIVE: Duration = Duration::from_secs(15);

pub async fn events(st: State, user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let rx = st.live.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
            Ok(Ok(change)) => {
                let data = serde_json::to_string(&change).unwrap_or_default();
                format!("event: change\ndata: {data}\n\n")
            }
            // Fell behind: the page reloads what it shows.
            Ok(Err(RecvError::Lagged(_))) => "event: change\ndata: {}\n\n".to_string(),
            Ok(Err(RecvError::Closed)) => return None,
            Err(_) => ": keep-alive\n\n".to_string(),
        };
        Some((Ok::<_, actix_web::Error>(Bytes::from(chunk)), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Not compressed: a gzip stream would hold events back until its buffer fills.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
