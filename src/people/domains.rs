//! Staff domains an admin marked on `/people`: mail from them is staff's (support unless
//! an account or the thread says R&D), beside the configured `--staff-domains`.

use crate::db::schema::staff_domains;
use crate::db::DbConn;
use crate::db::Direct;
use diesel::prelude::*;

/// A domain as kept: lower case, no `@`, at least one dot, nothing else.
pub fn normalize(domain: &str) -> Option<String> {
    let d = domain.trim().trim_start_matches('@').to_lowercase();
    let ok = d.contains('.')
        && d.len() <= 253
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    ok.then_some(d)
}

/// Every marked domain.
pub fn list(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    staff_domains::table
        .order(staff_domains::domain.asc())
        .select(staff_domains::domain)
        .rows(conn)
}

/// Marks `domain` as staff; false when it already was.
pub fn add(conn: &mut DbConn, domain: &str, actor: &str) -> QueryResult<bool> {
    let row = (
        staff_domains::domain.eq(domain),
        staff_domains::added_by.eq(actor),
        staff_domains::created_at.eq(crate::now()),
    );
    let n = match conn {
        DbConn::Sqlite(c) => diesel::insert_or_ignore_into(staff_domains::table)
            .values(row)
            .execute(c)?,
        DbConn::Pg(c) => diesel::insert_into(staff_domains::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
}

/// Unmarks `domain`; false when it was not marked.
pub fn remove(conn: &mut DbConn, domain: &str) -> QueryResult<bool> {
    Ok(diesel::delete(staff_domains::table.find(domain)).exec(conn)? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_kept_plain() {
        assert_eq!(normalize(" @CMGOS.com "), Some("cmgos.com".into()));
        assert_eq!(normalize("localhost"), None);
        assert_eq!(normalize("a b.com"), None);
        assert_eq!(normalize(".com"), None);
    }
}
