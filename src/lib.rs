//! Casebook: support case tracking for teams that work over email.

pub mod activation;
pub mod allocator;
pub mod auth;
pub mod backup;
pub mod bundles;
pub mod cases;
pub mod cli;
pub mod clock;
pub mod codes;
pub mod config;
pub mod db;
pub mod i18n;
pub mod mail;
pub mod mailboxes;
pub mod notify;
pub mod people;
pub mod reports;
pub mod search;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod workers;

/// Current UTC time without zone, as stored in the database.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
