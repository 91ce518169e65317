//! CSV exports of the report tables: UTF-8 with a byte-order mark, so Excel reads
//! Chinese correctly.

use super::Report;

/// The tables that export as CSV (`/reports/{table}.csv`).
pub const TABLES: [&str; 5] = ["summary", "weekly", "backlog", "codes", "customers"];

/// Translates a catalog key (column headers, row labels) into the reader's language.
pub type Tr<'a> = &'a dyn Fn(&str) -> String;

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One table as CSV bytes with a BOM; None for an unknown table.
pub fn table(report: &Report, name: &str, tr: Tr) -> Option<Result<Vec<u8>, csv::Error>> {
    if !TABLES.contains(&name) {
        return None;
    }
    Some(write(report, name, tr))
}

fn write(r: &Report, name: &str, tr: Tr) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    match name {
        "summary" => {
            w.write_record([tr("report.col.figure"), tr("report.col.value")])?;
            let rows: Vec<(&str, String)> = vec![
                ("report.from", r.from.clone()),
                ("report.to", r.to.clone()),
                ("report.opened", r.cases_opened.to_string()),
                ("report.closed", r.cases_closed.to_string()),
                ("report.reopened", r.cases_reopened.to_string()),
                (
                    "report.first_response_median",
                    opt(r.first_response_minutes.median),
                ),
                (
                    "report.first_response_p90",
                    opt(r.first_response_minutes.p90),
                ),
                ("report.resolution_median", opt(r.resolution_hours.median)),
                ("report.resolution_p90", opt(r.resolution_hours.p90)),
                ("report.escalations", r.escalations.count.to_string()),
                ("report.escalation_rate", opt(r.escalations.rate)),
                (
                    "report.answer_median",
                    opt(r.escalations.answer_hours_median),
                ),
                ("report.answer_p90", opt(r.escalations.answer_hours_p90)),
                ("report.unanswered", r.escalations.unanswered.to_string()),
                ("report.backlog", r.backlog.open.to_string()),
            ];
            for (k, v) in rows {
                w.write_record([tr(k), v])?;
            }
        }
        "weekly" => {
            w.write_record([
                tr("report.col.week"),
                tr("report.opened"),
                tr("report.closed"),
            ])?;
            for wk in &r.weekly {
                w.write_record([
                    wk.week.format("%Y-%m-%d").to_string(),
                    wk.opened.to_string(),
                    wk.closed.to_string(),
                ])?;
            }
        }
        "backlog" => {
            w.write_record([tr("report.col.age"), tr("report.col.cases")])?;
            for b in &r.backlog.by_age {
                w.write_record([tr(&format!("report.age.{}", b.bucket)), b.count.to_string()])?;
            }
        }
        "codes" => {
            w.write_record([tr("report.col.code"), tr("report.col.cases")])?;
            for c in &r.top_error_codes {
                w.write_record([c.code.clone(), c.count.to_string()])?;
            }
        }
        _ => {
            w.write_record([tr("report.col.customer"), tr("report.col.cases")])?;
            for c in &r.top_customers {
                w.write_record([c.customer.clone(), c.count.to_string()])?;
            }
        }
    }
    let body = w.into_inner().map_err(|e| e.into_error())?;
    let mut out = "\u{FEFF}".as_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}
