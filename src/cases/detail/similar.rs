//! Similar cases: closed cases sharing error codes or serial-number prefixes.

use super::SimilarCase;
use crate::db::schema::{case_codes, case_serials, closures};
use crate::db::DbConn;
use diesel::prelude::*;

/// Closed cases sharing error codes (weight 2) or serial-number prefixes (weight 1), best first.
/// A few indexed queries whatever the number of candidates: the newest closed cases
/// carrying each code or serial prefix, then their latest resolutions in one go.
pub(super) fn similar(
    conn: &mut DbConn,
    case_id: i64,
    codes: &[String],
    serials: &[String],
) -> QueryResult<Vec<SimilarCase>> {
    use crate::db::schema::cases;
    type Candidate = (i64, String, String);
    /// Score, what is shared, number, subject.
    type Scored = (i64, Vec<String>, String, String);
    let mut score: std::collections::HashMap<i64, Scored> = std::collections::HashMap::new();
    let mut add = |rows: Vec<(i64, String, String)>, weight: i64, shared: &str| {
        for (id, number, subject) in rows {
            let e = score
                .entry(id)
                .or_insert_with(|| (0, Vec::new(), number, subject));
            e.0 += weight;
            if !e.1.iter().any(|s| s == shared) {
                e.1.push(shared.to_string());
            }
        }
    };
    // Each query is one range of an index that has `closed` right after the code (or
    // the serial's prefix), so it reads the rows it returns and no more, however many
    // open cases share the code (the flag is kept by triggers, see the migration
    // `closed_evidence`). The join to `cases` is by primary key, row by row.
    for code in codes.iter().take(10) {
        let rows: Vec<Candidate> = case_codes::table
            .inner_join(cases::table.on(cases::id.eq(case_codes::case_id)))
            .filter(case_codes::code.eq(code))
            .filter(case_codes::closed.eq(true))
            .filter(case_codes::case_id.ne(case_id))
            .filter(cases::status.eq("closed"))
            .filter(cases::merged_into.is_null())
            .order(case_codes::id.desc())
            .select((cases::id, cases::number, cases::subject))
            .limit(50)
            .load(conn)?;
        add(rows, 2, code);
    }
    for s in serials.iter().take(5) {
        if s.chars().count() < 8 {
            continue;
        }
        let prefix: String = s.chars().take(6).collect();
        let rows: Vec<Candidate> = case_serials::table
            .inner_join(cases::table.on(cases::id.eq(case_serials::case_id)))
            .filter(case_serials::prefix.eq(&prefix))
            .filter(case_serials::closed.eq(true))
            .filter(case_serials::case_id.ne(case_id))
            .filter(cases::status.eq("closed"))
            .filter(cases::merged_into.is_null())
            .order(case_serials::id.desc())
            .select((cases::id, cases::number, cases::subject))
            .limit(50)
            .load(conn)?;
        add(rows, 1, &format!("{prefix}…"));
    }
    let mut ranked: Vec<(i64, Scored)> = score.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(b.0.cmp(&a.0)));
    ranked.truncate(5);
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut resolutions: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    // Oldest first, so the latest closure of each case wins.
    for (id, resolution) in closures::table
        .filter(closures::case_id.eq_any(&ids))
        .order(closures::id.asc())
        .select((closures::case_id, closures::resolution))
        .load::<(i64, String)>(conn)?
    {
        resolutions.insert(id, resolution);
    }
    Ok(ranked
        .into_iter()
        .map(|(id, (_, shared, number, subject))| SimilarCase {
            number,
            subject,
            shared,
            resolution: resolutions.remove(&id),
        })
        .collect())
}
