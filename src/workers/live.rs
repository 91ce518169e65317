//! Live pages: one poller per server reads what changed (new rows of the audit trail,
//! which every change to a case writes, in the same transaction) about once a second
//! and broadcasts it to the browsers listening on `/events` (`web/live.rs`). Reading
//! the database, not the process, is what makes it work through several servers on
//! one PostgreSQL: each server's poller sees every server's changes.

use super::blocking;
use crate::db::schema::{audit_events, cases};
use crate::db::Pool;
use diesel::prelude::*;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the audit trail is read.
pub const INTERVAL: Duration = Duration::from_millis(1000);

/// One change, as the browser gets it. `action` "replying" says that `user_id`
/// (`name`) is typing a reply on the case.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub case: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The sending side, kept in the server's state; each `/events` subscribes.
pub type Hub = broadcast::Sender<Change>;

pub fn hub() -> Hub {
    broadcast::channel(1024).0
}

/// Ids seen lately: on PostgreSQL ids are taken in one order and committed in another,
/// so each pass reads again from a little before the highest id seen, and skips these.
const WINDOW: i64 = 200;

/// Starts the poller.
pub fn spawn(pool: Pool, hub: Hub) {
    tokio::spawn(async move {
        // Start at the end of the trail: only what happens from now on is news.
        let p = pool.clone();
        let mut last: i64 = blocking("live: cannot read the audit trail", move || {
            let mut c = p.get()?;
            let max: Option<i64> = audit_events::table
                .select(diesel::dsl::max(audit_events::id))
                .first(&mut c)?;
            Ok(max.unwrap_or(0))
        })
        .await
        .unwrap_or(0);
        let mut seen: VecDeque<i64> = VecDeque::new();
        let mut typing_since = crate::now();
        let mut swept = crate::now();
        loop {
            tokio::time::sleep(INTERVAL).await;
            if hub.receiver_count() == 0 {
                // Nobody to tell: who typed meanwhile is no news to whoever comes next.
                typing_since = crate::now();
                continue;
            }
            // Who is typing a reply: sightings newer than the last read (a little
            // overlap for commits that land late; the browser ignores repeats).
            let p = pool.clone();
            let from = typing_since - chrono::Duration::seconds(2);
            let sweep = crate::now() - swept > chrono::Duration::minutes(10);
            if let Some(list) = blocking("live: cannot read who is replying", move || {
                let mut c = p.get()?;
                if sweep {
                    crate::cases::presence::sweep(&mut c, crate::now())?;
                }
                Ok(crate::cases::presence::since(&mut c, from)?)
            })
            .await
            {
                if sweep {
                    swept = crate::now();
                }
                for s in list {
                    typing_since = typing_since.max(s.at);
                    let _ = hub.send(Change {
                        case: s.case,
                        action: "replying".into(),
                        user_id: Some(s.user_id),
                        name: Some(s.name),
                    });
                }
            }
            let p = pool.clone();
            let from = (last - WINDOW).max(0);
            let Some(rows) = blocking("live: cannot read the audit trail", move || {
                let mut c = p.get()?;
                Ok(audit_events::table
                    .inner_join(cases::table.on(audit_events::case_id.eq(cases::id.nullable())))
                    .filter(audit_events::id.gt(from))
                    .order(audit_events::id.asc())
                    .limit(500)
                    .select((audit_events::id, cases::number, audit_events::action))
                    .load::<(i64, String, String)>(&mut c)?)
            })
            .await
            else {
                continue;
            };
            for (id, case, action) in rows {
                if seen.contains(&id) {
                    continue;
                }
                seen.push_back(id);
                if seen.len() > 2 * WINDOW as usize {
                    seen.pop_front();
                }
                last = last.max(id);
                let _ = hub.send(Change {
                    case,
                    action,
                    user_id: None,
                    name: None,
                });
            }
        }
    });
}
