//! The metrics of one run or one server, in the Prometheus text format (OpenMetrics 1.0, which
//! Prometheus scrapes): what the command line, the serving layer and timely's logging report.
//!
//! Every name starts with `dataflow_`. Counters end in `_total`.
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `dataflow_pipeline_info{pipeline, version, mode}` | info | what runs |
//! | `dataflow_input_records_total` | counter | records pushed into the pipeline (read and well-formed) |
//! | `dataflow_output_changes_total` | counter | output changes the pipeline emitted |
//! | `dataflow_steps_total` | counter | steps run |
//! | `dataflow_dead_letters_total` | counter | records that could not be read (the dead-letter output) |
//! | `dataflow_late_records_total` | counter | records too late for their window (the late output) |
//! | `dataflow_input_records_per_second` | gauge | input records per second over the last 5 s |
//! | `dataflow_input_bytes_read` | gauge | bytes of the input files read so far |
//! | `dataflow_watermark_milliseconds` | gauge | event-time pipelines: the watermark |
//! | `dataflow_newest_event_time_milliseconds` | gauge | event-time pipelines: the greatest event time seen |
//! | `dataflow_watermark_lag_milliseconds` | gauge | newest event time minus watermark |
//! | `dataflow_watermark_wall_clock_lag_milliseconds` | gauge | wall clock minus watermark |
//! | `dataflow_log_head_offset` | gauge | the event log's head (the next offset to be appended) |
//! | `dataflow_log_offset_covered` | gauge | the offset the run (or the served view) has covered |
//! | `dataflow_view_keys` | gauge | `serve`: keys in the served view |
//! | `dataflow_lambda_boundary_offset` | gauge | `serve` in Lambda: the batch view's boundary |
//! | `dataflow_lambda_speed_layer_records` | gauge | `serve` in Lambda: records in the speed layer |
//! | `dataflow_http_requests_total{endpoint, status}` | counter | `serve`: requests answered |
//! | `dataflow_http_request_duration_seconds{endpoint}` | histogram | `serve`: time to answer |
//! | `dataflow_operator_busy_seconds_total{operator, stage, id, worker}` | counter | time each timely operator was scheduled |
//! | `dataflow_operator_records_in_total{..}` | counter | records each operator received |
//! | `dataflow_operator_records_out_total{..}` | counter | records each operator sent |
//! | `dataflow_arrangement_records{..}` | gauge | updates held by each differential arrangement |
//! | `dataflow_arrangement_batches{..}` | gauge | batches held by each differential arrangement |
//!
//! `operator` is the timely operator's name (a pipeline's operators are named `pipeline/#N stage`,
//! fused ones `pipeline/#N stage (fused)` after their first stage); `stage` is that `#N` (empty
//! for timely's and differential's own operators), `id` the operator's index in its worker.

use crate::observe::rate::Rate;
use prometheus_client::encoding::{EncodeLabelSet, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The labels of an operator's metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperatorLabels {
    /// The timely operator's name.
    pub operator: String,
    /// The plan stage it runs (`#N`), empty for timely's and differential's own operators.
    pub stage: String,
    /// Its index among the worker's operators.
    pub id: String,
    /// The worker's index.
    pub worker: String,
}

/// The labels of an HTTP request count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route (`/v1/view`, `/v1/view/key/{*key}`, ...), `other` for unknown paths.
    pub endpoint: String,
    /// The status code.
    pub status: String,
}

/// The label of an HTTP latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The route.
    pub endpoint: String,
}

type Seconds = Counter<f64, AtomicU64>;
type LatencyFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// The per-operator families, written by the logging hooks of every worker.
pub(crate) struct OperatorFamilies {
    pub(crate) busy_seconds: Family<OperatorLabels, Seconds>,
    pub(crate) records_in: Family<OperatorLabels, Counter>,
    pub(crate) records_out: Family<OperatorLabels, Counter>,
    pub(crate) arrangement_records: Family<OperatorLabels, Gauge>,
    pub(crate) arrangement_batches: Family<OperatorLabels, Gauge>,
}

/// The metrics of one run or server. Share it as `Arc<Metrics>`: every method takes `&self` and
/// is cheap (atomic adds), so the pipeline's driver, the HTTP threads and the timely workers all
/// write to it while a scrape reads it ([`Metrics::encode`]).
///
/// ```
/// use dataflow_core::observe::Metrics;
///
/// let metrics = Metrics::new("daily_sales", "16cb180ec7e960df", "stream", false);
/// metrics.record_step(40, 12);
/// metrics.add_dead_letters(3);
/// let text = metrics.encode();
/// assert!(text.contains("dataflow_input_records_total 40\n"));
/// assert!(text.contains("dataflow_dead_letters_total 3\n"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
pub struct Metrics {
    registry: Registry,
    event_time: bool,
    input_records: Counter,
    output_changes: Counter,
    steps: Counter,
    dead_letters: Counter,
    late_records: Counter,
    events_per_second: Gauge<f64, AtomicU64>,
    input_bytes: Gauge,
    watermark: Gauge,
    newest_event_time: Gauge,
    watermark_lag: Gauge,
    wall_clock_lag: Gauge,
    log_head: Gauge,
    offset_covered: Gauge,
    view_keys: Gauge,
    boundary: Gauge,
    speed_layer_records: Gauge,
    requests: Family<RequestLabels, Counter>,
    queries: AtomicU64,
    request_seconds: LatencyFamily,
    lambda: AtomicBool,
    pub(crate) operators: OperatorFamilies,
    rate: Mutex<Rate>,
    history: Mutex<std::collections::VecDeque<Point>>,
}

/// One point of the dashboard's chart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Point {
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// Input records per second then.
    pub events_per_second: f64,
    /// Newest event time minus watermark then, ms.
    pub watermark_lag_ms: u64,
}

/// Points kept for the chart: two minutes at one a second.
const HISTORY: usize = 120;

/// What the dashboard shows of a [`Metrics`], as `/v1/stats` serves it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Input records so far.
    pub input_records: u64,
    /// Input records per second over the last 5 s.
    pub events_per_second: f64,
    /// Dead-lettered records so far.
    pub dead_letters: u64,
    /// Late records so far.
    pub late_records: u64,
    /// The watermark, ms (event-time pipelines).
    pub watermark: Option<u64>,
    /// Newest event time minus watermark, ms (event-time pipelines).
    pub watermark_lag_ms: Option<u64>,
    /// Wall clock minus watermark, ms (event-time pipelines).
    pub wall_clock_lag_ms: Option<i64>,
    /// The log's head.
    pub log_head: u64,
    /// The offset covered.
    pub offset: u64,
    /// Keys in the served view.
    pub view_keys: u64,
    /// Lambda: the batch view's boundary.
    pub boundary: Option<u64>,
    /// Lambda: records in the speed layer.
    pub speed_layer_records: Option<u64>,
    /// Queries of the view answered (`/v1/view`, `/v1/view/key/..`).
    pub queries: u64,
    /// The last two minutes, one point a second (see [`Metrics::sample_history`]).
    pub history: Vec<Point>,
}

fn gauge_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Metrics {
    /// The metrics of pipeline `pipeline` at `version`, run in `mode` (`batch`, `stream`,
    /// `replay`, `ingest`, or `kappa` / `lambda` for `serve`); `event_time` says whether it has
    /// watermarks. Only the metrics that mean something for the mode are shown.
    pub fn new(pipeline: &str, version: &str, mode: &str, event_time: bool) -> Metrics {
        let mut registry = Registry::default();
        let info = Info::new(vec![
            ("pipeline".to_string(), pipeline.to_string()),
            ("version".to_string(), version.to_string()),
            ("mode".to_string(), mode.to_string()),
        ]);
        registry.register("dataflow_pipeline", "What runs", info);
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        // Gauges that mean nothing for this run are not shown: watermarks without event time,
        // log offsets without a log, the view outside `serve`, Lambda's outside Lambda.
        let serving = matches!(mode, "kappa" | "lambda" | "serve");
        let reads_files = matches!(mode, "batch" | "stream" | "ingest");
        let has_log = serving || matches!(mode, "replay" | "ingest");
        let lambda = mode == "lambda";
        let gauge_if = |shown: bool, registry: &mut Registry, name: &str, help: &str| {
            let gauge: Gauge = Gauge::default();
            if shown {
                registry.register(name, help, gauge.clone());
            }
            gauge
        };
        let r = &mut registry;
        let input_records = counter(
            r,
            "dataflow_input_records",
            "Records pushed into the pipeline",
        );
        let output_changes = counter(r, "dataflow_output_changes", "Output changes emitted");
        let steps = counter(r, "dataflow_steps", "Steps run");
        let dead_letters = counter(r, "dataflow_dead_letters", "Records that could not be read");
        let late_records = counter(
            r,
            "dataflow_late_records",
            "Records too late for their window",
        );
        let events_per_second = Gauge::<f64, AtomicU64>::default();
        r.register(
            "dataflow_input_records_per_second",
            "Input records per second over the last 5 s",
            events_per_second.clone(),
        );
        let input_bytes = gauge_if(
            reads_files,
            r,
            "dataflow_input_bytes_read",
            "Bytes of input files read",
        );
        let watermark = gauge_if(
            event_time,
            r,
            "dataflow_watermark_milliseconds",
            "The watermark",
        );
        let newest_event_time = gauge_if(
            event_time,
            r,
            "dataflow_newest_event_time_milliseconds",
            "The greatest event time seen",
        );
        let watermark_lag = gauge_if(
            event_time,
            r,
            "dataflow_watermark_lag_milliseconds",
            "Newest event time minus watermark",
        );
        let wall_clock_lag = gauge_if(
            event_time,
            r,
            "dataflow_watermark_wall_clock_lag_milliseconds",
            "Wall clock minus watermark",
        );
        let log_head = gauge_if(
            has_log,
            r,
            "dataflow_log_head_offset",
            "The event log's head",
        );
        let offset_covered = gauge_if(
            has_log,
            r,
            "dataflow_log_offset_covered",
            "The offset covered",
        );
        let view_keys = gauge_if(serving, r, "dataflow_view_keys", "Keys in the served view");
        let boundary = gauge_if(
            lambda,
            r,
            "dataflow_lambda_boundary_offset",
            "The batch view's boundary",
        );
        let speed_layer_records = gauge_if(
            lambda,
            r,
            "dataflow_lambda_speed_layer_records",
            "Records in the speed layer",
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_05, 2.0, 16)));
        if serving {
            r.register(
                "dataflow_http_requests",
                "HTTP requests answered",
                requests.clone(),
            );
            r.register(
                "dataflow_http_request_duration_seconds",
                "Time to answer an HTTP request",
                request_seconds.clone(),
            );
        }
        let operators = OperatorFamilies {
            busy_seconds: Family::default(),
            records_in: Family::default(),
            records_out: Family::default(),
            arrangement_records: Family::default(),
            arrangement_batches: Family::default(),
        };
        r.register(
            "dataflow_operator_busy_seconds",
            "Time the operator was scheduled",
            operators.busy_seconds.clone(),
        );
        r.register(
            "dataflow_operator_records_in",
            "Records the operator received",
            operators.records_in.clone(),
        );
        r.register(
            "dataflow_operator_records_out",
            "Records the operator sent",
            operators.records_out.clone(),
        );
        r.register(
            "dataflow_arrangement_records",
            "Updates held by the arrangement",
            operators.arrangement_records.clone(),
        );
        r.register(
            "dataflow_arrangement_batches",
            "Batches held by the arrangement",
            operators.arrangement_batches.clone(),
        );
        Metrics {
            registry,
            event_time,
            input_records,
            output_changes,
            steps,
            dead_letters,
            late_records,
            events_per_second,
            input_bytes,
            watermark,
            newest_event_time,
            watermark_lag,
            wall_clock_lag,
            log_head,
            offset_covered,
            view_keys,
            boundary,
            speed_layer_records,
            requests,
            queries: AtomicU64::new(0),
            request_seconds,
            lambda: AtomicBool::new(false),
            operators,
            rate: Mutex::new(Rate::new(Instant::now())),
            history: Mutex::new(std::collections::VecDeque::with_capacity(HISTORY)),
        }
    }

    /// A step ran: `records` records went in, `changes` output changes came out.
    pub fn record_step(&self, records: u64, changes: u64) {
        let before = self.input_records.get();
        lock(&self.rate).sample(Instant::now(), before);
        self.input_records.inc_by(records);
        self.output_changes.inc_by(changes);
        self.steps.inc();
    }

    /// The run now covers the log up to `offset` (the records before it went in), and the step
    /// that got it there gave `changes` output changes.
    pub fn record_offset(&self, offset: u64, changes: u64) {
        let before = u64::try_from(self.offset_covered.get()).unwrap_or(0);
        self.record_step(offset.saturating_sub(before), changes);
        self.set_offset(offset.max(before));
    }

    /// `count` more records were dead-lettered.
    pub fn add_dead_letters(&self, count: u64) {
        self.dead_letters.inc_by(count);
    }

    /// `count` more records were late.
    pub fn add_late(&self, count: u64) {
        self.late_records.inc_by(count);
    }

    /// Bytes of the input files read so far.
    pub fn set_bytes_read(&self, bytes: u64) {
        self.input_bytes.set(gauge_i64(bytes));
    }

    /// Event-time pipelines: the watermark and the greatest event time seen, ms.
    pub fn set_watermark(&self, watermark: u64, newest_event_time: Option<u64>) {
        if !self.event_time {
            return;
        }
        self.watermark.set(gauge_i64(watermark));
        if let Some(newest) = newest_event_time {
            self.newest_event_time.set(gauge_i64(newest));
            self.watermark_lag
                .set(gauge_i64(newest.saturating_sub(watermark)));
        }
    }

    /// The log's head and the offset covered.
    pub fn set_log(&self, head: u64, covered: u64) {
        self.log_head.set(gauge_i64(head));
        self.offset_covered.set(gauge_i64(covered));
    }

    /// The offset covered (the head unchanged).
    pub fn set_offset(&self, covered: u64) {
        self.offset_covered.set(gauge_i64(covered));
    }

    /// The log's head (the offset covered unchanged).
    pub fn set_head(&self, head: u64) {
        self.log_head.set(gauge_i64(head));
    }

    /// The served view: its keys, and in Lambda its boundary and the speed layer's records.
    pub fn set_view(&self, keys: u64, boundary: Option<u64>, offset: u64) {
        self.view_keys.set(gauge_i64(keys));
        if let Some(boundary) = boundary {
            self.lambda.store(true, Ordering::Relaxed);
            self.boundary.set(gauge_i64(boundary));
            self.speed_layer_records
                .set(gauge_i64(offset.saturating_sub(boundary)));
        }
    }

    /// An HTTP request to `endpoint` was answered with `status` in `seconds`.
    pub fn observe_request(&self, endpoint: &str, status: u16, seconds: f64) {
        if endpoint.starts_with("/v1/view") {
            self.queries.fetch_add(1, Ordering::Relaxed);
        }
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.request_seconds
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .observe(seconds);
    }

    /// Brings the gauges computed from others up to now: the rate and the wall-clock lag.
    fn refresh(&self) {
        let total = self.input_records.get();
        let rate = lock(&self.rate).per_second(Instant::now(), total);
        self.events_per_second.set(rate);
        if self.event_time && self.newest_event_time.get() > 0 {
            self.wall_clock_lag
                .set(now_millis().saturating_sub(self.watermark.get()));
        }
    }

    /// Every metric in the text format, ending with `# EOF`.
    pub fn encode(&self) -> String {
        self.refresh();
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = text::encode(&mut out, &self.registry);
        out
    }

    /// What the dashboard shows.
    pub fn stats(&self) -> Stats {
        self.refresh();
        let event_time = self.event_time && self.newest_event_time.get() > 0;
        let boundary = u64::try_from(self.boundary.get()).ok();
        let lambda = self.lambda.load(Ordering::Relaxed);
        Stats {
            input_records: self.input_records.get(),
            events_per_second: self.events_per_second.get(),
            dead_letters: self.dead_letters.get(),
            late_records: self.late_records.get(),
            watermark: event_time.then(|| self.watermark.get().max(0) as u64),
            watermark_lag_ms: event_time.then(|| self.watermark_lag.get().max(0) as u64),
            wall_clock_lag_ms: event_time.then(|| self.wall_clock_lag.get()),
            log_head: self.log_head.get().max(0) as u64,
            offset: self.offset_covered.get().max(0) as u64,
            view_keys: self.view_keys.get().max(0) as u64,
            boundary: boundary.filter(|_| lambda),
            speed_layer_records: lambda.then(|| self.speed_layer_records.get().max(0) as u64),
            queries: self.queries.load(Ordering::Relaxed),
            history: lock(&self.history).iter().copied().collect(),
        }
    }

    /// Adds a point to the chart's history (the last two minutes are kept); a server calls it
    /// once a second.
    pub fn sample_history(&self) {
        self.refresh();
        let point = Point {
            at: now_millis(),
            events_per_second: self.events_per_second.get(),
            watermark_lag_ms: self.watermark_lag.get().max(0) as u64,
        };
        let mut history = lock(&self.history);
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(point);
    }
}

/// Locks `mutex`, also after a panic elsewhere (a rate's samples are always whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("input_records", &self.input_records.get())
            .field("steps", &self.steps.get())
            .finish_non_exhaustive()
    }
}
