//! Facts a case gathers from its mail and files: error codes, serial numbers and
//! product keys, each recorded once per case.

use super::Rules;
use crate::db::schema::{case_codes, case_serials};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::extract;
use diesel::prelude::*;

#[derive(Insertable)]
#[diesel(table_name = case_codes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewCode<'a> {
    case_id: i64,
    code: &'a str,
    found_in: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = case_serials)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewSerial<'a> {
    case_id: i64,
    serial: &'a str,
    kind: &'a str,
}

/// The error codes, serials and product keys one text names, and where it is.
pub(super) struct Found {
    place: String,
    codes: Vec<String>,
    /// Serial numbers (`serial`) and product keys (`product_key`).
    serials: Vec<(String, &'static str)>,
}

/// What `texts` (place, text) name; no database needed (see `record_facts`).
pub(super) fn find(rules: &Rules, texts: &[(String, String)]) -> Vec<Found> {
    texts
        .iter()
        .map(|(place, text)| Found {
            place: place.clone(),
            codes: extract::error_codes(text),
            serials: extract::serial_numbers(text, &rules.serial)
                .into_iter()
                .map(|s| (s, "serial"))
                .chain(
                    extract::product_keys(text)
                        .into_iter()
                        .map(|k| (k, "product_key")),
                )
                .collect(),
        })
        .collect()
}

/// Records what `find` found on case `case_id`, each value once per case.
pub(super) fn record_facts(conn: &mut DbConn, case_id: i64, found: &[Found]) -> QueryResult<()> {
    for f in found {
        for code in &f.codes {
            add_code(conn, case_id, code, &f.place)?;
        }
        for (value, kind) in &f.serials {
            add_serial(conn, case_id, value, kind)?;
        }
    }
    Ok(())
}

/// Adds error code `code` to the case's evidence, unless it is there already.
pub fn add_code(conn: &mut DbConn, case_id: i64, code: &str, found_in: &str) -> QueryResult<()> {
    let exists: i64 = case_codes::table
        .filter(case_codes::case_id.eq(case_id))
        .filter(case_codes::code.eq(code))
        .count()
        .row(conn)?;
    if exists == 0 {
        diesel::insert_into(case_codes::table)
            .values(NewCode {
                case_id,
                code,
                found_in,
            })
            .exec(conn)?;
    }
    Ok(())
}

/// Adds a serial number or product key (`kind`) to the case's evidence, unless it is
/// there already.
pub fn add_serial(conn: &mut DbConn, case_id: i64, serial: &str, kind: &str) -> QueryResult<()> {
    let exists: i64 = case_serials::table
        .filter(case_serials::case_id.eq(case_id))
        .filter(case_serials::serial.eq(serial))
        .count()
        .row(conn)?;
    if exists == 0 {
        diesel::insert_into(case_serials::table)
            .values(NewSerial {
                case_id,
                serial,
                kind,
            })
            .exec(conn)?;
    }
    Ok(())
}
