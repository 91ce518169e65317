//! The closed sets a case moves through: its status, its priority and the status of
//! an escalation. Stored as their `as_str()` in text columns.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Open,
    WaitingCustomer,
    Escalated,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Open,
        Status::WaitingCustomer,
        Status::Escalated,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::WaitingCustomer => "waiting_customer",
            Status::Escalated => "escalated",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// How urgent a case is; each has its own first-response SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    /// Least urgent first: the order of `Settings::sla_minutes`.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Where an escalation to R&D stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStatus {
    /// Waiting on R&D (opened, or followed up by support).
    Open,
    Answered,
    /// R&D asked support for more information.
    NeedsInfo,
    Closed,
}

impl EscalationStatus {
    pub const ALL: [EscalationStatus; 4] = [
        EscalationStatus::Open,
        EscalationStatus::Answered,
        EscalationStatus::NeedsInfo,
        EscalationStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationStatus::Open => "open",
            EscalationStatus::Answered => "answered",
            EscalationStatus::NeedsInfo => "needs_info",
            EscalationStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<EscalationStatus> {
        EscalationStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        for e in EscalationStatus::ALL {
            assert_eq!(EscalationStatus::parse(e.as_str()), Some(e));
        }
        assert_eq!(Priority::parse("URGENT"), None);
    }
}
