//! Staff accounts and their roles.

use crate::db::schema::users;
use crate::db::DbConn;
use crate::db::Direct;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Support,
    Rnd,
    Manager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Support, Role::Rnd, Role::Manager, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Rnd => "rnd",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_lowercase())
    }

    /// A role as stored on an account: one this version does not know reads as support.
    pub fn from_stored(s: &str) -> Role {
        Role::parse(s).unwrap_or(Role::Support)
    }

    /// Whether the role works cases: is assigned them and replies from them (support
    /// engineers and admins).
    pub fn takes_cases(self) -> bool {
        matches!(self, Role::Support | Role::Admin)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub aliases: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub disabled: bool,
    #[serde(skip)]
    pub session_epoch: i64,
    pub created_at: NaiveDateTime,
}

impl User {
    pub fn role(&self) -> Role {
        Role::from_stored(&self.role)
    }

    pub fn alias_list(&self) -> Vec<String> {
        split_aliases(&self.aliases)
    }

    /// Whether `address` is this account's own or one of its address aliases (an alias
    /// with an `@`, e.g. a sender an admin linked to the account on `/people`).
    pub fn has_address(&self, address: &str) -> bool {
        !address.is_empty()
            && (self.email.eq_ignore_ascii_case(address)
                || self
                    .alias_list()
                    .iter()
                    .any(|a| a.contains('@') && a.eq_ignore_ascii_case(address)))
    }

    pub fn is_staff_name(&self, name: &str) -> bool {
        let n = name.trim().to_lowercase();
        !n.is_empty()
            && (self.name.to_lowercase() == n
                || self.alias_list().iter().any(|a| a.to_lowercase() == n))
    }
}

pub fn split_aliases(s: &str) -> Vec<String> {
    s.split([',', '\n', '，'])
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

pub fn join_aliases(list: &[String]) -> String {
    list.iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user with this e-mail address already exists")]
    Exists,
    #[error("invalid e-mail address")]
    BadEmail,
    #[error("name must not be empty")]
    BadName,
    #[error("password too short (8 characters at least)")]
    WeakPassword,
    #[error("no such user")]
    NotFound,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub fn normalize_email(email: &str) -> Result<String, UserError> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.contains(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(UserError::BadEmail)
    }
}

pub fn create(
    conn: &mut DbConn,
    email: &str,
    name: &str,
    role: Role,
    aliases: &[String],
    password: &str,
) -> Result<User, UserError> {
    let email = normalize_email(email)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError::BadName);
    }
    super::password::check_strength(password).map_err(|_| UserError::WeakPassword)?;
    let hash = super::password::hash(password).map_err(UserError::Hash)?;
    crate::db::write_tx(conn, |c| {
        if find_by_email(c, &email)?.is_some() {
            return Err(UserError::Exists);
        }
        diesel::insert_into(users::table)
            .values((
                users::email.eq(&email),
                users::name.eq(name),
                users::aliases.eq(join_aliases(aliases)),
                users::role.eq(role.as_str()),
                users::password_hash.eq(&hash),
                users::disabled.eq(false),
                users::session_epoch.eq(0i64),
                users::created_at.eq(crate::now()),
            ))
            .execute(c)?;
        find_by_email(c, &email)?.ok_or(UserError::NotFound)
    })
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    let email = email.trim().to_lowercase();
    crate::on_engine!(conn, |c| users::table
        .filter(users::email.eq(&email))
        .select(User::as_select())
        .first(c)
        .optional())
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
    crate::on_engine!(conn, |c| users::table
        .find(id)
        .select(User::as_select())
        .first(c)
        .optional())
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .order(users::name.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().row(conn)
}

pub fn set_password(conn: &mut DbConn, id: i64, password: &str) -> Result<(), UserError> {
    super::password::check_strength(password).map_err(|_| UserError::WeakPassword)?;
    let hash = super::password::hash(password).map_err(UserError::Hash)?;
    // A new password ends the sessions and revokes the API tokens: whoever had the
    // old password may have made one.
    crate::db::write_tx(conn, |c| {
        let n = diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::session_epoch.eq(users::session_epoch + 1i64),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        super::tokens::revoke_all_for_user(c, id)?;
        Ok(())
    })
}

/// Adds `alias` (a name, or an address linked on `/people`) to the account `email`
/// unless it has it. Returns the account, `NotFound` when there is none.
pub fn add_alias(conn: &mut DbConn, email: &str, alias: &str) -> Result<User, UserError> {
    let user: User = users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or(UserError::NotFound)?;
    let mut list = user.alias_list();
    if !list.iter().any(|a| a.eq_ignore_ascii_case(alias.trim())) {
        list.push(alias.trim().to_string());
        diesel::update(users::table.find(user.id))
            .set(users::aliases.eq(join_aliases(&list)))
            .exec(conn)?;
    }
    Ok(user)
}

pub fn update_profile(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    role: Role,
    aliases: &[String],
) -> Result<(), UserError> {
    if name.trim().is_empty() {
        return Err(UserError::BadName);
    }
    let n = diesel::update(users::table.find(id))
        .set((
            users::name.eq(name.trim()),
            users::role.eq(role.as_str()),
            users::aliases.eq(join_aliases(aliases)),
            users::session_epoch.eq(users::session_epoch + 1i64),
        ))
        .exec(conn)?;
    if n == 0 {
        return Err(UserError::NotFound);
    }
    Ok(())
}

/// Disabling ends the sessions and revokes the API tokens (enabling again does not
/// bring them back).
pub fn set_disabled(conn: &mut DbConn, id: i64, disabled: bool) -> Result<(), UserError> {
    crate::db::write_tx(conn, |c| {
        let n = diesel::update(users::table.find(id))
            .set((
                users::disabled.eq(disabled),
                users::session_epoch.eq(users::session_epoch + 1i64),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(UserError::NotFound);
        }
        if disabled {
            super::tokens::revoke_all_for_user(c, id)?;
        }
        Ok(())
    })
}

/// Ends every session of the user (logout everywhere).
pub fn bump_epoch(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::session_epoch.eq(users::session_epoch + 1i64))
        .exec(conn)?;
    Ok(())
}

/// The staff directory's change counter (`directory_version`, moved by triggers on
/// users and staff domains, whoever changes them): what was read of the directory after
/// reading it is current for as long as it has not moved.
pub fn directory_version(conn: &mut DbConn) -> QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    crate::db::cached_sql("SELECT n FROM directory_version WHERE id = 1")
        .row::<Version>(conn)
        .map(|v| v.n)
}
