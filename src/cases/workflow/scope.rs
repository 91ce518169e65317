//! The problem scope: what the problem is, what is in and out, which logs to send.
//! Saved on the case and, if asked, mailed to the customer.

use super::{
    after_customer_mail, load_case, nonempty, recipients, record_outgoing, signature, trimmed,
    Mail, WResult,
};
use crate::auth::users::User;
use crate::cases::audit;
use crate::config::Settings;
use crate::db::schema::scopes;
use crate::db::DbConn;
use crate::mail::extract::mask_secrets;
use chrono::NaiveDateTime;
use diesel::prelude::*;

struct ScopeMail<'a> {
    definition: &'a str,
    scope: &'a str,
    logs: Option<&'a str>,
    signature: &'a str,
}

super::bilingual_mail!(
    ScopeMail,
    ScopeZh = "mail/scope_zh.txt",
    ScopeEn = "mail/scope_en.txt"
);

pub struct ScopeInput<'a> {
    pub problem_definition: &'a str,
    pub problem_scope: &'a str,
    pub log_instructions: Option<&'a str>,
    pub send: bool,
    pub to: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = scopes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
struct NewScope<'a> {
    case_id: i64,
    problem_definition: &'a str,
    problem_scope: &'a str,
    log_instructions: Option<&'a str>,
    author: &'a str,
    message_row_id: Option<i64>,
    created_at: NaiveDateTime,
}

/// Saves a new version of the scope; with `send`, mails it to the customer too.
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name, send = s.send))]
pub fn set_scope(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    s: &ScopeInput,
) -> WResult<()> {
    let def = nonempty(s.problem_definition, "workflow.empty_definition")?;
    let scope = nonempty(s.problem_scope, "workflow.empty_scope")?;
    let logs = trimmed(s.log_instructions);
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let mut row = None;
        if s.send {
            let to = recipients(&case, s.to)?;
            let sig = signature(c, actor, settings)?;
            let text = ScopeMail {
                definition: &def,
                scope: &scope,
                logs: logs.as_deref(),
                signature: &sig,
            }
            .render_for(&case)?;
            row = Some(record_outgoing(
                c,
                &case,
                actor,
                settings,
                Mail::to_customer("scope", to.clone(), text),
            )?);
            after_customer_mail(c, &case, &to)?;
        }
        // Stored and shown masked, like notes; the mail above says what staff wrote.
        let logs_masked = logs.as_deref().map(mask_secrets);
        diesel::insert_into(scopes::table)
            .values(NewScope {
                case_id: case.id,
                problem_definition: &mask_secrets(&def),
                problem_scope: &mask_secrets(&scope),
                log_instructions: logs_masked.as_deref(),
                author: &actor.name,
                message_row_id: row,
                created_at: crate::now(),
            })
            .execute(c)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "scope.set",
            if s.send {
                "scope mail queued"
            } else {
                "scope saved"
            },
        )?;
        Ok(())
    })
}
