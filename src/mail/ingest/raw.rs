//! Raw messages: the exact bytes, content-addressed, stored before anything parses them.

use crate::db::schema::raw_messages;
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::IngestError;
use crate::storage::{sha256_hex, BlobStore};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Nullable, Text, Timestamp};

/// Raw messages up to this size live in the database row (fast for the many small
/// ones); larger ones go to the blob store. Either way they are content-addressed.
pub const INLINE_RAW_MAX: usize = 256 * 1024;

/// Stores the exact bytes (content-addressed) and their row; returns the row id.
#[tracing::instrument(level = "debug", skip(conn, store, raw), fields(size = raw.len()))]
pub fn store_raw(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    raw: &[u8],
    source: &str,
) -> Result<i64, IngestError> {
    let sha = sha256_hex(raw);
    let inline = raw.len() <= INLINE_RAW_MAX;
    if !inline {
        // Only the rare large message is looked up first: its bytes go to the blob
        // store, which the row then names.
        if let Some(id) = find(conn, &sha)? {
            return Ok(id);
        }
        store.put(raw)?;
    }
    // One statement for the common case: the row, or nothing when the same bytes are
    // stored already (imported twice, or another writer at the same moment: on
    // PostgreSQL this waits for that writer's commit rather than failing ours).
    use crate::db::InsertId;
    let inserted: Option<i64> = crate::db::cached_insert(
        "INSERT INTO raw_messages (sha256, size, source, received_at, data) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind::<Text, _>(&sha)
    .bind::<BigInt, _>(raw.len() as i64)
    .bind::<Text, _>(source)
    .bind::<Timestamp, _>(crate::now())
    .bind::<Nullable<Binary>, _>(inline.then_some(raw))
    .insert_id(conn)?;
    match inserted {
        Some(id) => Ok(id),
        None => find(conn, &sha)?.ok_or(IngestError::Db(diesel::result::Error::NotFound)),
    }
}

fn find(conn: &mut DbConn, sha: &str) -> QueryResult<Option<i64>> {
    raw_messages::table
        .filter(raw_messages::sha256.eq(sha))
        .select(raw_messages::id)
        .first_row(conn)
        .optional()
}

/// The exact bytes of a stored raw message.
pub fn load_raw(conn: &mut DbConn, store: &dyn BlobStore, id: i64) -> Result<Vec<u8>, IngestError> {
    let (sha, data): (String, Option<Vec<u8>>) = raw_messages::table
        .find(id)
        .select((raw_messages::sha256, raw_messages::data))
        .first_row(conn)?;
    match data {
        Some(d) => Ok(d),
        None => Ok(store.get(&sha)?),
    }
}
