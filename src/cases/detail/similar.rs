//! Similar cases: closed cases sharing error codes or serial-number prefixes.

use super::SimilarCase;
use crate::db::schema::{case_codes, case_serials, closures};
use crate::db::DbConn;
use crate::db::Direct;
use diesel::prelude::*;

/// Similar cases shown.
const SHOWN: usize = 5;

/// Newest closed cases read for each code or serial prefix.
const PER_KEY: i64 = 50;

/// Closed cases sharing error codes (weight 2) or serial-number prefixes (weight 1), best first.
/// A few indexed queries whatever the number of candidates: the newest closed cases
/// carrying each code or serial prefix, then the best of them with their latest
/// resolutions.
pub(super) fn similar(
    conn: &mut DbConn,
    case_id: i64,
    codes: &[String],
    serials: &[String],
) -> QueryResult<Vec<SimilarCase>> {
    use crate::db::schema::cases;
    // Score and what is shared, by case id.
    let mut score: std::collections::HashMap<i64, (i64, Vec<String>)> =
        std::collections::HashMap::new();
    let mut add = |ids: Vec<i64>, weight: i64, shared: &str| {
        for id in ids {
            let e = score.entry(id).or_default();
            e.0 += weight;
            if !e.1.iter().any(|s| s == shared) {
                e.1.push(shared.to_string());
            }
        }
    };
    // Each query is one range of an index that has `closed` right after the code (or
    // the serial's prefix), so it reads the rows it returns and no more, however many
    // open cases share the code (the flag is kept by triggers, see the migration
    // `closed_evidence`). Only case ids here: the cases' own rows are read for the few
    // that are shown.
    for code in codes.iter().take(10) {
        let ids: Vec<i64> = case_codes::table
            .filter(case_codes::code.eq(code))
            .filter(case_codes::closed.eq(true))
            .filter(case_codes::case_id.ne(case_id))
            .order(case_codes::id.desc())
            .select(case_codes::case_id)
            .limit(PER_KEY)
            .rows(conn)?;
        add(ids, 2, code);
    }
    for s in serials.iter().take(5) {
        if s.chars().count() < 8 {
            continue;
        }
        let prefix: String = s.chars().take(6).collect();
        let ids: Vec<i64> = case_serials::table
            .filter(case_serials::prefix.eq(&prefix))
            .filter(case_serials::closed.eq(true))
            .filter(case_serials::case_id.ne(case_id))
            .order(case_serials::id.desc())
            .select(case_serials::case_id)
            .limit(PER_KEY)
            .rows(conn)?;
        add(ids, 1, &format!("{prefix}…"));
    }
    let mut candidates: Vec<(i64, (i64, Vec<String>))> = score.into_iter().collect();
    candidates.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(b.0.cmp(&a.0)));
    // The best first, checked against the cases themselves (closed, not merged away)
    // a few at a time: the flags make a miss rare, and a miss reads the next few.
    let mut ranked: Vec<SimilarCase> = Vec::new();
    for chunk in candidates.chunks(SHOWN * 2) {
        let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        // By primary key only, the state checked here: with `status = 'closed'` in
        // the query, SQLite walked the status index over every closed case instead.
        // Each with its latest resolution, in the same query (a probe of the closures'
        // case index for each of these few).
        let mut rows: std::collections::HashMap<i64, (String, String, Option<String>)> =
            cases::table
                .filter(crate::db::ids_in(conn, "cases.id", &ids))
                .select((
                    cases::id,
                    cases::number,
                    cases::subject,
                    cases::status,
                    cases::merged_into.is_null(),
                    closures::table
                        .filter(closures::case_id.eq(cases::id))
                        .order(closures::id.desc())
                        .select(closures::resolution)
                        .limit(1)
                        .single_value(),
                ))
                .rows::<(i64, String, String, String, bool, Option<String>)>(conn)?
                .into_iter()
                .filter(|(_, _, _, status, whole, _)| status == "closed" && *whole)
                .map(|(id, number, subject, _, _, resolution)| (id, (number, subject, resolution)))
                .collect();
        for (id, (_, shared)) in chunk {
            if let Some((number, subject, resolution)) = rows.remove(id) {
                ranked.push(SimilarCase {
                    number,
                    subject,
                    shared: shared.clone(),
                    resolution,
                });
            }
        }
        if ranked.len() >= SHOWN {
            break;
        }
    }
    ranked.truncate(SHOWN);
    Ok(ranked)
}
