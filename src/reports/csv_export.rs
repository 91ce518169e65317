//! CSV exports of the report tables: UTF-8 with a byte-order mark, so Excel reads
//! Chinese correctly. Every text cell goes through `text_cell`, so a customer name or
//! an error code from mail cannot become a live spreadsheet formula; numbers and
//! dates we format ourselves stay numbers.

use super::Report;

/// The tables that export as CSV (`/reports/{table}.csv`).
pub const TABLES: [&str; 6] = [
    "summary",
    "weekly",
    "backlog",
    "codes",
    "customers",
    "engineers",
];

/// Translates a catalog key (column headers, row labels) into the reader's language.
pub type Tr<'a> = &'a dyn Fn(&str) -> String;

/// A text cell made inert for spreadsheets: one starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return (or their full-width forms) is a formula to Excel, LibreOffice
/// and Google Sheets, so it gets a leading `'`, which they show as text and hide.
pub fn text_cell(s: &str) -> String {
    const TRIGGERS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];
    if s.starts_with(TRIGGERS) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

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
            // `from`/`to` are dates we format; the rest are numbers.
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
                w.write_record([text_cell(&tr(k)), v])?;
            }
        }
        "engineers" => {
            w.write_record([
                tr("report.col.engineer"),
                tr("report.col.open"),
                tr("report.col.waiting"),
                tr("report.col.closed"),
                tr("report.first_response_median"),
            ])?;
            for e in &r.engineers {
                let name = if e.id.is_some() {
                    e.engineer.clone()
                } else {
                    tr("report.unassigned")
                };
                w.write_record([
                    text_cell(&name),
                    e.open.to_string(),
                    e.waiting.to_string(),
                    e.closed.to_string(),
                    opt(e.first_response_median),
                ])?;
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
                w.write_record([
                    text_cell(&tr(&format!("report.age.{}", b.bucket))),
                    b.count.to_string(),
                ])?;
            }
        }
        "codes" => {
            w.write_record([tr("report.col.code"), tr("report.col.cases")])?;
            for c in &r.top_error_codes {
                w.write_record([text_cell(&c.code), c.count.to_string()])?;
            }
        }
        _ => {
            w.write_record([tr("report.col.customer"), tr("report.col.cases")])?;
            for c in &r.top_customers {
                w.write_record([text_cell(&c.customer), c.count.to_string()])?;
            }
        }
    }
    let body = w.into_inner().map_err(|e| e.into_error())?;
    let mut out = "\u{FEFF}".as_bytes().to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (input, want) in [
            (
                "=HYPERLINK(\"http://evil\",\"x\")",
                "'=HYPERLINK(\"http://evil\",\"x\")",
            ),
            ("=cmd|'/C calc'!A0", "'=cmd|'/C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("＝1+1", "'＝1+1"),
            ("中银金融科技有限公司", "中银金融科技有限公司"),
            ("0xC002001B", "0xC002001B"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(text_cell(input), want, "{input:?}");
        }
    }

    #[test]
    fn customers_csv_keeps_bom_and_numbers() {
        use super::super::{Backlog, CustomerCount, Escalations};
        let r = Report {
            from: "2024-01-01".into(),
            to: "2024-01-31".into(),
            cases_opened: 0,
            cases_closed: 0,
            cases_reopened: 0,
            reopen_rate: None,
            first_response_minutes: Default::default(),
            resolution_hours: Default::default(),
            escalations: Escalations {
                count: 0,
                cases_escalated: 0,
                rate: None,
                answer_hours_median: None,
                answer_hours_p90: None,
                unanswered: 0,
            },
            backlog: Backlog {
                at: chrono::NaiveDateTime::default(),
                open: 0,
                by_age: Vec::new(),
            },
            weekly: Vec::new(),
            top_error_codes: Vec::new(),
            engineers: Vec::new(),
            top_customers: vec![
                CustomerCount {
                    customer: "=cmd|'/C calc'!A0".into(),
                    count: 3,
                },
                CustomerCount {
                    customer: "-5".into(),
                    count: -1,
                },
            ],
        };
        let tr = |k: &str| k.to_string();
        let bytes = table(&r, "customers", &tr)
            .expect("known table")
            .expect("writes");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with('\u{FEFF}'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "'=cmd|'/C calc'!A0,3", "{text}");
        // A text cell that looks like a number is still text; a count stays a number.
        assert_eq!(lines[2], "'-5,-1", "{text}");
    }
}
