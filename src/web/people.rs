//! `/people`: who Casebook has worked out from threads (side, evidence, names), and the
//! admin's word on it.

use super::auth::html;
use super::forms::PageForm;
use super::roles::{ADMIN, PEOPLE};
use super::{run, see_other, ApiUser, AppError, CurrentUser, HasRole, Page, State};
use crate::people::{self, PersonView, Side};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

const LIMIT: i64 = 1000;

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    page: Page,
    rows: Vec<PersonView>,
}

/// `GET /people`.
pub async fn list(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require(PEOPLE)?;
    let rows = run(&st, |c, _| people::list(c, LIMIT)).await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&PeoplePage { page, rows })
}

/// `GET /api/people`.
pub async fn list_json(st: State, user: ApiUser) -> Result<HttpResponse, AppError> {
    user.require(PEOPLE)?;
    let rows = run(&st, |c, _| people::list(c, LIMIT)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "people": rows })))
}

#[derive(Deserialize)]
pub struct SideFields {
    #[serde(default)]
    side: String,
}

fn parse_side(s: &str) -> Result<Option<Side>, AppError> {
    match s {
        "customer" => Ok(None),
        other => Side::parse(other)
            .map(Some)
            .ok_or_else(|| AppError::bad_request("people.bad_side")),
    }
}

async fn set_side(st: &State, actor: String, id: i64, side: Option<Side>) -> Result<(), AppError> {
    run(st, move |c, _| -> Result<(), AppError> {
        crate::db::write_tx(c, |c| -> Result<(), AppError> {
            if !people::set_side(c, id, side)? {
                return Err(AppError::NotFound);
            }
            let what = side.map(Side::as_str).unwrap_or("customer");
            crate::cases::audit(
                c,
                None,
                &actor,
                "person.side",
                &format!("person {id}: {what}"),
            )?;
            Ok(())
        })
    })
    .await
}

/// `POST /people/{id}` (admins): `side` = support, rnd or customer.
pub async fn update(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<SideFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let side = parse_side(form.fields.side.trim())?;
    set_side(&st, user.0.email.clone(), path.into_inner(), side).await?;
    Ok(see_other("/people?done=saved"))
}

/// `POST /api/people/{id} {"side": "support|rnd|customer"}` (admins).
pub async fn update_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<SideFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ADMIN)?.clone();
    let side = parse_side(j.side.trim())?;
    set_side(&st, u.email, path.into_inner(), side).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
