//! Login, logout and the language switch.

use super::AppError;
use super::{check_csrf, run, see_other, Page, State};
use crate::auth::{password, session, throttle, users};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: Page,
    email: String,
    error: Option<String>,
    no_users: bool,
}

fn render(tpl: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    let body = tpl.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

pub fn html(tpl: &impl Template) -> Result<HttpResponse, AppError> {
    render(tpl, StatusCode::OK)
}

pub async fn login_form(req: HttpRequest, st: State) -> Result<HttpResponse, AppError> {
    if super::extract::session_user(&req).await?.is_some() {
        return Ok(see_other("/cases"));
    }
    let no_users = run(&st, move |c, _| -> Result<bool, AppError> {
        Ok(users::count(c)? == 0)
    })
    .await?;
    let page = Page::new(&req, &st, None);
    html(&LoginPage {
        page,
        email: String::new(),
        error: None,
        no_users,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// The client for the login throttle: the peer address, or what a trusted reverse
/// proxy says in `X-Forwarded-For` (see `throttle::client_address`).
fn client_address(req: &HttpRequest, st: &State) -> String {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    throttle::client_address(
        req.peer_addr().map(|a| a.ip()),
        &forwarded,
        &st.settings.trusted_proxies,
    )
}

pub async fn login(
    req: HttpRequest,
    st: State,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, &st, &form.csrf_token)?;
    let form = form.into_inner();
    let client = client_address(&req, &st);
    let email = form.email.trim().to_lowercase();
    let email_for_block = email.clone();
    enum Result_ {
        Ok(users::User),
        Bad,
        Throttled,
    }
    let outcome = run(&st, move |c, _| -> Result<Result_, AppError> {
        let now = crate::now();
        // The attempt is counted before the password is checked, so parallel
        // attempts cannot check more passwords than the limit.
        if throttle::reserve(c, &email_for_block, &client, now)? == throttle::Slot::Throttled {
            return Ok(Result_::Throttled);
        }
        let user = users::find_by_email(c, &email_for_block)?;
        let ok = match &user {
            Some(u) => password::verify(&form.password, &u.password_hash) && !u.disabled,
            None => {
                let _ = password::verify(&form.password, password::dummy_hash());
                false
            }
        };
        match user {
            Some(u) if ok => {
                throttle::succeeded(c, &email_for_block, &client, now)?;
                Ok(Result_::Ok(u))
            }
            _ => Ok(Result_::Bad),
        }
    })
    .await?;
    let page = Page::new(&req, &st, None);
    match outcome {
        Result_::Ok(u) => {
            tracing::info!(user_id = u.id, "login");
            // A fresh signed cookie with a new nonce at every login: no session fixation.
            let value = session::encode(
                &st.keys,
                &session::new_session(u.id, u.session_epoch, chrono::Utc::now().timestamp()),
            );
            Ok(HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, "/cases"))
                .cookie(super::cookies::session_cookie(
                    value,
                    st.settings.secure_cookies,
                ))
                // A fresh CSRF seed too: a token learnt before login is worth nothing.
                .cookie(super::cookies::csrf_rotated(st.settings.secure_cookies))
                .finish())
        }
        Result_::Bad => {
            tracing::info!("login failed");
            let error = Some(page.t("login.failed").to_string());
            render(
                &LoginPage {
                    page,
                    email,
                    error,
                    no_users: false,
                },
                StatusCode::UNAUTHORIZED,
            )
        }
        Result_::Throttled => {
            tracing::warn!("login throttled");
            let error = Some(page.t("login.throttled").to_string());
            render(
                &LoginPage {
                    page,
                    email,
                    error,
                    no_users: false,
                },
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout(
    req: HttpRequest,
    st: State,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, &st, &form.csrf_token)?;
    if let Some(u) = super::extract::session_user(&req).await? {
        run(&st, move |c, _| -> Result<(), AppError> {
            Ok(users::bump_epoch(c, u.id)?)
        })
        .await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/login"))
        .cookie(super::cookies::session_removal(st.settings.secure_cookies))
        .finish())
}

/// Whether `back` is a path on this site, as written and with its percent-escapes
/// decoded: it starts with one `/` (not `//`, which a browser reads as another host),
/// has no backslash (`/\\evil.example` is `//evil.example` to a browser), no control
/// characters and no whitespace (browsers drop tabs and newlines inside URLs).
pub fn is_local_path(back: &str) -> bool {
    fn plain(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.contains('\\')
            && !p.contains(char::is_control)
    }
    plain(back) && !back.contains(char::is_whitespace) && plain(&percent_decoded(back))
}

/// `%XX` escapes decoded byte by byte (invalid ones kept as written).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn switch_lang(
    req: HttpRequest,
    st: State,
    form: web::Form<LangForm>,
) -> Result<HttpResponse, AppError> {
    check_csrf(&req, &st, &form.csrf_token)?;
    let lang = crate::i18n::Lang::parse(&form.lang).unwrap_or_default();
    let back = if is_local_path(&form.back) {
        form.back.as_str()
    } else {
        "/"
    };
    let cookie = actix_web::cookie::Cookie::build(crate::i18n::COOKIE, lang.code())
        .path("/")
        .same_site(actix_web::cookie::SameSite::Lax)
        .secure(st.settings.secure_cookies)
        .max_age(actix_web::cookie::time::Duration::days(365))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, back))
        .cookie(cookie)
        .finish())
}

/// `GET /api/me`: the token's user.
pub async fn me(user: super::ApiUser) -> HttpResponse {
    let u = user.0;
    HttpResponse::Ok().json(serde_json::json!({
        "email": u.email, "name": u.name, "role": u.role, "aliases": u.alias_list(),
    }))
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_paths_on_this_site_are_local() {
        for ok in ["/", "/cases", "/search?q=a%20b", "/cases/CAS-1#x"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "cases",
            "//evil.example",
            "/\\evil.example",
            "/%5Cevil",
            "/%5cevil",
            "/%2F/evil",
            "/\t/evil",
            "https://evil.example",
            "/ /x",
            "\\/evil",
        ] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
