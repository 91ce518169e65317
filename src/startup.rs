//! Application state, server start and the background workers beside it
//! (`crate::workers`).

use crate::auth::Keys;
use crate::config::Settings;
use crate::db::Pool;
use crate::mail::Rules;
use crate::storage::BlobStore;
use std::sync::Arc;

pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    pub keys: Keys,
    pub store: Arc<dyn BlobStore>,
    pub rules: Arc<Rules>,
    /// Live deliveries filed by one writer in shared transactions (SQLite only; on
    /// PostgreSQL each delivery is its own transaction, and the server groups commits).
    pub inbound: Option<Arc<crate::mail::ingest::group::GroupCommit>>,
    /// Changes to cases, for the live pages (`/events`).
    pub live: crate::workers::live::Hub,
    /// The enabled staff by name, for the pages that list them.
    pub staff_names: Arc<crate::cases::queue::StaffNames>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Ingest(#[from] crate::mail::IngestError),
    #[error("database: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Opens (and migrates) the database, the blob store and the secrets.
pub fn build_state(settings: Settings, pool_size: u32) -> Result<AppState, StartupError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|e| StartupError::DataDir(settings.data_dir.display().to_string(), e))?;
    let pool = crate::db::connect_and_migrate(&settings.database_url, pool_size)?;
    let keys = {
        let mut c = pool.get().map_err(crate::db::DbError::from)?;
        crate::auth::load_keys(&mut c)?
    };
    let store = crate::storage::for_settings(&settings)?;
    let rules = Arc::new(Rules::from_settings(&settings)?);
    let inbound = (!crate::db::is_postgres_url(&settings.database_url)).then(|| {
        Arc::new(crate::mail::ingest::group::GroupCommit::start(
            pool.clone(),
            store.clone(),
            rules.clone(),
        ))
    });
    Ok(AppState {
        inbound,
        live: crate::workers::live::hub(),
        staff_names: Arc::default(),
        pool,
        settings: Arc::new(settings),
        keys,
        store,
        rules,
    })
}

/// Runs the server and its workers until it is stopped (the blocking entry point
/// for `casebook serve`).
pub fn run_server(state: AppState, bind: &str) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(serve(state, bind))
}

pub async fn serve(state: AppState, bind: &str) -> std::io::Result<()> {
    let state = actix_web::web::Data::new(state);
    let secure = state.settings.secure_cookies;
    let max_body = state.settings.max_message_bytes;
    spawn_workers(&state);
    let blocking_threads = (state.pool.max_size() as usize).max(4);
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .app_data(actix_web::web::PayloadConfig::new(max_body))
            .app_data(actix_web::web::FormConfig::default().limit(1024 * 1024))
            .configure(crate::web::configure)
            .wrap_fn(crate::web::same_origin)
            .wrap(crate::web::error_pages())
            .wrap(crate::web::security_headers())
            .wrap(actix_web::middleware::Compress::default())
            .wrap_fn(move |req, srv| {
                use actix_web::dev::Service;
                let seed = crate::web::csrf_seed_for(&req);
                let fut = srv.call(req);
                async move {
                    let mut res = fut.await?;
                    crate::web::no_store(&mut res);
                    crate::web::renew_session(&mut res, secure);
                    if let Some(s) = seed {
                        let _ = res
                            .response_mut()
                            .add_cookie(&crate::web::cookies::csrf_cookie(s, secure));
                    }
                    Ok(res)
                }
            })
            .wrap(tracing_actix_web::TracingLogger::default())
    })
    // Blocking work is database work: more threads than connections only queue for
    // the pool (and each thread costs a malloc arena), so each worker gets as many.
    .worker_max_blocking_threads(blocking_threads)
    .bind(bind)?;
    for addr in server.addrs() {
        tracing::info!(%addr, "Casebook listening");
        // On stdout, one line per address: `--bind 127.0.0.1:0` callers (the tests) read
        // the port the system chose from it.
        println!("Casebook listening on http://{addr}");
    }
    server.run().await
}

/// The background jobs beside the server, each with the settings it needs.
fn spawn_workers(state: &AppState) {
    use crate::workers::{indexer, outbox, poller};
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
    match outbox::OutboxSettings::from_settings(&state.settings, clock.clone()) {
        Ok(s) => outbox::spawn(state.pool.clone(), s),
        Err(e) => tracing::error!(error = %e, "outbox disabled: mail transport cannot be set up"),
    }
    indexer::spawn(state.pool.clone(), &state.settings.database_url);
    crate::workers::digests::spawn(state.pool.clone(), (*state.settings).clone());
    crate::workers::notify::spawn(state.pool.clone(), (*state.settings).clone());
    crate::workers::live::spawn(state.pool.clone(), state.live.clone());
    crate::workers::reanalyze::spawn(state.pool.clone(), state.rules.clone());
    poller::spawn(
        state.pool.clone(),
        poller::PollerSettings::new(
            &state.settings,
            state.store.clone(),
            state.rules.clone(),
            state.keys.clone(),
            clock,
        ),
    );
}

/// glibc's malloc now serves only the C libraries (SQLite's page caches and statement
/// journals; Casebook's own allocations go to jemalloc, see `allocator`). It gives each
/// thread that allocates its own arena (up to 8 per core) and keeps what was freed in
/// each: two arenas per core. (Measured when it served everything, on the case page at
/// 64 connections on 2 cores: 1,382 req/s with 2 arenas, 1,694 with 4, 1,784 with 8;
/// peak RSS 62, 66 and 68 MiB.)
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = (2 * cores).clamp(2, 16) as std::ffi::c_int;
        // SAFETY: mallopt only sets an allocator parameter; it is called before the
        // server starts its threads.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
