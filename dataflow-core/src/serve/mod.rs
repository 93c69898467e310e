//! The serving layer: a running pipeline's output, queryable over HTTP while the log grows, in the
//! Kappa architecture (one pipeline follows the log) or the Lambda architecture (a batch layer, a
//! speed layer and a serving layer that merges them), both from the same `#[pipeline]`.
//!
//! [`serve`] replays the log into the pipeline, follows its tail, keeps the output as a view and
//! answers HTTP/JSON on the address it binds ([`Server::local_addr`]). The command line's `serve`
//! subcommand (`<example> serve --log DIR --listen 127.0.0.1:8080`) runs it.
//!
//! # Endpoints
//!
//! | endpoint | answer |
//! |---|---|
//! | `POST /v1/events` | appends the body's records (`Content-Type: application/x-ndjson` or `text/csv` with its header) to the log: `{"appended", "from", "to", "dead_lettered", "errors": [{"line", "reason"}]}`; malformed records are never appended |
//! | `GET /v1/view` | `{"pipeline", "version", "offset", "watermark", "boundary", "rows", "next"}`: the output sorted by key, each row an output record as `--output` writes it |
//! | `GET /v1/view/key/{key}` | the rows of one key (its textual form: [`key`]) |
//! | `GET /v1/changes?from_offset=N` | NDJSON: `{"record", "diff", "offset"}` per change, `{"progress": {"offset", "watermark"}}` after every step and every second |
//! | `GET /v1/health` | the offset covered, the log's head, subscribers, late records, the architecture |
//! | `GET /v1/plan` | the plan as JSON, its version, the view key and whether the plan is mergeable |
//! | `POST /v1/batch` | Lambda and batch: recompute the batch view now |
//! | `GET /metrics` | the server's metrics in the Prometheus text format ([`crate::observe::Metrics`]) |
//! | `GET /` | the dashboard: the plan, live rates and watermark lag, dead-letter and late counts, the view with a search over its key, and in Lambda the boundary and the speed layer's size |
//! | `GET /v1/stats` | what the dashboard polls: [`crate::observe::Stats`] as JSON |
//! | `GET /v1/plan.svg` | the plan as an SVG picture |
//!
//! Parameters of `/v1/view` (and, where they apply, of `/v1/view/key/{key}`):
//!
//! * `limit=N&cursor=C`: pages of at most `N` rows. `next` is the cursor of the next page (`null` on
//!   the last one). A cursor names the snapshot its first page was read from: every page of it comes
//!   from that one offset, for the retention period (then `410 Gone`).
//! * `prefix=P`: the keys whose textual form starts with `P`; `from=K&to=K`: the keys in `[from, to)`.
//! * `from_time=MS&to_time=MS` (windowed outputs): the rows whose window overlaps `[from_time,
//!   to_time)`. Windowed answers carry `"open": [i, ..]`, the indices of the rows whose window is
//!   still open (realtime: it may still change); every other row's window is final (the watermark
//!   has passed its end plus the lateness).
//! * `min_offset=N&timeout_ms=T`: read your writes: wait up to `T` ms (default 5000, at most 60000)
//!   until the view covers offset `N` (a post's `to`), else `503` with the current `offset`.
//! * `as_of=N`: the newest retained snapshot at or before offset `N` (the answer's `offset` says
//!   which), or `410 Gone` when none that old is retained.
//!
//! Errors are `{"error", "detail"}` with status 400 (bad parameter, cursor or key), 404 (unknown
//! path or key), 405, 410, 413 (body over `max_body`), 415 (content type), 503.
//!
//! # Consistency
//!
//! After every step the driver publishes an immutable [`Snapshot`] of the view at the offset the step
//! covers. Every answer is read from one snapshot, so it reflects exactly the records before its
//! `offset`. Up to the last [`Retention::max`] snapshots are retained, each for at most
//! [`Retention::period`] (by default 64 snapshots, 60 s; the newest is always kept), and a snapshot a
//! cursor names is kept for the period after each page.
//!
//! A subscriber to `/v1/changes` gets a bounded buffer of steps ([`ServeOptions::subscriber_buffer`]);
//! one that does not read is dropped (its stream ends) and never holds up the pipeline. The recent
//! steps' changes are kept ([`ServeOptions::history`] changes) so a subscription can start at an
//! earlier offset; from offset 0 after they are gone, it starts with the current rows.
//!
//! # Lambda
//!
//! With [`Architecture::Lambda`], the batch layer recomputes the pipeline with the batch runner over
//! the log prefix `[0, B)` (every [`ServeOptions::batch_every`], or on `POST /v1/batch`), the speed
//! layer runs the same pipeline over `[B, head)`, and every answer merges both, reporting `offset`
//! and `boundary` `B`. A new batch view at `B'` is switched to atomically, together with a speed
//! layer from `B'` that has caught up. The merge is exact for plans whose output is a mergeable
//! aggregate ([`crate::plan::Plan::mergeability`]); other plans are refused with the reason.
//!
//! # Batch
//!
//! With [`Architecture::Batch`], the batch runner recomputes the whole view over `[0, B)` at start,
//! every [`ServeOptions::batch_every`] and on `POST /v1/batch`; every answer is the latest batch
//! view, at `offset` = `boundary` = `B`. Records appended since are stored but in no answer until the
//! next recompute (a read with `min_offset` past `B` waits for it). Any plan can be served this way.

//!
//! # Examples
//!
//! ```
//! use dataflow_core::kappa::{EventLog, LogOptions, Schema};
//! use dataflow_core::log::Log;
//! use dataflow_core::prelude::*;
//! use dataflow_core::serve::{self, ServeOptions, ViewKey};
//!
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! pub struct Click { user: String }
//! impl Schema for Click {
//!     const VERSION: u32 = 1;
//! }
//!
//! /// Clicks per user; a row of the view is identified by its user.
//! #[pipeline(key(user))]
//! pub fn clicks(clicks: Stream<Click>) -> Stream<PerUser> {
//!     clicks.key(|c| c.user.clone()).count().map(|(user, clicks)| PerUser { user, clicks })
//! }
//! #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
//! pub struct PerUser { user: String, clicks: u64 }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
//! // Port 0: any free port on the loopback interface; `server.local_addr()` says which.
//! let server = serve::serve::<Clicks, Click, _>(Runner::new(), log.clone(), ServeOptions::default())?;
//! let users = ["ann", "bob", "ann"].map(|user| (0, Click { user: user.into() }));
//! Log::append(&log, &users)?; // what `POST /v1/events` does with a body's records
//! let started = std::time::Instant::now();
//! while server.offset() < 3 && started.elapsed() < Duration::from_secs(30) {
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! // What `GET /v1/view/key/ann` answers from: one snapshot, at one offset.
//! let snapshot = server.snapshot();
//! assert_eq!(snapshot.offset, 3);
//! let ann = &snapshot.rows[&ViewKey::parse("ann").unwrap()];
//! assert_eq!(&*ann.records[0].0, r#"{"user":"ann","clicks":2}"#);
//! server.stop()?;
//! # Ok::<(), dataflow_core::Error>(())
//! ```

mod batch;
mod dashboard;
mod driver;
mod error;
mod events;
pub mod key;
mod lambda;
mod routes;
pub mod snapshot;

pub use error::ApiError;
pub use events::Posted;
pub use key::{Fields, KeyPart, ViewKey};
pub use snapshot::{KeyRows, Retention, RowChange, Snapshot};

use crate::error::Error;
use crate::io::Format;
use crate::log::{Log, Schema};
use crate::observe::Metrics;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::Runner;
use serde_json::Value;
use snapshot::{Hub, Retained, StepChanges};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
pub use cli::{ArchitectureArg, ServeArgs, run};

/// How the served view is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Architecture {
    /// One pipeline replays the log and follows its tail.
    #[default]
    Kappa,
    /// A batch layer over `[0, B)`, a speed layer over `[B, head)`, merged.
    Lambda,
    /// The batch runner recomputes the whole view over `[0, B)` at start, every
    /// [`ServeOptions::batch_every`] and on `POST /v1/batch`; answers are at offset `B`.
    Batch,
}

impl Architecture {
    /// Its name: `kappa`, `lambda` or `batch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Kappa => "kappa",
            Architecture::Lambda => "lambda",
            Architecture::Batch => "batch",
        }
    }
}

/// How [`serve`] runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address to listen on (port 0: any free port, see [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// Kappa, Lambda or batch.
    pub architecture: Architecture,
    /// Lambda and batch: recompute the batch view this often (besides `POST /v1/batch`).
    pub batch_every: Option<Duration>,
    /// Records per step of the pipeline.
    pub step: usize,
    /// How long the driver waits for new records before looking again.
    pub poll: Duration,
    /// Which snapshots stay readable.
    pub retention: Retention,
    /// The largest body `POST /v1/events` takes, in bytes.
    pub max_body: usize,
    /// Steps buffered per `/v1/changes` subscriber before it is dropped.
    pub subscriber_buffer: usize,
    /// Changes kept for subscriptions that start at an earlier offset.
    pub history: usize,
    /// Windowed outputs: a row's window is final once the watermark passed its end plus this.
    pub lateness: Duration,
    /// Threads answering HTTP.
    pub http_threads: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            architecture: Architecture::Kappa,
            batch_every: None,
            step: 10_000,
            poll: Duration::from_millis(50),
            retention: Retention::default(),
            max_body: 16 << 20,
            subscriber_buffer: 1024,
            history: 100_000,
            lateness: Duration::ZERO,
            http_threads: 2,
        }
    }
}

/// What the HTTP handlers share with the pipeline's driver.
pub(crate) struct Shared {
    pipeline: &'static str,
    version: String,
    plan: Value,
    architecture: Architecture,
    event_time: bool,
    lateness: u64,
    max_body: usize,
    current: watch::Sender<Arc<Snapshot>>,
    retained: Mutex<Retained>,
    hub: Mutex<Hub>,
    post: events::PostFn,
    head: Box<dyn Fn() -> u64 + Send + Sync>,
    batch: Option<Mutex<std::sync::mpsc::Sender<()>>>,
    failure: Mutex<Option<String>>,
    late: AtomicU64,
    stop: AtomicBool,
    /// What `/metrics` and the dashboard show.
    metrics: Arc<Metrics>,
}

impl Shared {
    /// Publishes a step's changes and the snapshot after it: retained first, so that an offset a
    /// reader sees as current can be read `as_of`.
    fn publish(&self, step: StepChanges, snapshot: Snapshot) {
        self.metrics
            .record_offset(snapshot.offset, step.changes.len() as u64);
        self.metrics.set_view(
            snapshot.rows.len() as u64,
            snapshot.boundary,
            snapshot.offset,
        );
        let snapshot = Arc::new(snapshot);
        lock(&self.retained).push(Arc::clone(&snapshot));
        lock(&self.hub).publish(Arc::new(step), Arc::clone(&snapshot));
        self.current.send_replace(snapshot);
    }

    /// The current snapshot.
    fn latest(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.borrow())
    }

    fn fail(&self, error: &Error) {
        tracing::error!("{}: serving failed: {error}", self.pipeline);
        *lock(&self.failure) = Some(error.to_string());
    }
}

/// Locks `mutex`, also after a panic elsewhere (the data are whole snapshots, never half-written).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running server: the pipeline's driver and the HTTP listener.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    driver: Option<JoinHandle<Result<(), Error>>>,
    batch: Option<JoinHandle<()>>,
    http: Option<JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The offset the served view covers.
    pub fn offset(&self) -> u64 {
        self.shared.latest().offset
    }

    /// The current snapshot of the view.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.latest()
    }

    /// The server's metrics, as `GET /metrics` answers them.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// The log's head.
    pub fn head(&self) -> u64 {
        (self.shared.head)()
    }

    /// A function telling the offset the view covers and the log's head, for a progress display
    /// on another thread.
    pub fn position(&self) -> impl Fn() -> (u64, u64) + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move || (shared.latest().offset, (shared.head)())
    }

    /// Waits until the pipeline's driver ends (an error, or [`Server::stop`] from another handle),
    /// then stops the listener.
    pub fn wait(mut self) -> Result<(), Error> {
        let result = self.join_driver();
        self.stop_rest();
        result
    }

    /// Stops the driver and the listener and returns the driver's error, if it failed.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shared.stop.store(true, Ordering::SeqCst);
        let result = self.join_driver();
        self.stop_rest();
        result
    }

    fn join_driver(&mut self) -> Result<(), Error> {
        match self.driver.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Source("the serving driver panicked".into())),
            None => Ok(()),
        }
    }

    fn stop_rest(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Ends every subscription stream.
        drop(std::mem::replace(
            &mut *lock(&self.shared.hub),
            Hub::new(0, 1),
        ));
        for handle in [self.http.take(), self.batch.take()].into_iter().flatten() {
            let _ = handle.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self.join_driver();
        self.stop_rest();
    }
}

/// The JSON of `/v1/plan` for `P`.
fn plan_json<P: Pipeline>() -> Value {
    let plan = P::plan();
    serde_json::json!({
        "pipeline": P::NAME,
        "version": P::version(),
        "view_key": P::VIEW_KEY,
        "mergeability": plan.mergeability(),
        "plan": plan,
    })
}

/// Serves `runner`'s pipeline over `log` as `options` say: binds the listener, starts the driver
/// (and, for Lambda, the batch layer) on background threads and returns at once.
///
/// Lambda is refused for a plan that is not mergeable, with the reason.
pub fn serve<P, I, L>(runner: Runner<P>, log: L, options: ServeOptions) -> Result<Server, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    if options.step == 0 {
        return Err(Error::Usage(
            "a serving step must take at least 1 record".into(),
        ));
    }
    if options.architecture == Architecture::Lambda {
        lambda::check_mergeable::<P>()?;
    }
    let listener = std::net::TcpListener::bind(options.listen)
        .map_err(|e| Error::io(options.listen.to_string(), e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io(options.listen.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io(options.listen.to_string(), e))?;
    let (batch_tx, batch_rx) = std::sync::mpsc::channel();
    let head_log = log.clone();
    let metrics = Arc::new(Metrics::new(
        P::NAME,
        &runner.version(),
        options.architecture.as_str(),
        P::EVENT_TIME,
    ));
    let runner = runner.metrics(Arc::clone(&metrics));
    let shared = Arc::new(Shared {
        pipeline: P::NAME,
        version: P::version(),
        plan: plan_json::<P>(),
        architecture: options.architecture,
        event_time: P::EVENT_TIME,
        lateness: u64::try_from(options.lateness.as_millis()).unwrap_or(u64::MAX),
        max_body: options.max_body,
        current: watch::Sender::new(Arc::new(Snapshot::default())),
        retained: Mutex::new(Retained::new(options.retention)),
        hub: Mutex::new(Hub::new(options.history, options.subscriber_buffer)),
        post: dashboard::counting_dead_letters(
            events::post_fn::<P, I, L>(log.clone()),
            Arc::clone(&metrics),
        ),
        head: Box::new(move || head_log.head()),
        batch: (options.architecture != Architecture::Kappa).then(|| Mutex::new(batch_tx.clone())),
        failure: Mutex::new(None),
        late: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        metrics,
    });
    lock(&shared.retained).push(shared.latest());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.http_threads.max(1))
        .thread_name("serve-http")
        .enable_all()
        .build()
        .map_err(|e| Error::Source(format!("cannot start the HTTP runtime: {e}")))?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = dashboard::observed(routes::router(Arc::clone(&shared)), &shared);
    dashboard::sample_history(Arc::clone(&shared));
    let http = std::thread::Builder::new()
        .name("serve-http".into())
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
            runtime.shutdown_timeout(Duration::from_secs(1));
        })
        .map_err(|e| Error::Source(format!("cannot start the HTTP thread: {e}")))?;

    let (driver, batch) = match options.architecture {
        Architecture::Kappa => {
            let shared = Arc::clone(&shared);
            let driver = spawn("serve-kappa", move || {
                let result = driver::drive_kappa::<P, I, L>(&runner, &log, &shared, &options);
                if let Err(e) = &result {
                    shared.fail(e);
                }
                result
            })?;
            (driver, None)
        }
        Architecture::Lambda => {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let batch = {
                let (shared, log, runner) = (Arc::clone(&shared), log.clone(), runner.clone());
                let every = options.batch_every;
                std::thread::Builder::new()
                    .name("serve-batch".into())
                    .spawn(move || {
                        lambda::batch_layer::<P, I, L>(
                            &runner, &log, &shared, batch_rx, every, ready_tx,
                        )
                    })
                    .map_err(|e| Error::Source(format!("cannot start the batch layer: {e}")))?
            };
            let shared = Arc::clone(&shared);
            let driver = spawn("serve-lambda", move || {
                let result =
                    lambda::drive_lambda::<P, I, L>(&runner, &log, &shared, &options, ready_rx);
                if let Err(e) = &result {
                    shared.fail(e);
                }
                result
            })?;
            drop(batch_tx);
            (driver, Some(batch))
        }
        Architecture::Batch => {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let batch = {
                let (shared, log, runner) = (Arc::clone(&shared), log.clone(), runner.clone());
                let every = options.batch_every;
                std::thread::Builder::new()
                    .name("serve-batch".into())
                    .spawn(move || {
                        lambda::batch_layer::<P, I, L>(
                            &runner, &log, &shared, batch_rx, every, ready_tx,
                        )
                    })
                    .map_err(|e| Error::Source(format!("cannot start the batch layer: {e}")))?
            };
            // The first batch view is computed at once: until then, nothing is served.
            let _ = batch_tx.send(());
            let shared = Arc::clone(&shared);
            let driver = spawn("serve-batch-view", move || {
                let result = batch::drive_batch::<P>(&runner, &shared, &options, ready_rx);
                if let Err(e) = &result {
                    shared.fail(e);
                }
                result
            })?;
            drop(batch_tx);
            (driver, Some(batch))
        }
    };
    Ok(Server {
        addr,
        shared,
        driver: Some(driver),
        batch,
        http: Some(http),
        shutdown: Some(shutdown),
    })
}

fn spawn(
    name: &str,
    f: impl FnOnce() -> Result<(), Error> + Send + 'static,
) -> Result<JoinHandle<Result<(), Error>>, Error> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| Error::Source(format!("cannot start {name}: {e}")))
}

/// The format a `Content-Type` names: `application/x-ndjson` (or `application/jsonl`,
/// `application/json-lines`) and `text/csv`, parameters such as `charset` aside.
pub fn format_of_content_type(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/x-jsonlines" => Some(Format::Jsonl),
        "text/csv" => Some(Format::Csv),
        _ => None,
    }
}
