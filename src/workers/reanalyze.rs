//! Once after an upgrade, in the background: the cases an earlier version held apart
//! that the threading rules now tie together are joined (`cases::merge`), then a mark
//! in `app_settings` says it is done. Several servers may race: the work is idempotent
//! (ties already joined are found joined).

use super::{blocking, JobError};
use crate::db::schema::app_settings;
use crate::db::Pool;
use diesel::prelude::*;

const DONE: &str = "threads_reanalyzed_v1";

pub fn spawn(pool: Pool) {
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
