//! The HTTP endpoints (see the [module docs](super) for the contract).

use crate::error::Error;
use crate::serve::error::ApiError;
use crate::serve::key::ViewKey;
use crate::serve::snapshot::{KeyRows, Snapshot, StepChanges, SubscribeError};
use crate::serve::{Shared, format_of_content_type, lock};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// The default wait of a `min_offset` read.
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// The longest wait of a `min_offset` read.
const MAX_TIMEOUT_MS: u64 = 60_000;
/// How often an idle subscription gets a progress line.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

type AppState = Arc<Shared>;
type Answer = Result<Response, ApiError>;

/// The router of every endpoint.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/events", post(post_events))
        .route("/v1/view", get(get_view))
        .route("/v1/view/key/{*key}", get(get_key))
        .route("/v1/changes", get(get_changes))
        .route("/v1/health", get(get_health))
        .route("/v1/plan", get(get_plan))
        .route("/v1/batch", post(post_batch))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no endpoint {}: see /v1/view, /v1/view/key/{{key}}, /v1/events, /v1/changes, /v1/health, /v1/plan",
        uri.path()
    ))
}

async fn method_not_allowed(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take this method", uri.path()),
    )
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// A request's query parameters, each known to the endpoint and given once.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut params = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)?;
            let value = percent_decode(value)?;
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{name}`: this endpoint takes {}",
                    allowed.join(", ")
                )));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(ApiError::bad_request(format!(
                    "parameter `{name}` given twice"
                )));
            }
        }
        Ok(Params(params))
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.text(name)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "`{name}` must be a non-negative integer, found `{text}`"
                    ))
                })
            })
            .transpose()
    }

    fn key(&self, name: &str) -> Result<Option<ViewKey>, ApiError> {
        self.text(name)
            .map(|text| {
                ViewKey::parse(text).map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))
            })
            .transpose()
    }
}

/// Decodes `%XX` escapes and `+` (a space) in a query component or path.
pub(crate) fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::bad_request(format!("bad %-escape in `{text}`")))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not UTF-8 once decoded")))
}

// ---------------------------------------------------------------------------------------------
// Choosing the snapshot

/// The snapshot a read answers from: the cursor's, `as_of`'s, the first that covers `min_offset`
/// (waiting up to `timeout_ms`), or the current one.
async fn choose(
    shared: &Shared,
    params: &Params,
    cursor: Option<&Cursor>,
) -> Result<Arc<Snapshot>, ApiError> {
    if let Some(failure) = lock(&shared.failure).clone() {
        return Err(ApiError::unavailable(format!(
            "the pipeline stopped: {failure}"
        )));
    }
    let as_of = params.number("as_of")?;
    let min_offset = params.number("min_offset")?;
    let timeout = params.number("timeout_ms")?;
    if cursor.is_some() && (as_of.is_some() || min_offset.is_some()) {
        return Err(ApiError::bad_request(
            "a cursor names its snapshot: drop `as_of` and `min_offset` when paging",
        ));
    }
    if as_of.is_some() && min_offset.is_some() {
        return Err(ApiError::bad_request(
            "give `as_of` or `min_offset`, not both",
        ));
    }
    if timeout.is_some() && min_offset.is_none() {
        return Err(ApiError::bad_request("`timeout_ms` goes with `min_offset`"));
    }
    if let Some(cursor) = cursor {
        // The lock is released before `gone` takes it again.
        let found = lock(&shared.retained).exact(cursor.offset);
        return found.ok_or_else(|| {
            gone(
                shared,
                format!(
                    "the cursor's snapshot at offset {} is no longer retained: start again without a cursor",
                    cursor.offset
                ),
            )
        });
    }
    if let Some(as_of) = as_of {
        let found = lock(&shared.retained).at(as_of);
        return found.ok_or_else(|| {
            gone(
                shared,
                format!("no snapshot at or before offset {as_of} is retained"),
            )
        });
    }
    if let Some(min_offset) = min_offset {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout > MAX_TIMEOUT_MS {
            return Err(ApiError::bad_request(format!(
                "`timeout_ms` is at most {MAX_TIMEOUT_MS}"
            )));
        }
        let mut current = shared.current.subscribe();
        let waited = tokio::time::timeout(
            Duration::from_millis(timeout),
            current.wait_for(|s| s.offset >= min_offset),
        )
        .await;
        return match waited {
            Ok(Ok(snapshot)) => Ok(Arc::clone(&snapshot)),
            _ => {
                let offset = shared.latest().offset;
                Err(ApiError::unavailable(format!(
                    "the view covers offset {offset}, not yet {min_offset}, after {timeout} ms: try again"
                ))
                .with("offset", offset))
            }
        };
    }
    Ok(shared.latest())
}

fn gone(shared: &Shared, detail: String) -> ApiError {
    let span = lock(&shared.retained).span();
    let mut error = ApiError::gone(detail);
    if let Some((from, to)) = span {
        error = error.with("retained_from", from).with("retained_to", to);
    }
    error
}

// ---------------------------------------------------------------------------------------------
// Cursors

/// A page's cursor: the snapshot's offset, the filters it was opened with, and the last key read.
struct Cursor {
    offset: u64,
    filters: u64,
    after: ViewKey,
}

impl Cursor {
    fn encode(&self) -> String {
        let hex: String = self
            .after
            .to_text()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}.{:016x}.{hex}", self.offset, self.filters)
    }

    fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::bad_request(format!("`{text}` is not a cursor of this server"));
        let mut parts = text.split('.');
        let (Some(offset), Some(filters), Some(hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let offset = offset.parse().map_err(|_| bad())?;
        let filters = u64::from_str_radix(filters, 16).map_err(|_| bad())?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(bad());
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let after = ViewKey::parse(&text).map_err(|_| bad())?;
        Ok(Cursor {
            offset,
            filters,
            after,
        })
    }
}

/// A hash of the filters of a paged read, so that a cursor is not reused with other filters.
fn filters_hash(params: &Params) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for name in ["prefix", "from", "to", "from_time", "to_time", "limit"] {
        for byte in name
            .bytes()
            .chain([0])
            .chain(params.text(name).unwrap_or("\u{1}").bytes())
            .chain([0])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

// ---------------------------------------------------------------------------------------------
// Answers

/// The envelope of a read: pipeline, version, architecture, offset, watermark, boundary.
fn envelope(shared: &Shared, snapshot: &Snapshot, out: &mut String) {
    let _ = write!(
        out,
        "{{\"pipeline\":{},\"version\":{},\"architecture\":\"{}\",\"offset\":{},\"watermark\":{},\"boundary\":{}",
        Value::from(shared.pipeline),
        Value::from(shared.version.as_str()),
        shared.architecture.as_str(),
        snapshot.offset,
        opt(snapshot.watermark),
        opt(snapshot.boundary),
    );
}

fn opt(value: Option<u64>) -> String {
    value.map_or_else(|| "null".into(), |v| v.to_string())
}

/// Whether a row's window is final at `snapshot`'s watermark.
fn is_final(shared: &Shared, snapshot: &Snapshot, rows: &KeyRows) -> bool {
    match (rows.window, snapshot.watermark) {
        (Some((_, end)), Some(watermark)) => end.saturating_add(shared.lateness) <= watermark,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Writes `"rows":[..]` (and `"open":[..]` for event-time pipelines) for the rows of `keys`.
fn write_rows<'a>(
    shared: &Shared,
    snapshot: &Snapshot,
    keys: impl Iterator<Item = &'a Arc<KeyRows>>,
    out: &mut String,
) {
    out.push_str(",\"rows\":[");
    let mut open = Vec::new();
    let mut index = 0usize;
    for rows in keys {
        let final_ = is_final(shared, snapshot, rows);
        for (record, n) in &rows.records {
            for _ in 0..*n {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(record);
                if !final_ {
                    open.push(index);
                }
                index += 1;
            }
        }
    }
    out.push(']');
    if shared.event_time {
        let _ = write!(out, ",\"open\":{}", Value::from(open));
    }
}

const VIEW_PARAMS: &[&str] = &[
    "limit",
    "cursor",
    "prefix",
    "from",
    "to",
    "from_time",
    "to_time",
    "min_offset",
    "timeout_ms",
    "as_of",
];

async fn get_view(State(shared): State<AppState>, RawQuery(raw): RawQuery) -> Answer {
    let params = Params::parse(raw.as_deref(), VIEW_PARAMS)?;
    let limit = params.number("limit")?;
    if limit == Some(0) {
        return Err(ApiError::bad_request("`limit` must be at least 1"));
    }
    let cursor = params.text("cursor").map(Cursor::decode).transpose()?;
    let filters = filters_hash(&params);
    if let Some(cursor) = &cursor
        && cursor.filters != filters
    {
        return Err(ApiError::bad_request(
            "the cursor was opened with other filters (prefix, from, to, from_time, to_time, limit): give the same ones",
        ));
    }
    let from = params.key("from")?;
    let to = params.key("to")?;
    let prefix = params.text("prefix");
    let from_time = params.number("from_time")?;
    let to_time = params.number("to_time")?;
    if (from_time.is_some() || to_time.is_some()) && !shared.event_time {
        return Err(ApiError::bad_request(
            "`from_time` and `to_time` select windows: this pipeline has no event time",
        ));
    }
    let snapshot = choose(&shared, &params, cursor.as_ref()).await?;
    let lower = match (&cursor, &from) {
        (Some(cursor), _) => Bound::Excluded(cursor.after.clone()),
        (None, Some(from)) => Bound::Included(from.clone()),
        (None, None) => Bound::Unbounded,
    };
    let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
    if let (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) = (&lower, &upper)
        && l >= u
    {
        // An empty range (BTreeMap::range panics on a reversed one).
        return Ok(view_answer(&shared, &snapshot, Vec::new(), None));
    }
    let (from_time, to_time) = (from_time.unwrap_or(0), to_time.unwrap_or(u64::MAX));
    let selected = snapshot.rows.range((lower, upper)).filter(|(key, rows)| {
        prefix.is_none_or(|p| key.to_text().starts_with(p))
            && rows
                .window
                .is_none_or(|(start, end)| end > from_time && start < to_time)
    });
    let mut page = Vec::new();
    let mut next = None;
    for (key, rows) in selected {
        if limit.is_some_and(|limit| page.len() as u64 == limit) {
            let last: &ViewKey = page.last().map(|(k, _)| k).unwrap_or(key);
            next = Some(Cursor {
                offset: snapshot.offset,
                filters,
                after: last.clone(),
            });
            break;
        }
        page.push((key.clone(), Arc::clone(rows)));
    }
    if next.is_some() {
        lock(&shared.retained).pin(&snapshot);
    }
    Ok(view_answer(&shared, &snapshot, page, next))
}

fn view_answer(
    shared: &Shared,
    snapshot: &Snapshot,
    page: Vec<(ViewKey, Arc<KeyRows>)>,
    next: Option<Cursor>,
) -> Response {
    let mut out = String::with_capacity(64 + page.len() * 96);
    envelope(shared, snapshot, &mut out);
    write_rows(
        shared,
        snapshot,
        page.iter().map(|(_, rows)| rows),
        &mut out,
    );
    let next = next.map_or(Value::Null, |c| Value::from(c.encode()));
    let _ = write!(out, ",\"next\":{next}}}");
    json_response(StatusCode::OK, out)
}

async fn get_key(State(shared): State<AppState>, uri: Uri, RawQuery(raw): RawQuery) -> Answer {
    let params = Params::parse(raw.as_deref(), &["min_offset", "timeout_ms", "as_of"])?;
    let text = uri
        .path()
        .strip_prefix("/v1/view/key/")
        .ok_or_else(|| ApiError::not_found("no such key path"))?;
    let text = percent_decode(text)?;
    let key = ViewKey::parse(&text).map_err(|e| ApiError::bad_request(format!("the key: {e}")))?;
    let snapshot = choose(&shared, &params, None).await?;
    let Some(rows) = snapshot.rows.get(&key) else {
        return Err(ApiError::not_found(format!(
            "no row with key `{}` at offset {}",
            key.to_text(),
            snapshot.offset
        ))
        .with("offset", snapshot.offset)
        .with("key", key.to_text()));
    };
    let mut out = String::with_capacity(256);
    envelope(&shared, &snapshot, &mut out);
    let _ = write!(out, ",\"key\":{}", Value::from(key.to_text()));
    write_rows(&shared, &snapshot, std::iter::once(rows), &mut out);
    out.push('}');
    Ok(json_response(StatusCode::OK, out))
}

async fn post_events(State(shared): State<AppState>, headers: HeaderMap, body: Body) -> Answer {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = format_of_content_type(content_type).ok_or_else(|| {
        ApiError::unsupported(format!(
            "Content-Type `{content_type}`: post records as application/x-ndjson (JSON Lines) or text/csv (with its header line)"
        ))
    })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.max_body as u64) {
        return Err(ApiError::too_large(shared.max_body));
    }
    let bytes: Bytes = axum::body::to_bytes(body, shared.max_body)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::too_large(shared.max_body)
            } else {
                ApiError::bad_request(format!("the body could not be read: {e}"))
            }
        })?;
    let poster = Arc::clone(&shared);
    let posted = tokio::task::spawn_blocking(move || (poster.post)(bytes.to_vec(), format))
        .await
        .map_err(|e| ApiError::internal(format!("the post failed: {e}")))?;
    match posted {
        Ok(posted) => {
            let body =
                serde_json::to_string(&posted).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json_response(StatusCode::OK, body))
        }
        Err(Error::Usage(detail)) => Err(ApiError::bad_request(detail)),
        Err(e) => Err(ApiError::internal(format!(
            "appending to the log failed: {e}"
        ))),
    }
}

async fn get_health(State(shared): State<AppState>, RawQuery(raw): RawQuery) -> Answer {
    Params::parse(raw.as_deref(), &[])?;
    let snapshot = shared.latest();
    let head_shared = Arc::clone(&shared);
    let head = tokio::task::spawn_blocking(move || (head_shared.head)())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let (subscribers, dropped) = lock(&shared.hub).subscribers();
    let retained = lock(&shared.retained).span();
    let failure = lock(&shared.failure).clone();
    let body = json!({
        "status": if failure.is_some() { "failed" } else { "serving" },
        "error": failure,
        "pipeline": shared.pipeline,
        "version": shared.version,
        "architecture": shared.architecture.as_str(),
        "offset": snapshot.offset,
        "head": head,
        "boundary": snapshot.boundary,
        "watermark": snapshot.watermark,
        "keys": snapshot.rows.len(),
        "late_records": shared.late.load(Ordering::Relaxed),
        "subscribers": subscribers,
        "dropped_subscribers": dropped,
        "retained": retained.map(|(from, to)| json!({"from": from, "to": to})),
    });
    let status = if failure.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, body.to_string()))
}

async fn get_plan(State(shared): State<AppState>, RawQuery(raw): RawQuery) -> Answer {
    Params::parse(raw.as_deref(), &[])?;
    Ok(json_response(StatusCode::OK, shared.plan.to_string()))
}

async fn post_batch(State(shared): State<AppState>, RawQuery(raw): RawQuery) -> Answer {
    Params::parse(raw.as_deref(), &[])?;
    let Some(batch) = &shared.batch else {
        return Err(ApiError::bad_request(
            "this server runs the Kappa architecture, which has no batch layer: start it with --architecture lambda or batch",
        ));
    };
    lock(batch)
        .send(())
        .map_err(|_| ApiError::unavailable("the batch layer has stopped"))?;
    let snapshot = shared.latest();
    let body = json!({"requested": true, "offset": snapshot.offset, "boundary": snapshot.boundary});
    Ok(json_response(StatusCode::ACCEPTED, body.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Changes

async fn get_changes(State(shared): State<AppState>, RawQuery(raw): RawQuery) -> Answer {
    let params = Params::parse(raw.as_deref(), &["from_offset"])?;
    let from_offset = params.number("from_offset")?.unwrap_or(0);
    let subscription = lock(&shared.hub)
        .subscribe(from_offset)
        .map_err(|SubscribeError::Gone { kept_from }| {
            ApiError::gone(format!(
                "changes before offset {kept_from} are no longer kept: subscribe from offset 0 (the current rows, then every change) or from {kept_from} on"
            ))
            .with("kept_from", kept_from)
        })?;
    let state = Feed {
        shared,
        backlog: subscription.backlog.into(),
        receiver: subscription.receiver,
        from_offset,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut feed| async move {
        let chunk = feed.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(chunk), feed))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One subscriber's stream: the backlog, then what the hub sends, with progress lines.
struct Feed {
    shared: Arc<Shared>,
    backlog: VecDeque<Arc<StepChanges>>,
    receiver: mpsc::Receiver<Arc<StepChanges>>,
    from_offset: u64,
    done: bool,
}

impl Feed {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if let Some(step) = self.backlog.pop_front() {
            return Some(step_lines(&step, self.from_offset));
        }
        match tokio::time::timeout(PROGRESS_EVERY, self.receiver.recv()).await {
            Ok(Some(step)) => Some(step_lines(&step, self.from_offset)),
            Ok(None) => {
                self.done = true;
                if self.shared.stop.load(Ordering::SeqCst) {
                    return None;
                }
                let line = ApiError::unavailable(
                    "this subscriber fell behind by more than its buffer and was dropped: subscribe again from the last offset read",
                )
                .body();
                Some(Bytes::from(format!("{line}\n")))
            }
            Err(_) => {
                let snapshot = self.shared.latest();
                Some(Bytes::from(progress_line(
                    snapshot.offset,
                    snapshot.watermark,
                )))
            }
        }
    }
}

fn progress_line(offset: u64, watermark: Option<u64>) -> String {
    format!(
        "{{\"progress\":{{\"offset\":{offset},\"watermark\":{}}}}}\n",
        opt(watermark)
    )
}

/// A step's changes as NDJSON lines, then its progress line.
fn step_lines(step: &StepChanges, from_offset: u64) -> Bytes {
    let mut out = String::new();
    if step.to > from_offset {
        for change in &step.changes {
            let _ = writeln!(
                out,
                "{{\"record\":{},\"diff\":{},\"offset\":{}}}",
                change.record, change.diff, step.to
            );
        }
    }
    out.push_str(&progress_line(step.to, step.watermark));
    Bytes::from(out)
}
