//! The clock: where time decides an outcome (SLA, retries, claims), the domain takes
//! the time from its caller, so tests can set it.

use chrono::NaiveDateTime;

/// A source of the current UTC time, as stored in the database.
pub trait Clock: Send + Sync {
    fn now(&self) -> NaiveDateTime;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        crate::now()
    }
}

/// A clock that always says the same time (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub NaiveDateTime);

impl Clock for FixedClock {
    fn now(&self) -> NaiveDateTime {
        self.0
    }
}
