//! Timestamps read and written in the one form Casebook stores, without a format string
//! to interpret at every row.
//!
//! diesel reads a SQLite `TIMESTAMP` by trying chrono's `parse_from_str` against a list
//! of formats, and chrono's `format("%Y-…")` interprets its pattern at every call. On a
//! case page of 40 messages and 50 audit events the two were a tenth of the server's
//! CPU. [`Stamp`] reads the form diesel writes (`YYYY-MM-DD HH:MM:SS[.fraction]`) by
//! hand and hands anything else to diesel's own reading; [`rfc3339`] writes the page's
//! form by hand.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::Timestamp;

/// A `TIMESTAMP` column read as a [`NaiveDateTime`] (`#[diesel(deserialize_as = Stamp)]`
/// on a field, or `Stamp` in a tuple of `.rows()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct Stamp(pub NaiveDateTime);

impl From<Stamp> for NaiveDateTime {
    fn from(s: Stamp) -> NaiveDateTime {
        s.0
    }
}

impl FromSql<Timestamp, diesel::sqlite::Sqlite> for Stamp {
    fn from_sql(mut value: diesel::sqlite::SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(diesel::sqlite::SqliteType::Text) {
            if let Some(t) = parse_stored(value.read_text()) {
                return Ok(Stamp(t));
            }
        }
        <NaiveDateTime as FromSql<Timestamp, diesel::sqlite::Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, diesel::pg::Pg> for Stamp {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, diesel::pg::Pg>>::from_sql(value).map(Stamp)
    }
}

/// `YYYY-MM-DD HH:MM:SS`, optionally `.` and 1–9 digits of fraction; `None` for any
/// other text (diesel's reading then takes it).
fn parse_stored(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let seps = [(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')];
    if b.len() < 19 || seps.iter().any(|&(at, c)| b[at] != c) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20..b.len())?;
            n * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?.and_hms_nano_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
        nanos,
    )
}

/// `2026-12-07T20:23:21Z`: the form the pages and the API show (seconds, UTC).
pub fn rfc3339(t: &NaiveDateTime) -> String {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    let mut out = [0u8; 20];
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ] {
        out[at] = c;
    }
    out.iter().map(|&c| char::from(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono_reads(s: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(s, "%F %T%.f").ok()
    }

    #[test]
    fn the_stored_form_reads_as_chrono_reads_it() {
        for s in [
            "2026-12-07 20:23:21",
            "2026-12-07 20:23:21.5",
            "2026-12-07 20:23:21.123456",
            "2026-12-07 20:23:21.123456789",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999999",
            "2024-02-29 12:00:00",
        ] {
            assert_eq!(parse_stored(s), chrono_reads(s), "{s}");
            assert!(parse_stored(s).is_some(), "{s}");
        }
    }

    #[test]
    fn other_forms_are_left_to_diesel() {
        for s in [
            "2023-02-29 12:00:00",
            "2026-13-01 00:00:00",
            "2026-12-07 24:00:00",
            "2026-12-07T20:23:21",
            "2026-12-07 20:23",
            "2026-12-07 20:23:21Z",
            "2026-12-07 20:23:21+01:00",
            "2026-12-07 20:23:21.",
            "2026-12-07 20:23:21.1234567890",
            "2026-12-07 2a:23:21",
            "2461000.5",
            "",
        ] {
            assert_eq!(parse_stored(s), None, "{s}");
        }
    }

    #[test]
    fn sqlite_values_read_as_diesel_reads_them() {
        use diesel::prelude::*;
        let mut c = diesel::SqliteConnection::establish(":memory:").expect("an in-memory database");
        for lit in [
            "'2026-12-07 20:23:21'",
            "'2026-12-07 20:23:21.250'",
            "'2026-12-07T20:23:21Z'",
            "'2026-12-07 20:23:21+00:00'",
            "2461382.5",
        ] {
            let q = || diesel::select(diesel::dsl::sql::<Timestamp>(lit));
            let ours: Stamp = q().get_result(&mut c).expect(lit);
            let diesels: NaiveDateTime = q().get_result(&mut c).expect(lit);
            assert_eq!(ours.0, diesels, "{lit}");
        }
        let bad = diesel::select(diesel::dsl::sql::<Timestamp>("'not a time'"))
            .get_result::<Stamp>(&mut c);
        assert!(
            bad.is_err(),
            "an unreadable value is an error, as with diesel"
        );
    }

    #[test]
    fn rfc3339_writes_what_chrono_writes() {
        let chrono_writes = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        for s in [
            "2026-12-07 20:23:21",
            "0001-01-01 00:00:00",
            "0999-03-04 05:06:07.9",
            "9999-12-31 23:59:59",
        ] {
            let t = chrono_reads(s).expect(s);
            assert_eq!(rfc3339(&t), chrono_writes(&t));
        }
        let far = NaiveDate::from_ymd_opt(12_345, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .expect("a valid date");
        assert_eq!(rfc3339(&far), chrono_writes(&far));
    }
}
