//! R&D's queue: escalations waiting for an answer, oldest first.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::{run, Page, State};
use super::{HasRole, STAFF};
use crate::cases::EscalationStatus;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "escalations/queue.html")]
struct QueuePage {
    page: Page,
    waiting: Vec<crate::cases::rnd_queue::EscalationRow>,
    needs_info: Vec<crate::cases::rnd_queue::EscalationRow>,
}

pub async fn queue(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let hours = st.settings.escalation_overdue_hours;
    let (waiting, needs_info) = run(&st, move |c, _| -> Result<_, AppError> {
        Ok((
            crate::cases::rnd_queue::load(c, &[EscalationStatus::Open], hours, crate::now())?,
            crate::cases::rnd_queue::load(c, &[EscalationStatus::NeedsInfo], hours, crate::now())?,
        ))
    })
    .await?;
    html(&QueuePage {
        page: Page::new(&req, &st, Some(user.0)),
        waiting,
        needs_info,
    })
}

/// `GET /api/escalations`: open and needs-info escalations, oldest first.
pub async fn queue_json(st: State, user: super::ApiUser) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let hours = st.settings.escalation_overdue_hours;
    let list = super::run(&st, move |c, _| {
        crate::cases::rnd_queue::load(
            c,
            &[EscalationStatus::Open, EscalationStatus::NeedsInfo],
            hours,
            crate::now(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "escalations": list })))
}
