//! From a figure to the cases behind it: each count of cases in a report links to
//! the queue (`/cases`) narrowed to exactly those cases (see `cases::narrow`), so the
//! queue's total equals the figure.

use super::{Report, ReportQuery};
use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

/// The queues behind the headline counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Links {
    pub opened: String,
    pub closed: String,
    pub reopened: String,
    pub backlog: String,
    pub escalated: String,
    pub unanswered: String,
    pub open_escalations: String,
}

/// A moment as the queue reads it back exactly.
fn moment(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A queue URL under construction: the report's filters first.
struct Url(Vec<(&'static str, String)>);

impl Url {
    /// Every status, the report's filters.
    fn base(q: &ReportQuery) -> Url {
        let mut u = Url(vec![("status", String::new())]);
        for (k, v) in [
            ("customer", &q.customer),
            ("oem", &q.oem),
            ("code", &q.code),
            ("priority", &q.priority),
            ("product", &q.product),
            ("assignee", &q.engineer),
        ] {
            if !v.is_empty() {
                u.0.push((k, v.clone()));
            }
        }
        u
    }

    /// Sets a parameter (replacing the filter of the same name).
    fn with(mut self, k: &'static str, v: impl Into<String>) -> Url {
        let v = v.into();
        self.0.retain(|(key, _)| *key != k);
        self.0.push((k, v));
        self
    }

    fn opened(self, from: NaiveDateTime, to: NaiveDateTime) -> Url {
        self.with("opened_from", moment(from))
            .with("opened_to", moment(to))
    }

    fn closed(self, from: NaiveDateTime, to: NaiveDateTime) -> Url {
        self.with("closed_from", moment(from))
            .with("closed_to", moment(to))
    }

    fn done(self) -> String {
        let qs: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::web::cases::url_escape(v)))
            .collect();
        format!("/cases?{}", qs.join("&"))
    }
}

/// The creation times of an age bucket at `at`: `[at - max, at - min)`.
fn age_range(
    u: Url,
    key_from: &'static str,
    key_to: &'static str,
    at: NaiveDateTime,
    min_days: i64,
    max_days: Option<i64>,
) -> Url {
    let mut u = u.with(key_to, moment(at - Duration::days(min_days)));
    if let Some(max) = max_days {
        u = u.with(key_from, moment(at - Duration::days(max)));
    }
    u
}

/// Fills in every link of a computed report.
pub fn annotate(q: &ReportQuery, r: &mut Report) {
    let base = || Url::base(q);
    let at = r.backlog.at;
    r.links = Links {
        opened: base().opened(q.from, q.to).done(),
        closed: base().closed(q.from, q.to).done(),
        reopened: base().opened(q.from, q.to).with("reopened", "1").done(),
        backlog: base().with("open_at", moment(at)).done(),
        escalated: base()
            .opened(q.from, q.to)
            .with("esc_from", moment(q.from))
            .done(),
        unanswered: base()
            .with("esc_from", moment(q.from))
            .with("esc_to", moment(q.to))
            .with("esc_unanswered_at", moment(q.to))
            .done(),
        open_escalations: base()
            .with("escalated", "1")
            .with("esc_to", moment(r.escalations.open_now.at))
            .done(),
    };
    for b in &mut r.backlog.by_age {
        b.url = age_range(
            base().with("open_at", moment(at)),
            "opened_from",
            "opened_to",
            at,
            b.min_days,
            b.max_days,
        )
        .done();
    }
    let esc_at = r.escalations.open_now.at;
    for b in &mut r.escalations.open_now.by_age {
        b.url = age_range(
            base().with("escalated", "1"),
            "esc_from",
            "esc_to",
            esc_at,
            b.min_days,
            b.max_days,
        )
        .done();
    }
    for w in &mut r.weekly {
        let monday = w.week.and_time(chrono::NaiveTime::MIN);
        let (start, end) = (monday.max(q.from), (monday + Duration::weeks(1)).min(q.to));
        w.opened_url = base().opened(start, end).done();
        w.closed_url = base().closed(start, end).done();
    }
    for s in &mut r.sla {
        let u = || base().opened(q.from, q.to).with("priority", s.priority);
        s.opened_url = u().done();
        s.met_url = u().with("sla", "met").done();
        s.late_url = u().with("sla", "late").done();
        s.breached_url = u().with("sla", "breached").done();
    }
    for c in &mut r.top_error_codes {
        c.url = base()
            .opened(q.from, q.to)
            .with("code", c.code.clone())
            .done();
    }
    for c in &mut r.top_customers {
        c.url = base()
            .opened(q.from, q.to)
            .with("customer_is", c.customer.clone())
            .done();
    }
    for o in &mut r.top_oems {
        o.url = base()
            .opened(q.from, q.to)
            .with("oem_is", o.name.clone())
            .done();
    }
    for p in &mut r.top_products {
        p.url = base()
            .opened(q.from, q.to)
            .with("product_is", p.name.clone())
            .done();
    }
    for e in &mut r.engineers {
        let who =
            e.id.map(|id| id.to_string())
                .unwrap_or_else(|| "none".into());
        let u = || base().with("assignee", who.clone());
        e.open_url = u().with("open_at", moment(at)).done();
        e.waiting_url = u()
            .with("open_at", moment(at))
            .with("status", "waiting_customer")
            .done();
        e.closed_url = u().closed(q.from, q.to).done();
    }
}
