//! Support writes to the customer.

use super::{
    after_customer_mail, load_case, nonempty, recipients, record_outgoing, signature, Mail, WResult,
};
use crate::auth::users::User;
use crate::cases::audit;
use crate::config::Settings;
use crate::db::DbConn;
use askama::Template;

#[derive(Template)]
#[template(path = "mail/reply.txt")]
struct ReplyMail<'a> {
    body: &'a str,
    signature: &'a str,
}

/// Sends `body` to `to` (or the case's contact), with `files` of the case attached;
/// the case then waits on the customer.
/// Returns the message row id.
#[tracing::instrument(skip_all, fields(case = %number, actor = %actor.name))]
pub fn reply(
    conn: &mut DbConn,
    settings: &Settings,
    actor: &User,
    number: &str,
    body: &str,
    to: Option<&str>,
    files: Vec<(i64, crate::mail::outbound::OutFile)>,
) -> WResult<i64> {
    let body = nonempty(body, "workflow.empty_body")?;
    crate::db::write_tx(conn, |c| {
        let case = load_case(c, number)?;
        let to = recipients(&case, to)?;
        let text = ReplyMail {
            body: &body,
            signature: &signature(c, actor, settings)?,
        }
        .render()?;
        let names: Vec<String> = files.iter().map(|(_, f)| f.filename.clone()).collect();
        let mut mail = Mail::to_customer("reply", to.clone(), text);
        mail.files = files.clone();
        let id = record_outgoing(c, &case, actor, settings, mail)?;
        after_customer_mail(c, &case, &to)?;
        audit(
            c,
            Some(case.id),
            &actor.name,
            "reply.sent",
            &if names.is_empty() {
                format!("to {}", to.join(", "))
            } else {
                format!("to {} with {}", to.join(", "), names.join(", "))
            },
        )?;
        Ok(id)
    })
}
