//! A stored attachment as the bundle pages show it: its entries and findings, and the
//! bytes of one entry, read back from the blob store.

use super::{page_of, read_entry, read_entry_page, EntryPage, Limits, Refusal};
use crate::db::schema::{attachments, bundle_entries, bundle_findings};
use crate::db::DbConn;
use crate::db::Direct;
use crate::storage::{BlobStore, StorageError};
use diesel::prelude::*;

/// An attachment of a case, as stored.
#[derive(Debug, Clone)]
pub struct StoredAttachment {
    pub filename: String,
    pub sha256: String,
    /// `ok`, `text`, `refused`, … or none for an attachment that is not a bundle.
    pub status: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Queryable)]
pub struct EntryRow {
    pub path: String,
    pub size: i64,
    pub compressed: i64,
    pub is_text: bool,
}

#[derive(Debug, Clone, Queryable)]
pub struct FindingRow {
    pub entry: String,
    pub line: i64,
    pub kind: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such attachment or entry")]
    NotFound,
    #[error("the bundle was refused at upload")]
    Refused,
    #[error("entry refused: {0}")]
    Entry(Refusal),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Attachment `id` of case `number`; `NotFound` when it belongs to another case.
pub fn of_case(conn: &mut DbConn, number: &str, id: i64) -> QueryResult<StoredAttachment> {
    let case =
        crate::cases::find_by_number(conn, number)?.ok_or(diesel::result::Error::NotFound)?;
    let (filename, sha256, status, note) = attachments::table
        .filter(attachments::id.eq(id))
        .filter(attachments::case_id.eq(case.id))
        .select((
            attachments::filename,
            attachments::sha256,
            attachments::bundle_status,
            attachments::bundle_note,
        ))
        .first_row::<(String, String, Option<String>, Option<String>)>(conn)?;
    Ok(StoredAttachment {
        filename,
        sha256,
        status,
        note,
    })
}

/// Files of case `number` to send with a mail: (id, file), in the order asked, each
/// once. `Ok(Err(total))` when together they exceed `max_bytes`.
pub fn files_for_mail(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    number: &str,
    ids: &[i64],
    max_bytes: u64,
) -> Result<Result<Vec<(i64, crate::mail::outbound::OutFile)>, u64>, ReadError> {
    let case_id = crate::cases::id_by_number(conn, number)?.ok_or(ReadError::NotFound)?;
    let mut seen = std::collections::BTreeSet::new();
    let wanted: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    // One query for them all (the caller bounds how many).
    let mut found: std::collections::HashMap<i64, (String, String, i64, String)> =
        attachments::table
            .filter(attachments::id.eq_any(&wanted))
            .filter(attachments::case_id.eq(case_id))
            .select((
                attachments::id,
                attachments::filename,
                attachments::content_type,
                attachments::size,
                attachments::sha256,
            ))
            .rows::<(i64, String, String, i64, String)>(conn)?
            .into_iter()
            .map(|(id, f, c, n, sha)| (id, (f, c, n, sha)))
            .collect();
    let mut rows = Vec::with_capacity(wanted.len());
    let mut total: u64 = 0;
    for id in wanted {
        let (filename, content_type, size, sha256) =
            found.remove(&id).ok_or(ReadError::NotFound)?;
        total = total.saturating_add(u64::try_from(size).unwrap_or(u64::MAX));
        rows.push((id, filename, content_type, sha256));
    }
    if total > max_bytes {
        return Ok(Err(total));
    }
    let mut files = Vec::with_capacity(rows.len());
    for (id, filename, content_type, sha256) in rows {
        let bytes = store.get(&sha256)?;
        files.push((
            id,
            crate::mail::outbound::OutFile {
                filename,
                content_type,
                bytes,
            },
        ));
    }
    Ok(Ok(files))
}

/// The attachment with its entries and findings, in stored order.
pub fn listing(
    conn: &mut DbConn,
    number: &str,
    id: i64,
) -> QueryResult<(StoredAttachment, Vec<EntryRow>, Vec<FindingRow>)> {
    let att = of_case(conn, number, id)?;
    let entries = bundle_entries::table
        .filter(bundle_entries::attachment_id.eq(id))
        .order(bundle_entries::id.asc())
        .select((
            bundle_entries::path,
            bundle_entries::size,
            bundle_entries::compressed_size,
            bundle_entries::is_text,
        ))
        .rows(conn)?;
    let findings = bundle_findings::table
        .filter(bundle_findings::attachment_id.eq(id))
        .order(bundle_findings::id.asc())
        .select((
            bundle_findings::entry_path,
            bundle_findings::line,
            bundle_findings::kind,
            bundle_findings::value,
        ))
        .rows(conn)?;
    Ok((att, entries, findings))
}

/// The bytes of `entry` in a bundle (or of the whole attachment when `entry` is empty
/// or the attachment is a text file), with the attachment's file name. Only entries
/// recorded at upload can be read.
pub fn read(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    number: &str,
    id: i64,
    entry: &str,
) -> Result<(String, Vec<u8>), ReadError> {
    let att = of_case(conn, number, id).map_err(|e| match e {
        diesel::result::Error::NotFound => ReadError::NotFound,
        other => ReadError::Db(other),
    })?;
    let data = store.get(&att.sha256)?;
    if entry.is_empty() || att.status.as_deref() == Some("text") {
        return Ok((att.filename, data));
    }
    if att.status.as_deref() != Some("ok") {
        return Err(ReadError::Refused);
    }
    let known: i64 = bundle_entries::table
        .filter(bundle_entries::attachment_id.eq(id))
        .filter(bundle_entries::path.eq(entry))
        .count()
        .row(conn)?;
    if known == 0 {
        return Err(ReadError::NotFound);
    }
    let bytes = read_entry(&data, entry, &Limits::default()).map_err(ReadError::Entry)?;
    Ok((att.filename, bytes))
}

/// Page `page` (of `size` bytes) of `entry` in a bundle, or of the whole attachment
/// when `entry` is empty or the attachment is a text file, with the attachment's file
/// name: the entry is streamed and skipped up to the page, never inflated whole. Only
/// entries recorded at upload can be read.
pub fn read_page(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    number: &str,
    id: i64,
    entry: &str,
    page: u64,
    size: u64,
) -> Result<(String, EntryPage), ReadError> {
    let att = of_case(conn, number, id).map_err(|e| match e {
        diesel::result::Error::NotFound => ReadError::NotFound,
        other => ReadError::Db(other),
    })?;
    if !(entry.is_empty() || att.status.as_deref() == Some("text")) {
        if att.status.as_deref() != Some("ok") {
            return Err(ReadError::Refused);
        }
        let known: i64 = bundle_entries::table
            .filter(bundle_entries::attachment_id.eq(id))
            .filter(bundle_entries::path.eq(entry))
            .count()
            .row(conn)?;
        if known == 0 {
            return Err(ReadError::NotFound);
        }
    }
    // Read in place: neither the stored file nor the entry is held whole.
    let data = store.open(&att.sha256)?;
    let p = if entry.is_empty() || att.status.as_deref() == Some("text") {
        page_of(data, page, size).map_err(|e| ReadError::Entry(Refusal::Damaged(e.to_string())))?
    } else {
        read_entry_page(data, entry, &Limits::default(), page, size).map_err(ReadError::Entry)?
    };
    Ok((att.filename, p))
}
