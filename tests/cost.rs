#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up themselves
//! The case page's cost does not grow with the database (issue 15, item 2).
//!
//! An adversarial data set in a real SQLite file: every case carries the same error
//! code, one customer owns them all, almost none is closed, and one case has a long
//! thread. The case page is loaded through the same function `GET /cases/{n}` and
//! `GET /api/cases/{n}` use, with every SQLite statement's work counted
//! (`casebook::db::cost`: virtual-machine steps, which grow with each row a statement
//! visits). Then the database grows five-fold and the page is loaded again: no
//! statement may do more work than before, beyond a small bound. A query that walks
//! an index range and filters it (the old "similar closed cases" query walked every
//! case sharing the code) fails this test on any machine, however fast.

use casebook::cases::detail::{
    self, CaseDetail, ThreadWindow, AUDIT_SHOWN, EARLIER, NEWEST_MAX, RECENT,
};
use casebook::config::Settings;
use casebook::db::{self, cost, DbConn};
use casebook::mail::{self, Rules, Staff};
use casebook::storage::DirStore;
use diesel::prelude::*;

const CODE: &str = "0xC004F074";

struct World {
    conn: DbConn,
    rules: Rules,
    staff: Staff,
    store: DirStore,
    next: usize,
    _dir: tempfile::TempDir,
}

fn mail_text(id: &str, reply_to: Option<&str>, n: usize, subject: &str, body: &str) -> Vec<u8> {
    let day = 1 + (n / 1440) % 28;
    let (h, m) = ((n / 60) % 24, n % 60);
    let mut s = format!(
        "From: 李明 <li.ming@bigcustomer.example>\r\nTo: support@casebook.example\r\n\
         Subject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, {day:02} Jun 2025 {h:02}:{m:02}:00 +0800\r\n"
    );
    if let Some(r) = reply_to {
        s.push_str(&format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"));
    }
    s.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    s.push_str(body);
    s.into_bytes()
}

impl World {
    fn new() -> World {
        cost::install();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casebook.db");
        let mut conn = db::establish(path.to_str().unwrap()).unwrap();
        db::migrate(&mut conn).unwrap();
        let settings = Settings::for_data_dir(dir.path().to_path_buf());
        let rules = Rules::from_settings(&settings).unwrap();
        let staff = Staff::load(&mut conn).unwrap();
        let store = DirStore::new(dir.path().join("blobs")).unwrap();
        World {
            conn,
            rules,
            staff,
            store,
            next: 0,
            _dir: dir,
        }
    }

    fn ingest(&mut self, raw: &[u8]) -> String {
        let out = mail::ingest_input_with(
            &mut self.conn,
            &self.store,
            &self.rules,
            &self.staff,
            raw,
            "cost-test",
        )
        .unwrap();
        out[0].case_number.clone().expect("filed in a case")
    }

    /// `n` new cases, each carrying the same code and a serial, from the same customer.
    fn add_cases(&mut self, n: usize) -> Vec<String> {
        self.add_cases_with(n, CODE, "T1022")
    }

    /// `n` new cases carrying `code` and serials starting with `serial`, from the same
    /// customer.
    fn add_cases_with(&mut self, n: usize, code: &str, serial: &str) -> Vec<String> {
        (0..n)
            .map(|_| {
                self.next += 1;
                let i = self.next;
                let raw = mail_text(
                    &format!("case-{i}@bigcustomer.example"),
                    None,
                    i,
                    &format!("[BigCustomer] 激活失败 HRESULT:{code} 第 {i} 台"),
                    &format!("您好，\r\n激活失败，错误 {code}。\r\n序列号: {serial}{i:07}\r\n"),
                );
                self.ingest(&raw)
            })
            .collect()
    }

    /// `n` replies to the thread started by `case-{root}`.
    fn add_replies(&mut self, root: usize, n: usize) {
        for _ in 0..n {
            self.next += 1;
            let i = self.next;
            let raw = mail_text(
                &format!("reply-{i}@bigcustomer.example"),
                Some(&format!("case-{root}@bigcustomer.example")),
                i,
                &format!("Re: [BigCustomer] 激活失败 HRESULT:{CODE} 第 {root} 台"),
                &format!("补充信息 {i}：还是 {CODE}。\r\n"),
            );
            self.ingest(&raw);
        }
    }

    /// A watcher and someone typing on every case, so that the page's reads of them
    /// have rows to skip.
    fn watch_and_type_everywhere(&mut self) {
        let uid = match casebook::auth::users::find_by_email(&mut self.conn, "zhang@cmgos.example")
            .unwrap()
        {
            Some(u) => u.id,
            None => {
                casebook::auth::users::create(
                    &mut self.conn,
                    "zhang@cmgos.example",
                    "Zhang San",
                    casebook::auth::Role::Support,
                    &[],
                    "Correct-Horse-9",
                )
                .unwrap()
                .id
            }
        };
        for sql in [
            "INSERT OR IGNORE INTO watchers (case_id, user_id, created_at) SELECT id, ?, '2026-12-01 00:00:00' FROM cases",
            "INSERT OR IGNORE INTO presence (case_id, user_id, seen_at) SELECT id, ?, '2026-12-01 00:00:00' FROM cases",
        ] {
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::BigInt, _>(uid)
                .execute(&mut self.conn)
                .unwrap();
        }
    }

    fn set_status(&mut self, number: &str, status: &str) {
        diesel::sql_query("UPDATE cases SET status = ? WHERE number = ?")
            .bind::<diesel::sql_types::Text, _>(status)
            .bind::<diesel::sql_types::Text, _>(number)
            .execute(&mut self.conn)
            .unwrap();
    }

    /// The case page of `number`, with what each of its statements cost (loaded once
    /// before, so that one-time work such as preparing statements is not counted).
    fn page(
        &mut self,
        number: &str,
        window: ThreadWindow,
    ) -> (CaseDetail, Vec<cost::StatementCost>) {
        let d = detail::load_by_number(&mut self.conn, number, window).unwrap();
        self.beside(&d);
        cost::take();
        let d = detail::load_by_number(&mut self.conn, number, window).unwrap();
        self.beside(&d);
        (d, cost::take())
    }

    /// What the case page reads beside the case (`web::cases::show`): its watchers,
    /// who is replying, the reader's templates filled for it, the assignable staff.
    fn beside(&mut self, d: &CaseDetail) {
        let c = &mut self.conn;
        casebook::notify::watchers_of(c, d.id).unwrap();
        let typing = casebook::cases::presence::others(c, d.id, 0, casebook::now()).unwrap();
        let _ = typing;
        casebook::cases::canned::filled_for(c, 1, "Wang", d).unwrap();
        // A fresh list (as after any change to the accounts): its whole read counted.
        casebook::cases::queue::StaffNames::default()
            .assignable(c)
            .unwrap();
    }
}

impl World {
    /// `n` copies of the newest case (same customer, subject, status and codes), each a
    /// minute older than the last: a large data set in a moment, where ingesting it
    /// would take minutes in a debug build.
    fn clone_cases(&mut self, n: usize) {
        let c = &mut self.conn;
        let template = max_case_id_of(c);
        diesel::sql_query(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?) \
             INSERT INTO cases (number, tracking_token, subject, customer, oem, status, \
               priority, assignee_id, language, parent_case_id, created_at, updated_at, \
               first_customer_at, first_response_at, closed_at, contact_email, imported, \
               merged_into, message_count) \
             SELECT 'CLN-' || (? + k.i), 'CLN' || (? + k.i), subject, customer, oem, status, \
               priority, assignee_id, language, parent_case_id, \
               datetime(created_at, '-' || (? + k.i) || ' minutes'), \
               datetime(updated_at, '-' || (? + k.i) || ' minutes'), \
               first_customer_at, first_response_at, closed_at, contact_email, imported, \
               merged_into, 0 \
             FROM cases, k WHERE cases.id = ?",
        )
        .bind::<diesel::sql_types::BigInt, _>(n as i64)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .execute(c)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO case_codes (case_id, code, found_in, closed) \
             SELECT cases.id, cc.code, cc.found_in, cc.closed \
             FROM cases, case_codes cc WHERE cases.id > ? AND cc.case_id = ?",
        )
        .bind::<diesel::sql_types::BigInt, _>(template)
        .bind::<diesel::sql_types::BigInt, _>(template)
        .execute(c)
        .unwrap();
    }

    /// The queue's page for `filter` (`GET /cases`), with what each of its statements
    /// cost (loaded once before, as `page`).
    fn queue(
        &mut self,
        filter: &casebook::cases::ListFilter,
    ) -> (casebook::cases::ListPage, Vec<cost::StatementCost>) {
        let names = casebook::cases::queue::StaffNames::default();
        casebook::cases::queue::load(&mut self.conn, filter, &names).unwrap();
        cost::take();
        let page = casebook::cases::queue::load(&mut self.conn, filter, &names).unwrap();
        (page.list, cost::take())
    }
}

fn table(costs: &[cost::StatementCost]) -> String {
    costs
        .iter()
        .map(|c| {
            format!(
                "{:>7} steps {:>5} rows {:>2} reprepared  {}",
                c.steps, c.rows, c.reprepares, c.sql
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each statement of `after` does at most a small bound more work per row it returns
/// than the same statement in `before` (`allowed` names statements that may grow, by
/// SQL text).
fn assert_no_growth(
    before: &[cost::StatementCost],
    after: &[cost::StatementCost],
    allowed: &[&str],
) {
    assert!(
        !before.is_empty(),
        "no statement was traced: is the cost trace installed?"
    );
    let sqls = |v: &[cost::StatementCost]| v.iter().map(|c| c.sql.clone()).collect::<Vec<_>>();
    assert_eq!(
        sqls(before),
        sqls(after),
        "the page ran different statements:\nbefore:\n{}\nafter:\n{}",
        table(before),
        table(after)
    );
    for (b, a) in before.iter().zip(after) {
        if allowed
            .iter()
            .any(|p| a.sql.to_lowercase().contains(&p.to_lowercase()))
        {
            continue;
        }
        // The same work per row returned (a statement may return more rows, up to its
        // LIMIT), plus a small bound.
        let per_row = b.steps as f64 / (b.rows + 1) as f64;
        let scaled = per_row * (a.rows.max(b.rows) + 1) as f64;
        let bound = (scaled * 1.1) as i64 + 60;
        assert!(
            a.steps <= bound,
            "a statement did {} steps on the larger database, {} before \
             (it reads rows it does not return):\n  {}\nbefore:\n{}\nafter:\n{}",
            a.steps,
            b.steps,
            a.sql,
            table(before),
            table(after)
        );
    }
}

#[test]
fn the_case_page_costs_the_same_on_a_five_times_larger_database() {
    let mut w = World::new();
    let first = w.add_cases(150);
    let target = first[0].clone();
    let closed = first[1].clone();
    // A long thread, longer than the window the page shows.
    w.add_replies(1, RECENT as usize + 20);
    w.set_status(&closed, "closed");
    w.watch_and_type_everywhere();

    let (d, before) = w.page(&target, ThreadWindow::Recent);
    assert!(
        d.error_codes.iter().any(|c| c.code == CODE),
        "{:?}",
        d.error_codes
    );
    let similar: Vec<&str> = d.similar_cases.iter().map(|s| s.number.as_str()).collect();
    assert_eq!(
        similar,
        vec![closed.as_str()],
        "the one closed case sharing the code"
    );
    assert_eq!(
        d.messages.len() as i64,
        RECENT + 1,
        "the first and the newest {RECENT}"
    );
    assert_eq!(d.message_count, RECENT + 21);
    assert!(
        d.messages[0].message_id.contains("case-1@"),
        "the first message leads"
    );

    // Five times the data: 600 more open cases with the code, same customer, and 300
    // closed cases with another code and serial (a query that reaches the similar
    // cases through the closed ones, not through the code, reads those).
    w.add_cases(600);
    for number in w.add_cases_with(300, "0x8007232B", "R8810") {
        w.set_status(&number, "closed");
    }
    w.watch_and_type_everywhere();
    let (d2, after) = w.page(&target, ThreadWindow::Recent);
    assert_eq!(
        d2.similar_cases
            .iter()
            .map(|s| s.number.as_str())
            .collect::<Vec<_>>(),
        vec![closed.as_str()]
    );
    assert_no_growth(&before, &after, &[]);
    // No statement of the page scans a table, or is parsed and planned anew on every
    // run (a bound value its plan depends on).
    for c in &after {
        assert_eq!(c.full_scan_steps, 0, "full scan: {}", c.sql);
    }
    let reprepared: Vec<&str> = after
        .iter()
        .filter(|c| c.reprepares > 0)
        .map(|c| c.sql.as_str())
        .collect();
    assert!(
        reprepared.is_empty(),
        "re-prepared on every run:\n{}",
        reprepared.join("\n")
    );
}

#[test]
fn a_long_thread_shows_its_first_screen_at_the_same_cost() {
    let mut w = World::new();
    let cases = w.add_cases(20);
    let target = cases[0].clone();
    w.add_replies(1, 60);
    let (d, before) = w.page(&target, ThreadWindow::Recent);
    assert_eq!(d.message_count, 61);
    w.add_replies(1, 300);
    let (d2, after) = w.page(&target, ThreadWindow::Recent);
    assert_eq!(d2.message_count, 361);
    assert_eq!(d2.messages.len() as i64, RECENT + 1);
    // The audit trail's newest events only, and word that there are more.
    assert_eq!(d2.audit.len() as i64, AUDIT_SHOWN);
    assert!(d2.audit_more);
    assert!(!d.audit_more || d.audit.len() as i64 == AUDIT_SHOWN);
    // Nothing grows with the thread (the case keeps its own count of messages).
    assert_no_growth(&before, &after, &[]);
    // A wider window on request ("Show earlier messages"): the first and the newest n,
    // oldest first, read the same way.
    let (wide, wide_cost) = w.page(&target, ThreadWindow::newest(100));
    assert_eq!(wide.messages.len(), 101);
    assert_eq!(wide.message_count, 361);
    assert_eq!(wide.earlier(), Some((100 + EARLIER, EARLIER)));
    assert_eq!(d2.earlier(), Some((RECENT + EARLIER, EARLIER)));
    assert_no_growth(&after, &wide_cost, &[]);
    assert!(wide
        .messages
        .windows(2)
        .all(|p| p[0].sent_at <= p[1].sent_at));
    assert_eq!(ThreadWindow::newest(5), ThreadWindow::Recent);
    assert_eq!(
        ThreadWindow::newest(1_000_000),
        ThreadWindow::newest(NEWEST_MAX)
    );
    // The whole thread on request, oldest first.
    let (all, _) = w.page(&target, ThreadWindow::All);
    assert_eq!(all.messages.len(), 361);
    // With the whole thread, the whole trail (a case event and one per message at
    // least), newest first.
    assert!(all.audit.len() > 361, "{} events", all.audit.len());
    assert!(!all.audit_more);
    assert!(all
        .audit
        .windows(2)
        .all(|p| p[0].created_at >= p[1].created_at));
    assert!(all
        .messages
        .windows(2)
        .all(|p| p[0].sent_at <= p[1].sent_at));
}

#[test]
fn similar_cases_follow_closing_reopening_and_merging() {
    let mut w = World::new();
    let cases = w.add_cases(6);
    let (target, other) = (cases[0].clone(), cases[1].clone());
    let similar = |w: &mut World| -> Vec<String> {
        w.page(&target, ThreadWindow::Recent)
            .0
            .similar_cases
            .into_iter()
            .map(|s| s.number)
            .collect()
    };
    assert!(similar(&mut w).is_empty(), "no case is closed yet");
    w.set_status(&other, "closed");
    assert_eq!(similar(&mut w), vec![other.clone()]);
    w.set_status(&other, "open");
    assert!(
        similar(&mut w).is_empty(),
        "reopened: no longer a closed case"
    );
    w.set_status(&other, "closed");
    // A merged-away case is not offered, even when closed.
    diesel::sql_query(
        "UPDATE cases SET merged_into = (SELECT id FROM cases WHERE number = ?) WHERE number = ?",
    )
    .bind::<diesel::sql_types::Text, _>(&cases[2])
    .bind::<diesel::sql_types::Text, _>(&other)
    .execute(&mut w.conn)
    .unwrap();
    assert!(similar(&mut w).is_empty(), "merged away");
    // A code added to a case that is already closed is flagged at once.
    let late = cases[3].clone();
    w.set_status(&late, "closed");
    assert_eq!(similar(&mut w), vec![late.clone()]);
    let late_id: i64 = {
        use casebook::db::schema::cases::dsl::*;
        cases
            .filter(number.eq(&late))
            .select(id)
            .first(&mut w.conn)
            .unwrap()
    };
    casebook::mail::ingest::add_code(&mut w.conn, late_id, "0x8007232B", "body").unwrap();
    let flag: bool = {
        use casebook::db::schema::case_codes::dsl::*;
        case_codes
            .filter(case_id.eq(late_id))
            .filter(code.eq("0x8007232B"))
            .select(closed)
            .first(&mut w.conn)
            .unwrap()
    };
    assert!(flag, "a code inserted into a closed case is flagged closed");
}

/// Search, issue 15: a rare word and a word in every message. The rare word (the
/// longest term, searched first) finds one case; the common word is then looked for
/// only in that case's documents. On a database five times larger no statement of the
/// search does more work: reading the common word's whole index entry (every message
/// carries it) to intersect it with one case took seconds at 1,000,000 messages.
#[test]
fn a_search_narrowed_to_a_rare_words_case_costs_the_same_on_a_five_times_larger_database() {
    let mut w = World::new();
    w.add_cases(150);
    w.next += 1;
    let i = w.next;
    let rare = w.ingest(&mail_text(
        &format!("rare-{i}@bigcustomer.example"),
        None,
        i,
        "[BigCustomer] 激活失败 on the xyzzyplugh host",
        &format!("您好，\r\n激活失败，错误 {CODE}，机器名 xyzzyplugh。\r\n"),
    ));
    let search = |w: &mut World| -> (Vec<String>, Vec<cost::StatementCost>) {
        casebook::search::catch_up_all(&mut w.conn).unwrap();
        let q = casebook::search::SearchQuery {
            q: "激活失败 xyzzyplugh".into(),
            limit: 20,
            ..Default::default()
        };
        let budget = std::time::Duration::from_secs(30);
        casebook::search::search(&mut w.conn, &q, budget).unwrap();
        cost::take();
        let hits = casebook::search::search(&mut w.conn, &q, budget).unwrap();
        let costs = cost::take();
        (hits.into_iter().map(|h| h.case_number).collect(), costs)
    };
    // The search's own statements, numbers in their text (the indexer's position)
    // written as N; FTS5's reads of its own tables (one per index segment, whose
    // number varies with merges) are left out: their cost shows in the statement that
    // reads the index.
    let own = |costs: Vec<cost::StatementCost>| -> Vec<cost::StatementCost> {
        let digits = regex::Regex::new(r"\d+").unwrap();
        costs
            .into_iter()
            .filter(|c| !c.sql.contains("'main'.") && !c.sql.starts_with("PRAGMA"))
            .map(|mut c| {
                c.sql = digits.replace_all(&c.sql, "N").into_owned();
                c
            })
            .collect()
    };
    let (found, before) = search(&mut w);
    assert_eq!(found, vec![rare.clone()], "only the case with both words");
    w.add_cases(600);
    let (found, after) = search(&mut w);
    assert_eq!(found, vec![rare], "only the case with both words");
    assert_no_growth(&own(before), &own(after), &[]);
}

/// The notification scan (every minute, `notify::scan`) reads the live cases awaiting
/// a first response and the open escalations: imported history, however large, is not
/// walked. (Without statistics SQLite took `merged_into IS NULL` for a selective
/// equality and walked every case: 280 ms a scan at 1,000,000 messages.)
#[test]
fn the_notification_scan_costs_the_same_on_a_five_times_larger_history() {
    let mut w = World::new();
    w.add_cases(150);
    let scan = |w: &mut World| -> Vec<cost::StatementCost> {
        let now = casebook::now();
        casebook::notify::scan(&mut w.conn, &[60, 240, 480, 1440], 30, 24, now).unwrap();
        cost::take();
        casebook::notify::scan(&mut w.conn, &[60, 240, 480, 1440], 30, 24, now).unwrap();
        cost::take()
    };
    let before = scan(&mut w);
    w.add_cases(600);
    let after = scan(&mut w);
    assert_no_growth(&before, &after, &[]);
}

/// Opens an escalation on each of the cases above `above` (waiting since 2021), and
/// makes those cases live work or imported history (the test's mail is filed as
/// history) after the escalation exists, so that the case's change must reach it: live
/// ones are history when the escalation opens, history ones live.
fn escalate_cases_above(w: &mut World, above: i64, imported: bool) {
    let set = |w: &mut World, imported: bool| {
        diesel::sql_query("UPDATE cases SET imported = ? WHERE id > ?")
            .bind::<diesel::sql_types::Bool, _>(imported)
            .bind::<diesel::sql_types::BigInt, _>(above)
            .execute(&mut w.conn)
            .unwrap();
    };
    set(w, !imported);
    diesel::sql_query(
        "INSERT INTO escalations (case_id, status, question, opened_by, opened_at, attachment_ids) \
         SELECT id, 'open', 'Hi Dev, why?', 'support', '2021-01-01 00:00:00', '[]' FROM cases WHERE id > ?",
    )
    .bind::<diesel::sql_types::BigInt, _>(above)
    .execute(&mut w.conn)
    .unwrap();
    set(w, imported);
}

fn max_case_id(w: &mut World) -> i64 {
    max_case_id_of(&mut w.conn)
}

fn max_case_id_of(conn: &mut DbConn) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT COALESCE(MAX(id), 0) AS n FROM cases")
        .get_result::<N>(conn)
        .unwrap()
        .n
}

/// The overdue-escalation part of the notification scan reads the open escalations of
/// live cases: imported history that left its escalations open (five times more of it
/// the second time) is not walked, though every one of them has waited for years.
#[test]
fn the_escalation_scan_does_not_walk_imported_history_left_open() {
    let mut w = World::new();
    // Live cases with overdue escalations: told at the first scan, walked after.
    w.add_cases(10);
    escalate_cases_above(&mut w, 0, false);
    let history = max_case_id(&mut w);
    w.add_cases(150);
    escalate_cases_above(&mut w, history, true);
    let scan = |w: &mut World| -> Vec<cost::StatementCost> {
        let now = casebook::now();
        casebook::notify::scan(&mut w.conn, &[60, 240, 480, 1440], 0, 24, now).unwrap();
        cost::take();
        casebook::notify::scan(&mut w.conn, &[60, 240, 480, 1440], 0, 24, now).unwrap();
        cost::take()
    };
    let before = scan(&mut w);
    let more = max_case_id(&mut w);
    w.add_cases(600);
    escalate_cases_above(&mut w, more, true);
    let after = scan(&mut w);
    assert_no_growth(&before, &after, &[]);
    // The live ones were told, once each; history never.
    #[derive(diesel::QueryableByName)]
    struct Told {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        live: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        history: i64,
    }
    let told: Told = diesel::sql_query(
        "SELECT COALESCE(SUM(c.imported = 0), 0) AS live, COALESCE(SUM(c.imported = 1), 0) AS history \
         FROM notifications n JOIN cases c ON c.id = n.case_id WHERE n.kind = 'escalation_overdue'",
    )
    .get_result(&mut w.conn)
    .unwrap();
    assert_eq!((told.live, told.history), (10, 0));
}

/// The queue (`GET /cases`, `GET /api/cases`) of a customer who owns every case, of a
/// code every case carries, of both, of a rare code, and unfiltered, in each order:
/// past the count's cap, five times more matching cases cost no statement more work.
/// The count stops at the cap ("1000+"), the page reads one row beyond itself, and a
/// common code is probed case by case in the list's order rather than collected and
/// sorted.
#[test]
fn the_queue_costs_the_same_however_many_cases_match() {
    use casebook::cases::{ListFilter, Place, COUNT_CAP};
    let mut w = World::new();
    let rare = w.add_cases_with(3, "0x8007232B", "R8810");
    w.add_cases(20);
    let customer: String = casebook::cases::find_by_number(&mut w.conn, &rare[0])
        .unwrap()
        .unwrap()
        .customer
        .expect("the customer is known");
    let cap = COUNT_CAP as usize;
    w.clone_cases(cap + 200);
    // Other customers: one in every tenth copy (not the newest, which is copied next),
    // and two small ones that share a word.
    for sql in [
        "UPDATE cases SET customer = customer || ' East' \
         WHERE id % 10 = 0 AND id < (SELECT MAX(id) FROM cases) AND number LIKE 'CLN-%'",
        "UPDATE cases SET customer = 'Rare Works A' WHERE number IN (?, ?)",
        "UPDATE cases SET customer = 'Rare Works B' WHERE number = ?",
    ] {
        let mut q = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
        if sql.contains('?') {
            for n in if sql.contains("IN (") {
                &rare[..2]
            } else {
                &rare[2..]
            } {
                q = q.bind::<diesel::sql_types::Text, _>(n.clone());
            }
        }
        match &mut w.conn {
            DbConn::Sqlite(c) => q.execute(c).unwrap(),
            DbConn::Pg(_) => unreachable!("the cost test runs on SQLite"),
        };
    }

    let base = ListFilter {
        status: Some("active".into()),
        page: 1,
        per_page: 50,
        ..ListFilter::default()
    };
    let mut filters: Vec<(&str, ListFilter)> = vec![
        ("active", base.clone()),
        (
            "every status",
            ListFilter {
                status: Some(String::new()),
                ..base.clone()
            },
        ),
        (
            "customer (words)",
            ListFilter {
                customer: Some(customer.chars().take(6).collect()),
                ..base.clone()
            },
        ),
        (
            "common code",
            ListFilter {
                code: Some(CODE.into()),
                ..base.clone()
            },
        ),
        (
            "customer and common code",
            ListFilter {
                customer: Some(customer.clone()),
                code: Some(CODE.into()),
                ..base.clone()
            },
        ),
        (
            "rare code",
            ListFilter {
                code: Some("8007232B".into()),
                ..base.clone()
            },
        ),
    ];
    // A place deep in the list (the 951st case), and the page after it and before it.
    let deep = casebook::cases::list(
        &mut w.conn,
        &ListFilter {
            page: 20,
            ..base.clone()
        },
    )
    .unwrap()
    .first
    .expect("page 20 has cases");
    for (name, at) in [
        ("after a deep place", Place::After(deep)),
        ("before a deep place", Place::Before(deep)),
    ] {
        filters.push((
            name,
            ListFilter {
                at: Some(at),
                ..base.clone()
            },
        ));
    }
    for (name, words) in [
        ("a rare customer (words)", "Works A"),
        ("two rare customers (words)", "rare works"),
        ("nobody (words)", "Nobody Ltd"),
        ("a customer of a tenth (words)", "East"),
    ] {
        filters.push((
            name,
            ListFilter {
                customer: Some(words.into()),
                ..base.clone()
            },
        ));
    }
    let mut exactly = base.clone();
    exactly.narrow.customer_is = Some(customer.clone());
    filters.push(("exactly the customer", exactly));
    for sort in ["age", "priority"] {
        filters.push((
            sort,
            ListFilter {
                sort: Some(sort.into()),
                code: Some(CODE.into()),
                ..base.clone()
            },
        ));
    }
    filters.push((
        "every status by priority",
        ListFilter {
            sort: Some("priority".into()),
            status: Some(String::new()),
            ..base.clone()
        },
    ));
    let mut before = Vec::new();
    for (name, f) in &filters {
        let (page, costs) = w.queue(f);
        let small: Option<&[String]> = match *name {
            "rare code" | "two rare customers (words)" => Some(&rare),
            "a rare customer (words)" => Some(&rare[..2]),
            "nobody (words)" => Some(&[]),
            _ => None,
        };
        if let Some(want) = small {
            assert_eq!(
                (page.total, page.exact, page.more),
                (want.len() as i64, true, false),
                "{name}"
            );
            let mut got: Vec<&str> = page.rows.iter().map(|r| r.number.as_str()).collect();
            got.sort_unstable();
            let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
            want.sort_unstable();
            assert_eq!(got, want, "{name}");
        } else if *name == "a customer of a tenth (words)" {
            assert_eq!(page.rows.len(), 50, "{name}");
            assert!(
                page.exact && (100..=130).contains(&page.total) && page.more,
                "{name}: {} {}",
                page.total,
                page.exact
            );
            assert!(page
                .rows
                .iter()
                .all(|r| r.customer.as_deref().is_some_and(|c| c.ends_with(" East"))));
        } else {
            assert_eq!(page.rows.len(), 50, "{name}");
            assert_eq!(
                (page.total, page.exact, page.more),
                (COUNT_CAP, false, true),
                "{name}: more than the cap match"
            );
        }
        before.push(costs);
    }
    // The default order is the newest activity first, page after page.
    let (p1, _) = w.queue(&base);
    let (p2, _) = w.queue(&ListFilter {
        page: 2,
        ..base.clone()
    });
    let key = |r: &casebook::cases::CaseRow| (r.updated_at, r.id);
    assert!(p1.rows.windows(2).all(|p| key(&p[0]) > key(&p[1])));
    assert!(
        key(&p1.rows[49]) > key(&p2.rows[0]),
        "page 2 follows page 1"
    );

    w.clone_cases(5 * (cap + 100));
    for ((name, f), b) in filters.iter().zip(&before) {
        let (page, after) = w.queue(f);
        if !name.contains("rare") && !name.contains("nobody") && !name.contains("tenth") {
            assert_eq!((page.total, page.exact), (COUNT_CAP, false), "{name}");
        }
        println!("{name}:\n{}", table(&after));
        assert_no_growth(b, &after, &[]);
    }
}
