//! What the queue shows beside the cases themselves: the staff names and the open
//! escalations of the cases on the page.

use super::{list, ListFilter, ListPage};
use crate::db::schema::{escalations, users};
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// One page of the queue.
pub struct QueuePage {
    /// The cases, how many match, and the pages around.
    pub list: ListPage,
    /// Enabled users by name: (id, name).
    pub staff: Vec<(i64, String)>,
    /// Open escalations of the cases on the page: (case id, status, last activity).
    pub open_escalations: Vec<(i64, String, NaiveDateTime)>,
}

#[tracing::instrument(skip_all)]
pub fn load(conn: &mut DbConn, filter: &ListFilter, names: &StaffNames) -> QueryResult<QueuePage> {
    let list = list(conn, filter)?;
    let staff = names.filter_assignees(conn)?;
    let ids: Vec<i64> = list.rows.iter().map(|r| r.id).collect();
    let open_escalations = escalations::table
        .filter(escalations::case_id.eq_any(&ids))
        .filter(escalations::status.ne("closed"))
        .select((
            escalations::case_id,
            escalations::status,
            escalations::opened_at,
            escalations::last_activity_at,
        ))
        .rows::<(i64, String, NaiveDateTime, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, status, opened, last)| (id, status, last.unwrap_or(opened)))
        .collect();
    Ok(QueuePage {
        list,
        staff,
        open_escalations,
    })
}

/// The enabled users by name, (id, name, role), kept in memory while the staff
/// directory's change counter (`directory_version`, moved by triggers on users) stands
/// still: the case page and the queue list every assignable engineer, and reading and
/// sorting every account for each page was 7 % of the case page's time. One per server
/// process (`AppState::staff_names`); whoever changes an account, in this process or
/// another server, moves the counter. Read it only outside a transaction that writes
/// accounts: a list read inside one that then rolls back would be kept under a number
/// the next committed change takes again.
#[derive(Default)]
pub struct StaffNames {
    kept: std::sync::Mutex<Option<(i64, Names)>>,
}

/// Enabled users by name: (id, name, role).
type Names = std::sync::Arc<Vec<(i64, String, crate::auth::Role)>>;

impl StaffNames {
    /// The enabled users by name: (id, name, role).
    pub fn enabled(&self, conn: &mut DbConn) -> QueryResult<Names> {
        // The counter first: a change committed between the two reads leaves the list
        // kept under the older number, and the next page reads it again.
        let version = crate::auth::users::directory_version(conn)?;
        if let Some((v, list)) = &*self.lock() {
            if *v == version {
                return Ok(list.clone());
            }
        }
        let all: Vec<(i64, String, String)> = users::table
            .filter(users::disabled.eq(false))
            .order(users::name.asc())
            .select((users::id, users::name, users::role))
            .rows(conn)?;
        let all: Vec<_> = all
            .into_iter()
            .map(|(id, name, role)| (id, name, crate::auth::Role::from_stored(&role)))
            .collect();
        let all = std::sync::Arc::new(all);
        *self.lock() = Some((version, all.clone()));
        Ok(all)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(i64, Names)>> {
        // A panic while holding it leaves a whole value behind (it is only replaced).
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The queue's assignee filter: who can be assigned (support and admin) and any
    /// other enabled user who still holds cases (assigned before a change of role), by
    /// name; R&D and managers who hold no case are not listed.
    pub fn filter_assignees(&self, conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
        use crate::db::schema::cases;
        let users = self.enabled(conn)?;
        let mut out = Vec::with_capacity(users.len());
        for (id, name, role) in users.iter() {
            // One index probe per other user (cases_assignee), not a walk over the cases.
            let holds = role.takes_cases()
                || diesel::select(diesel::dsl::exists(
                    cases::table.filter(cases::assignee_id.eq(*id)),
                ))
                .row::<bool>(conn)?;
            if holds {
                out.push((*id, name.clone()));
            }
        }
        Ok(out)
    }

    /// Who a case can be assigned to: enabled support engineers and admins.
    pub fn assignable(&self, conn: &mut DbConn) -> QueryResult<Vec<(i64, String)>> {
        Ok(self
            .enabled(conn)?
            .iter()
            .filter(|(_, _, role)| role.takes_cases())
            .map(|(id, name, _)| (*id, name.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    /// The kept list follows every change to the accounts, made on this connection or
    /// on another one (another server on the same database).
    #[test]
    fn staff_names_follow_changes_to_the_accounts() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("casebook.db");
        let path = path.to_str().expect("utf-8");
        let mut conn = crate::db::establish(path).expect("db");
        crate::db::migrate(&mut conn).expect("migrate");
        let mut other = crate::db::establish(path).expect("second connection");
        let names = StaffNames::default();
        let add = |c: &mut DbConn, email: &str, name: &str, role: Role| {
            crate::auth::users::create(c, email, name, role, &[], "Correct-Horse-9")
                .expect("user")
                .id
        };
        let wang = add(&mut conn, "wang@cmgos.example", "Wang Wu", Role::Support);
        let dev = add(&mut conn, "dev@cmgos.example", "Dev Li", Role::Rnd);
        assert_eq!(
            names.assignable(&mut conn).expect("list"),
            vec![(wang, "Wang Wu".to_string())]
        );
        let zhao = add(&mut other, "zhao@cmgos.example", "Ai Zhao", Role::Admin);
        assert_eq!(
            names.assignable(&mut conn).expect("list"),
            vec![(zhao, "Ai Zhao".to_string()), (wang, "Wang Wu".to_string())],
            "an account added by another connection"
        );
        crate::auth::users::update_profile(&mut other, dev, "Dev Li", Role::Support, &[])
            .expect("role");
        crate::auth::users::set_disabled(&mut other, wang, true).expect("disable");
        assert_eq!(
            names.assignable(&mut conn).expect("list"),
            vec![(zhao, "Ai Zhao".to_string()), (dev, "Dev Li".to_string())],
            "a new role and a disabled account"
        );
        // The queue's filter lists an R&D engineer only while they hold a case.
        crate::auth::users::update_profile(&mut other, dev, "Dev Li", Role::Rnd, &[])
            .expect("role");
        assert_eq!(
            names.filter_assignees(&mut conn).expect("filter"),
            vec![(zhao, "Ai Zhao".to_string())]
        );
    }
}
