//! Narrowing the queue by times and facts: the cases behind a report's figure.
//!
//! Each report figure that counts cases links to the queue with the narrowing that
//! selects exactly those cases (see `reports::drill`); the conditions here are the
//! report's own definitions spelled as SQL, so the queue's total equals the figure.

use super::Priority;
use crate::db::schema::{activation_records as ar, case_serials, cases, escalations};
use crate::db::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

type Backend = <DbConn as diesel::Connection>::Backend;
pub type Boxed<'a> = cases::BoxedQuery<'a, Backend>;

/// A half-open time range `[from, to)`; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Range {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

impl Range {
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }
}

/// First response against the target of the case's priority (see `cases::sla`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaOutcome {
    /// Answered within the target (or support wrote first).
    Met,
    /// Answered after the target.
    Late,
    /// Live work, not answered, past the target now.
    Breached,
}

impl SlaOutcome {
    pub fn parse(s: &str) -> Option<SlaOutcome> {
        match s {
            "met" => Some(SlaOutcome::Met),
            "late" => Some(SlaOutcome::Late),
            "breached" => Some(SlaOutcome::Breached),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SlaOutcome::Met => "met",
            SlaOutcome::Late => "late",
            SlaOutcome::Breached => "breached",
        }
    }

    /// The outcome of one case; None when it is not judged yet (or not at all).
    pub fn of(
        imported: bool,
        first_customer_at: Option<NaiveDateTime>,
        first_response_at: Option<NaiveDateTime>,
        target_minutes: i64,
        now: NaiveDateTime,
    ) -> Option<SlaOutcome> {
        let target = chrono::Duration::minutes(target_minutes);
        match (first_customer_at, first_response_at) {
            (None, Some(_)) => Some(SlaOutcome::Met),
            (Some(start), Some(at)) if at <= start + target => Some(SlaOutcome::Met),
            (Some(_), Some(_)) => Some(SlaOutcome::Late),
            (Some(start), None) if !imported && start < now - target => Some(SlaOutcome::Breached),
            _ => None,
        }
    }
}

/// Which escalations a case must have one of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EscalationNarrow {
    /// Opened in this range.
    pub opened: Range,
    /// Not answered before this moment.
    pub unanswered_at: Option<NaiveDateTime>,
    /// Still open (not closed) now.
    pub open_now: bool,
}

/// Every narrowing the queue accepts beyond its own filters.
#[derive(Debug, Clone, Default)]
pub struct Narrow {
    pub opened: Range,
    pub closed: Range,
    /// Open at this moment: opened before it, not closed before it.
    pub open_at: Option<NaiveDateTime>,
    pub priority: Option<Priority>,
    /// Part of a product name of the case's activation records.
    pub product: Option<String>,
    /// Exactly this customer, OEM or product.
    pub customer_is: Option<String>,
    pub oem_is: Option<String>,
    pub product_is: Option<String>,
    /// Continues a closed case.
    pub reopened: bool,
    pub unassigned: bool,
    /// First-response outcome: (outcome, targets per priority as `Priority::ALL`, now).
    pub sla: Option<(SlaOutcome, [i64; 4], NaiveDateTime)>,
    pub escalation: Option<EscalationNarrow>,
}

impl Narrow {
    /// Whether anything narrows (the queue then says so).
    pub fn is_set(&self) -> bool {
        self.opened.is_set()
            || self.closed.is_set()
            || self.open_at.is_some()
            || self.priority.is_some()
            || self.product.is_some()
            || self.customer_is.is_some()
            || self.oem_is.is_some()
            || self.product_is.is_some()
            || self.reopened
            || self.unassigned
            || self.sla.is_some()
            || self.escalation.is_some()
    }
}

/// The SQL condition "answered within `minutes` of the customer's first message", per
/// engine (timestamps are text on SQLite, `timestamp` on PostgreSQL).
fn within_sql(pg: bool, minutes: i64) -> String {
    if pg {
        format!("cases.first_response_at <= cases.first_customer_at + interval '{minutes} minutes'")
    } else {
        format!(
            "(julianday(cases.first_response_at) - julianday(cases.first_customer_at)) * 86400.0 <= {}.5",
            minutes * 60
        )
    }
}

/// The SQL condition of one outcome over every priority.
fn sla_sql(pg: bool, outcome: SlaOutcome, targets: [i64; 4], now: NaiveDateTime) -> String {
    let per: Vec<String> = Priority::ALL
        .iter()
        .zip(targets)
        .map(|(p, minutes)| {
            let cond = match outcome {
                SlaOutcome::Met => format!(
                    "cases.first_response_at IS NOT NULL AND (cases.first_customer_at IS NULL OR {})",
                    within_sql(pg, minutes)
                ),
                SlaOutcome::Late => format!(
                    "cases.first_response_at IS NOT NULL AND cases.first_customer_at IS NOT NULL AND NOT ({})",
                    within_sql(pg, minutes)
                ),
                SlaOutcome::Breached => {
                    let due = (now - chrono::Duration::minutes(minutes)).format("%Y-%m-%d %H:%M:%S%.f");
                    format!(
                        "cases.first_response_at IS NULL AND cases.imported = {} AND cases.first_customer_at < '{due}'",
                        if pg { "false" } else { "0" }
                    )
                }
            };
            format!("(cases.priority = '{}' AND {cond})", p.as_str())
        })
        .collect();
    format!("({})", per.join(" OR "))
}

/// The cases with a serial (or machine serial) of an activation record that matches
/// the condition (a macro: subqueries cannot be boxed on the multi-engine connection).
macro_rules! with_serials {
    ($cond:expr) => {
        case_serials::table
            .filter(
                case_serials::serial
                    .eq_any(ar::table.filter($cond).select(ar::serial_number))
                    .or(case_serials::serial
                        .nullable()
                        .eq_any(ar::table.filter($cond).select(ar::machine_serial))),
            )
            .select(case_serials::case_id)
    };
}

/// Applies the narrowing to a queue query.
pub fn apply<'a>(mut q: Boxed<'a>, n: &Narrow, pg: bool) -> Boxed<'a> {
    if let Some(f) = n.opened.from {
        q = q.filter(cases::created_at.ge(f));
    }
    if let Some(t) = n.opened.to {
        q = q.filter(cases::created_at.lt(t));
    }
    if let Some(f) = n.closed.from {
        q = q.filter(cases::closed_at.ge(f));
    }
    if let Some(t) = n.closed.to {
        q = q.filter(cases::closed_at.lt(t));
    }
    if let Some(at) = n.open_at {
        q = q
            .filter(cases::created_at.lt(at))
            .filter(cases::closed_at.is_null().or(cases::closed_at.ge(at)));
    }
    if let Some(p) = n.priority {
        q = q.filter(cases::priority.eq(p.as_str()));
    }
    if let Some(c) = &n.customer_is {
        q = q.filter(cases::customer.eq(c.clone()));
    }
    if let Some(o) = &n.oem_is {
        q = q.filter(cases::oem.eq(o.clone()));
    }
    if let Some(p) = &n.product_is {
        q = q.filter(cases::id.eq_any(with_serials!(ar::product.eq(p.clone()))));
    } else if let Some(p) = &n.product {
        let pattern = format!("%{}%", super::escape_like(p));
        q = q.filter(cases::id.eq_any(with_serials!(
            ar::product.like(pattern.clone()).escape('\\')
        )));
    }
    if n.reopened {
        q = q.filter(cases::parent_case_id.is_not_null());
    }
    if n.unassigned {
        q = q.filter(cases::assignee_id.is_null());
    }
    if let Some((outcome, targets, now)) = n.sla {
        q = q.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&sla_sql(
            pg, outcome, targets, now,
        )));
    }
    if let Some(e) = &n.escalation {
        // Open bounds as the widest times both engines store, so one statement shape
        // (subqueries cannot be boxed on the multi-engine connection).
        let (min, max) = (far(1), far(9999));
        let unanswered = e.unanswered_at.unwrap_or(min);
        let closed = if e.open_now {
            "closed"
        } else {
            // No status is this: the condition holds for every escalation.
            ""
        };
        let s = escalations::table
            .filter(escalations::opened_at.ge(e.opened.from.unwrap_or(min)))
            .filter(escalations::opened_at.lt(e.opened.to.unwrap_or(max)))
            .filter(
                escalations::first_answered_at
                    .is_null()
                    .or(escalations::first_answered_at.ge(unanswered)),
            )
            .filter(escalations::status.ne(closed))
            .select(escalations::case_id);
        q = q.filter(cases::id.eq_any(s));
    }
    q
}

/// The first moment of a year (an open bound).
fn far(year: i32) -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("time")
    }

    #[test]
    fn outcomes() {
        let now = t("2026-01-01 00:00:00");
        let start = t("2025-12-31 10:00:00");
        let of = |fca, fr, imported| SlaOutcome::of(imported, fca, fr, 60, now);
        assert_eq!(of(None, Some(start), false), Some(SlaOutcome::Met));
        assert_eq!(
            of(Some(start), Some(t("2025-12-31 11:00:00")), false),
            Some(SlaOutcome::Met)
        );
        assert_eq!(
            of(Some(start), Some(t("2025-12-31 11:00:01")), false),
            Some(SlaOutcome::Late)
        );
        assert_eq!(of(Some(start), None, false), Some(SlaOutcome::Breached));
        assert_eq!(of(Some(start), None, true), None);
        assert_eq!(of(Some(t("2025-12-31 23:30:00")), None, false), None);
    }

    #[test]
    fn sla_sql_names_every_priority() {
        let s = sla_sql(
            false,
            SlaOutcome::Met,
            [1, 2, 3, 4],
            t("2026-01-01 00:00:00"),
        );
        for p in ["low", "normal", "high", "urgent"] {
            assert!(s.contains(&format!("'{p}'")), "{s}");
        }
        assert!(s.contains("<= 240.5"), "{s}");
        let s = sla_sql(
            true,
            SlaOutcome::Breached,
            [1, 2, 3, 4],
            t("2026-01-01 00:00:00"),
        );
        assert!(
            s.contains("'2025-12-31 23:59:00'") && s.contains("= false"),
            "{s}"
        );
    }
}
