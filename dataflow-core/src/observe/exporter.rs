//! `--metrics ADDR`: the run's [`Metrics`] at `GET /metrics` on their own small HTTP server, for
//! runs that have no server of their own (batch, stream, replay, ingest). `serve` answers
//! `/metrics` on its own listener.

use crate::error::Error;
use crate::observe::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The content type of the text format the metrics are written in.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The answer to `GET /metrics`.
pub(crate) fn metrics_response(metrics: &Metrics) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        metrics.encode(),
    )
        .into_response()
}

async fn get_metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    metrics_response(&metrics)
}

/// A running metrics endpoint; stopped when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves `metrics` at `http://ADDR/metrics` on a thread of its own (port 0: any free port,
    /// see [`MetricsServer::local_addr`]).
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<MetricsServer, Error> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::io(format!("--metrics {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(addr.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io(addr.to_string(), e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Source(format!("cannot start the metrics server: {e}")))?;
        let app = Router::new()
            .route("/metrics", get(get_metrics))
            .with_state(metrics);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| Error::Source(format!("cannot start the metrics thread: {e}")))?;
        tracing::info!("metrics on http://{addr}/metrics");
        Ok(MetricsServer {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
