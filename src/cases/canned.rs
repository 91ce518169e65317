//! Canned replies: reply templates, shared by the team or a user's own, in Chinese or
//! English, optionally for one error code. Variables are filled from the case the
//! reply is for: `{customer}`, `{contact}`, `{case_number}`, `{serials}`, `{codes}`
//! (each with its decoded name and meaning), `{scope}` (the problem definition) and
//! `{engineer}` (the writer).

use super::detail::CaseDetail;
use crate::db::schema::canned_replies as cr;
use crate::db::DbConn;
use crate::db::Direct;
use crate::i18n::{Lang, Msg};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// Longest name and body.
pub const MAX_NAME: usize = 100;
pub const MAX_BODY: usize = 20_000;
/// Templates one listing returns.
pub const LIMIT: i64 = 200;

/// The variables a template may use.
pub const VARIABLES: [&str; 7] = [
    "customer",
    "contact",
    "case_number",
    "serials",
    "codes",
    "scope",
    "engineer",
];

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = cr)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Canned {
    pub id: i64,
    /// None: shared by the team.
    pub owner_id: Option<i64>,
    pub name: String,
    pub language: String,
    /// The error code it answers (`0xC004F074`), if any.
    pub code: Option<String>,
    pub body: String,
    pub created_by: String,
    #[serde(skip)]
    pub created_at: NaiveDateTime,
    #[serde(skip)]
    pub updated_at: NaiveDateTime,
}

/// A template as written.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub name: String,
    pub language: String,
    pub code: String,
    pub body: String,
    /// Shared with the team (admins and support may) or the writer's own.
    pub shared: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CannedError {
    #[error("{0:?}")]
    Invalid(Msg),
    #[error("not found")]
    NotFound,
    #[error("not yours to change")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Who is writing: shared templates are the team's (support and admins) to change.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub id: i64,
    pub name: &'a str,
    pub may_share: bool,
}

struct Checked {
    name: String,
    language: &'static str,
    code: Option<String>,
    body: String,
}

fn check(i: &Input) -> Result<Checked, CannedError> {
    let name = i.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(CannedError::Invalid(
            Msg::new("canned.bad_name").with("max", MAX_NAME),
        ));
    }
    let body = i.body.trim().to_string();
    if body.is_empty() || body.chars().count() > MAX_BODY {
        return Err(CannedError::Invalid(
            Msg::new("canned.bad_body").with("max", MAX_BODY),
        ));
    }
    let code = match i.code.trim() {
        "" => None,
        c => Some(
            crate::codes::parse_code(c)
                .map(crate::codes::format_code)
                .ok_or_else(|| CannedError::Invalid(Msg::new("codes.invalid")))?,
        ),
    };
    Ok(Checked {
        name,
        language: Lang::parse(&i.language).unwrap_or_default().code(),
        code,
        body,
    })
}

/// Templates the user may use: shared ones and their own, by name; those for one of
/// `codes` first.
pub fn usable(conn: &mut DbConn, user_id: i64, codes: &[String]) -> QueryResult<Vec<Canned>> {
    let mut all: Vec<Canned> = crate::on_engine!(conn, |c| cr::table
        .filter(cr::owner_id.is_null().or(cr::owner_id.eq(user_id)))
        .order((cr::name.asc(), cr::id.asc()))
        .limit(LIMIT)
        .select(Canned::as_select())
        .load(c))?;
    all.sort_by_key(|c| !c.code.as_ref().is_some_and(|k| codes.contains(k)));
    Ok(all)
}

/// Shared templates for one error code (its knowledge page).
pub fn for_code(conn: &mut DbConn, code: &str) -> QueryResult<Vec<Canned>> {
    cr::table
        .filter(cr::code.eq(code))
        .filter(cr::owner_id.is_null())
        .order(cr::name.asc())
        .limit(LIMIT)
        .select(Canned::as_select())
        .load(conn)
}

pub fn create(
    conn: &mut DbConn,
    w: Writer,
    i: &Input,
    now: NaiveDateTime,
) -> Result<Canned, CannedError> {
    let c = check(i)?;
    if i.shared && !w.may_share {
        return Err(CannedError::Forbidden);
    }
    let id: i64 = diesel::insert_into(cr::table)
        .values((
            cr::owner_id.eq((!i.shared).then_some(w.id)),
            cr::name.eq(&c.name),
            cr::language.eq(c.language),
            cr::code.eq(&c.code),
            cr::body.eq(&c.body),
            cr::created_by.eq(w.name),
            cr::created_at.eq(now),
            cr::updated_at.eq(now),
        ))
        .returning(cr::id)
        .row(conn)?;
    Ok(cr::table.find(id).select(Canned::as_select()).first(conn)?)
}

/// The template if the writer may change it.
fn mine(conn: &mut DbConn, w: Writer, id: i64) -> Result<Canned, CannedError> {
    let c: Canned = cr::table
        .find(id)
        .select(Canned::as_select())
        .first(conn)
        .optional()?
        .ok_or(CannedError::NotFound)?;
    match c.owner_id {
        Some(o) if o == w.id => Ok(c),
        None if w.may_share => Ok(c),
        // Someone else's own template is not even there for this writer.
        Some(_) => Err(CannedError::NotFound),
        None => Err(CannedError::Forbidden),
    }
}

pub fn update(
    conn: &mut DbConn,
    w: Writer,
    id: i64,
    i: &Input,
    now: NaiveDateTime,
) -> Result<Canned, CannedError> {
    let c = check(i)?;
    conn.transaction(|t| {
        mine(t, w, id)?;
        if i.shared && !w.may_share {
            return Err(CannedError::Forbidden);
        }
        diesel::update(cr::table.find(id))
            .set((
                cr::owner_id.eq((!i.shared).then_some(w.id)),
                cr::name.eq(&c.name),
                cr::language.eq(c.language),
                cr::code.eq(&c.code),
                cr::body.eq(&c.body),
                cr::updated_at.eq(now),
            ))
            .execute(t)?;
        Ok(cr::table.find(id).select(Canned::as_select()).first(t)?)
    })
}

pub fn delete(conn: &mut DbConn, w: Writer, id: i64) -> Result<(), CannedError> {
    conn.transaction(|t| {
        mine(t, w, id)?;
        diesel::delete(cr::table.find(id)).execute(t)?;
        Ok(())
    })
}

/// A template filled for a case.
#[derive(Debug, Clone, Serialize)]
pub struct Filled {
    pub id: i64,
    pub name: String,
    pub language: String,
    pub code: Option<String>,
    pub shared: bool,
    /// For one of the case's error codes.
    pub suggested: bool,
    pub text: String,
}

/// Fills the variables from the case; an unknown `{name}` stays as written.
pub fn fill(body: &str, case: &CaseDetail, engineer: &str) -> String {
    let zh = case.language.starts_with("zh");
    let sep = if zh { "、" } else { ", " };
    let codes: Vec<String> = case
        .error_codes
        .iter()
        .map(|c| {
            let mut s = c.code.clone();
            if !c.name.is_empty() {
                s.push_str(&format!(" ({})", c.name));
            }
            if !c.description.is_empty() {
                s.push_str(&format!(": {}", c.description));
            }
            s
        })
        .collect();
    let contact = case
        .messages
        .iter()
        .find(|m| m.direction == "customer")
        .map(|m| {
            if m.from_name.is_empty() {
                m.from_address.clone()
            } else {
                m.from_name.clone()
            }
        })
        .or_else(|| case.contact_email.clone())
        .unwrap_or_default();
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "customer" => case.customer.clone().unwrap_or_default(),
            "contact" => contact.clone(),
            "case_number" => case.number.clone(),
            "serials" => case.serial_numbers.join(sep),
            "codes" => codes.join("\n"),
            "scope" => case
                .scope
                .as_ref()
                .map(|s| s.problem_definition.clone())
                .unwrap_or_default(),
            "engineer" => engineer.to_string(),
            _ => return None,
        })
    };
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => match value(after[..close].trim()) {
                Some(v) => {
                    out.push_str(&v);
                    rest = &after[close + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            },
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The user's templates filled for the case, suggested ones (for its codes) first.
pub fn filled_for(
    conn: &mut DbConn,
    user_id: i64,
    engineer: &str,
    case: &CaseDetail,
) -> QueryResult<Vec<Filled>> {
    let codes: Vec<String> = case.error_codes.iter().map(|c| c.code.clone()).collect();
    Ok(usable(conn, user_id, &codes)?
        .into_iter()
        .map(|c| Filled {
            suggested: c.code.as_ref().is_some_and(|k| codes.contains(k)),
            text: fill(&c.body, case, engineer),
            shared: c.owner_id.is_none(),
            id: c.id,
            name: c.name,
            language: c.language,
            code: c.code,
        })
        .collect())
}
