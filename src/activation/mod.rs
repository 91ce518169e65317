//! Activation records from the activation platform: validated, product keys masked,
//! imported idempotently (CSV, JSON push), and linked to cases by serial numbers.

use crate::db::schema::activation_records as ar;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// One record as offered (CSV row or JSON object), before validation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordInput {
    #[serde(default)]
    pub serial_number: String,
    pub product_key: Option<String>,
    pub machine_serial: Option<String>,
    pub oem: Option<String>,
    pub customer: Option<String>,
    pub product: Option<String>,
    pub activated_at: Option<String>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub error_code: Option<String>,
}

/// A validated record ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    pub fingerprint: String,
    pub serial_number: String,
    pub product_key: Option<String>,
    pub machine_serial: Option<String>,
    pub oem: Option<String>,
    pub customer: Option<String>,
    pub product: Option<String>,
    pub activated_at: Option<NaiveDateTime>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub error_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = ar)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct RecordRow {
    #[serde(skip)]
    pub id: i64,
    pub serial_number: String,
    pub product_key: Option<String>,
    pub machine_serial: Option<String>,
    pub oem: Option<String>,
    pub customer: Option<String>,
    pub product: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub activated_at: Option<NaiveDateTime>,
    pub method: Option<String>,
    pub result: Option<String>,
    pub error_code: Option<String>,
}

fn ser_time<S: serde::Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::cases::detail::rfc3339(t)),
        None => s.serialize_none(),
    }
}

fn clean(v: &Option<String>, max: usize) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(max).collect())
}

/// Only the last five characters of a product key stay readable.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.trim().chars().filter(|c| !c.is_whitespace()).collect();
    let tail: String = chars.iter().rev().take(5).rev().collect();
    if chars.len() == 29 && chars.iter().filter(|c| **c == '-').count() == 4 {
        format!("*****-*****-*****-*****-{tail}")
    } else {
        format!("****{tail}")
    }
}

pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.naive_utc());
    }
    if let Some(t) = crate::mail::export::parse_time(s) {
        return Some(t);
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

fn method(s: &str) -> Option<&'static str> {
    match s.trim().to_lowercase().as_str() {
        "online" | "在线" | "在线激活" | "internet" => Some("online"),
        "offline" | "离线" | "离线激活" => Some("offline"),
        "phone" | "telephone" | "电话" | "电话激活" => Some("phone"),
        "kms" => Some("kms"),
        "mak" => Some("mak"),
        _ => None,
    }
}

fn result(s: &str) -> String {
    match s.trim().to_lowercase().as_str() {
        "success" | "succeeded" | "ok" | "成功" | "激活成功" => "success".into(),
        "failure" | "failed" | "fail" | "error" | "失败" | "激活失败" => "failure".into(),
        other => other.chars().take(40).collect(),
    }
}

pub fn validate(r: &RecordInput) -> Result<NewRecord, String> {
    let serial = r.serial_number.trim().to_ascii_uppercase();
    if serial.is_empty() {
        return Err("serial_number is missing".into());
    }
    if serial.len() > 64
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!("serial_number {serial:?} is not a serial number"));
    }
    let activated_at = match clean(&r.activated_at, 64) {
        Some(t) => Some(parse_time(&t).ok_or_else(|| {
            format!("activated_at {t:?} is not a date (RFC 3339 or YYYY-MM-DD HH:MM:SS)")
        })?),
        None => None,
    };
    let method = match clean(&r.method, 40) {
        Some(m) => Some(
            method(&m)
                .ok_or_else(|| format!("method {m:?} is not online, offline, phone, kms or mak"))?
                .to_string(),
        ),
        None => None,
    };
    let error_code = match clean(&r.error_code, 40) {
        Some(c) => Some(
            crate::codes::parse_code(&c)
                .map(crate::codes::format_code)
                .ok_or_else(|| format!("error_code {c:?} is not an error code"))?,
        ),
        None => None,
    };
    let product_key = clean(&r.product_key, 64).map(|k| mask_key(&k));
    let machine_serial = clean(&r.machine_serial, 64).map(|m| m.to_ascii_uppercase());
    let result = clean(&r.result, 40).map(|s| result(&s));
    let fp_src = format!(
        "{serial}|{}|{}|{}|{}|{}|{}",
        product_key.as_deref().unwrap_or(""),
        machine_serial.as_deref().unwrap_or(""),
        activated_at.map(|t| t.to_string()).unwrap_or_default(),
        method.as_deref().unwrap_or(""),
        result.as_deref().unwrap_or(""),
        error_code.as_deref().unwrap_or(""),
    );
    Ok(NewRecord {
        fingerprint: crate::storage::sha256_hex(fp_src.as_bytes())[..32].to_string(),
        serial_number: serial,
        product_key,
        machine_serial,
        oem: clean(&r.oem, 100),
        customer: clean(&r.customer, 200),
        product: clean(&r.product, 100),
        activated_at,
        method,
        result,
        error_code,
    })
}

/// The row of one `NewRecord`, with where and when it was imported.
#[derive(Insertable)]
#[diesel(table_name = ar)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct RecordInsert<'a> {
    fingerprint: &'a str,
    serial_number: &'a str,
    product_key: Option<&'a str>,
    machine_serial: Option<&'a str>,
    oem: Option<&'a str>,
    customer: Option<&'a str>,
    product: Option<&'a str>,
    activated_at: Option<NaiveDateTime>,
    method: Option<&'a str>,
    result: Option<&'a str>,
    error_code: Option<&'a str>,
    source: &'a str,
    imported_at: NaiveDateTime,
}

/// Inserts records, skipping ones already stored (same fingerprint). Returns (inserted, duplicates).
pub fn insert_all(
    conn: &mut DbConn,
    records: &[NewRecord],
    source: &str,
) -> QueryResult<(usize, usize)> {
    let now = crate::now();
    let mut inserted = 0;
    for r in records {
        let values = RecordInsert {
            fingerprint: &r.fingerprint,
            serial_number: &r.serial_number,
            product_key: r.product_key.as_deref(),
            machine_serial: r.machine_serial.as_deref(),
            oem: r.oem.as_deref(),
            customer: r.customer.as_deref(),
            product: r.product.as_deref(),
            activated_at: r.activated_at,
            method: r.method.as_deref(),
            result: r.result.as_deref(),
            error_code: r.error_code.as_deref(),
            source,
            imported_at: now,
        };
        inserted += match conn {
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(ar::table)
                .values(values)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(ar::table)
                .values(values)
                .on_conflict_do_nothing()
                .execute(c)?,
        };
    }
    Ok((inserted, records.len() - inserted))
}

/// Records shown for a list of serials at most.
const SHOWN: i64 = 200;

/// Serials up to which each is looked up with its own statement.
const ONE_BY_ONE: usize = 8;

/// Records whose serial or machine serial is one of `serials`, newest first.
///
/// A case names a serial or two: each is one statement of a fixed text, prepared once
/// per connection. A list binds each value (`eq_any`), a new text for every length,
/// which SQLite parses again at every page (4 % of the case page's time, profiled in
/// session 30); it serves only the rare case naming many serials. PostgreSQL binds the
/// list as one array, a statement it keeps, and each statement is a round trip: one.
pub fn for_serials(conn: &mut DbConn, serials: &[String]) -> QueryResult<Vec<RecordRow>> {
    if serials.is_empty() {
        return Ok(Vec::new());
    }
    if serials.len() > ONE_BY_ONE || !crate::db::is_sqlite(conn) {
        return crate::on_engine!(conn, |c| ar::table
            .filter(
                ar::serial_number
                    .eq_any(serials)
                    .or(ar::machine_serial.eq_any(serials)),
            )
            .order(ar::activated_at.desc())
            .limit(SHOWN)
            .select(RecordRow::as_select())
            .load(c));
    }
    let mut found: Vec<RecordRow> = Vec::new();
    for s in serials {
        found.extend(crate::on_engine!(conn, |c| ar::table
            .filter(ar::serial_number.eq(s).or(ar::machine_serial.eq(s)))
            .order(ar::activated_at.desc())
            .limit(SHOWN)
            .select(RecordRow::as_select())
            .load::<RecordRow>(c))?);
    }
    // One record can match two serials (its own and its machine's).
    found.sort_by(|a, b| b.activated_at.cmp(&a.activated_at).then(b.id.cmp(&a.id)));
    found.dedup_by_key(|r| r.id);
    found.truncate(SHOWN as usize);
    Ok(found)
}

/// CSV header names we understand (English and Chinese), mapped to fields.
pub const COLUMNS: &[(&str, &[&str])] = &[
    (
        "serial_number",
        &["serial_number", "serial", "sn", "序列号"],
    ),
    ("product_key", &["product_key", "key", "产品密钥", "激活码"]),
    (
        "machine_serial",
        &[
            "machine_serial",
            "bios_serial",
            "machine",
            "机器序列号",
            "bios序列号",
        ],
    ),
    ("oem", &["oem"]),
    ("customer", &["customer", "客户"]),
    ("product", &["product", "edition", "产品", "版本"]),
    (
        "activated_at",
        &["activated_at", "activation_time", "time", "激活时间"],
    ),
    ("method", &["method", "激活方式"]),
    ("result", &["result", "结果", "激活结果"]),
    ("error_code", &["error_code", "error", "错误代码"]),
];

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub rows: usize,
    pub imported: usize,
    pub duplicates: usize,
    /// (line number in the file, what is wrong)
    pub errors: Vec<(u64, String)>,
}

/// Imports a CSV file (UTF-8 with or without BOM, or GB18030 as Excel writes it in
/// China). Bad rows are reported with their line numbers; good rows are imported in
/// transactions of 1,000; a re-import adds nothing.
pub fn import_csv(
    conn: &mut DbConn,
    bytes: &[u8],
    source: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<ImportReport, String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    };
    let text = text.trim_start_matches('\u{FEFF}');
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("CSV header: {e}"))?
        .clone();
    let mut index = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().to_lowercase();
        if let Some((field, _)) = COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&h.as_str()))
        {
            index.insert(*field, i);
        }
    }
    if !index.contains_key("serial_number") {
        return Err(
            "the CSV has no serial_number column (see the column mapping in the README)".into(),
        );
    }
    let total_guess = text.lines().count().saturating_sub(1);
    let mut report = ImportReport::default();
    let mut batch: Vec<NewRecord> = Vec::with_capacity(1000);
    let flush = |conn: &mut DbConn,
                 batch: &mut Vec<NewRecord>,
                 report: &mut ImportReport|
     -> Result<(), String> {
        let (ins, dup) = crate::db::write_tx(conn, |c| insert_all(c, batch, source))
            .map_err(|e: diesel::result::Error| e.to_string())?;
        report.imported += ins;
        report.duplicates += dup;
        batch.clear();
        Ok(())
    };
    for rec in rdr.records() {
        report.rows += 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.errors.push((line, e.to_string()));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let get = |f: &str| index.get(f).and_then(|i| rec.get(*i)).map(str::to_string);
        let input = RecordInput {
            serial_number: get("serial_number").unwrap_or_default(),
            product_key: get("product_key"),
            machine_serial: get("machine_serial"),
            oem: get("oem"),
            customer: get("customer"),
            product: get("product"),
            activated_at: get("activated_at"),
            method: get("method"),
            result: get("result"),
            error_code: get("error_code"),
        };
        match validate(&input) {
            Ok(r) => batch.push(r),
            Err(e) => report.errors.push((line, e)),
        }
        if batch.len() >= 1000 {
            flush(conn, &mut batch, &mut report)?;
            progress(report.rows, total_guess);
        }
    }
    flush(conn, &mut batch, &mut report)?;
    progress(report.rows, total_guess);
    Ok(report)
}

/// R&D's note on what a code means in our products.
pub fn code_note(
    conn: &mut DbConn,
    code: &str,
) -> QueryResult<Option<(String, String, NaiveDateTime)>> {
    use crate::db::schema::code_notes as cn;
    cn::table
        .find(code)
        .select((cn::note, cn::updated_by, cn::updated_at))
        .first_row(conn)
        .optional()
}

#[derive(Insertable)]
#[diesel(table_name = crate::db::schema::code_notes)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct NewCodeNote<'a> {
    code: &'a str,
    note: &'a str,
    updated_by: &'a str,
    updated_at: NaiveDateTime,
}

pub fn set_code_note(conn: &mut DbConn, code: &str, note: &str, by: &str) -> QueryResult<()> {
    use crate::db::schema::code_notes as cn;
    crate::db::write_tx(conn, |c| {
        let n = diesel::update(cn::table.find(code))
            .set((
                cn::note.eq(note),
                cn::updated_by.eq(by),
                cn::updated_at.eq(crate::now()),
            ))
            .execute(c)?;
        if n == 0 {
            diesel::insert_into(cn::table)
                .values(NewCodeNote {
                    code,
                    note,
                    updated_by: by,
                    updated_at: crate::now(),
                })
                .execute(c)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few serials are looked up one by one, many as one list: both give the same
    /// records, newest first, each once (a record naming two of the serials too).
    #[test]
    fn records_for_few_and_many_serials_are_the_same_newest_first_each_once() {
        let dir = tempfile::tempdir().expect("dir");
        let url = dir.path().join("a.sqlite3").display().to_string();
        let mut conn = crate::db::establish(&url).expect("db");
        crate::db::migrate(&mut conn).expect("migrate");
        let record = |serial: &str, machine: Option<&str>, day: u32| {
            validate(&RecordInput {
                serial_number: serial.into(),
                machine_serial: machine.map(str::to_string),
                activated_at: Some(format!("2024-03-{day:02}T10:00:00Z")),
                ..Default::default()
            })
            .expect("valid")
        };
        let records = vec![
            record("SN-A", None, 1),
            record("SN-B", Some("SN-A"), 3),
            record("SN-C", None, 2),
            record("SN-Z", None, 4),
        ];
        insert_all(&mut conn, &records, "test").expect("insert");
        let serials = |few: &[&str]| -> Vec<String> { few.iter().map(|s| s.to_string()).collect() };
        let found = |conn: &mut DbConn, list: Vec<String>| -> Vec<String> {
            for_serials(conn, &list)
                .expect("records")
                .into_iter()
                .map(|r| r.serial_number)
                .collect()
        };
        let few = found(&mut conn, serials(&["SN-A", "SN-B", "SN-C"]));
        assert_eq!(few, ["SN-B", "SN-C", "SN-A"]);
        // More than ONE_BY_ONE: the same three, through the list.
        let mut many = serials(&["SN-A", "SN-B", "SN-C"]);
        many.extend((0..ONE_BY_ONE).map(|i| format!("NONE-{i}")));
        assert_eq!(found(&mut conn, many), few);
        assert!(found(&mut conn, serials(&["NONE"])).is_empty());
    }

    #[test]
    fn validates_and_masks() {
        let r = validate(&RecordInput {
            serial_number: " t102210000943 ".into(),
            product_key: Some("VK7JG-NPHTM-C97JM-9MPGT-3V66T".into()),
            activated_at: Some("2022-06-20T10:00:00+08:00".into()),
            method: Some("在线".into()),
            result: Some("失败".into()),
            error_code: Some("HRESULT:0xc002001b".into()),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(r.serial_number, "T102210000943");
        assert_eq!(
            r.product_key.as_deref(),
            Some("*****-*****-*****-*****-3V66T")
        );
        assert_eq!(
            r.activated_at.map(|t| t.to_string()).as_deref(),
            Some("2022-06-20 02:00:00")
        );
        assert_eq!(r.method.as_deref(), Some("online"));
        assert_eq!(r.result.as_deref(), Some("failure"));
        assert_eq!(r.error_code.as_deref(), Some("0xC002001B"));
        assert!(validate(&RecordInput {
            serial_number: "".into(),
            ..Default::default()
        })
        .is_err());
        assert!(validate(&RecordInput {
            serial_number: "A1".into(),
            method: Some("fax".into()),
            ..Default::default()
        })
        .is_err());
        assert!(validate(&RecordInput {
            serial_number: "A1".into(),
            activated_at: Some("yesterday".into()),
            ..Default::default()
        })
        .is_err());
    }
}
