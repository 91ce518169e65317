//! `/people`: every sender seen (messages, cases, side and why), who Casebook has worked
//! out from threads, the staff domains, and the admin's word on all of it. Every change
//! re-reads the affected cases from their stored mail in the background
//! (`cases::reanalysis`), with its progress on this page.

use super::auth::html;
use super::forms::PageForm;
use super::roles::{ADMIN, PEOPLE};
use super::{run, see_other, ApiUser, AppError, CurrentUser, HasRole, Page, State};
use crate::auth::users::User;
use crate::cases::reanalysis::{self, JobView, Scope};
use crate::mail::ingest::Staff;
use crate::people::senders::{self, SenderView};
use crate::people::{self, domains, PersonView, Side};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

const LIMIT: i64 = 1000;
const SENDERS_PER_PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    before: Option<String>,
}

/// Everything `/people` and `GET /api/people` show.
#[derive(Serialize)]
struct Overview {
    people: Vec<PersonView>,
    senders: Vec<SenderView>,
    next: Option<String>,
    domains: Vec<String>,
    /// Staff domains from the configuration (`--staff-domains`, `--mail-from`'s own).
    configured_domains: Vec<String>,
    jobs: Vec<JobView>,
    #[serde(skip)]
    accounts: Vec<(String, String)>,
}

async fn overview(st: &State, q: ListQuery) -> Result<Overview, AppError> {
    let rules = st.rules.clone();
    run(st, move |c, _| -> Result<Overview, AppError> {
        let staff = Staff::load(c)?;
        let account_of = |name: &str, address: &str| {
            staff
                .identify(name, address)
                .map(|u| (u.email.clone(), u.role().as_str().to_string()))
        };
        let in_domain = |address: &str| staff.in_staff_domain(&rules, address);
        let page = senders::page(
            c,
            &q.q,
            q.before.as_deref(),
            SENDERS_PER_PAGE,
            &account_of,
            &in_domain,
        )?;
        let accounts = crate::auth::users::list(c)?
            .into_iter()
            .filter(|u: &User| !u.disabled)
            .map(|u| (u.email.clone(), format!("{} <{}>", u.name, u.email)))
            .collect();
        Ok(Overview {
            people: people::list(c, LIMIT)?,
            senders: page.rows,
            next: page.next,
            domains: domains::list(c)?,
            configured_domains: rules.staff_domains.clone(),
            jobs: reanalysis::recent(c, 5)?,
            accounts,
        })
    })
    .await
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    page: Page,
    o: Overview,
    q: String,
}

/// `GET /people`.
pub async fn list(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(PEOPLE)?;
    let q = q.into_inner();
    let text = q.q.clone();
    let o = overview(&st, q).await?;
    let page = Page::new(&req, &st, Some(user.0));
    html(&PeoplePage { page, o, q: text })
}

/// `GET /api/people[?q=&before=]`.
pub async fn list_json(
    st: State,
    user: ApiUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(PEOPLE)?;
    let o = overview(&st, q.into_inner()).await?;
    Ok(HttpResponse::Ok().json(o))
}

/// `GET /api/reanalysis/{id}`: one re-analysis job and its progress.
pub async fn job_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    user.require(PEOPLE)?;
    let id = path.into_inner();
    let job = run(&st, move |c, _| reanalysis::find(c, id)).await?;
    match job {
        Some(j) => Ok(HttpResponse::Ok().json(j)),
        None => Err(AppError::NotFound),
    }
}

#[derive(Deserialize)]
pub struct SideFields {
    #[serde(default)]
    side: String,
}

fn parse_side(s: &str) -> Result<Side, AppError> {
    Side::parse(s.trim()).ok_or_else(|| AppError::bad_request("people.bad_side"))
}

/// Sets person `id`'s side, audited, and queues their cases. Returns the job.
async fn set_side(st: &State, actor: String, id: i64, side: Side) -> Result<i64, AppError> {
    run(st, move |c, _| -> Result<i64, AppError> {
        crate::db::write_tx(c, |c| -> Result<i64, AppError> {
            let Some(keys) = people::set_side(c, id, side)? else {
                return Err(AppError::NotFound);
            };
            let what = side.as_str();
            crate::cases::audit(
                c,
                None,
                &actor,
                "person.side",
                &format!("person {id}: {what}"),
            )?;
            Ok(reanalysis::enqueue(
                c,
                &Scope::Keys(keys),
                &format!("side:{what}"),
                &actor,
            )?)
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
    let side = parse_side(&form.fields.side)?;
    set_side(&st, user.0.email.clone(), path.into_inner(), side).await?;
    Ok(see_other("/people?done=reanalyzing"))
}

/// `POST /api/people/{id} {"side": "support|rnd|customer"}` (admins).
pub async fn update_json(
    st: State,
    user: ApiUser,
    path: web::Path<i64>,
    j: web::Json<SideFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ADMIN)?.clone();
    let side = parse_side(&j.side)?;
    let job = set_side(&st, u.email, path.into_inner(), side).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "job": job })))
}

/// A sender as `/people` lists them, and what an admin decides about them.
#[derive(Deserialize)]
pub struct SenderFields {
    /// The sender's key from the list (`addr:…` or `name:…`).
    #[serde(default)]
    key: String,
    /// `support`, `rnd`, `customer`, or empty (unchanged).
    #[serde(default)]
    side: String,
    /// The address of the account this sender is (empty: none).
    #[serde(default)]
    account: String,
}

/// Applies an admin's decision on a sender; returns the job that re-reads their cases.
async fn decide(st: &State, actor: String, f: SenderFields) -> Result<i64, AppError> {
    let key = f.key.trim().to_string();
    let (name, address) = match key.split_once(':') {
        Some(("addr", a)) if !a.is_empty() => (String::new(), Some(a.to_string())),
        Some(("name", n)) if !n.is_empty() => (n.to_string(), None),
        _ => return Err(AppError::bad_request("people.bad_sender")),
    };
    let side = match f.side.trim() {
        "" => None,
        s => Some(parse_side(s)?),
    };
    let account = f.account.trim().to_lowercase();
    if side.is_none() && account.is_empty() {
        return Err(AppError::bad_request("people.nothing"));
    }
    run(st, move |c, _| -> Result<i64, AppError> {
        crate::db::write_tx(c, |c| -> Result<i64, AppError> {
            // The sender as seen (their display name), else as the key spells them.
            let (name, address) = match people::senders::find(c, &key)? {
                Some((n, a)) => (n, a.or(address.clone())),
                None => (name.clone(), address.clone()),
            };
            let mut keys = vec![key.clone()];
            let mut what = Vec::new();
            if let Some(side) = side {
                keys.extend(people::set_side_of_sender(
                    c,
                    &name,
                    address.as_deref(),
                    side,
                )?);
                what.push(format!("side:{}", side.as_str()));
            }
            if !account.is_empty() {
                let alias = address.clone().unwrap_or_else(|| name.clone());
                crate::auth::users::add_alias(c, &account, &alias)?;
                what.push(format!("account:{account}"));
            }
            keys.sort();
            keys.dedup();
            let what = what.join(" ");
            crate::cases::audit(c, None, &actor, "sender.decided", &format!("{key}: {what}"))?;
            Ok(reanalysis::enqueue(c, &Scope::Keys(keys), &what, &actor)?)
        })
    })
    .await
}

/// `POST /people/senders` (admins).
pub async fn decide_sender(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<SenderFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let form = form.into_inner();
    decide(&st, user.0.email.clone(), form.fields).await?;
    Ok(see_other("/people?done=reanalyzing"))
}

/// `POST /api/senders {"key": "addr:…", "side": "support|rnd|customer", "account":
/// "user@…"}` (admins).
pub async fn decide_sender_json(
    st: State,
    user: ApiUser,
    j: web::Json<SenderFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ADMIN)?.clone();
    let job = decide(&st, u.email, j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "job": job })))
}

#[derive(Deserialize)]
pub struct DomainFields {
    #[serde(default)]
    domain: String,
    /// `remove` to unmark; anything else marks.
    #[serde(default)]
    action: String,
}

async fn mark_domain(st: &State, actor: String, f: DomainFields) -> Result<i64, AppError> {
    let domain =
        domains::normalize(&f.domain).ok_or_else(|| AppError::bad_request("people.bad_domain"))?;
    let remove = f.action.trim() == "remove";
    run(st, move |c, _| -> Result<i64, AppError> {
        crate::db::write_tx(c, |c| -> Result<i64, AppError> {
            let changed = if remove {
                domains::remove(c, &domain)?
            } else {
                domains::add(c, &domain, &actor)?
            };
            if !changed && remove {
                return Err(AppError::NotFound);
            }
            let what = if remove {
                "domain.unmarked"
            } else {
                "domain.marked"
            };
            crate::cases::audit(c, None, &actor, what, &domain)?;
            Ok(reanalysis::enqueue(
                c,
                &Scope::Domain(domain.clone()),
                &format!("{what}:{domain}"),
                &actor,
            )?)
        })
    })
    .await
}

/// `POST /people/domains` (admins): `domain`, `action` = mark or remove.
pub async fn domain(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    form: web::Form<PageForm<DomainFields>>,
) -> Result<HttpResponse, AppError> {
    user.require(ADMIN)?;
    super::check_csrf(&req, &st, &form.csrf_token)?;
    let form = form.into_inner();
    mark_domain(&st, user.0.email.clone(), form.fields).await?;
    Ok(see_other("/people?done=reanalyzing"))
}

/// `POST /api/staff-domains {"domain": "…", "action": "mark|remove"}` (admins).
pub async fn domain_json(
    st: State,
    user: ApiUser,
    j: web::Json<DomainFields>,
) -> Result<HttpResponse, AppError> {
    let u = user.require(ADMIN)?.clone();
    let job = mark_domain(&st, u.email, j.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "job": job })))
}
