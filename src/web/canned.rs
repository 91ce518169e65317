//! Canned replies: the management page (`/canned`), the JSON API, and the templates
//! filled for a case (on the case page, beside the reply box).

use super::auth::html;
use super::forms::{checkbox, PageForm};
use super::{run, see_other, ApiUser, AppError, CurrentUser, HasRole, Page, State, STAFF};
use crate::auth::Role;
use crate::cases::canned::{self, Canned, Input, Writer};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

/// A template as a form or JSON sends it.
#[derive(Debug, Deserialize)]
pub struct Fields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    body: String,
    #[serde(default, deserialize_with = "checkbox")]
    shared: bool,
}

impl Fields {
    fn input(&self) -> Input {
        Input {
            name: self.name.clone(),
            language: self.language.clone(),
            code: self.code.clone(),
            body: self.body.clone(),
            shared: self.shared,
        }
    }
}

/// Support and admins keep the team's templates; everyone their own.
fn may_share(role: Role) -> bool {
    matches!(role, Role::Support | Role::Admin)
}

#[derive(Template)]
#[template(path = "canned/index.html")]
struct CannedPage {
    page: Page,
    items: Vec<Canned>,
    may_share: bool,
    /// Prefilled code for a new template (from an error code's page).
    code: String,
    variables: Vec<&'static str>,
}

#[derive(Debug, Deserialize, Default)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// `GET /canned`.
pub async fn page(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let uid = user.0.id;
    let items = run(&st, move |c, _| {
        canned::usable(c, uid, &[]).map_err(AppError::from)
    })
    .await?;
    let may = may_share(user.0.role());
    let page = Page::new(&req, &st, Some(user.0));
    html(&CannedPage {
        page,
        items,
        may_share: may,
        code: q.into_inner().code,
        variables: canned::VARIABLES.to_vec(),
    })
}

/// `POST /canned`: a new template.
pub async fn create(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<Fields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let input = form.fields.input();
    let (uid, name, may) = (user.0.id, user.0.name.clone(), may_share(user.0.role()));
    run(&st, move |c, _| {
        let w = Writer {
            id: uid,
            name: &name,
            may_share: may,
        };
        canned::create(c, w, &input, crate::now()).map_err(AppError::from)
    })
    .await?;
    Ok(see_other("/canned?done=saved"))
}

/// `POST /canned/{id}`: changes a template.
pub async fn update(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<Fields>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let input = form.fields.input();
    let (uid, name, may, id) = (
        user.0.id,
        user.0.name.clone(),
        may_share(user.0.role()),
        path.into_inner(),
    );
    run(&st, move |c, _| {
        let w = Writer {
            id: uid,
            name: &name,
            may_share: may,
        };
        canned::update(c, w, id, &input, crate::now()).map_err(AppError::from)
    })
    .await?;
    Ok(see_other("/canned?done=saved"))
}

/// `POST /canned/{id}/delete`.
pub async fn delete(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<PageForm<CodeQuery>>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let (uid, name, may, id) = (
        user.0.id,
        user.0.name.clone(),
        may_share(user.0.role()),
        path.into_inner(),
    );
    run(&st, move |c, _| {
        let w = Writer {
            id: uid,
            name: &name,
            may_share: may,
        };
        canned::delete(c, w, id).map_err(AppError::from)
    })
    .await?;
    Ok(see_other("/canned"))
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// Fill the templates for this case (its number).
    #[serde(default)]
    case: String,
}

/// `GET /api/canned?case=N`: the caller's usable templates; with `case`, filled for it
/// (suggested ones, for the case's codes, first).
pub async fn list_json(
    st: State,
    user: ApiUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let number = q.into_inner().case;
    let v = run(&st, move |c, _| {
        if number.trim().is_empty() {
            let items = canned::usable(c, u.id, &[])?;
            return Ok::<_, AppError>(serde_json::json!({ "canned": items }));
        }
        // The case and the replies filled from it, read at one moment.
        crate::db::read_tx(c, |c| {
            let case = crate::cases::detail::load_by_number(
                c,
                number.trim(),
                crate::cases::detail::ThreadWindow::Recent,
            )?;
            let filled = canned::filled_for(c, u.id, &u.name, &case)?;
            Ok(serde_json::json!({ "case_number": case.number, "canned": filled }))
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}

/// `POST /api/canned`.
pub async fn create_json(
    st: State,
    user: ApiUser,
    j: web::Json<Fields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let input = j.input();
    let c = run(&st, move |c, _| {
        let w = Writer {
            id: u.id,
            name: &u.name,
            may_share: may_share(u.role()),
        };
        canned::create(c, w, &input, crate::now()).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(c))
}

/// `POST /api/canned/{id}`.
pub async fn update_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<Fields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let (input, id) = (j.input(), path.into_inner());
    let c = run(&st, move |c, _| {
        let w = Writer {
            id: u.id,
            name: &u.name,
            may_share: may_share(u.role()),
        };
        canned::update(c, w, id, &input, crate::now()).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(c))
}

/// `POST /api/canned/{id}/delete`.
pub async fn delete_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(STAFF)?.clone();
    let id = path.into_inner();
    run(&st, move |c, _| {
        let w = Writer {
            id: u.id,
            name: &u.name,
            may_share: may_share(u.role()),
        };
        canned::delete(c, w, id).map_err(AppError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}
