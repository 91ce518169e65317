//! The evidence panels: error codes (decoded, with R&D's notes), serial numbers and
//! product keys, and the activation records of those serials.

use super::CodeView;
use crate::db::schema::{case_codes, case_serials, code_notes};
use crate::db::DbConn;
use crate::db::Direct;
use diesel::prelude::*;

/// The error codes found in the case, decoded, each with R&D's note if any (read in
/// the same query: one probe of `code_notes` per code).
pub(super) fn codes(conn: &mut DbConn, case_id: i64) -> QueryResult<Vec<CodeView>> {
    Ok(case_codes::table
        .left_join(code_notes::table.on(code_notes::code.eq(case_codes::code)))
        .filter(case_codes::case_id.eq(case_id))
        .order(case_codes::id.asc())
        .limit(100)
        .select((
            case_codes::code,
            case_codes::found_in,
            code_notes::note.nullable(),
        ))
        .rows::<(String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(code, found_in, note)| {
            let d = crate::codes::lookup(&code);
            CodeView {
                kind: d.as_ref().map(|d| d.kind.to_string()).unwrap_or_default(),
                name: d.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
                description: d
                    .as_ref()
                    .map(|d| {
                        d.plain
                            .clone()
                            .filter(|_| d.description.is_empty())
                            .unwrap_or_else(|| d.description.clone())
                    })
                    .unwrap_or_default(),
                facility: d.as_ref().map(|d| d.facility.clone()).unwrap_or_default(),
                code,
                found_in,
                note,
            }
        })
        .collect())
}

/// Serial numbers and product keys found in the case, in order.
pub(super) struct Serials {
    pub serial_numbers: Vec<String>,
    pub product_keys: Vec<String>,
}

pub(super) fn serials(conn: &mut DbConn, case_id: i64) -> QueryResult<Serials> {
    let rows: Vec<(String, String)> = case_serials::table
        .filter(case_serials::case_id.eq(case_id))
        .order(case_serials::id.asc())
        .limit(200)
        .select((case_serials::serial, case_serials::kind))
        .rows(conn)?;
    let of_kind = |kind: &str| -> Vec<String> {
        rows.iter()
            .filter(|(_, k)| k == kind)
            .map(|(s, _)| s.clone())
            .collect()
    };
    Ok(Serials {
        serial_numbers: of_kind("serial"),
        product_keys: of_kind("product_key"),
    })
}

/// The activation records of the case's serial numbers, and the serials with none.
pub(super) struct Activation {
    pub records: Vec<crate::activation::RecordRow>,
    pub missing: Vec<String>,
}

pub(super) fn activation(conn: &mut DbConn, serials: &[String]) -> QueryResult<Activation> {
    let records = crate::activation::for_serials(conn, serials)?;
    let missing = serials
        .iter()
        .filter(|s| {
            !records
                .iter()
                .any(|r| &r.serial_number == *s || r.machine_serial.as_deref() == Some(s.as_str()))
        })
        .cloned()
        .collect();
    Ok(Activation { records, missing })
}
