//! Facts a case gathers from its mail and files: error codes, serial numbers and
//! product keys, each recorded once per case.

use super::Rules;
use crate::db::schema::{case_codes, case_serials};
use crate::db::DbConn;
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

/// Records the error codes, serials and product keys found in `texts` (place, text).
pub(super) fn record_facts(
    conn: &mut DbConn,
    rules: &Rules,
    case_id: i64,
    texts: &[(String, String)],
) -> QueryResult<()> {
    for (place, text) in texts {
        for code in extract::error_codes(text) {
            add_code(conn, case_id, &code, place)?;
        }
        let serials = extract::serial_numbers(text, &rules.serial)
            .into_iter()
            .map(|s| (s, "serial"));
        let keys = extract::product_keys(text)
            .into_iter()
            .map(|k| (k, "product_key"));
        for (value, kind) in serials.chain(keys) {
            add_serial(conn, case_id, &value, kind)?;
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
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(case_codes::table)
            .values(NewCode {
                case_id,
                code,
                found_in,
            })
            .execute(conn)?;
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
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(case_serials::table)
            .values(NewSerial {
                case_id,
                serial,
                kind,
            })
            .execute(conn)?;
    }
    Ok(())
}
