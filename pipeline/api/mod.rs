//! `intake serve`: the HTTP API for upload handlers and reviewers, and the
//! reviewer console, on tokio + axum. Handlers are thin: they check the
//! caller's role, then call the [`Intake`] service on a blocking thread
//! (sled and the pipeline are synchronous).

mod auth;
pub mod bodies;
pub use auth::{credentials, Credential, TokenError, MIN_TOKEN_CHARS};
mod conn;
pub use conn::{BodyTimedOut, Limits};
mod error;
mod image;
mod metrics;
pub mod openapi;
mod routes;

pub use error::ApiError;
pub use metrics::Metrics;

use crate::service::Intake;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    pub intake: Arc<Intake>,
    pub tokens: Vec<Credential>,
    pub metrics: Arc<Metrics>,
    /// Largest upload, in bytes (`limits.max_bytes`).
    pub max_upload: u64,
    pub retry_after_s: u64,
    /// One permit per upload being received (`server.max_receiving`).
    pub receiving: Arc<tokio::sync::Semaphore>,
    /// Turns true when the server stops: the event streams end, so that
    /// the graceful shutdown does not wait on them forever.
    pub closing: tokio::sync::watch::Sender<bool>,
}

/// Slack for the multipart framing and the form fields around the file.
const MULTIPART_SLACK: u64 = 64 * 1024;

/// The routes of the API and the console.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = (state.max_upload + MULTIPART_SLACK) as usize;
    Router::new()
        .route(
            "/v1/accounts/{account}/documents",
            post(routes::upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/v1/accounts/{account}", get(routes::account))
        .route(
            "/v1/accounts/{account}/profile",
            put(routes::update_profile),
        )
        .route("/v1/accounts/{account}/events", get(routes::events))
        .route("/v1/events", get(routes::all_events))
        .route("/v1/accounts/{account}/audit", get(routes::audit))
        .route("/v1/jobs/{job}", get(routes::job))
        .route("/v1/jobs/{job}/image", get(routes::image))
        .route("/v1/review", get(routes::review_queue))
        .route("/v1/review/{job}/claim", post(routes::claim))
        .route("/v1/review/{job}/release", post(routes::release))
        .route("/v1/review/{job}/decision", post(routes::decide))
        .route("/v1/me", get(routes::me))
        .route("/v1/queue", get(routes::verdict_queue))
        .route("/v1/admin/audit/verify", get(routes::verify_audit))
        .route("/v1/admin/accounts/verify", get(routes::verify_accounts))
        .route("/metrics", get(routes::metrics))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/openapi.json", get(routes::openapi))
        .route("/review", get(routes::console))
        .fallback(routes::no_such_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request: method, route template, status, time, request
/// id (also on the response). The template, not the path: account and job
/// ids stay out of the logs.
async fn log_request(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = error::request_id(request.headers());
    let started = std::time::Instant::now();
    let response = error::with_request_id(request_id.clone(), next.run(request)).await;
    let (status, elapsed) = (response.status().as_u16(), started.elapsed());
    metrics::record_request(&method, &route, status, elapsed);
    tracing::info!(%method, route, status, ms = elapsed.as_millis() as u64, request_id, "request");
    response
}

/// Serves until SIGINT or SIGTERM, then lets the requests in progress
/// finish; `limits` bound connections (see `conn`).
pub async fn serve(state: Arc<AppState>, listen: &str, limits: Limits) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving (console at /review)");
    eprintln!(
        "intake: serving on http://{} (console at /review)",
        listener.local_addr()?
    );
    let stopping = state.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopping.closing.send_replace(true);
    });
    tokio::spawn(give_back_memory_after_bursts(state.clone()));
    tokio::spawn(metrics_upkeep(state.clone()));
    let closing = state.closing.subscribe();
    conn::accept_loop(listener, router(state), limits, closing).await;
    Ok(())
}

/// Every few seconds, until the server stops: see [`Metrics::run_upkeep`].
async fn metrics_upkeep(state: Arc<AppState>) {
    let mut closing = state.closing.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = closing.wait_for(|closing| *closing) => return,
        }
        state.metrics.run_upkeep();
    }
}

/// After a burst of uploads (receiving or in the pipeline) has passed,
/// hands the allocator's free memory back to the system: glibc keeps what
/// its per-thread arenas freed, so RSS would stay at the burst's peak.
async fn give_back_memory_after_bursts(state: Arc<AppState>) {
    let max_receiving = state.intake.config().server.max_receiving.max(1);
    let mut was_busy = false;
    let mut closing = state.closing.subscribe();
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = closing.wait_for(|closing| *closing) => return,
        }
        let busy =
            state.receiving.available_permits() < max_receiving || state.intake.in_flight() > 0;
        if was_busy && !busy {
            let _ = tokio::task::spawn_blocking(trim_allocator).await;
        }
        was_busy = busy;
    }
}

fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
