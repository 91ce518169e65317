#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up themselves
//! One integration binary: the real server over HTTP, the real CLI, real databases.

mod helpers;

mod api_twins;
mod attacker;
mod auth;
mod browser;
mod bundles;
mod canned;
mod corpus;
mod customers;
mod evidence;
mod html_mail;
mod ingest;
mod mailboxes;
mod notifications;
mod objects;
mod people;
mod queue;
mod replies;
mod reports;
mod safety;
mod search;
mod security;
mod threads;
mod tokens;
mod workflow;
