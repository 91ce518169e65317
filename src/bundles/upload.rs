//! Files uploaded to a case by staff: one internal entry on the timeline, the files
//! as its attachments, inspected like mail attachments.

use super::File;
use crate::auth::User;
use crate::db::schema::cases;
use crate::db::DbConn;
use crate::storage::{BlobStore, StorageError};
use diesel::prelude::*;
use regex::Regex;

/// One uploaded file.
pub struct UploadedFile {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("no such case")]
    NoCase,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Files `files` on case `number` as an upload by `actor`, in one transaction.
#[tracing::instrument(skip(conn, store, serial, actor, files), fields(files = files.len()))]
pub fn upload(
    conn: &mut DbConn,
    store: &dyn BlobStore,
    serial: &Regex,
    number: &str,
    actor: &User,
    files: &[UploadedFile],
) -> Result<(), UploadError> {
    // Files are content-addressed: stored once however often they are uploaded.
    let mut shas = Vec::with_capacity(files.len());
    for f in files {
        shas.push(store.put(&f.data)?);
    }
    // Bundles are inspected before the write transaction, which then only writes rows.
    let examined: Vec<_> = files
        .iter()
        .map(|f| super::examine(&f.filename, &f.content_type, &f.data, serial))
        .collect();
    crate::db::write_tx(conn, |c| -> Result<(), UploadError> {
        let case =
            crate::cases::merge::surviving_by_number(c, number)?.ok_or(UploadError::NoCase)?;
        let now = crate::now();
        let names = files
            .iter()
            .map(|f| f.filename.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let row = crate::cases::insert_internal(
            c,
            case.id,
            actor,
            &format!("⇪ {names}"),
            "upload",
            None,
        )?;
        for ((f, sha), e) in files.iter().zip(&shas).zip(&examined) {
            let file = File {
                filename: &f.filename,
                content_type: &f.content_type,
                bytes: &f.data,
                sha256: sha,
                is_tnef: f.filename.eq_ignore_ascii_case("winmail.dat"),
            };
            super::store_examined(c, case.id, row, &file, e.as_ref())?;
        }
        diesel::update(cases::table.find(case.id))
            .set(cases::updated_at.eq(now))
            .execute(c)?;
        crate::cases::audit(c, Some(case.id), &actor.name, "bundle.uploaded", &names)?;
        Ok(())
    })
}
