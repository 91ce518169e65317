//! People Casebook has worked out from threads: which side a sender without an account
//! is on (support or R&D), why, and every name and address they go by.
//!
//! Accounts, aliases and staff domains always win; what is learnt here structures
//! imported history only (live mail acts as staff only from a verified identity).
//!
//! [`senders`] keeps every sender seen, [`domains`] the staff domains an admin marked.

pub mod domains;
pub mod senders;
pub mod signature;

use crate::db::schema::{people, person_keys};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The side a person was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Support,
    Rnd,
    /// An admin said so: the thread's signals no longer count for this person.
    Customer,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Support => "support",
            Side::Rnd => "rnd",
            Side::Customer => "customer",
        }
    }

    /// Whether this side is staff (support or R&D).
    pub fn is_staff(self) -> bool {
        self != Side::Customer
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "support" => Some(Side::Support),
            "rnd" => Some(Side::Rnd),
            "customer" => Some(Side::Customer),
            _ => None,
        }
    }
}

/// The lookup key of an address.
pub fn address_key(address: &str) -> Option<String> {
    let a = address.trim().to_lowercase();
    (a.contains('@') && a.len() <= 320).then(|| format!("addr:{a}"))
}

/// The lookup key of a display or signature name: case and spacing folded.
pub fn name_key(name: &str) -> Option<String> {
    let n = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = n
        .trim_matches(|c: char| c == '"' || c == '\'')
        .to_lowercase();
    (!n.is_empty() && n.chars().count() <= 80).then(|| format!("name:{n}"))
}

/// The side of the person known by `key`.
fn side_by_key(conn: &mut DbConn, key: &str) -> QueryResult<Option<Side>> {
    let side: Option<String> = person_keys::table
        .inner_join(people::table)
        .filter(person_keys::key.eq(key))
        .select(people::side)
        .first_row(conn)
        .optional()?;
    Ok(side.as_deref().and_then(Side::parse))
}

/// The side of the person known by `address` or, failing that, by `name`.
pub fn side_of(conn: &mut DbConn, name: &str, address: &str) -> QueryResult<Option<Side>> {
    for key in [address_key(address), name_key(name)].into_iter().flatten() {
        if let Some(side) = side_by_key(conn, &key)? {
            return Ok(Some(side));
        }
    }
    Ok(None)
}

/// Every key of everyone learnt, with their side: for a bulk run, which looks people up
/// in memory instead of once per message.
pub fn all_keys(conn: &mut DbConn) -> QueryResult<std::collections::HashMap<String, Side>> {
    let rows: Vec<(String, String)> = person_keys::table
        .inner_join(people::table)
        .select((person_keys::key, people::side))
        .rows(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, s)| Side::parse(&s).map(|s| (k, s)))
        .collect())
}

/// Whether `name` names someone seen on the R&D side.
pub fn is_rnd_name(conn: &mut DbConn, name: &str) -> QueryResult<bool> {
    match name_key(name) {
        Some(key) => Ok(side_by_key(conn, &key)? == Some(Side::Rnd)),
        None => Ok(false),
    }
}

/// Records `case_id` as where the evidence is, for the person known by `address` or
/// `name` whose evidence came before their case existed (the case's first message).
pub fn note_case(conn: &mut DbConn, name: &str, address: &str, case_id: i64) -> QueryResult<()> {
    for key in [address_key(address), name_key(name)].into_iter().flatten() {
        let person: Option<i64> = person_keys::table
            .filter(person_keys::key.eq(&key))
            .select(person_keys::person_id)
            .first_row(conn)
            .optional()?;
        if let Some(id) = person {
            diesel::update(people::table.find(id).filter(people::case_id.is_null()))
                .set(people::case_id.eq(case_id))
                .exec(conn)?;
            return Ok(());
        }
    }
    Ok(())
}

/// What a message showed about its sender.
pub struct Learned<'a> {
    pub name: &'a str,
    pub address: Option<&'a str>,
    pub side: Side,
    pub evidence: &'a str,
    pub case_id: Option<i64>,
    /// Other names the person signs with ("Joy" under Liu Yu's answers).
    pub aliases: &'a [String],
    pub at: NaiveDateTime,
}

/// Records what was learnt: a new person with their keys, or new keys (an address, a
/// signature name) for the person already known by one of them. A known person's side
/// is never changed here (an admin changes it).
pub fn learn(conn: &mut DbConn, l: &Learned<'_>) -> QueryResult<()> {
    let mut keys: Vec<String> = Vec::new();
    keys.extend(l.address.and_then(address_key));
    keys.extend(name_key(l.name));
    keys.extend(l.aliases.iter().filter_map(|a| name_key(a)));
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    let known: Option<i64> = person_keys::table
        .filter(person_keys::key.eq_any(&keys))
        .select(person_keys::person_id)
        .first_row(conn)
        .optional()?;
    let person = match known {
        Some(id) => id,
        None => diesel::insert_into(people::table)
            .values((
                people::name.eq(l.name.trim()),
                people::address.eq(l.address.map(|a| a.trim().to_lowercase())),
                people::side.eq(l.side.as_str()),
                people::evidence.eq(l.evidence),
                people::case_id.eq(l.case_id),
                people::created_at.eq(l.at),
                people::updated_at.eq(l.at),
            ))
            .returning(people::id)
            .row(conn)?,
    };
    for key in keys {
        let row = (person_keys::key.eq(key), person_keys::person_id.eq(person));
        match conn {
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(person_keys::table)
                .values(row)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(person_keys::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok(())
}

/// One person as `/people` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersonView {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub side: String,
    /// What showed the side: `scope`, `closure`, `escalation`, `signature`, `answer`,
    /// `admin`.
    pub evidence: String,
    /// The case the evidence is in.
    pub case_number: Option<String>,
    /// Every name and address the person goes by.
    pub names: Vec<String>,
    pub seen_at: String,
}

/// Everyone learnt from threads, by name (at most `limit`).
pub fn list(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<PersonView>> {
    use crate::db::schema::cases;
    type Row = (
        i64,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = people::table
        .left_join(cases::table.on(cases::id.nullable().eq(people::case_id)))
        .order(people::name.asc())
        .limit(limit)
        .select((
            people::id,
            people::name,
            people::address,
            people::side,
            people::evidence,
            cases::number.nullable(),
            people::created_at,
        ))
        .rows(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let keys: Vec<(i64, String)> = person_keys::table
        .filter(person_keys::person_id.eq_any(&ids))
        .order(person_keys::key.asc())
        .select((person_keys::person_id, person_keys::key))
        .rows(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, address, side, evidence, case_number, at)| PersonView {
                names: keys
                    .iter()
                    .filter(|(p, _)| *p == id)
                    .map(|(_, k)| k.split_once(':').map(|(_, v)| v).unwrap_or(k).to_string())
                    .collect(),
                id,
                name,
                address,
                side,
                evidence,
                case_number,
                seen_at: at.format("%Y-%m-%d %H:%M").to_string(),
            },
        )
        .collect())
}

/// An admin decides a person's side; `Customer` is kept too, so that the thread's
/// signals stop counting for them. Returns the person's keys (for re-analysis), or
/// `None` when there is no such person.
pub fn set_side(conn: &mut DbConn, id: i64, side: Side) -> QueryResult<Option<Vec<String>>> {
    let n = diesel::update(people::table.find(id))
        .set((
            people::side.eq(side.as_str()),
            people::evidence.eq("admin"),
            people::updated_at.eq(crate::now()),
        ))
        .exec(conn)?;
    if n != 1 {
        return Ok(None);
    }
    Ok(Some(keys_of(conn, id)?))
}

/// Every key of person `id`.
pub fn keys_of(conn: &mut DbConn, id: i64) -> QueryResult<Vec<String>> {
    person_keys::table
        .filter(person_keys::person_id.eq(id))
        .order(person_keys::key.asc())
        .select(person_keys::key)
        .rows(conn)
}

/// An admin decides the side of the sender known by `address` (else, for mail that
/// carries names only, by `name`): the person already known by that key, or a new one
/// known by it alone (a display name such as "Support" is never pinned for everyone
/// who uses it when there is an address). Returns the person's keys.
pub fn set_side_of_sender(
    conn: &mut DbConn,
    name: &str,
    address: Option<&str>,
    side: Side,
) -> QueryResult<Vec<String>> {
    let key = match address.and_then(address_key) {
        Some(k) => k,
        None => match name_key(name) {
            Some(k) => k,
            None => return Ok(Vec::new()),
        },
    };
    let known: Option<i64> = person_keys::table
        .filter(person_keys::key.eq(&key))
        .select(person_keys::person_id)
        .first_row(conn)
        .optional()?;
    if let Some(id) = known {
        return Ok(set_side(conn, id, side)?.unwrap_or_default());
    }
    let now = crate::now();
    let shown = if name.trim().is_empty() {
        address.unwrap_or_default()
    } else {
        name
    };
    let id: i64 = diesel::insert_into(people::table)
        .values((
            people::name.eq(shown.trim()),
            people::address.eq(address.map(|a| a.trim().to_lowercase())),
            people::side.eq(side.as_str()),
            people::evidence.eq("admin"),
            people::case_id.eq(None::<i64>),
            people::created_at.eq(now),
            people::updated_at.eq(now),
        ))
        .returning(people::id)
        .row(conn)?;
    diesel::insert_into(person_keys::table)
        .values((person_keys::key.eq(&key), person_keys::person_id.eq(id)))
        .exec(conn)?;
    Ok(vec![key])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_and_spacing() {
        assert_eq!(name_key("  Liu   Yu "), Some("name:liu yu".into()));
        assert_eq!(name_key("\"Joy\""), Some("name:joy".into()));
        assert_eq!(name_key("   "), None);
        assert_eq!(
            address_key("LiuYu@CMGOS.com"),
            Some("addr:liuyu@cmgos.com".into())
        );
        assert_eq!(address_key("not an address"), None);
    }
}
