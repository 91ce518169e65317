//! CSV exports of the report tables: UTF-8 with a byte-order mark, so Excel reads
//! Chinese correctly. Every text cell goes through `text_cell`, so a customer name or
//! an error code from mail cannot become a live spreadsheet formula; numbers and
//! dates we format ourselves stay numbers.

use super::Report;

/// The tables that export as CSV (`/reports/{table}.csv`).
pub const TABLES: [&str; 10] = [
    "summary",
    "weekly",
    "sla",
    "backlog",
    "escalations",
    "codes",
    "customers",
    "oems",
    "products",
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

fn num(v: i64) -> String {
    v.to_string()
}

fn write(r: &Report, name: &str, tr: Tr) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let p = &r.previous;
    // A "top" table: name, cases, cases in the previous period.
    let tops = |w: &mut csv::Writer<Vec<u8>>,
                head: &str,
                rows: Vec<(&str, i64, i64)>|
     -> Result<(), csv::Error> {
        w.write_record([tr(head), tr("report.col.cases"), tr("report.col.previous")])?;
        for (name, count, previous) in rows {
            w.write_record([text_cell(name), num(count), num(previous)])?;
        }
        Ok(())
    };
    match name {
        "codes" => tops(
            &mut w,
            "report.col.code",
            r.top_error_codes
                .iter()
                .map(|c| (c.code.as_str(), c.count, c.previous))
                .collect(),
        )?,
        "customers" => tops(
            &mut w,
            "report.col.customer",
            r.top_customers
                .iter()
                .map(|c| (c.customer.as_str(), c.count, c.previous))
                .collect(),
        )?,
        "oems" => tops(
            &mut w,
            "case.oem",
            r.top_oems
                .iter()
                .map(|c| (c.name.as_str(), c.count, c.previous))
                .collect(),
        )?,
        "products" => tops(
            &mut w,
            "report.col.product",
            r.top_products
                .iter()
                .map(|c| (c.name.as_str(), c.count, c.previous))
                .collect(),
        )?,
        _ => {}
    }
    match name {
        "summary" => {
            w.write_record([
                tr("report.col.figure"),
                tr("report.col.value"),
                tr("report.col.previous"),
            ])?;
            // `from`/`to` are dates we format; the rest are numbers.
            let rows: Vec<(&str, String, String)> = vec![
                ("report.from", r.from.clone(), p.from.clone()),
                ("report.to", r.to.clone(), p.to.clone()),
                ("report.opened", num(r.cases_opened), num(p.cases_opened)),
                ("report.closed", num(r.cases_closed), num(p.cases_closed)),
                ("report.reopened", num(r.cases_reopened), String::new()),
                ("report.reopen_rate", opt(r.reopen_rate), opt(p.reopen_rate)),
                (
                    "report.first_response_median",
                    opt(r.first_response_minutes.median),
                    opt(p.first_response_median),
                ),
                (
                    "report.first_response_p90",
                    opt(r.first_response_minutes.p90),
                    String::new(),
                ),
                ("report.sla_share", opt(r.sla_share), opt(p.sla_share)),
                (
                    "report.resolution_median",
                    opt(r.resolution_hours.median),
                    opt(p.resolution_median),
                ),
                (
                    "report.resolution_p90",
                    opt(r.resolution_hours.p90),
                    String::new(),
                ),
                (
                    "report.escalations",
                    num(r.escalations.count),
                    String::new(),
                ),
                (
                    "report.escalated_cases",
                    num(r.escalations.cases_escalated),
                    String::new(),
                ),
                (
                    "report.escalation_rate",
                    opt(r.escalations.rate),
                    opt(p.escalation_rate),
                ),
                (
                    "report.answer_median",
                    opt(r.escalations.answer_hours_median),
                    String::new(),
                ),
                (
                    "report.answer_p90",
                    opt(r.escalations.answer_hours_p90),
                    String::new(),
                ),
                (
                    "report.unanswered",
                    num(r.escalations.unanswered),
                    String::new(),
                ),
                ("report.backlog", num(r.backlog.open), String::new()),
                (
                    "report.open_escalations",
                    num(r.escalations.open_now.open),
                    String::new(),
                ),
            ];
            for (k, v, prev) in rows {
                w.write_record([text_cell(&tr(k)), v, prev])?;
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
                    num(e.open),
                    num(e.waiting),
                    num(e.closed),
                    opt(e.first_response_median),
                ])?;
            }
        }
        "weekly" => {
            w.write_record([
                tr("report.col.week"),
                tr("report.opened"),
                tr("report.closed"),
                tr("report.backlog"),
            ])?;
            for wk in &r.weekly {
                w.write_record([
                    wk.week.format("%Y-%m-%d").to_string(),
                    num(wk.opened),
                    num(wk.closed),
                    num(wk.backlog),
                ])?;
            }
        }
        "sla" => {
            w.write_record([
                tr("case.priority"),
                tr("report.col.target"),
                tr("report.opened"),
                tr("report.col.met"),
                tr("report.col.late"),
                tr("report.col.breached"),
                tr("report.sla_share"),
                tr("report.first_response_median"),
            ])?;
            for s in &r.sla {
                w.write_record([
                    text_cell(&tr(&format!("priority.{}", s.priority))),
                    num(s.target_minutes),
                    num(s.opened),
                    num(s.met),
                    num(s.late),
                    num(s.breached),
                    opt(s.share),
                    opt(s.first_response_median),
                ])?;
            }
        }
        "backlog" | "escalations" => {
            let b = if name == "backlog" {
                &r.backlog
            } else {
                &r.escalations.open_now
            };
            w.write_record([tr("report.col.age"), tr("report.col.cases")])?;
            for b in &b.by_age {
                w.write_record([
                    text_cell(&tr(&format!("report.age.{}", b.bucket))),
                    num(b.count),
                ])?;
            }
        }
        _ => {}
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
        use super::super::CustomerCount;
        let r = Report {
            top_customers: vec![
                CustomerCount {
                    customer: "=cmd|'/C calc'!A0".into(),
                    count: 3,
                    previous: 1,
                    url: String::new(),
                },
                CustomerCount {
                    customer: "-5".into(),
                    count: -1,
                    previous: 0,
                    url: String::new(),
                },
            ],
            ..Report::default()
        };
        let tr = |k: &str| k.to_string();
        let bytes = table(&r, "customers", &tr)
            .expect("known table")
            .expect("writes");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(text.starts_with('\u{FEFF}'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "'=cmd|'/C calc'!A0,3,1", "{text}");
        // A text cell that looks like a number is still text; a count stays a number.
        assert_eq!(lines[2], "'-5,-1,0", "{text}");
    }
}
