//! Re-analysis in the background.
//!
//! - Once after an upgrade: the cases an earlier version held apart that the threading
//!   rules now tie together are joined (`cases::merge`), then a mark in `app_settings`
//!   says it is done. Several servers may race: the work is idempotent (ties already
//!   joined are found joined).
//! - Always: every new sender counted for `/people`, and the re-analysis jobs that
//!   changes of who-is-who ask for (`cases::reanalysis`), a few cases at a time.

use super::{blocking, JobError};
use crate::db::schema::app_settings;
use crate::db::Pool;
use diesel::prelude::*;

const DONE: &str = "threads_reanalyzed_v1";

/// The pause when there is nothing to do.
const IDLE: std::time::Duration = std::time::Duration::from_secs(1);

pub fn spawn(pool: Pool, rules: std::sync::Arc<crate::mail::ingest::Rules>) {
    let jobs_pool = pool.clone();
    actix_web::rt::spawn(async move {
        loop {
            let (pool, rules) = (jobs_pool.clone(), rules.clone());
            let busy = blocking(
                "re-analysis job failed",
                move || -> Result<bool, JobError> {
                    let mut conn = pool.get()?;
                    Ok(crate::cases::reanalysis::tick(&mut conn, &rules)?)
                },
            )
            .await;
            if busy != Some(true) {
                tokio::time::sleep(IDLE).await;
            }
        }
    });
    actix_web::rt::spawn(async move {
        let joined = blocking(
            "thread re-analysis failed",
            move || -> Result<Option<usize>, JobError> {
                let mut conn = pool.get()?;
                let done: bool = diesel::select(diesel::dsl::exists(
                    app_settings::table.filter(app_settings::key.eq(DONE)),
                ))
                .get_result(&mut conn)?;
                if done {
                    return Ok(None);
                }
                let n = crate::cases::merge::reanalyze_threads(&mut conn)?;
                let marked = diesel::insert_into(app_settings::table)
                    .values((
                        app_settings::key.eq(DONE),
                        app_settings::value.eq(n.to_string()),
                    ))
                    .execute(&mut conn);
                if let Err(e) = marked {
                    // Another server marked it first.
                    tracing::debug!(error = %e, "re-analysis mark");
                }
                Ok(Some(n))
            },
        )
        .await;
        if let Some(Some(n)) = joined {
            tracing::info!(joined = n, "threads re-analysed after upgrade");
        }
    });
}
