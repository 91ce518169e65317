//! SLA clocks: first response (starts at the first customer message, stops at the
//! first support reply) and escalations waiting on R&D. Pure functions of time.

use super::EscalationStatus;
use chrono::{Duration, NaiveDateTime};

#[derive(Debug, Clone, PartialEq)]
pub enum FirstResponse {
    /// No customer message yet.
    NotStarted,
    Running {
        due: NaiveDateTime,
        minutes_left: i64,
    },
    Breached {
        due: NaiveDateTime,
        minutes_over: i64,
    },
    Met {
        at: NaiveDateTime,
        within: bool,
    },
    /// Imported history that never got a first response: told as it was, not overdue.
    Unanswered,
}

impl FirstResponse {
    pub fn key(&self) -> &'static str {
        match self {
            FirstResponse::NotStarted => "sla.not_started",
            FirstResponse::Running { .. } => "sla.running",
            FirstResponse::Breached { .. } => "sla.breached",
            FirstResponse::Met { within: true, .. } => "sla.met",
            FirstResponse::Met { within: false, .. } => "sla.met_late",
            FirstResponse::Unanswered => "sla.history_unanswered",
        }
    }

    pub fn css(&self) -> &'static str {
        match self {
            FirstResponse::Breached { .. } | FirstResponse::Met { within: false, .. } => "sla-bad",
            FirstResponse::Running { minutes_left, .. } if *minutes_left < 60 => "sla-warn",
            _ => "sla-ok",
        }
    }

    /// "2h 5m" left or over; empty when not applicable.
    pub fn amount(&self) -> String {
        match self {
            FirstResponse::Running { minutes_left, .. } => short(*minutes_left),
            FirstResponse::Breached { minutes_over, .. } => short(*minutes_over),
            _ => String::new(),
        }
    }

    pub fn is_breached(&self) -> bool {
        matches!(self, FirstResponse::Breached { .. })
    }
}

/// The first-response target in minutes for a priority (`sla_minutes` is ordered
/// least urgent first, as `Priority::ALL`); an unknown priority counts as normal.
pub fn target_minutes(sla_minutes: &[i64; 4], priority: &str) -> i64 {
    let p = super::Priority::parse(priority).unwrap_or(super::Priority::Normal);
    let i = super::Priority::ALL
        .iter()
        .position(|x| *x == p)
        .unwrap_or(1);
    sla_minutes.get(i).copied().unwrap_or(sla_minutes[1])
}

pub fn short(minutes: i64) -> String {
    let m = minutes.max(0);
    let (d, h, mm) = (m / 1440, (m % 1440) / 60, m % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {mm}m")
    } else {
        format!("{mm}m")
    }
}

pub fn first_response(
    first_customer_at: Option<NaiveDateTime>,
    first_response_at: Option<NaiveDateTime>,
    sla_minutes: i64,
    now: NaiveDateTime,
) -> FirstResponse {
    let Some(start) = first_customer_at else {
        return match first_response_at {
            Some(at) => FirstResponse::Met { at, within: true },
            None => FirstResponse::NotStarted,
        };
    };
    let due = start + Duration::minutes(sla_minutes);
    match first_response_at {
        Some(at) => FirstResponse::Met {
            at,
            within: at <= due,
        },
        None if now > due => FirstResponse::Breached {
            due,
            minutes_over: (now - due).num_minutes(),
        },
        None => FirstResponse::Running {
            due,
            minutes_left: (due - now).num_minutes(),
        },
    }
}

/// The time a case is judged at: `now` for live work; for imported history its own
/// last moment (closed, else its last message), so nothing imported ages or breaches
/// with today's date.
pub fn clock(
    imported: bool,
    closed_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
    now: NaiveDateTime,
) -> NaiveDateTime {
    if imported {
        closed_at.unwrap_or(updated_at).min(now)
    } else {
        now
    }
}

/// The first-response state of a case judged at its clock: as [`first_response`], but
/// imported history is never running or overdue.
pub fn first_response_of(
    imported: bool,
    first_customer_at: Option<NaiveDateTime>,
    first_response_at: Option<NaiveDateTime>,
    sla_minutes: i64,
    clock_at: NaiveDateTime,
) -> FirstResponse {
    let fr = first_response(first_customer_at, first_response_at, sla_minutes, clock_at);
    match fr {
        FirstResponse::Running { .. } | FirstResponse::Breached { .. } if imported => {
            FirstResponse::Unanswered
        }
        other => other,
    }
}

/// An escalation waiting on R&D (open, or followed up) longer than the limit.
/// `status` as stored (see [`EscalationStatus`]).
pub fn escalation_overdue(
    status: &str,
    waiting_since: NaiveDateTime,
    limit_hours: i64,
    now: NaiveDateTime,
) -> bool {
    EscalationStatus::parse(status) == Some(EscalationStatus::Open)
        && now - waiting_since > Duration::hours(limit_hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imported_history_keeps_its_own_clock() {
        // Closed history is judged at its closure, open history at its last message.
        assert_eq!(clock(true, Some(t(10)), t(12), t(5000)), t(10));
        assert_eq!(clock(true, None, t(12), t(5000)), t(12));
        assert_eq!(clock(false, None, t(12), t(5000)), t(5000));
        // A history case nobody answered is not overdue; a live one is.
        assert_eq!(
            first_response_of(true, Some(t(0)), None, 60, t(5000)),
            FirstResponse::Unanswered
        );
        assert!(first_response_of(false, Some(t(0)), None, 60, t(5000)).is_breached());
        // Answered history is judged by its own times.
        assert_eq!(
            first_response_of(true, Some(t(0)), Some(t(3)), 60, t(5000)),
            FirstResponse::Met {
                at: t(3),
                within: false
            }
        );
    }

    fn t(h: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000 + h * 3600, 0)
            .expect("time")
            .naive_utc()
    }

    #[test]
    fn clock_runs_breaches_and_stops() {
        assert_eq!(
            first_response(None, None, 60, t(0)),
            FirstResponse::NotStarted
        );
        assert!(matches!(
            first_response(Some(t(0)), None, 120, t(1)),
            FirstResponse::Running {
                minutes_left: 60,
                ..
            }
        ));
        assert!(first_response(Some(t(0)), None, 60, t(3)).is_breached());
        assert_eq!(
            first_response(Some(t(0)), Some(t(1)), 120, t(5)).key(),
            "sla.met"
        );
        assert_eq!(
            first_response(Some(t(0)), Some(t(3)), 60, t(5)).key(),
            "sla.met_late"
        );
        assert!(escalation_overdue("open", t(0), 48, t(49)));
        assert!(!escalation_overdue("answered", t(0), 48, t(49)));
        assert!(!escalation_overdue("open", t(0), 48, t(47)));
    }
}
