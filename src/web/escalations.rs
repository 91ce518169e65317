//! R&D's queue: escalations waiting for an answer, oldest first.

use super::auth::html;
use super::AppError;
use super::CurrentUser;
use super::{run, Page, State};
use super::{HasRole, STAFF};
use crate::db::schema::{cases, escalations};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    pub id: i64,
    pub case_number: String,
    pub subject: String,
    pub customer: String,
    pub status: String,
    pub question: String,
    pub opened_by: String,
    pub opened_at: String,
    pub waiting: String,
    pub overdue: bool,
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

pub fn load(
    conn: &mut crate::db::DbConn,
    statuses: &[&str],
    overdue_hours: i64,
) -> QueryResult<Vec<EscalationRow>> {
    let now = crate::now();
    let rows: Vec<Row> = escalations::table
        .inner_join(cases::table.on(cases::id.eq(escalations::case_id)))
        .filter(escalations::status.eq_any(statuses))
        .order(escalations::opened_at.asc())
        .limit(500)
        .select((
            escalations::id,
            cases::number,
            cases::subject,
            cases::customer,
            escalations::status,
            escalations::question,
            escalations::opened_by,
            escalations::opened_at,
            escalations::last_activity_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, number, subject, customer, status, question, opened_by, opened_at, last)| {
                let since = last.unwrap_or(opened_at);
                EscalationRow {
                    id,
                    overdue: crate::cases::sla::escalation_overdue(
                        &status,
                        since,
                        overdue_hours,
                        now,
                    ),
                    waiting: crate::cases::sla::short((now - since).num_minutes()),
                    case_number: number,
                    subject,
                    customer: customer.unwrap_or_default(),
                    status,
                    question: question.chars().take(200).collect(),
                    opened_by,
                    opened_at: opened_at.format("%Y-%m-%d %H:%M").to_string(),
                }
            },
        )
        .collect())
}

#[derive(Template)]
#[template(path = "escalations/queue.html")]
struct QueuePage {
    page: Page,
    waiting: Vec<EscalationRow>,
    needs_info: Vec<EscalationRow>,
}

pub async fn queue(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let hours = st.settings.escalation_overdue_hours;
    let (waiting, needs_info) = run(&st, move |c, _| -> Result<_, AppError> {
        Ok((load(c, &["open"], hours)?, load(c, &["needs_info"], hours)?))
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
    let list = super::run(&st, move |c, _| load(c, &["open", "needs_info"], hours)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "escalations": list })))
}
