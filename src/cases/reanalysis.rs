//! Re-analysis jobs: after who-is-who changed, the affected cases are re-read from
//! their stored mail (`mail::ingest::replay`) in the background, a few at a time, with
//! progress kept in `reanalysis_jobs` for `/people` to show.
//!
//! A job names its scope; the worker turns it into a queue of cases when it starts
//! (after counting every sender, so the sender's cases are all known), then takes the
//! queue in small transactions. Several servers may share the work: a case is claimed
//! by deleting its queue row.

use crate::db::schema::{cases, reanalysis_jobs, reanalysis_queue};
use crate::db::DbConn;
use crate::db::Direct;
use crate::mail::ingest::replay::reanalyze_case;
use crate::mail::ingest::{Rules, Staff};
use crate::people::senders;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Which cases a job re-reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The cases of the senders known by these keys.
    Keys(Vec<String>),
    /// The cases of every sender in this domain.
    Domain(String),
    Case(i64),
    All,
}

impl Scope {
    fn encode(&self) -> String {
        match self {
            Scope::Keys(k) => format!("keys:{}", k.join("\n")),
            Scope::Domain(d) => format!("domain:{d}"),
            Scope::Case(id) => format!("case:{id}"),
            Scope::All => "all".into(),
        }
    }

    fn decode(s: &str) -> Scope {
        if let Some(k) = s.strip_prefix("keys:") {
            Scope::Keys(k.lines().map(str::to_string).collect())
        } else if let Some(d) = s.strip_prefix("domain:") {
            Scope::Domain(d.to_string())
        } else if let Some(id) = s.strip_prefix("case:").and_then(|v| v.parse().ok()) {
            Scope::Case(id)
        } else {
            Scope::All
        }
    }
}

/// Asks for a re-analysis of `scope` (`reason` and `actor` are shown with it).
pub fn enqueue(conn: &mut DbConn, scope: &Scope, reason: &str, actor: &str) -> QueryResult<i64> {
    diesel::insert_into(reanalysis_jobs::table)
        .values((
            reanalysis_jobs::scope.eq(scope.encode()),
            reanalysis_jobs::reason.eq(reason),
            reanalysis_jobs::actor.eq(actor),
            reanalysis_jobs::state.eq("pending"),
            reanalysis_jobs::total.eq(0i64),
            reanalysis_jobs::done.eq(0i64),
            reanalysis_jobs::changed.eq(0i64),
            reanalysis_jobs::created_at.eq(crate::now()),
        ))
        .returning(reanalysis_jobs::id)
        .row(conn)
}

/// Starts the oldest pending job: its scope becomes a queue of cases. Returns whether
/// one was started.
fn start_one(conn: &mut DbConn) -> QueryResult<bool> {
    crate::db::write_tx(conn, |conn| {
        let job: Option<(i64, String)> = reanalysis_jobs::table
            .filter(reanalysis_jobs::state.eq("pending"))
            .order(reanalysis_jobs::id.asc())
            .select((reanalysis_jobs::id, reanalysis_jobs::scope))
            .first_row(conn)
            .optional()?;
        let Some((id, scope)) = job else {
            return Ok(false);
        };
        let claimed = diesel::update(
            reanalysis_jobs::table
                .find(id)
                .filter(reanalysis_jobs::state.eq("pending")),
        )
        .set(reanalysis_jobs::state.eq("running"))
        .exec(conn)?;
        if claimed == 0 {
            return Ok(true);
        }
        let mut ids: Vec<i64> = match Scope::decode(&scope) {
            Scope::Keys(k) => senders::cases_of(conn, &k)?,
            Scope::Domain(d) => {
                let keys = senders::keys_in_domain(conn, &d)?;
                let mut ids = Vec::new();
                for chunk in keys.chunks(500) {
                    ids.extend(senders::cases_of(conn, chunk)?);
                }
                ids
            }
            Scope::Case(id) => vec![id],
            Scope::All => cases::table
                .filter(cases::merged_into.is_null())
                .select(cases::id)
                .rows(conn)?,
        };
        // Mail of a merged case lives on its survivor.
        let mut live = Vec::with_capacity(ids.len());
        for id in ids.drain(..) {
            if let Some(c) = crate::cases::merge::surviving(conn, id)? {
                live.push(c.id);
            }
        }
        live.sort_unstable();
        live.dedup();
        for c in &live {
            diesel::insert_into(reanalysis_queue::table)
                .values((
                    reanalysis_queue::job_id.eq(id),
                    reanalysis_queue::case_id.eq(*c),
                ))
                .exec(conn)?;
        }
        diesel::update(reanalysis_jobs::table.find(id))
            .set(reanalysis_jobs::total.eq(live.len() as i64))
            .exec(conn)?;
        Ok(true)
    })
}

/// Re-reads up to `batch` queued cases of the oldest running job, one transaction per
/// case, and finishes the job when its queue is empty. Returns how many it re-read.
pub fn run_some(conn: &mut DbConn, rules: &Rules, batch: i64) -> QueryResult<usize> {
    let job: Option<i64> = reanalysis_jobs::table
        .filter(reanalysis_jobs::state.eq("running"))
        .order(reanalysis_jobs::id.asc())
        .select(reanalysis_jobs::id)
        .first_row(conn)
        .optional()?;
    let Some(job) = job else {
        return Ok(0);
    };
    let queued: Vec<i64> = reanalysis_queue::table
        .filter(reanalysis_queue::job_id.eq(job))
        .order(reanalysis_queue::case_id.asc())
        .limit(batch)
        .select(reanalysis_queue::case_id)
        .rows(conn)?;
    if queued.is_empty() {
        diesel::update(
            reanalysis_jobs::table
                .find(job)
                .filter(reanalysis_jobs::state.eq("running")),
        )
        .set((
            reanalysis_jobs::state.eq("done"),
            reanalysis_jobs::finished_at.eq(crate::now()),
        ))
        .exec(conn)?;
        return Ok(0);
    }
    // Accounts, domains and people as they are now.
    let staff = Staff::load(conn)?;
    let mut n = 0;
    for case_id in queued {
        let done = crate::db::write_tx(conn, |conn| -> QueryResult<()> {
            let claimed = diesel::delete(
                reanalysis_queue::table
                    .filter(reanalysis_queue::job_id.eq(job))
                    .filter(reanalysis_queue::case_id.eq(case_id)),
            )
            .exec(conn)?;
            if claimed == 0 {
                return Ok(());
            }
            let r = reanalyze_case(conn, rules, &staff, case_id)?;
            diesel::update(reanalysis_jobs::table.find(job))
                .set((
                    reanalysis_jobs::done.eq(reanalysis_jobs::done + 1i64),
                    reanalysis_jobs::changed.eq(reanalysis_jobs::changed + i64::from(r.changed())),
                ))
                .exec(conn)?;
            Ok(())
        });
        if let Err(e) = done {
            // One case that cannot be re-read does not hold up the job or the ones
            // after it: it is counted, and the job keeps the error to show.
            tracing::warn!(job, case_id, error = %e, "re-analysis of a case failed");
            let error = format!("case {case_id}: {e}");
            crate::db::write_tx(conn, |conn| -> QueryResult<()> {
                diesel::delete(
                    reanalysis_queue::table
                        .filter(reanalysis_queue::job_id.eq(job))
                        .filter(reanalysis_queue::case_id.eq(case_id)),
                )
                .exec(conn)?;
                diesel::update(reanalysis_jobs::table.find(job))
                    .set((
                        reanalysis_jobs::done.eq(reanalysis_jobs::done + 1i64),
                        reanalysis_jobs::error.eq(error),
                    ))
                    .exec(conn)?;
                Ok(())
            })?;
        }
        n += 1;
    }
    Ok(n)
}

/// One pass of the background work: new senders counted, a pending job started, a few
/// cases re-read. Returns whether there was anything to do.
pub fn tick(conn: &mut DbConn, rules: &Rules) -> QueryResult<bool> {
    let mut busy = senders::index_batch(conn, 5000)? > 0;
    if busy {
        // Jobs wait until every sender is counted (their cases come from the counts).
        return Ok(true);
    }
    busy |= start_one(conn)?;
    busy |= run_some(conn, rules, 25)? > 0;
    Ok(busy)
}

/// Runs every pending job to the end (the command line); `progress` gets (done, total).
pub fn run_all(conn: &mut DbConn, rules: &Rules, progress: &dyn Fn(i64, i64)) -> QueryResult<()> {
    senders::index_all(conn)?;
    while start_one(conn)? {}
    loop {
        let n = run_some(conn, rules, 50)?;
        let open: Vec<(i64, i64)> = reanalysis_jobs::table
            .filter(reanalysis_jobs::state.eq("running"))
            .select((reanalysis_jobs::done, reanalysis_jobs::total))
            .rows(conn)?;
        let (done, total) = open
            .iter()
            .fold((0, 0), |(d, t), (d1, t1)| (d + d1, t + t1));
        progress(done, total);
        if n == 0 {
            let running: bool = diesel::select(diesel::dsl::exists(
                reanalysis_jobs::table.filter(reanalysis_jobs::state.eq("running")),
            ))
            .row(conn)?;
            if !running {
                return Ok(());
            }
        }
    }
}

/// After an import: the cases where a sender the import recognised as staff (people
/// learnt after `people_before`, the highest person id before it) still speaks as the
/// customer — their mail came before the evidence — are re-read at once. Returns how
/// many cases were re-read.
pub fn after_import(conn: &mut DbConn, rules: &Rules, people_before: i64) -> QueryResult<usize> {
    use crate::db::schema::{messages, people, person_keys};
    let learnt: Vec<String> = person_keys::table
        .inner_join(people::table)
        .filter(people::id.gt(people_before))
        .filter(people::side.ne("customer"))
        .select(person_keys::key)
        .rows(conn)?;
    if learnt.is_empty() {
        return Ok(0);
    }
    senders::index_all(conn)?;
    let learnt: std::collections::HashSet<String> = learnt.into_iter().collect();
    let keys: Vec<&String> = learnt.iter().collect();
    let mut ids = Vec::new();
    for chunk in keys.chunks(500) {
        let chunk: Vec<String> = chunk.iter().map(|k| (*k).clone()).collect();
        ids.extend(senders::cases_of(conn, &chunk)?);
    }
    ids.sort_unstable();
    ids.dedup();
    let mut misread = Vec::new();
    for id in ids {
        let customers: Vec<(String, String)> = messages::table
            .filter(messages::case_id.eq(id))
            .filter(messages::direction.eq("customer"))
            .filter(messages::raw_id.is_not_null())
            .select((messages::from_name, messages::from_address))
            .rows(conn)?;
        let learnt_one = customers.iter().any(|(name, address)| {
            [
                crate::people::address_key(address),
                crate::people::name_key(name),
            ]
            .into_iter()
            .flatten()
            .any(|k| learnt.contains(&k))
        });
        if learnt_one {
            misread.push(id);
        }
    }
    if misread.is_empty() {
        return Ok(0);
    }
    let staff = Staff::load(conn)?;
    crate::mail::ingest::replay::reanalyze_cases(conn, rules, &staff, &misread)
}

/// The highest person id so far (0: none).
pub fn people_mark(conn: &mut DbConn) -> QueryResult<i64> {
    use crate::db::schema::people;
    Ok(people::table
        .select(diesel::dsl::max(people::id))
        .first_row::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// One job as `/people` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    pub id: i64,
    pub reason: String,
    pub actor: String,
    pub state: String,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The last case that could not be re-read, and why.
    pub error: Option<String>,
}

type JobRow = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

fn view(r: JobRow) -> JobView {
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    JobView {
        id: r.0,
        reason: r.1,
        actor: r.2,
        state: r.3,
        total: r.4,
        done: r.5,
        changed: r.6,
        created_at: fmt(r.7),
        finished_at: r.8.map(fmt),
        error: r.9,
    }
}

const COLUMNS: (
    reanalysis_jobs::id,
    reanalysis_jobs::reason,
    reanalysis_jobs::actor,
    reanalysis_jobs::state,
    reanalysis_jobs::total,
    reanalysis_jobs::done,
    reanalysis_jobs::changed,
    reanalysis_jobs::created_at,
    reanalysis_jobs::finished_at,
    reanalysis_jobs::error,
) = (
    reanalysis_jobs::id,
    reanalysis_jobs::reason,
    reanalysis_jobs::actor,
    reanalysis_jobs::state,
    reanalysis_jobs::total,
    reanalysis_jobs::done,
    reanalysis_jobs::changed,
    reanalysis_jobs::created_at,
    reanalysis_jobs::finished_at,
    reanalysis_jobs::error,
);

/// The newest `limit` jobs.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<JobView>> {
    Ok(reanalysis_jobs::table
        .order(reanalysis_jobs::id.desc())
        .limit(limit)
        .select(COLUMNS)
        .rows::<JobRow>(conn)?
        .into_iter()
        .map(view)
        .collect())
}

/// Job `id`.
pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<JobView>> {
    Ok(reanalysis_jobs::table
        .find(id)
        .select(COLUMNS)
        .first_row::<JobRow>(conn)
        .optional()?
        .map(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for s in [
            Scope::Keys(vec!["addr:a@b.com".into(), "name:liu yu".into()]),
            Scope::Domain("cmgos.com".into()),
            Scope::Case(42),
            Scope::All,
        ] {
            assert_eq!(Scope::decode(&s.encode()), s);
        }
    }
}
