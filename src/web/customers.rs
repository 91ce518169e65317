//! `GET /customers/{name}`: a customer's page; `GET /api/customers/{name}` its JSON.

use super::auth::html;
use super::{run, ApiUser, AppError, CurrentUser, HasRole, Page, State, STAFF};
use crate::cases::customer::{self, Customer};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "customers/show.html")]
struct CustomerPage {
    page: Page,
    c: Customer,
}

impl CustomerPage {
    fn records_of(&self, serial: &str) -> Vec<&crate::activation::RecordRow> {
        self.c
            .activation_records
            .iter()
            .filter(|r| r.serial_number == serial || r.machine_serial.as_deref() == Some(serial))
            .collect()
    }
}

async fn load(st: &crate::startup::AppState, name: String) -> Result<Customer, AppError> {
    run(st, move |c, _| {
        customer::load(c, name.trim())?.ok_or(AppError::NotFound)
    })
    .await
}

pub async fn show(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let c = load(&st, path.into_inner()).await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&CustomerPage { page, c })
}

pub async fn show_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let c = load(&st, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(c))
}
