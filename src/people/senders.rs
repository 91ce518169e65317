//! Every sender seen in received mail, with how many messages and cases: kept by a
//! background pass over new messages (ingest itself does not pay for it), so `/people`
//! reads one index range whatever the size of the database.

use super::{address_key, name_key};
use crate::db::schema::{cases, messages, people, person_keys, sender_cases, senders};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The key a sender is kept under: their address, else their name.
pub fn key_of(name: &str, address: &str) -> Option<String> {
    address_key(address).or_else(|| name_key(name))
}

#[derive(Default)]
struct Seen {
    name: String,
    address: Option<String>,
    messages: i64,
    cases: BTreeSet<i64>,
    first: Option<NaiveDateTime>,
    last: Option<(NaiveDateTime, i64)>,
}

/// Counts up to `limit` messages not counted yet, in one transaction. Returns how many
/// message rows it counted (0: nothing new).
pub fn index_batch(conn: &mut DbConn, limit: i64) -> QueryResult<usize> {
    crate::db::write_tx(conn, |conn| {
        if !crate::db::is_sqlite(conn) {
            // One pass at a time across servers (SQLite's writer is single already).
            diesel::sql_query("SELECT pg_advisory_xact_lock(7310021)").exec(conn)?;
        }
        type Row = (i64, i64, Option<i64>, String, String, NaiveDateTime);
        // `NOT counted` as the partial index `messages_uncounted` spells it (a bound
        // parameter would keep SQLite from using it).
        let rows: Vec<Row> = messages::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("NOT counted"))
            .order(messages::id.asc())
            .limit(limit)
            .select((
                messages::id,
                messages::case_id,
                messages::raw_id,
                messages::from_name,
                messages::from_address,
                messages::sent_at,
            ))
            .rows(conn)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
        for (_, case_id, raw_id, name, address, at) in &rows {
            if raw_id.is_none() {
                // Sent from Casebook: staff, known by their account.
                continue;
            }
            let Some(key) = key_of(name, address) else {
                continue;
            };
            let s = seen.entry(key).or_default();
            if s.name.is_empty() && !name.trim().is_empty() {
                s.name = name.trim().to_string();
            }
            if s.address.is_none() && address.contains('@') {
                s.address = Some(address.trim().to_lowercase());
            }
            s.messages += 1;
            s.cases.insert(*case_id);
            s.first = Some(s.first.map_or(*at, |f| f.min(*at)));
            if s.last.is_none_or(|(l, _)| *at >= l) {
                s.last = Some((*at, *case_id));
            }
        }
        let keys: Vec<&String> = seen.keys().collect();
        let known: HashMap<String, (NaiveDateTime, NaiveDateTime)> = senders::table
            .filter(senders::key.eq_any(&keys))
            .select((senders::key, senders::first_seen, senders::last_seen))
            .rows::<(String, NaiveDateTime, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(k, f, l)| (k, (f, l)))
            .collect();
        for (key, s) in &seen {
            let mut new_cases = 0i64;
            for case_id in &s.cases {
                let row = (
                    sender_cases::sender_key.eq(key),
                    sender_cases::case_id.eq(case_id),
                );
                new_cases += match conn {
                    DbConn::Sqlite(c) => diesel::insert_or_ignore_into(sender_cases::table)
                        .values(row)
                        .execute(c)?,
                    DbConn::Pg(c) => diesel::insert_into(sender_cases::table)
                        .values(row)
                        .on_conflict_do_nothing()
                        .execute(c)?,
                } as i64;
            }
            let (first, (last, last_case)) = match (s.first, s.last) {
                (Some(f), Some(l)) => (f, l),
                _ => continue,
            };
            match known.get(key) {
                Some((f0, l0)) => {
                    let last_case = (last >= *l0).then_some(last_case);
                    diesel::update(senders::table.find(key))
                        .set((
                            senders::messages.eq(senders::messages + s.messages),
                            senders::cases.eq(senders::cases + new_cases),
                            senders::first_seen.eq(first.min(*f0)),
                            senders::last_seen.eq(last.max(*l0)),
                        ))
                        .exec(conn)?;
                    if let Some(c) = last_case {
                        diesel::update(senders::table.find(key))
                            .set(senders::last_case_id.eq(c))
                            .exec(conn)?;
                    }
                }
                None => {
                    diesel::insert_into(senders::table)
                        .values((
                            senders::key.eq(key),
                            senders::name.eq(&s.name),
                            senders::address.eq(&s.address),
                            senders::messages.eq(s.messages),
                            senders::cases.eq(new_cases),
                            senders::last_case_id.eq(last_case),
                            senders::first_seen.eq(first),
                            senders::last_seen.eq(last),
                        ))
                        .exec(conn)?;
                }
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        diesel::update(messages::table.filter(messages::id.eq_any(&ids)))
            .set(messages::counted.eq(true))
            .exec(conn)?;
        Ok(rows.len())
    })
}

/// Counts every message not yet counted (a command-line run, tests).
pub fn index_all(conn: &mut DbConn) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let n = index_batch(conn, 5000)?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// The name and address of the sender kept under `key`.
pub fn find(conn: &mut DbConn, key: &str) -> QueryResult<Option<(String, Option<String>)>> {
    senders::table
        .find(key)
        .select((senders::name, senders::address))
        .first_row(conn)
        .optional()
}

/// The cases the senders known by `keys` wrote in.
pub fn cases_of(conn: &mut DbConn, keys: &[String]) -> QueryResult<Vec<i64>> {
    sender_cases::table
        .filter(sender_cases::sender_key.eq_any(keys))
        .select(sender_cases::case_id)
        .distinct()
        .rows(conn)
}

/// The keys of every sender whose address is in `domain` (a background job's walk:
/// the senders table, far smaller than the mail).
pub fn keys_in_domain(conn: &mut DbConn, domain: &str) -> QueryResult<Vec<String>> {
    let suffix = format!("@{domain}");
    let keys: Vec<String> = senders::table
        .filter(senders::key.like("addr:%"))
        .select(senders::key)
        .rows(conn)?;
    Ok(keys.into_iter().filter(|k| k.ends_with(&suffix)).collect())
}

/// One sender as `/people` lists them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SenderView {
    pub key: String,
    pub name: String,
    pub address: Option<String>,
    pub messages: i64,
    pub cases: i64,
    pub last_case_number: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// `support`, `rnd`, `customer`, or the account's role.
    pub side: String,
    /// Where the side comes from: `account`, `domain`, `admin`, `thread` or `none`.
    pub decided_by: String,
    /// The evidence for a side worked out from the thread (`scope`, `closure`, …).
    pub evidence: Option<String>,
    pub evidence_case: Option<String>,
    /// The linked account's address.
    pub account: Option<String>,
}

/// A page of senders: newest first from `before` (`last_seen`, key), or by key from the
/// prefix `q` (an address or a name).
pub struct Page {
    pub rows: Vec<SenderView>,
    /// Where the next page starts (`last_seen` and key), when there may be one.
    pub next: Option<String>,
}

/// What an account says about a sender: its address and role.
pub type AccountOf<'a> = &'a dyn Fn(&str, &str) -> Option<(String, String)>;

pub fn page(
    conn: &mut DbConn,
    q: &str,
    before: Option<&str>,
    limit: i64,
    account_of: AccountOf<'_>,
    staff_domain: &dyn Fn(&str) -> bool,
) -> QueryResult<Page> {
    type Row = (
        String,
        String,
        Option<String>,
        i64,
        i64,
        Option<String>,
        NaiveDateTime,
        NaiveDateTime,
    );
    let select = (
        senders::key,
        senders::name,
        senders::address,
        senders::messages,
        senders::cases,
        cases::number.nullable(),
        senders::first_seen,
        senders::last_seen,
    );
    let joined =
        senders::table.left_join(cases::table.on(cases::id.nullable().eq(senders::last_case_id)));
    let q = q.trim().to_lowercase();
    let rows: Vec<Row> = if !q.is_empty() {
        let (lo_a, lo_n) = (format!("addr:{q}"), format!("name:{q}"));
        let (hi_a, hi_n) = (format!("{lo_a}\u{10FFFF}"), format!("{lo_n}\u{10FFFF}"));
        joined
            .filter(
                senders::key
                    .ge(&lo_a)
                    .and(senders::key.lt(&hi_a))
                    .or(senders::key.ge(&lo_n).and(senders::key.lt(&hi_n))),
            )
            .order(senders::key.asc())
            .limit(limit)
            .select(select)
            .rows(conn)?
    } else {
        let cursor = before.and_then(|b| {
            let (t, k) = b.split_once('|')?;
            Some((
                NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok()?,
                k.to_string(),
            ))
        });
        match cursor {
            Some((t, k)) => joined
                .filter(
                    senders::last_seen
                        .lt(t)
                        .or(senders::last_seen.eq(t).and(senders::key.lt(k))),
                )
                .order((senders::last_seen.desc(), senders::key.desc()))
                .limit(limit)
                .select(select)
                .rows(conn)?,
            None => joined
                .order((senders::last_seen.desc(), senders::key.desc()))
                .limit(limit)
                .select(select)
                .rows(conn)?,
        }
    };
    let next = (rows.len() as i64 == limit && q.is_empty())
        .then(|| {
            rows.last()
                .map(|r| format!("{}|{}", r.7.format("%Y-%m-%dT%H:%M:%S%.f"), r.0))
        })
        .flatten();
    // What people were learnt, for the page's keys and their names: one query.
    let mut keys: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    keys.extend(rows.iter().filter_map(|r| name_key(&r.1)));
    type Known = (String, String, String, Option<String>);
    let learnt: HashMap<String, (String, String, Option<String>)> = person_keys::table
        .inner_join(people::table)
        .left_join(cases::table.on(cases::id.nullable().eq(people::case_id)))
        .filter(person_keys::key.eq_any(&keys))
        .select((
            person_keys::key,
            people::side,
            people::evidence,
            cases::number.nullable(),
        ))
        .rows::<Known>(conn)?
        .into_iter()
        .map(|(k, s, e, c)| (k, (s, e, c)))
        .collect();
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M").to_string();
    let rows = rows
        .into_iter()
        .map(
            |(key, name, address, messages, cases, last_case_number, first, last)| {
                let addr = address.clone().unwrap_or_default();
                let account = account_of(&name, &addr);
                let person = learnt
                    .get(&key)
                    .or_else(|| name_key(&name).and_then(|k| learnt.get(&k)));
                let (side, decided_by, evidence, evidence_case) = match (&account, person) {
                    (Some((_, role)), _) => (role.clone(), "account", None, None),
                    (None, _) if staff_domain(&addr) => {
                        ("support".to_string(), "domain", None, None)
                    }
                    (None, Some((side, ev, case))) => (
                        side.clone(),
                        if ev == "admin" { "admin" } else { "thread" },
                        Some(ev.clone()),
                        case.clone(),
                    ),
                    (None, None) => ("customer".to_string(), "none", None, None),
                };
                SenderView {
                    key,
                    name,
                    address,
                    messages,
                    cases,
                    last_case_number,
                    first_seen: fmt(first),
                    last_seen: fmt(last),
                    side,
                    decided_by: decided_by.to_string(),
                    evidence,
                    evidence_case,
                    account: account.map(|(e, _)| e),
                }
            },
        )
        .collect();
    Ok(Page { rows, next })
}
