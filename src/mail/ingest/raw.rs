//! Raw messages: the exact bytes, content-addressed, stored before anything parses them.

use crate::db::schema::raw_messages;
use crate::db::DbConn;
use crate::mail::IngestError;
use crate::storage::{sha256_hex, BlobStore};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Raw messages up to this size live in the database row (fast for the many small
/// ones); larger ones go to the blob store. Either way they are content-addressed.
pub const INLINE_RAW_MAX: usize = 256 * 1024;

#[derive(Insertable)]
#[diesel(table_name = raw_messages)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewRawMessage<'a> {
    sha256: &'a str,
    size: i64,
    source: &'a str,
    received_at: NaiveDateTime,
    data: Option<&'a [u8]>,
}

/// Stores the exact bytes (content-addressed) and their row; returns the row id.
#[tracing::instrument(level = "debug", skip(conn, store, raw), fields(size = raw.len()))]
pub fn store_raw(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    raw: &[u8],
    source: &str,
) -> Result<i64, IngestError> {
    let sha = sha256_hex(raw);
    if let Some(id) = find(conn, &sha)? {
        return Ok(id);
    }
    let inline = raw.len() <= INLINE_RAW_MAX;
    if !inline {
        store.put(raw)?;
    }
    let inserted = diesel::insert_into(raw_messages::table)
        .values(NewRawMessage {
            sha256: &sha,
            size: raw.len() as i64,
            source,
            received_at: crate::now(),
            data: inline.then_some(raw),
        })
        .returning(raw_messages::id)
        .get_result(conn);
    match inserted {
        Ok(id) => Ok(id),
        // Another writer stored the same bytes at the same moment.
        Err(_) => Ok(raw_messages::table
            .filter(raw_messages::sha256.eq(&sha))
            .select(raw_messages::id)
            .first(conn)?),
    }
}

fn find(conn: &mut DbConn, sha: &str) -> QueryResult<Option<i64>> {
    raw_messages::table
        .filter(raw_messages::sha256.eq(sha))
        .select(raw_messages::id)
        .first(conn)
        .optional()
}

/// The exact bytes of a stored raw message.
pub fn load_raw(conn: &mut DbConn, store: &dyn BlobStore, id: i64) -> Result<Vec<u8>, IngestError> {
    let (sha, data): (String, Option<Vec<u8>>) = raw_messages::table
        .find(id)
        .select((raw_messages::sha256, raw_messages::data))
        .first(conn)?;
    match data {
        Some(d) => Ok(d),
        None => Ok(store.get(&sha)?),
    }
}
