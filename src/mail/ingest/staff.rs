//! Who spoke: staff accounts loaded once per batch, and the direction of a message
//! (customer, support, to R&D, from R&D).

use super::Rules;
use crate::auth::users::{Role, User};
use crate::db::DbConn;
use crate::mail::extract::{self, Greeting};
use crate::mail::ParsedMail;
use crate::people::Side;
use diesel::QueryResult;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Staff accounts, loaded once per batch, to tell who spoke; in a bulk run also the
/// people learnt from threads (see `crate::people`), kept current as the run learns.
pub struct Staff {
    users: Vec<User>,
    /// Staff domains an admin marked on `/people` (beside `--staff-domains`).
    domains: Vec<String>,
    /// Shared by a bulk run's writers (PostgreSQL files with several).
    people: Option<Mutex<HashMap<String, Side>>>,
    /// The keys each bulk writer (by thread) added to `people` since its last commit:
    /// taken out again if its batch rolls back. Locked after `people`.
    unsaved: Mutex<HashMap<std::thread::ThreadId, Vec<String>>>,
}

/// The learnt people, whatever a writer that panicked left (a map of keys to sides
/// is whole after any insert).
fn lock(map: &Mutex<HashMap<String, Side>>) -> MutexGuard<'_, HashMap<String, Side>> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock_unsaved(
    m: &Mutex<HashMap<std::thread::ThreadId, Vec<String>>>,
) -> MutexGuard<'_, HashMap<std::thread::ThreadId, Vec<String>>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Staff {
    pub fn load(conn: &mut DbConn) -> QueryResult<Staff> {
        Ok(Staff {
            users: crate::auth::users::list(conn)?,
            domains: crate::people::domains::list(conn)?,
            people: None,
            unsaved: Mutex::default(),
        })
    }

    /// As `load`, with every learnt person in memory (bulk runs).
    pub fn load_for_batch(conn: &mut DbConn) -> QueryResult<Staff> {
        Ok(Staff {
            users: crate::auth::users::list(conn)?,
            domains: crate::people::domains::list(conn)?,
            people: Some(Mutex::new(crate::people::all_keys(conn)?)),
            unsaved: Mutex::default(),
        })
    }

    /// The side of the person learnt under `address` or `name`.
    pub(super) fn learnt_side(
        &self,
        conn: &mut DbConn,
        name: &str,
        address: &str,
    ) -> QueryResult<Option<Side>> {
        match &self.people {
            Some(map) => {
                let map = lock(map);
                Ok([
                    crate::people::address_key(address),
                    crate::people::name_key(name),
                ]
                .into_iter()
                .flatten()
                .find_map(|k| map.get(&k).copied()))
            }
            None => crate::people::side_of(conn, name, address),
        }
    }

    /// The side kept in memory under `key`; `None` outside bulk runs (then every learnt
    /// key is written again, which `learn` does idempotently).
    pub(super) fn learnt_side_of_key(&self, key: &str) -> Option<Side> {
        self.people.as_ref().and_then(|m| lock(m).get(key).copied())
    }

    /// Whether `name` names someone learnt on the R&D side.
    pub(super) fn learnt_rnd_name(&self, conn: &mut DbConn, name: &str) -> QueryResult<bool> {
        match &self.people {
            Some(map) => Ok(
                crate::people::name_key(name).and_then(|k| lock(map).get(&k).copied())
                    == Some(Side::Rnd),
            ),
            None => crate::people::is_rnd_name(conn, name),
        }
    }

    /// This thread's batch committed: what it learnt is in the database.
    pub(super) fn saved(&self) {
        lock_unsaved(&self.unsaved).remove(&std::thread::current().id());
    }

    /// This thread's batch rolled back: what it learnt is gone from the database, so
    /// it goes from memory too (filing the batch again records it again). What other
    /// writers learnt stays.
    pub(super) fn forget_unsaved(&self) {
        if let Some(map) = &self.people {
            let mut map = lock(map);
            let keys = lock_unsaved(&self.unsaved).remove(&std::thread::current().id());
            for k in keys.unwrap_or_default() {
                map.remove(&k);
            }
        }
    }

    /// Keeps what `learn` recorded in memory too (a person's side never changes there).
    pub(super) fn remember(&self, keys: &[String], side: Side) {
        if let Some(map) = &self.people {
            let mut map = lock(map);
            let side = keys
                .iter()
                .find_map(|k| map.get(k).copied())
                .unwrap_or(side);
            let mut added = Vec::new();
            for k in keys {
                if !map.contains_key(k) {
                    map.insert(k.clone(), side);
                    added.push(k.clone());
                }
            }
            if !added.is_empty() {
                lock_unsaved(&self.unsaved)
                    .entry(std::thread::current().id())
                    .or_default()
                    .extend(added);
            }
        }
    }

    /// Whether an account (address, name or alias) says who this sender is.
    pub(super) fn knows(&self, name: &str, address: &str) -> bool {
        self.identify(name, address).is_some()
    }

    /// The account `name`/`address` belongs to: by address (the account's own or an
    /// address alias), else by name or name alias.
    pub fn identify(&self, name: &str, address: &str) -> Option<&User> {
        let address = address.trim();
        if !address.is_empty() {
            if let Some(u) = self.users.iter().find(|u| u.has_address(address)) {
                return Some(u);
            }
        }
        if name.trim().is_empty() {
            return None;
        }
        self.users.iter().find(|u| u.is_staff_name(name))
    }

    /// The enabled account with this address (never a display name).
    fn by_address(&self, address: &str) -> Option<&User> {
        let address = address.trim();
        if address.is_empty() {
            return None;
        }
        self.users
            .iter()
            .find(|u| !u.disabled && u.has_address(address))
    }

    /// Whether `address` is in a staff domain (configured or marked by an admin).
    pub fn in_staff_domain(&self, rules: &Rules, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| {
            let d = d.trim().to_lowercase();
            rules.staff_domains.contains(&d) || self.domains.contains(&d)
        })
    }

    fn is_rnd_name(&self, name: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.role() == Role::Rnd && u.is_staff_name(name))
    }

    fn is_rnd_address(&self, address: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.role() == Role::Rnd && u.has_address(address.trim()))
    }
}

/// Direction of a message as shown on the case and used by reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Customer,
    Support,
    ToRnd,
    FromRnd,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Customer => "customer",
            Direction::Support => "support",
            Direction::ToRnd => "to_rnd",
            Direction::FromRnd => "from_rnd",
        }
    }
}

/// What the thread (not an account) tells about a message: its sender's side as
/// imported history shows it, and whether it greets someone seen on the R&D side.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Hint {
    pub side: Option<Side>,
    pub greets_rnd: bool,
}

/// The direction of `pm`, and the staff account that sent it, if any. Accounts and
/// staff domains win; the hint fills in for senders without an account.
pub(super) fn direction(
    staff: &Staff,
    rules: &Rules,
    pm: &ParsedMail,
    hint: Hint,
) -> (Direction, Option<User>) {
    let user = staff.identify(&pm.from_name, &pm.from_address).cloned();
    let staff_domain = staff.in_staff_domain(rules, &pm.from_address);
    let is_staff = user.is_some() || staff_domain || hint.side.is_some_and(Side::is_staff);
    if !is_staff {
        return (Direction::Customer, None);
    }
    let rnd = match &user {
        Some(u) => u.role() == Role::Rnd,
        None => hint.side == Some(Side::Rnd),
    };
    if rnd {
        return (Direction::FromRnd, user);
    }
    let to_rnd = pm.to.iter().any(|a| staff.is_rnd_address(a))
        || hint.greets_rnd
        || match extract::greeting(&pm.body_text) {
            Greeting::Dev => true,
            Greeting::Name(n) => staff.is_rnd_name(&n),
            Greeting::None => false,
        };
    (
        if to_rnd {
            Direction::ToRnd
        } else {
            Direction::Support
        },
        user,
    )
}

/// Who sent a message, as far as Casebook may act on it.
pub(super) struct Sender {
    pub dir: Direction,
    pub user: Option<User>,
    /// A staff action recognised in live mail from an unverified sender, offered to
    /// staff instead of taken: `closure`, `scope`, `escalation` or `answer`.
    pub proposal: Option<&'static str>,
}

/// The sender of `pm`: imported history as written (names included); live mail acts as
/// staff only from the verified address of an enabled support, R&D or admin account.
pub(super) fn sender(
    staff: &Staff,
    rules: &Rules,
    pm: &ParsedMail,
    arrival: super::trust::Arrival,
    verified: bool,
    hint: Hint,
) -> Sender {
    let (dir, user) = direction(staff, rules, pm, hint);
    if arrival == super::trust::Arrival::Import {
        return Sender {
            dir,
            user,
            proposal: None,
        };
    }
    let acting = staff
        .by_address(&pm.from_address)
        .filter(|u| verified && matches!(u.role(), Role::Support | Role::Rnd | Role::Admin));
    if let Some(u) = acting {
        // The address decides who it is; the thread decides what it does.
        if user.as_ref().is_some_and(|x| x.id == u.id) {
            return Sender {
                dir,
                user,
                proposal: None,
            };
        }
    }
    // Shown as written, from outside: what it claims becomes a proposal.
    let proposal = match dir {
        Direction::Customer => None,
        Direction::FromRnd => Some("answer"),
        Direction::ToRnd => Some("escalation"),
        Direction::Support => {
            if extract::extract_closure(&pm.body_text).is_some() {
                Some("closure")
            } else if extract::extract_scope(&pm.body_text).is_some() {
                Some("scope")
            } else {
                None
            }
        }
    };
    Sender {
        dir: Direction::Customer,
        user: None,
        proposal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every change to the directory moves its counter, by whatever path it is
    /// written (the live mail writer keeps `Staff` only while it stands still); other
    /// writes do not.
    #[test]
    fn the_directory_version_moves_with_accounts_and_staff_domains() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("casebook.db");
        let mut conn = crate::db::establish(path.to_str().expect("utf-8")).expect("db");
        crate::db::migrate(&mut conn).expect("migrate");
        let v0 = crate::auth::users::directory_version(&mut conn).expect("version");
        let u = crate::auth::users::create(
            &mut conn,
            "wang@cmgos.example",
            "Wang Wu",
            Role::Support,
            &[],
            "Correct-Horse-9",
        )
        .expect("user");
        let v1 = crate::auth::users::directory_version(&mut conn).expect("version");
        assert!(v1 > v0, "a new account: {v0} → {v1}");
        crate::auth::users::set_disabled(&mut conn, u.id, true).expect("disable");
        let v2 = crate::auth::users::directory_version(&mut conn).expect("version");
        assert!(v2 > v1, "an account disabled: {v1} → {v2}");
        crate::people::domains::add(&mut conn, "partner.example", "admin").expect("domain");
        let v3 = crate::auth::users::directory_version(&mut conn).expect("version");
        assert!(v3 > v2, "a staff domain: {v2} → {v3}");
        diesel::RunQueryDsl::execute(diesel::sql_query("DELETE FROM staff_domains"), &mut conn)
            .expect("delete");
        let v4 = crate::auth::users::directory_version(&mut conn).expect("version");
        assert!(v4 > v3, "staff domains removed by hand: {v3} → {v4}");
        diesel::RunQueryDsl::execute(
            diesel::sql_query("UPDATE cases SET priority = 'high'"),
            &mut conn,
        )
        .expect("other write");
        assert_eq!(
            crate::auth::users::directory_version(&mut conn).expect("version"),
            v4
        );
    }
}
