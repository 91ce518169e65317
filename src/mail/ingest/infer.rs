//! Who is who, from the thread itself: the side of a sender Casebook has no account
//! for, read from what their own words show (never from what they quote).
//!
//! - support: writes a scope definition, a closure summary, an escalation request
//!   ("Hi Dev"), or signs with the support hotline;
//! - R&D: signs as R&D, or answers an escalation request support addressed to a
//!   colleague (someone who is not the case's customer);
//! - anyone else is the customer.
//!
//! What is learnt is kept (`people`), with the names the person signs with, so that a
//! later "Hi Joy" reaches R&D and Liu Yu's next answer is known without evidence.

use super::staff::Staff;
use crate::cases::CaseRow;
use crate::db::schema::{escalations, messages};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::extract::{self, re, Greeting};
use crate::mail::ParsedMail;
use crate::people::{self, Learned, Side};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::sync::OnceLock;

/// The writer's own text: everything before the first quoted part (a `>` line, an
/// "original message" rule, an "On … wrote:" line or a quoted header block).
pub(crate) fn own_text(text: &str) -> &str {
    static QUOTE: OnceLock<regex::Regex> = OnceLock::new();
    let quote = re(
        &QUOTE,
        r"(?im)^[ \t]*(?:>|-{3,}\s*(?:original message|原始邮件|原始郵件|forwarded message|转发的邮件)|on .+ wrote:\s*$|在.+写道[:：]\s*$|(?:发件人|寄件者|from)\s*[:：].+$)",
    );
    match quote.find(text) {
        Some(m) => &text[..m.start()],
        None => text,
    }
}

/// What one message's own text shows about its writer.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Signals {
    /// The side and the kind of evidence (`scope`, `closure`, `escalation`,
    /// `signature`).
    pub side: Option<(Side, &'static str)>,
    /// The name under a sign-off ("Sincerely,\nJoy").
    pub sign_name: Option<String>,
    /// The address in the signature ("Email: liuyu@cmgos.com").
    pub sign_address: Option<String>,
}

pub(crate) fn read(own: &str) -> Signals {
    static RND: OnceLock<regex::Regex> = OnceLock::new();
    static SUPPORT: OnceLock<regex::Regex> = OnceLock::new();
    static SIGN_OFF: OnceLock<regex::Regex> = OnceLock::new();
    static MAIL: OnceLock<regex::Regex> = OnceLock::new();
    let mut s = Signals::default();
    // Scope and closure need one of their headers: look for one before parsing.
    let lower = own.to_lowercase();
    let sections = [
        "问题定义",
        "問題定義",
        "problem definition",
        "problem description",
        "issue definition",
        "案例总结",
        "案例總結",
        "summary",
    ];
    let may_have_sections = sections.iter().any(|h| lower.contains(h));
    if may_have_sections && extract::extract_closure(own).is_some() {
        s.side = Some((Side::Support, "closure"));
    } else if may_have_sections && extract::extract_scope(own).is_some() {
        s.side = Some((Side::Support, "scope"));
    } else if extract::greeting(own) == Greeting::Dev {
        s.side = Some((Side::Support, "escalation"));
    }
    let lines: Vec<&str> = own
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(15)..];
    let rnd = re(
        &RND,
        r"(?i)^(?:r\s*&\s*d|r＆d|研发|研发部|研发中心|研发团队|研发工程师|development|software development|dev team)(?:\s+(?:team|engineer|department|center|centre))?$",
    );
    let support = re(
        &SUPPORT,
        r"(?i)(?:服务电话|服务热线|技术支持热线|客服热线|技术支持工程师|support hotline|service hotline|(?:technical )?support engineer)",
    );
    let sign_off = re(
        &SIGN_OFF,
        r"(?i)^(?:sincerely|best regards|kind regards|regards|best|thanks|thank you|br|cheers|此致敬礼|此致|祝好|谢谢)[,，!！.。]?$",
    );
    let mail = re(
        &MAIL,
        r"(?i)^(?:e-?mail|电子邮箱|电子邮件|邮箱|mail)\s*[:：]\s*([A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})",
    );
    if s.side.is_none() {
        if tail.iter().any(|l| rnd.is_match(l)) {
            s.side = Some((Side::Rnd, "signature"));
        } else if tail
            .iter()
            .any(|l| l.chars().count() <= 80 && support.is_match(l))
        {
            s.side = Some((Side::Support, "signature"));
        }
    }
    for (i, l) in tail.iter().enumerate() {
        if s.sign_name.is_none() && sign_off.is_match(l) {
            s.sign_name = tail
                .get(i + 1)
                .filter(|n| {
                    let n = n.trim();
                    (1..=30).contains(&n.chars().count())
                        && !n.contains(|c: char| {
                            c.is_ascii_digit() || c == ':' || c == '：' || c == '@'
                        })
                        && !rnd.is_match(n)
                })
                .map(|n| n.trim().to_string());
        }
        if s.sign_address.is_none() {
            if let Some(c) = mail.captures(l) {
                s.sign_address = Some(c[1].to_lowercase());
            }
        }
    }
    s
}

/// The side of `pm`'s sender as imported history shows it, learnt and kept, or `None`
/// (an account decides, or the sender is the customer).
pub(super) fn infer_side(
    conn: &mut DbConn,
    staff: &Staff,
    pm: &ParsedMail,
    signals: &Signals,
    case: Option<&CaseRow>,
    at: NaiveDateTime,
) -> QueryResult<Option<Side>> {
    if staff.knows(&pm.from_name, &pm.from_address) {
        return Ok(None);
    }
    let known = staff.learnt_side(conn, &pm.from_name, &pm.from_address)?;
    if known == Some(Side::Customer) {
        // An admin said so: what their mail shows no longer counts.
        return Ok(None);
    }
    let mut found = signals.side;
    if found.is_none() && known.is_none() {
        if let Some(c) = case {
            if answers_escalation(conn, c, pm)? {
                found = Some((Side::Rnd, "answer"));
            }
        }
    }
    let side = known.or(found.map(|(s, _)| s));
    if let Some(side) = side {
        let aliases: Vec<String> = signals.sign_name.iter().cloned().collect();
        let address = (!pm.from_address.is_empty())
            .then_some(pm.from_address.as_str())
            .or(signals.sign_address.as_deref());
        let name = if pm.from_name.trim().is_empty() {
            address.unwrap_or_default()
        } else {
            pm.from_name.as_str()
        };
        // Nothing new to keep when the person is known and brings no new name.
        let mut keys: Vec<String> = Vec::new();
        keys.extend(address.and_then(people::address_key));
        keys.extend(people::name_key(name));
        keys.extend(aliases.iter().filter_map(|a| people::name_key(a)));
        let new_keys = known.is_none()
            || keys
                .iter()
                .any(|k| staff.learnt_side_of_key(k).is_none_or(|s| s != side));
        if new_keys {
            people::learn(
                conn,
                &Learned {
                    name,
                    address,
                    side,
                    evidence: found.map(|(_, e)| e).unwrap_or("seen"),
                    case_id: case.map(|c| c.id),
                    aliases: &aliases,
                    at,
                },
            )?;
            staff.remember(&keys, side);
        }
    }
    Ok(side)
}

/// Whether `pm` answers an escalation request support sent on `case` that is still
/// waiting, from someone who is not the case's customer.
fn answers_escalation(conn: &mut DbConn, case: &CaseRow, pm: &ParsedMail) -> QueryResult<bool> {
    // The case's contact, or someone of their organisation, first: no query.
    let addr = pm.from_address.trim();
    if !addr.is_empty() {
        if let Some(contact) = &case.contact_email {
            let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_lowercase());
            if contact.eq_ignore_ascii_case(addr) || domain(contact) == domain(addr) {
                return Ok(false);
            }
        }
    }
    if case.status != "escalated" {
        // An escalation waiting on R&D leaves its case escalated.
        return Ok(false);
    }
    let waiting: bool = diesel::select(diesel::dsl::exists(
        escalations::table
            .filter(escalations::case_id.eq(case.id))
            .filter(escalations::status.eq("open")),
    ))
    .row(conn)?;
    if !waiting {
        return Ok(false);
    }
    // The customer as the thread names them: anyone who wrote as the customer here.
    let customers = messages::table
        .filter(messages::case_id.eq(case.id))
        .filter(messages::direction.eq("customer"));
    let is_customer: bool = if addr.is_empty() {
        diesel::select(diesel::dsl::exists(
            customers.filter(messages::from_name.eq(pm.from_name.trim())),
        ))
        .row(conn)?
    } else {
        diesel::select(diesel::dsl::exists(
            customers.filter(messages::from_address.eq(addr)),
        ))
        .row(conn)?
    };
    Ok(!is_customer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str =
        "马先生，您好：\n问题定义：\n用户反馈激活失败。\n问题范围：\n激活客户端报错。\n";

    #[test]
    fn quoted_text_is_not_the_writers_own() {
        let reply = format!("好的，谢谢。\n\n-----原始邮件-----\n{SCOPE}");
        assert_eq!(own_text(&reply).trim(), "好的，谢谢。");
        let reply = format!("ok thanks\n\nOn Mon, 1 Jul 2024, Wang wrote:\n> {SCOPE}");
        assert_eq!(own_text(&reply).trim(), "ok thanks");
        let reply = format!("收到\n发件人: Wang Binbin\n{SCOPE}");
        assert_eq!(read(own_text(&reply)).side, None);
        assert_eq!(read(SCOPE).side, Some((Side::Support, "scope")));
    }

    #[test]
    fn signatures_tell_the_side_the_sign_name_and_the_address() {
        let rnd = "Hi，\n结论如下。\nSincerely,\nJoy\nR&D \nMobile: +8613691188747\nEmail: liuyu@cmgos.com <mailto:liuyu@cmgos.com>";
        let s = read(rnd);
        assert_eq!(s.side, Some((Side::Rnd, "signature")));
        assert_eq!(s.sign_name.as_deref(), Some("Joy"));
        assert_eq!(s.sign_address.as_deref(), Some("liuyu@cmgos.com"));
        let support = "您好：\n已收到日志。\n--------------\n王彬彬 Binbin Wang\n服务电话： 400-818-0055\n电子邮箱： Wangbb@cmgos.com";
        let s = read(support);
        assert_eq!(s.side, Some((Side::Support, "signature")));
        assert_eq!(s.sign_address.as_deref(), Some("wangbb@cmgos.com"));
        assert_eq!(
            read("Hi Dev,\nplease check the logs.").side,
            Some((Side::Support, "escalation"))
        );
        // A customer's own words: no side.
        let customer = "您好，激活还是失败，日志见附件。\n谢谢\n马明\n中银金融科技有限公司";
        let s = read(customer);
        assert_eq!(s.side, None);
        assert_eq!(s.sign_name.as_deref(), Some("马明"));
        // "R&D" in a sentence is not a signature line.
        assert_eq!(read("Did your R&D look at this yet?").side, None);
    }
}
