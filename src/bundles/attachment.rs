//! Attachment rows: every file filed on a case (mail attachment, upload, quarantined
//! message) is inserted here, and what a bundle holds is recorded beside it.

use super::{decode_text, inspect, is_text_name, is_zip, scan_text, Inspection, Limits};
use crate::db::schema::{attachments, bundle_entries, bundle_findings};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::ingest::{add_code, add_serial};
use diesel::prelude::*;
use regex::Regex;

#[derive(Insertable)]
#[diesel(table_name = attachments)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct NewAttachment<'a> {
    pub message_row_id: i64,
    pub case_id: i64,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub is_tnef: bool,
}

/// A file to file on a case, its bytes already in the blob store under `sha256`.
pub struct File<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
    pub sha256: &'a str,
    pub is_tnef: bool,
}

impl<'a> NewAttachment<'a> {
    /// The row of `file` on message row `message_row_id` of case `case_id`.
    fn of(file: &File<'a>, case_id: i64, message_row_id: i64) -> Self {
        NewAttachment {
            message_row_id,
            case_id,
            filename: file.filename,
            content_type: file.content_type,
            size: file.bytes.len() as i64,
            sha256: file.sha256,
            is_tnef: file.is_tnef,
        }
    }
}

/// Inserts the attachment row of `file` on message row `message_row_id`, without
/// inspecting it (see `store_examined`). Returns the attachment id.
#[tracing::instrument(level = "debug", skip(conn, file), fields(size = file.bytes.len()))]
pub fn store_attachment(
    conn: &mut DbConn,
    case_id: i64,
    message_row_id: i64,
    file: &File,
) -> QueryResult<i64> {
    diesel::insert_into(attachments::table)
        .values(NewAttachment::of(file, case_id, message_row_id))
        .returning(attachments::id)
        .row(conn)
}

/// `store_attachment` with what `examine` found (before the write transaction: the
/// transaction only writes rows): the bundle status in the row, its entries and
/// findings beside it, and the codes and serials they add to the case.
pub fn store_examined(
    conn: &mut DbConn,
    case_id: i64,
    message_row_id: i64,
    file: &File,
    examined: Option<&Examined>,
) -> QueryResult<i64> {
    let Some(e) = examined else {
        return store_attachment(conn, case_id, message_row_id, file);
    };
    let id: i64 = diesel::insert_into(attachments::table)
        .values((
            NewAttachment::of(file, case_id, message_row_id),
            attachments::bundle_status.eq(e.status),
            attachments::bundle_note.eq(&e.note),
        ))
        .returning(attachments::id)
        .row(conn)?;
    record_contents(conn, case_id, id, file.filename, &e.inspection)?;
    Ok(id)
}

#[derive(Insertable)]
#[diesel(table_name = bundle_entries)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewEntry<'a> {
    attachment_id: i64,
    path: &'a str,
    size: i64,
    compressed_size: i64,
    is_text: bool,
    depth: i64,
}

#[derive(Insertable)]
#[diesel(table_name = bundle_findings)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewFinding<'a> {
    case_id: i64,
    attachment_id: i64,
    entry_path: &'a str,
    line: i64,
    kind: &'a str,
    value: &'a str,
}

/// What an attachment holds, found without the database (so it can run before a
/// write transaction): the bundle status and note, entries and findings.
#[derive(Debug)]
pub struct Examined {
    status: &'static str,
    note: String,
    inspection: Inspection,
}

/// Inspects an attachment (a bundle within `Limits`, a text file); None when it is
/// neither.
pub fn examine(
    filename: &str,
    content_type: &str,
    bytes: &[u8],
    serial: &Regex,
) -> Option<Examined> {
    let (status, note, inspection) = if is_zip(filename, content_type, bytes) {
        match inspect(bytes, &Limits::default(), serial) {
            Ok(i) => {
                let mut note = format!("{} entries", i.entries.len());
                for n in &i.notes {
                    note.push_str("; ");
                    note.push_str(n);
                }
                ("ok", note, i)
            }
            Err(r) => ("refused", r.to_string(), Inspection::default()),
        }
    } else if is_text_name(filename) || content_type.starts_with("text/") {
        let mut i = Inspection::default();
        if bytes.len() <= 32 * 1024 * 1024 {
            scan_text(
                filename,
                &decode_text(bytes),
                serial,
                &mut i.findings,
                Limits::default().max_findings,
            );
        }
        ("text", String::new(), i)
    } else {
        return None;
    };
    Some(Examined {
        status,
        note,
        inspection,
    })
}

/// The entries and findings of an examined attachment, and the codes and serials its
/// findings add to the case.
fn record_contents(
    conn: &mut DbConn,
    case_id: i64,
    attachment_id: i64,
    filename: &str,
    inspection: &Inspection,
) -> QueryResult<()> {
    for e in &inspection.entries {
        diesel::insert_into(bundle_entries::table)
            .values(NewEntry {
                attachment_id,
                path: &e.path,
                size: e.size as i64,
                compressed_size: e.compressed_size as i64,
                is_text: e.is_text,
                depth: e.depth as i64,
            })
            .exec(conn)?;
    }
    for f in &inspection.findings {
        diesel::insert_into(bundle_findings::table)
            .values(NewFinding {
                case_id,
                attachment_id,
                entry_path: &f.entry,
                line: f.line as i64,
                kind: f.kind,
                value: &f.value,
            })
            .exec(conn)?;
        let place = format!("{filename}: {}:{}", f.entry, f.line);
        match f.kind {
            "code" => add_code(conn, case_id, &f.value, &place)?,
            "serial" => add_serial(conn, case_id, &f.value, "serial")?,
            _ => {}
        }
    }
    Ok(())
}

/// Attachment `id` of case `case_id` shown again on message row `message_row_id` (a
/// file of the case sent with a reply): a second row over the same stored bytes.
pub fn link_copy(
    conn: &mut DbConn,
    id: i64,
    case_id: i64,
    message_row_id: i64,
) -> diesel::QueryResult<i64> {
    use crate::db::schema::attachments as a;
    let (filename, content_type, size, sha256): (String, String, i64, String) = a::table
        .find(id)
        .filter(a::case_id.eq(case_id))
        .select((a::filename, a::content_type, a::size, a::sha256))
        .first_row(conn)?;
    diesel::insert_into(a::table)
        .values(NewAttachment {
            message_row_id,
            case_id,
            filename: &filename,
            content_type: &content_type,
            size,
            sha256: &sha256,
            is_tnef: false,
        })
        .returning(a::id)
        .row(conn)
}
