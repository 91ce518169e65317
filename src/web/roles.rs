//! Who may do what, by role: the sets the route table and the handlers share.

use crate::auth::Role;

/// Every staff role that may read cases.
pub const STAFF: &[Role] = &[Role::Support, Role::Rnd, Role::Manager, Role::Admin];
/// Case work: replies, scope, escalations, closure, status, assignment, imports.
pub const SUPPORT: &[Role] = &[Role::Support, Role::Admin];
/// Answers to escalations and notes on error codes.
pub const RND: &[Role] = &[Role::Rnd, Role::Admin];
/// Both sides of an escalation: closing it, adding log bundles.
pub const ESCALATION_PARTIES: &[Role] = &[Role::Support, Role::Rnd, Role::Admin];
/// Reports.
pub const MANAGERS: &[Role] = &[Role::Manager, Role::Admin];
/// Users, mailboxes, quarantine, activation records, inbound mail.
pub const ADMIN: &[Role] = &[Role::Admin];
/// Who sees who is who (`/people`): support, managers, admins.
pub const PEOPLE: &[Role] = &[Role::Support, Role::Manager, Role::Admin];
