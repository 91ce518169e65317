//! Mails pending notifications (see `notify`): each pass queues what is due in the
//! outbox, at the outbox's own pace.

use super::blocking;
use crate::config::Settings;
use crate::db::Pool;
use std::time::Duration;

/// Starts the notification mailer.
pub fn spawn(pool: Pool, settings: Settings) {
    let pause = Duration::from_secs(settings.outbox_interval_secs.max(1));
    tokio::spawn(async move {
        loop {
            let (p, s) = (pool.clone(), settings.clone());
            blocking("notifications: cannot mail", move || {
                let mut c = p.get()?;
                let now = crate::now();
                crate::notify::scan(
                    &mut c,
                    &s.sla_minutes,
                    s.sla_warning_minutes,
                    s.escalation_overdue_hours,
                    now,
                )?;
                Ok(crate::notify::mail_pending(&mut c, &s, now)?)
            })
            .await;
            tokio::time::sleep(pause).await;
        }
    });
}
