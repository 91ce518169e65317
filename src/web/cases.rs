//! The queue and the case page.

use super::auth::html;
use super::{run, ApiUser, AppError, CurrentUser, HasRole, Page, State, STAFF};
use crate::cases::detail::{self, rfc3339, CaseDetail};
use crate::cases::narrow::{EscalationNarrow, Narrow, Range, SlaOutcome};
use crate::cases::{self as cases_mod, Cursor, ListFilter, Place, Status};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

#[derive(Deserialize, Default, Clone)]
pub struct QueueQuery {
    #[serde(default)]
    pub q: String,
    pub status: Option<String>,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub oem: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub escalated: String,
    #[serde(default)]
    pub breached: String,
    /// `live`, `history` (imported) or empty for both.
    #[serde(default)]
    pub origin: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: Option<i64>,
    /// The page after (before) this place in the list (`cases::Cursor`), as the pager's
    /// links give it.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub before: String,
    /// Narrowing by times and facts (the cases behind a report's figure): see
    /// [`QueueQuery::NARROW`].
    #[serde(default)]
    pub opened_from: String,
    #[serde(default)]
    pub opened_to: String,
    #[serde(default)]
    pub closed_from: String,
    #[serde(default)]
    pub closed_to: String,
    #[serde(default)]
    pub open_at: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub product: String,
    #[serde(default)]
    pub customer_is: String,
    #[serde(default)]
    pub oem_is: String,
    #[serde(default)]
    pub product_is: String,
    #[serde(default)]
    pub reopened: String,
    #[serde(default)]
    pub sla: String,
    #[serde(default)]
    pub esc_from: String,
    #[serde(default)]
    pub esc_to: String,
    #[serde(default)]
    pub esc_unanswered_at: String,
}

impl QueueQuery {
    /// The narrowing parameters, in the order they are shown.
    pub const NARROW: [&'static str; 15] = [
        "opened_from",
        "opened_to",
        "closed_from",
        "closed_to",
        "open_at",
        "priority",
        "product",
        "customer_is",
        "oem_is",
        "product_is",
        "reopened",
        "sla",
        "esc_from",
        "esc_to",
        "esc_unanswered_at",
    ];

    fn narrow_value(&self, name: &str) -> &str {
        match name {
            "opened_from" => &self.opened_from,
            "opened_to" => &self.opened_to,
            "closed_from" => &self.closed_from,
            "closed_to" => &self.closed_to,
            "open_at" => &self.open_at,
            "priority" => &self.priority,
            "product" => &self.product,
            "customer_is" => &self.customer_is,
            "oem_is" => &self.oem_is,
            "product_is" => &self.product_is,
            "reopened" => &self.reopened,
            "sla" => &self.sla,
            "esc_from" => &self.esc_from,
            "esc_to" => &self.esc_to,
            "esc_unanswered_at" => &self.esc_unanswered_at,
            _ => "",
        }
    }

    fn has_escalation_narrow(&self) -> bool {
        [&self.esc_from, &self.esc_to, &self.esc_unanswered_at]
            .iter()
            .any(|v| !v.trim().is_empty())
    }

    /// The narrowing parameters that are set, as (name, value).
    pub fn narrow_pairs(&self) -> Vec<(&'static str, String)> {
        Self::NARROW
            .iter()
            .map(|n| (*n, self.narrow_value(n).trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// The narrowing this query asks for. A `*_to` bound that is a date includes that
    /// day; one with a time is exclusive.
    fn narrow(&self, settings: &crate::config::Settings) -> Result<Narrow, AppError> {
        let bound = |v: &str, end: bool| -> Result<Option<chrono::NaiveDateTime>, AppError> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            crate::reports::parse_bound(v, end)
                .map(Some)
                .map_err(AppError::BadRequest)
        };
        let text = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let priority = match self.priority.trim() {
            "" => None,
            p => Some(
                cases_mod::Priority::parse(p)
                    .ok_or_else(|| AppError::bad_request("queue.bad_priority"))?,
            ),
        };
        let sla = match self.sla.trim() {
            "" => None,
            s => Some((
                SlaOutcome::parse(s).ok_or_else(|| AppError::bad_request("queue.bad_sla"))?,
                settings.sla_minutes,
                crate::now(),
            )),
        };
        let mut escalation = EscalationNarrow {
            opened: Range {
                from: bound(&self.esc_from, false)?,
                to: bound(&self.esc_to, true)?,
            },
            unanswered_at: bound(&self.esc_unanswered_at, false)?,
            open_now: false,
        };
        // With escalation times, "escalated" means that same escalation is open.
        escalation.open_now = escalation != EscalationNarrow::default() && self.escalated == "1";
        Ok(Narrow {
            opened: Range {
                from: bound(&self.opened_from, false)?,
                to: bound(&self.opened_to, true)?,
            },
            closed: Range {
                from: bound(&self.closed_from, false)?,
                to: bound(&self.closed_to, true)?,
            },
            open_at: bound(&self.open_at, false)?,
            priority,
            product: text(&self.product),
            customer_is: text(&self.customer_is),
            oem_is: text(&self.oem_is),
            product_is: text(&self.product_is),
            reopened: self.reopened == "1",
            unassigned: self.assignee == "none",
            sla,
            escalation: (escalation != EscalationNarrow::default()).then_some(escalation),
        })
    }
}

pub struct QueueRow {
    pub number: String,
    pub subject: String,
    pub customer: String,
    pub status: String,
    pub status_code: String,
    pub assignee: String,
    pub priority: String,
    pub age: String,
    pub updated: String,
    pub sla_key: &'static str,
    pub sla_css: &'static str,
    pub sla_amount: String,
    pub escalation_overdue: bool,
    /// Imported history, judged by its own times.
    pub history: bool,
}

#[derive(Template)]
#[template(path = "cases/queue.html")]
struct QueuePage {
    page: Page,
    rows: Vec<QueueRow>,
    total: i64,
    /// `false` when more than `cases::COUNT_CAP` match ("1000+").
    exact: bool,
    f: QueueQuery,
    status: String,
    statuses: Vec<&'static str>,
    staff: Vec<(i64, String)>,
    page_no: i64,
    prev_link: Option<String>,
    next_link: Option<String>,
    mine: bool,
    /// The narrowing parameters that are set (from a report's figure).
    narrow: Vec<(&'static str, String)>,
    /// The queue without them.
    unnarrowed: String,
}

impl QueuePage {
    fn assignee_selected(&self, id: &i64) -> bool {
        self.f.assignee == id.to_string()
    }
}

pub const PER_PAGE: i64 = 50;

/// "3d 4h", "5h 10m", "12m": short ages for the queue.
pub fn age(from: chrono::NaiveDateTime, now: chrono::NaiveDateTime) -> String {
    crate::cases::sla::short((now - from).num_minutes())
}

fn status_is_valid(s: &str) -> bool {
    s.is_empty() || s == "active" || Status::parse(s).is_some()
}

/// The filter a queue query asks for; `me` is the signed-in user for "mine".
pub fn filter_from(
    q: &QueueQuery,
    me: i64,
    settings: &crate::config::Settings,
) -> Result<ListFilter, AppError> {
    let status = q.status.clone().unwrap_or_else(|| "active".into());
    if !status_is_valid(&status) {
        return Err(AppError::bad_request("queue.bad_status"));
    }
    let assignee = match q.assignee.as_str() {
        "" | "none" => None,
        "me" => Some(me),
        other => Some(
            other
                .parse::<i64>()
                .map_err(|_| AppError::bad_request("queue.bad_assignee"))?,
        ),
    };
    let imported = match q.origin.as_str() {
        "" => None,
        "live" => Some(false),
        "history" => Some(true),
        _ => return Err(AppError::bad_request("queue.bad_origin")),
    };
    if !q.code.trim().is_empty() && crate::codes::parse_code(&q.code).is_none() {
        return Err(AppError::bad_request("codes.invalid"));
    }
    let place = |v: &str| -> Result<Option<Cursor>, AppError> {
        match v.trim() {
            "" => Ok(None),
            v => Cursor::parse(v)
                .map(Some)
                .ok_or_else(|| AppError::bad_request("queue.bad_place")),
        }
    };
    let at = match (place(&q.after)?, place(&q.before)?) {
        (Some(c), None) => Some(Place::After(c)),
        (None, Some(c)) => Some(Place::Before(c)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(AppError::bad_request("queue.bad_place")),
    };
    Ok(ListFilter {
        q: Some(q.q.clone()),
        status: Some(status),
        assignee,
        customer: Some(q.customer.clone()),
        oem: Some(q.oem.clone()),
        code: Some(q.code.clone()).filter(|c| !c.trim().is_empty()),
        escalated: q.escalated == "1" && !q.has_escalation_narrow(),
        imported,
        breached: (q.breached == "1").then_some((crate::now(), settings.sla_minutes)),
        sort: Some(q.sort.clone())
            .filter(|s| ["age", "activity", "priority"].contains(&s.as_str())),
        narrow: q.narrow(settings)?,
        page: q.page.unwrap_or(1),
        per_page: PER_PAGE,
        at,
    })
}

pub async fn queue(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    q: web::Query<QueueQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let q = q.into_inner();
    let filter = filter_from(&q, user.0.id, &st.settings)?;
    let f2 = filter.clone();
    let uid = user.0.id;
    let names = st.staff_names.clone();
    let (
        crate::cases::queue::QueuePage {
            list:
                cases_mod::ListPage {
                    rows,
                    total,
                    exact,
                    more,
                    earlier,
                    first,
                    last,
                },
            staff,
            open_escalations: open_escs,
        },
        unread,
    ) = run(&st, move |c, _| {
        Ok::<_, AppError>((
            crate::cases::queue::load(c, &f2, &names)?,
            crate::notify::unread(c, uid)?,
        ))
    })
    .await?;
    let now = crate::now();
    let mut page = Page::new(&req, &st, Some(user.0.clone()));
    page.unread = Some(unread);
    let rows = rows
        .into_iter()
        .map(|c| {
            let clock = c.clock(now);
            let sla = crate::cases::sla::first_response_of(
                c.imported,
                c.first_customer_at,
                c.first_response_at,
                crate::cases::sla::target_minutes(&st.settings.sla_minutes, &c.priority),
                clock,
            );
            let overdue = !c.imported
                && open_escs.iter().any(|(id, status, since)| {
                    *id == c.id
                        && crate::cases::sla::escalation_overdue(
                            status,
                            *since,
                            st.settings.escalation_overdue_hours,
                            now,
                        )
                });
            QueueRow {
                status: page.t(&format!("status.{}", c.status)).to_string(),
                status_code: c.status.clone(),
                assignee: c
                    .assignee_id
                    .and_then(|a| staff.iter().find(|(id, _)| *id == a))
                    .map(|s| s.1.clone())
                    .unwrap_or_default(),
                priority: page.t(&format!("priority.{}", c.priority)).to_string(),
                age: age(c.created_at, clock),
                history: c.imported,
                updated: c.updated_at.format("%Y-%m-%d %H:%M").to_string(),
                customer: c.customer.unwrap_or_default(),
                sla_key: sla.key(),
                sla_css: sla.css(),
                sla_amount: sla.amount(),
                escalation_overdue: overdue,
                number: c.number,
                subject: c.subject,
            }
        })
        .collect();
    let page_no = filter.page.max(1);
    let status = filter.status.clone().unwrap_or_default();
    let narrow = q.narrow_pairs();
    // `place`: the page's place in the list, ("after" or "before", a cursor).
    let link = |p: i64, place: Option<(&str, Cursor)>| {
        let mut qs = serde_urlencoded_pairs(&[
            ("q", &q.q),
            ("status", &status),
            ("assignee", &q.assignee),
            ("customer", &q.customer),
            ("oem", &q.oem),
            ("code", &q.code),
            ("escalated", &q.escalated),
            ("breached", &q.breached),
            ("origin", &q.origin),
            ("sort", &q.sort),
            ("page", &p.to_string()),
        ]);
        if let Some((side, c)) = place {
            qs.push_str(&format!("&{side}={c}"));
        }
        for (k, v) in &narrow {
            qs.push_str(&format!("&{k}={}", url_escape(v)));
        }
        format!("/cases?{qs}")
    };
    // Pages go by their places where the order has them: the next page after the last
    // case shown, the previous one before the first, at an index lookup's cost however
    // deep. The first page goes by number.
    let prev_link = earlier.then(|| match first {
        Some(c) if page_no > 2 => link(page_no - 1, Some(("before", c))),
        _ => link((page_no - 1).max(1), None),
    });
    let unnarrowed = {
        let full = link(1, None);
        // The narrowing pairs come last, in order (values are escaped).
        match narrow
            .first()
            .and_then(|(k, _)| full.find(&format!("&{k}=")))
        {
            Some(i) => full[..i].to_string(),
            None => full,
        }
    };
    let next_link = more.then(|| link(page_no + 1, last.map(|c| ("after", c))));
    let mut statuses = vec!["active", ""];
    statuses.extend(Status::ALL.iter().map(|s| s.as_str()));
    let mine = q.assignee == "me";
    html(&QueuePage {
        page,
        rows,
        total,
        exact,
        f: q,
        status,
        statuses,
        staff,
        page_no,
        prev_link,
        next_link,
        mine,
        unnarrowed,
        narrow,
    })
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", k, url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?thread=all` shows every message of a long thread, `?newest=n` the first and the
/// newest `n`; by default the page shows the first and the newest few (see
/// `ThreadWindow`).
#[derive(Debug, Deserialize, Default)]
pub struct ThreadQuery {
    #[serde(default)]
    pub thread: String,
    #[serde(default)]
    pub newest: Option<i64>,
}

/// Heavy work (CPU and memory) done as many at once as there are cores; the rest wait
/// their turn: more at once would add no throughput, only memory.
struct PerCore(
    std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>>,
    usize,
);

impl PerCore {
    /// `per_core` at once on each core.
    const fn new(per_core: usize) -> PerCore {
        PerCore(std::sync::OnceLock::new(), per_core)
    }

    async fn enter(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.0
            .get_or_init(|| {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                std::sync::Arc::new(tokio::sync::Semaphore::new(cores * self.1))
            })
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::internal)
    }
}

/// Whole threads (`?thread=all`) and windows wider than the first screen (`?newest=N`)
/// built at once: two per core. Each can be megabytes. A case of 2,000 messages shown
/// whole to 64 clients at once (2 cores): unbounded, 181 pages/s and 200–300 MiB of
/// heap while it ran; one per core, 156 and 71–84 MiB (the database read and the
/// rendering no longer overlap); two per core, 196 and 82–115.
static WHOLE_THREADS: PerCore = PerCore::new(2);

/// A turn to build a whole thread or a wide window, or none for the first screen.
async fn whole_thread_turn(
    window: detail::ThreadWindow,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, AppError> {
    if first_screen(window) {
        Ok(None)
    } else {
        Ok(Some(WHOLE_THREADS.enter().await?))
    }
}

/// The first screen (a small bounded read, in place); any wider window is heavy work.
fn first_screen(window: detail::ThreadWindow) -> bool {
    window == detail::ThreadWindow::Recent
}

/// A case read for its page: the first screen is a small bounded read, done in place
/// (`web::read`); a whole thread or a wide window can be hundreds or thousands of
/// messages and goes to the pool.
async fn read_case<T, E, F>(
    st: &crate::startup::AppState,
    window: detail::ThreadWindow,
    f: F,
) -> Result<T, AppError>
where
    T: Send + 'static,
    E: Into<AppError> + Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &crate::config::Settings) -> Result<T, E> + Send + 'static,
{
    if first_screen(window) {
        super::read(st, f).await
    } else {
        run(st, f).await
    }
}

impl ThreadQuery {
    fn window(&self) -> detail::ThreadWindow {
        if self.thread == "all" {
            detail::ThreadWindow::All
        } else {
            self.newest
                .map_or(detail::ThreadWindow::Recent, detail::ThreadWindow::newest)
        }
    }
}

#[derive(Template)]
#[template(path = "cases/show.html")]
struct CasePage {
    page: Page,
    case: CaseDetail,
    status_label: String,
    open_for: String,
    sla_key: &'static str,
    sla_css: &'static str,
    sla_amount: String,
    staff: Vec<(i64, String)>,
    transitions: Vec<&'static str>,
    priorities: Vec<&'static str>,
    overdue: Vec<i64>,
    mail_transport: String,
    is_support: bool,
    is_rnd: bool,
    /// Who watches the case, and whether the reader does.
    watchers: Vec<(i64, String)>,
    watching: bool,
    /// The reader's reply templates filled for this case (support only).
    canned: Vec<crate::cases::canned::Filled>,
    /// Colleagues typing a reply on this case now.
    replying: Vec<String>,
    /// The case's files a reply can carry: (id, name), each stored file once (a file
    /// sent with a reply is a second row over the same bytes).
    reply_files: Vec<(i64, String)>,
    /// The reader (the live script tells their own typing from others').
    me: i64,
}

impl CasePage {
    fn is_assignee(&self, id: &i64) -> bool {
        self.case.assignee_id == Some(*id)
    }

    fn is_overdue(&self, id: &i64) -> bool {
        self.overdue.contains(id)
    }
}

pub async fn show(
    req: HttpRequest,
    st: State,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let number = path.into_inner();
    let window = query.window();
    // One trip to the blocking pool for everything the page shows.
    let replies = user.0.role().takes_cases();
    let (uid, uname) = (user.0.id, user.0.name.clone());
    // Held until the page is rendered.
    let _turn = whole_thread_turn(window).await?;
    let names = st.staff_names.clone();
    let (case, staff, watchers, canned, replying) = read_case(&st, window, move |c, _| {
        crate::db::read_tx(c, |c| {
            let case = detail::load_by_number(c, &number, window)?;
            let watchers = crate::notify::watchers_of(c, case.id)?;
            let canned = if replies {
                crate::cases::canned::filled_for(c, uid, &uname, &case)?
            } else {
                Vec::new()
            };
            let replying = crate::cases::presence::others(c, case.id, uid, crate::now())?;
            Ok::<_, AppError>((case, names.assignable(c)?, watchers, canned, replying))
        })
    })
    .await?;
    let watching = watchers.iter().any(|(id, _)| *id == user.0.id);
    if let Some(n) = &case.merged_into {
        return Ok(super::see_other(&format!("/cases/{}", url_escape(n))));
    }
    let mut case = case;
    // Names stored before bidi controls were stripped on arrival read as they are.
    for a in case.attachments.iter_mut().chain(
        case.messages
            .iter_mut()
            .flat_map(|m| m.attachments.iter_mut()),
    ) {
        a.filename = without_format_controls(&a.filename);
    }
    let role = user.0.role();
    let page = Page::new(&req, &st, Some(user.0));
    let status_label = page.t(&format!("status.{}", case.status)).to_string();
    let parse = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ").ok();
    // Live work is judged now; imported history at its own last moment.
    let now = crate::cases::sla::clock(
        case.imported,
        case.closed_at.as_deref().and_then(parse),
        parse(&case.updated_at).unwrap_or_else(crate::now),
        crate::now(),
    );
    let open_for = parse(&case.created_at)
        .map(|c| age(c, case.closed_at.as_deref().and_then(parse).unwrap_or(now)))
        .unwrap_or_default();
    let sla = crate::cases::sla::first_response_of(
        case.imported,
        case.first_customer_at,
        case.first_response,
        crate::cases::sla::target_minutes(&st.settings.sla_minutes, &case.priority),
        now,
    );
    let from = Status::parse(&case.status).unwrap_or(Status::New);
    let transitions = Status::ALL
        .into_iter()
        .filter(|t| *t != Status::Closed && crate::cases::workflow::can_transition(from, *t))
        .map(|t| t.as_str())
        .collect();
    let overdue = case
        .escalations
        .iter()
        .filter(|e| {
            let since = e
                .entries
                .last()
                .map(|x| x.created_at.as_str())
                .unwrap_or(&e.opened_at);
            !case.imported
                && parse(since).is_some_and(|s| {
                    crate::cases::sla::escalation_overdue(
                        &e.status,
                        s,
                        st.settings.escalation_overdue_hours,
                        now,
                    )
                })
        })
        .map(|e| e.id)
        .collect();
    html(&CasePage {
        page,
        status_label,
        open_for,
        sla_key: sla.key(),
        sla_css: sla.css(),
        sla_amount: sla.amount(),
        staff,
        transitions,
        priorities: crate::cases::Priority::ALL
            .iter()
            .map(|p| p.as_str())
            .collect(),
        overdue,
        mail_transport: crate::mail::outbound::Transport::describe(&st.settings),
        is_support: role.takes_cases(),
        is_rnd: matches!(role, crate::auth::Role::Rnd | crate::auth::Role::Admin),
        watchers,
        watching,
        canned,
        replying,
        me: uid,
        reply_files: {
            let mut seen = std::collections::HashSet::new();
            case.attachments
                .iter()
                .filter(|a| seen.insert(a.sha256.clone()))
                .map(|a| (a.id, a.filename.clone()))
                .collect()
        },
        case,
    })
}

pub async fn attachment(
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let (number, id) = path.into_inner();
    let store = st.store.clone();
    let (filename, bytes) = run(&st, move |c, _| {
        crate::bundles::stored::read(c, store.as_ref(), &number, id, "")
    })
    .await?;
    Ok(download(bytes, &filename))
}

/// An image attachment shown in the page (an HTML mail's inline screenshot): only
/// raster images, recognised by their bytes (PNG, JPEG, GIF, WebP, BMP), served as
/// what they are; anything else, SVG and HTML above all, is a 404 here and only ever a
/// download (`attachment`).
pub async fn attachment_inline(
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let (number, id) = path.into_inner();
    let store = st.store.clone();
    let (_, bytes) = run(&st, move |c, _| {
        crate::bundles::stored::read(c, store.as_ref(), &number, id, "")
    })
    .await?;
    let ctype = crate::mail::html::raster_type(&bytes).ok_or(AppError::NotFound)?;
    Ok(image(ctype, bytes))
}

/// A raster image shown in the page: its own type, inline, and a CSP that lets it do
/// nothing should a browser ever open it as a document.
fn image(ctype: &'static str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ctype)
        .insert_header((actix_web::http::header::CONTENT_DISPOSITION, "inline"))
        .insert_header((
            actix_web::http::header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(bytes)
}

/// The thumbnail of an image attachment (a PNG made on first view and kept; see
/// `bundles::thumbnail`); 404 for anything that is not a raster image.
pub async fn attachment_thumb(
    st: State,
    user: CurrentUser,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let (number, id) = path.into_inner();
    // Decoding an image takes CPU and up to 256 MiB: as many at once as there are
    // cores, so a case full of screenshots cannot take every database connection.
    static DECODES: PerCore = PerCore::new(1);
    let permit = DECODES.enter().await?;
    let store = st.store.clone();
    let png = run(&st, move |c, _| {
        let _permit = permit;
        crate::bundles::thumbnail::get_or_make(c, store.as_ref(), &number, id)
    })
    .await?;
    Ok(image("image/png", png))
}

/// `s` without bidirectional overrides, zero-width and other invisible formatting
/// characters (see `mail::parse::is_format_control`).
fn without_format_controls(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !crate::mail::parse::is_format_control(*c))
        .collect()
}

/// A download that a browser never renders inline, never cached, named without
/// invisible formatting characters.
pub fn download(bytes: Vec<u8>, filename: &str) -> HttpResponse {
    let filename = &without_format_controls(filename);
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
                url_escape(filename)
            ),
        ))
        .body(bytes)
}

#[derive(serde::Serialize)]
struct CaseSummary {
    number: String,
    subject: String,
    status: String,
    priority: String,
    customer: Option<String>,
    oem: Option<String>,
    tracking_token: String,
    created_at: String,
    updated_at: String,
    imported: bool,
    /// Messages in the case (a merged case's moved to the survivor).
    message_count: i64,
}

#[derive(Deserialize)]
pub struct ApiListQuery {
    #[serde(flatten)]
    q: QueueQuery,
    per_page: Option<String>,
}

/// `GET /api/cases`: the queue's filters, every status unless asked.
pub async fn list_json(
    st: State,
    user: ApiUser,
    q: web::Query<ApiListQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let ApiListQuery { mut q, per_page } = q.into_inner();
    if q.status.is_none() {
        q.status = Some(String::new());
    }
    let mut filter = filter_from(&q, user.0.id, &st.settings)?;
    filter.per_page = per_page.and_then(|v| v.parse().ok()).unwrap_or(50);
    let list = run(&st, move |c, _| cases_mod::list(c, &filter)).await?;
    let cases: Vec<CaseSummary> = list
        .rows
        .into_iter()
        .map(|c| CaseSummary {
            created_at: rfc3339(&c.created_at),
            updated_at: rfc3339(&c.updated_at),
            number: c.number,
            subject: c.subject,
            status: c.status,
            priority: c.priority,
            customer: c.customer,
            oem: c.oem,
            tracking_token: c.tracking_token,
            imported: c.imported,
            message_count: c.message_count,
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "cases": cases,
        "total": list.total,
        "total_exact": list.exact,
        "more": list.more,
        "next_after": list.last.filter(|_| list.more).map(|c| c.to_string()),
    })))
}

/// `GET /api/cases/{number}`: everything the case page shows.
pub async fn show_json(
    st: State,
    user: ApiUser,
    path: web::Path<String>,
    query: web::Query<ThreadQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(STAFF)?;
    let number = path.into_inner();
    let window = query.window();
    // Held until the answer is serialized.
    let _turn = whole_thread_turn(window).await?;
    let detail = read_case(&st, window, move |c, _| {
        detail::load_by_number(c, &number, window)
    })
    .await?;
    if let Some(n) = &detail.merged_into {
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "number": detail.number,
            "merged_into": n,
        })));
    }
    Ok(HttpResponse::Ok().json(detail))
}
