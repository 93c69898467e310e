//! What a person and a scraper see of a running server: the dashboard page at `/` (plain HTML
//! and a small script, embedded in the binary), `/metrics` in the Prometheus text format, the
//! `/v1/stats` the page polls and the plan as a picture at `/v1/plan.svg`; and the layer that
//! counts and times every request.

use crate::observe::Metrics;
use crate::observe::exporter::metrics_response;
use crate::serve::Shared;
use crate::serve::error::ApiError;
use crate::serve::events::PostFn;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

/// The page.
const PAGE: &str = include_str!("dashboard.html");
/// Its script.
const SCRIPT: &str = include_str!("dashboard.js");

/// `router` with the dashboard's routes and `/metrics`, every request counted and timed.
pub(crate) fn observed(router: Router, shared: &Arc<Shared>) -> Router {
    let pages = Router::new()
        .route("/", get(get_page))
        .route("/dashboard.js", get(get_script))
        .route("/metrics", get(get_metrics))
        .route("/v1/stats", get(get_stats))
        .route("/v1/plan.svg", get(get_plan_svg))
        .with_state(Arc::clone(shared));
    router
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared.metrics),
            count_request,
        ))
}

/// Counts and times one request under its route.
async fn count_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |path| path.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(
        &endpoint,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Samples the chart's history once a second until the server stops.
pub(crate) fn sample_history(shared: Arc<Shared>) {
    let _ = std::thread::Builder::new()
        .name("serve-history".into())
        .spawn(move || {
            let mut next = Instant::now();
            while !shared.stop.load(std::sync::atomic::Ordering::Relaxed) {
                if Instant::now() >= next {
                    shared.metrics.sample_history();
                    next += std::time::Duration::from_secs(1);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
}

/// `post`, counting the records it dead-letters.
pub(crate) fn counting_dead_letters(post: PostFn, metrics: Arc<Metrics>) -> PostFn {
    Box::new(move |body, format| {
        let posted = post(body, format)?;
        metrics.add_dead_letters(posted.dead_lettered);
        Ok(posted)
    })
}

async fn get_page() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE,
    )
        .into_response()
}

async fn get_script() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// Brings the log's head up to date before a scrape: reading it may touch the disk.
async fn refresh_head(shared: &Arc<Shared>) -> Result<(), ApiError> {
    let head_shared = Arc::clone(shared);
    let head = tokio::task::spawn_blocking(move || (head_shared.head)())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    shared.metrics.set_head(head);
    Ok(())
}

async fn get_metrics(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    refresh_head(&shared).await?;
    Ok(metrics_response(&shared.metrics))
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    refresh_head(&shared).await?;
    let stats = shared.metrics.stats();
    let failure = crate::serve::lock(&shared.failure).clone();
    let body = json!({
        "pipeline": shared.pipeline,
        "version": shared.version,
        "architecture": shared.architecture.as_str(),
        "event_time": shared.event_time,
        "view_key": shared.plan.get("view_key"),
        "status": if failure.is_some() { "failed" } else { "serving" },
        "error": failure,
        "stats": stats,
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

async fn get_plan_svg(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let plan: crate::plan::Plan = serde_json::from_value(shared.plan["plan"].clone())
        .map_err(|e| ApiError::internal(format!("the plan cannot be read back: {e}")))?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "image/svg+xml")],
        crate::observe::plan_svg(&plan),
    )
        .into_response())
}
