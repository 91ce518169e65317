//! PostgreSQL: the regular expression of `words::pg_regex` (`~*`: words, CJK
//! characters, case-insensitive) on `search_docs.body` and `messages.body_text` decides
//! what a term matches. The rows it reads are narrowed first by the term's words
//! (`words::pg_query`) in the rows' `words` (`@@`, the GIN indexes `messages_words` and
//! `search_docs_words`): a rare word's few rows come from the index, and for a common
//! one the planner walks the newest rows and stops at the limit; a term of one word or
//! of two CJK characters needs no expression. A term without such words (one CJK
//! character, or only letters beyond ASCII) is the expression's alone, on the newest
//! rows.

use super::index::Found;
use super::{doc_sql, Bind, DocMatch, Filters, Source, DOCS, MESSAGES};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::PgConnection;

pub(crate) fn matching_docs(
    conn: &mut PgConnection,
    term: &str,
    f: &Filters,
    only_cases: Option<&[i64]>,
    limit: i64,
) -> QueryResult<Vec<Found>> {
    let Some(re) = super::words::pg_regex(term) else {
        return Ok(Vec::new());
    };
    let (words, exact) = super::words::pg_query(term);
    // An identifier (a term with a digit) is rare by nature: its rows come from the
    // index whatever a small table's estimate says (the planner takes a scan of a
    // small table for cheap whatever the expression costs per row). The search runs
    // in its own transaction: `SET LOCAL` ends with it, and is undone after both
    // queries for the statements that follow.
    let forced = !words.is_empty() && term.chars().any(|c| c.is_ascii_digit());
    if forced {
        diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
    }
    let q = TermQuery {
        re: &re,
        narrow: match (words.is_empty(), exact) {
            (true, _) => Narrow::None,
            (false, true) => Narrow::Exact(&words),
            (false, false) => Narrow::Words(&words),
        },
        f,
        only_cases,
        limit,
    };
    let mut out = q.run(conn, &DOCS)?;
    out.extend(q.run(conn, &MESSAGES)?);
    // A failed query (the statement timeout) aborts the transaction: its error is the
    // one returned above, and nothing follows it there.
    if forced {
        diesel::sql_query("SET LOCAL enable_seqscan TO DEFAULT").execute(conn)?;
    }
    Ok(out)
}

/// What narrows the rows the expression is checked on.
enum Narrow<'a> {
    /// The term's words, all in the row's `words`; the expression decides.
    Words(&'a [String]),
    /// The same, and they are all the expression would say (`words::pg_query`).
    Exact(&'a [String]),
    None,
}

/// Windows of a term's newest rows by its words that `run` reads before it lets the
/// planner take the whole term (see `windows`).
const WINDOWS: usize = 8;

/// One term's query, the same on each `Source`.
struct TermQuery<'a> {
    /// The term's expression (`words::pg_regex`), bound as `$1`.
    re: &'a str,
    narrow: Narrow<'a>,
    f: &'a Filters,
    only_cases: Option<&'a [i64]>,
    limit: i64,
}

impl TermQuery<'_> {
    fn run(&self, conn: &mut PgConnection, src: &Source) -> QueryResult<Vec<Found>> {
        if let (Narrow::Words(words), None) = (&self.narrow, self.only_cases) {
            if let Some(found) = self.windows(conn, src, words)? {
                return Ok(found);
            }
        }
        self.once(conn, src)
    }

    /// The newest `limit` rows a term of several words matches, from the newest rows
    /// with all its words, `limit` at a time, the expression checked on each window's
    /// rows only. The planner, which takes the words for independent (so for rarer
    /// than they are), would otherwise have the index find every row with them and the
    /// expression (some 20 µs a row) check each before the newest are kept. None when
    /// `WINDOWS` windows did not fill the limit: a rare phrase of common words, which
    /// the planner then answers whole.
    fn windows(
        &self,
        conn: &mut PgConnection,
        src: &Source,
        words: &[String],
    ) -> QueryResult<Option<Vec<Found>>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(embed)]
            doc: DocMatch,
            #[diesel(sql_type = BigInt)]
            ord: i64,
            #[diesel(sql_type = Bool)]
            hit: bool,
        }
        let windowed = Source {
            select: src.window_select,
            ..*src
        };
        let limit = self.limit;
        let mut out = Vec::new();
        let mut before: Option<i64> = None;
        for _ in 0..WINDOWS {
            let mut clause = format!("{} @@ $2::tsquery AND $1 IS NOT NULL", src.words_col);
            if let Some(b) = before {
                clause.push_str(&format!(" AND {} < {b}", src.order_col));
            }
            let (inner, binds) = doc_sql(&windowed, &clause, self.f, None, limit, false, 2);
            let sql = format!(
                "SELECT id, case_id, kind, ord, body ~* $1 AS hit FROM ({inner}) w ORDER BY id DESC"
            );
            let q = diesel::sql_query(sql)
                .into_boxed::<Pg>()
                .bind::<Text, _>(self.re.to_string())
                .bind::<Text, _>(super::words::pg_tsquery(words));
            let rows = Bind::all(q, binds).load::<Row>(conn)?;
            let full = rows.len() as i64 >= limit;
            before = rows.iter().map(|r| r.ord).min();
            out.extend(
                rows.into_iter()
                    .filter(|r| r.hit)
                    .map(|r| Found::from(r.doc)),
            );
            if out.len() as i64 >= limit {
                out.truncate(limit as usize);
                return Ok(Some(out));
            }
            if !full {
                return Ok(Some(out));
            }
        }
        Ok(None)
    }

    /// The newest `limit` rows the term matches, in one statement.
    fn once(&self, conn: &mut PgConnection, src: &Source) -> QueryResult<Vec<Found>> {
        let col = src.text_col;
        let w = src.words_col;
        let predicate = match self.narrow {
            Narrow::Words(_) => format!("{w} @@ $2::tsquery AND {col} ~* $1"),
            // The expression only for a long text's `~` (`words::PG_WORDS_MAX_CHARS`).
            Narrow::Exact(_) => {
                format!("{w} @@ $2::tsquery AND (NOT {w} @@ '~'::tsquery OR {col} ~* $1)")
            }
            Narrow::None => format!("{col} ~* $1"),
        };
        let reserved = if matches!(self.narrow, Narrow::None) {
            1
        } else {
            2
        };
        let (sql, binds) = doc_sql(
            src,
            &predicate,
            self.f,
            self.only_cases,
            self.limit,
            false,
            reserved,
        );
        let mut q = diesel::sql_query(sql)
            .into_boxed::<Pg>()
            .bind::<Text, _>(self.re.to_string());
        match self.narrow {
            Narrow::Words(w) | Narrow::Exact(w) => {
                q = q.bind::<Text, _>(super::words::pg_tsquery(w))
            }
            Narrow::None => {}
        }
        let found = Bind::all(q, binds).load::<DocMatch>(conn)?;
        Ok(found.into_iter().map(Found::from).collect())
    }
}
