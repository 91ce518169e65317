//! Every URL in one table: method, path, handler and who may use it. The same table
//! registers the routes and is what the role-matrix test walks, so a route cannot be
//! added without saying who it is for.

use super::roles::*;
use super::*;
use crate::auth::Role;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// These roles only (a session for pages, a bearer token under /api).
    Roles(&'static [Role]),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }

    /// Whether a user with `role` may use the route (`None`: not signed in).
    pub fn allows(&self, role: Option<Role>) -> bool {
        match self.access {
            Access::Public => true,
            Access::Roles(rs) => role.is_some_and(|r| rs.contains(&r)),
        }
    }
}

macro_rules! route_table {
    ($table:ident, $register:ident, $prefix:literal,
     $( $method:ident $path:literal => $handler:path, $access:expr; )*) => {
        pub const $table: &[Route] = &[
            $( Route { method: stringify!($method), path: concat!($prefix, $path), access: $access }, )*
        ];
        fn $register(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::$method().to($handler)); )*
        }
    };
}

const PUBLIC: Access = Access::Public;
const fn only(roles: &'static [Role]) -> Access {
    Access::Roles(roles)
}

route_table! { PAGES, register_pages, "",
    get "/healthz" => healthz, PUBLIC;
    get "/static/{file}" => static_file, PUBLIC;
    get "/" => home, PUBLIC;
    get "/login" => auth::login_form, PUBLIC;
    post "/login" => auth::login, PUBLIC;
    post "/logout" => auth::logout, PUBLIC;
    post "/lang" => auth::switch_lang, PUBLIC;
    get "/cases" => cases::queue, only(STAFF);
    get "/cases/{number}" => cases::show, only(STAFF);
    get "/cases/{number}/report" => reports::case_page, only(STAFF);
    get "/cases/{number}/attachments/{id}" => cases::attachment, only(STAFF);
    get "/cases/{number}/attachments/{id}/inline" => cases::attachment_inline, only(STAFF);
    get "/cases/{number}/attachments/{id}/thumb" => cases::attachment_thumb, only(STAFF);
    post "/cases/{number}/reply" => workflow::reply, only(SUPPORT);
    post "/cases/{number}/replying" => workflow::replying, only(SUPPORT);
    post "/cases/{number}/scope" => workflow::scope, only(SUPPORT);
    post "/cases/{number}/escalations" => workflow::escalate, only(SUPPORT);
    post "/cases/{number}/closure" => workflow::closure, only(SUPPORT);
    post "/cases/{number}/status" => workflow::status, only(SUPPORT);
    post "/cases/{number}/assign" => workflow::assign, only(SUPPORT);
    post "/cases/{number}/notes" => workflow::note, only(STAFF);
    post "/cases/{number}/outbox/retry" => workflow::retry_outbox, only(SUPPORT);
    post "/cases/{number}/messages/{id}/apply" => workflow::apply_proposal, only(ESCALATION_PARTIES);
    post "/cases/{number}/merge" => workflow::merge, only(SUPPORT);
    post "/cases/{number}/merges/{id}/undo" => workflow::undo_merge, only(ADMIN);
    post "/cases/{number}/attachments" => bundles::upload, only(ESCALATION_PARTIES);
    get "/cases/{number}/attachments/{id}/bundle" => bundles::show, only(STAFF);
    get "/cases/{number}/attachments/{id}/view" => bundles::view, only(STAFF);
    get "/escalations" => escalations::queue, only(STAFF);
    post "/escalations/{id}/answer" => workflow::answer, only(RND);
    post "/escalations/{id}/followup" => workflow::follow_up, only(SUPPORT);
    post "/escalations/{id}/close" => workflow::close_escalation, only(ESCALATION_PARTIES);
    get "/errors" => codes::lookup, only(STAFF);
    get "/errors/{code}" => codes::show, only(STAFF);
    post "/errors/{code}/note" => codes::save_note, only(RND);
    get "/search" => search::page, only(STAFF);
    get "/events" => live::events, only(STAFF);
    get "/customers/{name}" => customers::show, only(STAFF);
    get "/canned" => canned::page, only(STAFF);
    post "/canned" => canned::create, only(STAFF);
    post "/canned/{id}" => canned::update, only(STAFF);
    post "/canned/{id}/delete" => canned::delete, only(STAFF);
    get "/notifications" => notifications::list, only(STAFF);
    post "/notifications/read" => notifications::read, only(STAFF);
    get "/notifications/unread" => notifications::unread_count, only(STAFF);
    get "/notifications/settings" => notifications::settings_page, only(STAFF);
    post "/notifications/settings" => notifications::save_settings, only(STAFF);
    post "/me/signature" => notifications::signature_page, only(STAFF);
    get "/notifications/{id}/open" => notifications::open, only(STAFF);
    post "/cases/{number}/watch" => notifications::watch, only(STAFF);
    get "/reports" => reports::page, only(MANAGERS);
    get "/reports/{file}" => reports::csv, only(MANAGERS);
    post "/reports/views" => reports::create_view, only(MANAGERS);
    post "/reports/views/{id}/delete" => reports::delete_view, only(MANAGERS);
    post "/reports/views/{id}/weekly" => reports::weekly_view, only(MANAGERS);
    get "/ingest" => ingest::form, only(SUPPORT);
    post "/ingest" => ingest::upload, only(SUPPORT);
    get "/admin/activation" => activation::form, only(ADMIN);
    post "/admin/activation" => activation::upload, only(ADMIN);
    get "/admin/users" => admin::users, only(ADMIN);
    post "/admin/users" => admin::add_user, only(ADMIN);
    get "/admin/users/{id}" => admin::edit_user, only(ADMIN);
    post "/admin/users/{id}" => admin::update_user, only(ADMIN);
    post "/admin/users/{id}/password" => admin::reset_password, only(ADMIN);
    post "/admin/users/{id}/disabled" => admin::set_disabled, only(ADMIN);
    get "/admin/tokens" => admin::tokens, only(ADMIN);
    get "/people" => people::list, only(PEOPLE);
    post "/people/senders" => people::decide_sender, only(ADMIN);
    post "/people/domains" => people::domain, only(ADMIN);
    post "/people/{id}" => people::update, only(ADMIN);
    post "/admin/tokens" => admin::create_token, only(ADMIN);
    post "/admin/tokens/revoke" => admin::revoke_token, only(ADMIN);
    get "/admin/quarantine" => admin::quarantine, only(ADMIN);
    post "/admin/quarantine/{id}/retry" => admin::retry_quarantine, only(ADMIN);
    post "/admin/quarantine/{id}/assign" => admin::assign_quarantine, only(ADMIN);
    get "/admin/raw/{id}" => admin::raw_download, only(ADMIN);
    get "/admin/mailboxes" => mailboxes::list, only(ADMIN);
    post "/admin/mailboxes" => mailboxes::add, only(ADMIN);
    get "/admin/mailboxes/{id}" => mailboxes::edit_form, only(ADMIN);
    post "/admin/mailboxes/{id}" => mailboxes::edit, only(ADMIN);
    post "/admin/mailboxes/{id}/test" => mailboxes::test, only(ADMIN);
    post "/admin/mailboxes/{id}/pause" => mailboxes::pause, only(ADMIN);
    post "/admin/mailboxes/{id}/resume" => mailboxes::resume, only(ADMIN);
    post "/admin/mailboxes/{id}/remove" => mailboxes::remove, only(ADMIN);
}

route_table! { API, register_api, "/api",
    get "/me" => auth::me, only(STAFF);
    get "/cases" => cases::list_json, only(STAFF);
    get "/cases/{number}" => cases::show_json, only(STAFF);
    get "/cases/{number}/report" => reports::case_json, only(STAFF);
    post "/cases/{number}/replies" => workflow::reply_json, only(SUPPORT);
    post "/cases/{number}/replying" => workflow::replying_json, only(SUPPORT);
    post "/cases/{number}/scope" => workflow::scope_json, only(SUPPORT);
    post "/cases/{number}/escalations" => workflow::escalate_json, only(SUPPORT);
    post "/cases/{number}/closure" => workflow::closure_json, only(SUPPORT);
    post "/cases/{number}/status" => workflow::status_json, only(SUPPORT);
    post "/cases/{number}/assign" => workflow::assign_json, only(SUPPORT);
    post "/cases/{number}/merge" => workflow::merge_json, only(SUPPORT);
    post "/merges/{id}/undo" => workflow::undo_merge_json, only(ADMIN);
    get "/people" => people::list_json, only(PEOPLE);
    post "/people/{id}" => people::update_json, only(ADMIN);
    post "/senders" => people::decide_sender_json, only(ADMIN);
    post "/staff-domains" => people::domain_json, only(ADMIN);
    get "/reanalysis/{id}" => people::job_json, only(PEOPLE);
    post "/cases/{number}/notes" => workflow::note_json, only(STAFF);
    get "/cases/{number}/outbox" => workflow::outbox_json, only(STAFF);
    get "/escalations" => escalations::queue_json, only(STAFF);
    post "/escalations/{id}/answers" => workflow::answer_json, only(RND);
    post "/escalations/{id}/followups" => workflow::follow_up_json, only(SUPPORT);
    get "/errors/{code}" => codes::error_code_json, only(STAFF);
    post "/mail/inbound" => ingest::inbound, only(ADMIN);
    get "/search" => search::api, only(STAFF);
    get "/customers/{name}" => customers::show_json, only(STAFF);
    get "/canned" => canned::list_json, only(STAFF);
    post "/canned" => canned::create_json, only(STAFF);
    post "/canned/{id}" => canned::update_json, only(STAFF);
    post "/canned/{id}/delete" => canned::delete_json, only(STAFF);
    get "/notifications" => notifications::list_json, only(STAFF);
    post "/notifications/read" => notifications::read_json, only(STAFF);
    get "/me/notifications" => notifications::settings_json, only(STAFF);
    post "/me/notifications" => notifications::save_settings_json, only(STAFF);
    get "/me/signature" => notifications::signature_json, only(STAFF);
    post "/me/signature" => notifications::save_signature_json, only(STAFF);
    post "/cases/{number}/watchers" => notifications::watch_json, only(STAFF);
    get "/reports/summary" => reports::api_summary, only(MANAGERS);
    get "/reports/views" => reports::views_json, only(MANAGERS);
    post "/reports/views" => reports::create_view_json, only(MANAGERS);
    post "/reports/views/{id}/delete" => reports::delete_view_json, only(MANAGERS);
    post "/reports/views/{id}/weekly" => reports::weekly_view_json, only(MANAGERS);
    post "/activation-records" => activation::push, only(ADMIN);
    post "/cases/{number}/attachments" => bundles::upload_json, only(ESCALATION_PARTIES);
    post "/cases/{number}/messages/{id}/apply" => workflow::apply_proposal_json, only(ESCALATION_PARTIES);
    post "/cases/{number}/outbox/retry" => workflow::retry_outbox_json, only(SUPPORT);
    post "/escalations/{id}/close" => workflow::close_escalation_json, only(ESCALATION_PARTIES);
    post "/errors/{code}/note" => codes::save_note_json, only(RND);
    get "/users" => admin::users_json, only(ADMIN);
    post "/users" => admin::add_user_json, only(ADMIN);
    post "/users/{id}" => admin::update_user_json, only(ADMIN);
    post "/users/{id}/password" => admin::reset_password_json, only(ADMIN);
    post "/users/{id}/disabled" => admin::set_disabled_json, only(ADMIN);
    get "/tokens" => admin::tokens_json, only(ADMIN);
    post "/tokens" => admin::create_token_json, only(ADMIN);
    post "/tokens/{id}/revoke" => admin::revoke_token_json, only(ADMIN);
    get "/quarantine" => admin::quarantine_json_list, only(ADMIN);
    post "/quarantine/{id}/retry" => admin::retry_quarantine_json, only(ADMIN);
    post "/quarantine/{id}/assign" => admin::assign_quarantine_json, only(ADMIN);
    get "/mailboxes" => mailboxes::list_json, only(ADMIN);
    post "/mailboxes" => mailboxes::add_json, only(ADMIN);
    post "/mailboxes/{id}" => mailboxes::edit_json, only(ADMIN);
    post "/mailboxes/{id}/test" => mailboxes::test_json, only(ADMIN);
    post "/mailboxes/{id}/pause" => mailboxes::pause_json, only(ADMIN);
    post "/mailboxes/{id}/resume" => mailboxes::resume_json, only(ADMIN);
    post "/mailboxes/{id}/remove" => mailboxes::remove_json, only(ADMIN);
}

/// Every route, pages then API.
pub fn all() -> impl Iterator<Item = &'static Route> {
    PAGES.iter().chain(API.iter())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    register_pages(cfg);
    cfg.service(
        web::scope("/api")
            .app_data(
                web::JsonConfig::default()
                    .content_type_required(false)
                    .limit(1024 * 1024)
                    .error_handler(|e, _| {
                        AppError::BadRequest(Msg::new("error.invalid_json").with("detail", e))
                            .into()
                    }),
            )
            .configure(register_api)
            .default_service(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_route_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for r in all() {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
        assert!(PAGES.len() > 40 && API.len() > 15);
    }

    /// Page actions whose JSON twin lives at another path (the API names things as
    /// resources; pages name the form that posts).
    const RENAMED: &[(&str, &str)] = &[
        ("/cases/{number}/reply", "/api/cases/{number}/replies"),
        ("/escalations/{id}/answer", "/api/escalations/{id}/answers"),
        (
            "/escalations/{id}/followup",
            "/api/escalations/{id}/followups",
        ),
        ("/cases/{number}/merges/{id}/undo", "/api/merges/{id}/undo"),
        ("/cases/{number}/watch", "/api/cases/{number}/watchers"),
        ("/notifications/settings", "/api/me/notifications"),
        ("/people/senders", "/api/senders"),
        ("/people/domains", "/api/staff-domains"),
        ("/admin/activation", "/api/activation-records"),
        ("/admin/tokens/revoke", "/api/tokens/{id}/revoke"),
    ];

    /// Page actions with no twin, and why.
    const PAGE_ONLY: &[&str] = &[
        "/login",  // a session is the page's way in; the API takes a bearer token
        "/logout", // idem
        "/lang",   // the page's language cookie
        "/ingest", // a person's upload; machines deliver through POST /api/mail/inbound
    ];

    fn twin_of(page: &str) -> String {
        if let Some((_, api)) = RENAMED.iter().find(|(p, _)| *p == page) {
            return api.to_string();
        }
        match page.strip_prefix("/admin") {
            Some(rest) => format!("/api{rest}"),
            None => format!("/api{page}"),
        }
    }

    /// Every action a page can take has a JSON twin under /api for exactly the same
    /// roles (issue 18: "every action in the API").
    #[test]
    fn every_page_action_has_a_json_twin_for_the_same_roles() {
        let mut missing = Vec::new();
        for r in PAGES.iter().filter(|r| r.method == "post") {
            if PAGE_ONLY.contains(&r.path) {
                continue;
            }
            let want = twin_of(r.path);
            match API.iter().find(|a| a.method == "post" && a.path == want) {
                None => missing.push(format!("POST {} has no twin {want}", r.path)),
                Some(a) if a.access != r.access => missing.push(format!(
                    "POST {} ({:?}) and {want} ({:?}) differ in who may use them",
                    r.path, r.access, a.access
                )),
                Some(_) => {}
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
