//! The quarantine: raw messages that could not be filed, each with its reason, until
//! an admin retries them or files them into a case by hand.

use super::ingest::load_raw;
use super::IngestError;
use crate::auth::User;
use crate::bundles::{store_attachment, File};
use crate::db::schema::quarantine;
use crate::db::DbConn;
use crate::db::Direct;
use crate::storage::{BlobStore, StorageError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Insertable)]
#[diesel(table_name = quarantine)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewQuarantine<'a> {
    raw_id: i64,
    source: &'a str,
    reason: &'a str,
    created_at: NaiveDateTime,
}

/// Quarantines raw message `raw_id` with `reason`, unless it already waits there.
pub fn put(conn: &mut DbConn, raw_id: i64, source: &str, reason: &str) -> QueryResult<()> {
    let open: Option<i64> = quarantine::table
        .filter(quarantine::raw_id.eq(raw_id))
        .filter(quarantine::resolved_at.is_null())
        .select(quarantine::id)
        .first_row(conn)
        .optional()?;
    if open.is_none() {
        diesel::insert_into(quarantine::table)
            .values(NewQuarantine {
                raw_id,
                source,
                reason,
                created_at: crate::now(),
            })
            .exec(conn)?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// No case has the number given.
    #[error("no such case")]
    NoCase,
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// `NotFound` when the quarantine row is unknown or already resolved.
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Files quarantined message `id` into case `number` by hand: the raw bytes become an
/// attachment of an internal entry on that case, and the quarantine row is resolved.
#[tracing::instrument(skip(conn, store, actor), fields(actor = actor.id))]
pub fn assign(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    id: i64,
    number: &str,
    actor: &User,
) -> Result<(), AssignError> {
    let (raw_id, source, reason): (i64, String, String) = quarantine::table
        .filter(quarantine::id.eq(id))
        .filter(quarantine::resolved_at.is_null())
        .select((quarantine::raw_id, quarantine::source, quarantine::reason))
        .first_row(conn)?;
    let raw = load_raw(conn, store, raw_id)?;
    let sha = store.put(&raw)?;
    crate::db::write_tx(conn, |c| -> Result<(), AssignError> {
        let case =
            crate::cases::merge::surviving_by_number(c, number)?.ok_or(AssignError::NoCase)?;
        let now = crate::now();
        let row = crate::cases::insert_internal(
            c,
            case.id,
            actor,
            &format!("{source}: {reason}"),
            "quarantine",
            Some(raw_id),
        )?;
        let filename = format!("quarantined-{id}.eml");
        let file = File {
            filename: &filename,
            content_type: "message/rfc822",
            bytes: &raw,
            sha256: &sha,
            is_tnef: false,
        };
        store_attachment(c, case.id, row, &file)?;
        diesel::update(quarantine::table.find(id))
            .set((
                quarantine::resolved_at.eq(now),
                quarantine::resolution.eq(format!("assigned to {number} by {}", actor.email)),
            ))
            .execute(c)?;
        crate::cases::audit(
            c,
            Some(case.id),
            &actor.name,
            "quarantine.assigned",
            &format!("quarantine {id}"),
        )?;
        Ok(())
    })
}
