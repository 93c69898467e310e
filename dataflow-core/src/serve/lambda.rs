//! The Lambda architecture from one declaration: the batch layer recomputes the pipeline with the
//! batch runner over the log prefix `[0, B)`, the speed layer runs the same pipeline incrementally
//! over `[B, head)`, and the serving layer merges the two by the plan's [`Mergeability`].
//!
//! ```text
//!  log   0 ────────────────────── B ─────────────── offset ──▶
//!        └─ batch view (immutable) ┘└─ speed layer ──┘
//!  answer(k) = merge(batch[k], speed[k])             (sums and counts add, min/max pick)
//!
//!  new batch view at B' > B:  a speed layer from B' catches up to the current offset, then
//!  (batch B', speed from B') replaces (batch B, speed from B) in one publish
//! ```
//!
//! The merge is exact: sums and counts of integers add as integers, decimal numbers add digit by
//! digit (never through floating point), so the merged answer at every offset equals the Kappa
//! answer and the batch answer over `[0, offset)` (for event-time pipelines: when no record is late).

use crate::error::Error;
use crate::kappa::Replay;
use crate::log::{Log, Schema, Tail};
use crate::pipeline::Pipeline;
use crate::plan::{Merge, MergeField, MergeKind, Mergeability};
use crate::record::Record;
use crate::runtime::Runner;
use crate::serve::driver::{row_of, watermark_of};
use crate::serve::snapshot::{RowChange, StepChanges, Table};
use crate::serve::{ServeOptions, Shared};
use serde_json::Value;
use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Refuses Lambda for a plan whose output does not merge, saying why and naming Kappa.
pub(crate) fn check_mergeable<P: Pipeline>() -> Result<MergeKind, Error> {
    let verdict: Mergeability = P::plan().mergeability();
    match verdict.merge {
        Some(merge) if verdict.mergeable => Ok(merge),
        _ => Err(Error::Usage(format!(
            "--architecture lambda needs a mergeable plan, and this one is not: {}: {}. The batch \
             and speed layers' outputs would not combine into the exact answer; serve it with \
             --architecture kappa (the default), which runs one pipeline over the whole log",
            verdict.stage.as_deref().unwrap_or("the plan"),
            verdict.reason.as_deref().unwrap_or("it is not mergeable"),
        ))),
    }
}

/// A batch view: the batch runner's output over `[0, boundary)`.
pub(crate) struct BatchView<O> {
    pub(crate) boundary: u64,
    pub(crate) records: Vec<(O, isize)>,
    pub(crate) max_event_time: Option<u64>,
}

/// The batch layer: recomputes the batch view over `[0, head)` every `every` and whenever
/// triggered, and hands each to the serving layer, until the server stops.
pub(crate) fn batch_layer<P, I, L>(
    runner: &Runner<P>,
    log: &L,
    shared: &Shared,
    trigger: Receiver<()>,
    every: Option<Duration>,
    ready: Sender<BatchView<P::Output>>,
) where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    let tick = Duration::from_millis(50);
    let mut last = Instant::now();
    let mut boundary = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        let due = match trigger.recv_timeout(tick) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => every.is_some_and(|every| last.elapsed() >= every),
            Err(RecvTimeoutError::Disconnected) => every.is_some_and(|every| {
                std::thread::sleep(tick);
                last.elapsed() >= every
            }),
        };
        if !due {
            continue;
        }
        last = Instant::now();
        let head = log.head();
        if head <= boundary {
            continue;
        }
        match batch_view::<P, I, L>(runner, log, head) {
            Ok(view) => {
                boundary = head;
                if ready.send(view).is_err() {
                    return;
                }
            }
            Err(e) => {
                shared.fail(&e);
                return;
            }
        }
    }
}

/// The batch runner's output over `[0, head)` of `log`.
fn batch_view<P, I, L>(
    runner: &Runner<P>,
    log: &L,
    head: u64,
) -> Result<BatchView<P::Output>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    let mut tail = log.tail::<I>(0)?;
    let mut records = Vec::new();
    while tail.position() < head {
        let want = usize::try_from(head - tail.position()).unwrap_or(usize::MAX);
        if tail.read(want, &mut records)? == 0 {
            return Err(Error::Source(format!(
                "the log {} ends at offset {} before its head {head}",
                log.name(),
                tail.position()
            )));
        }
    }
    let batch = (records,);
    let max_event_time = P::max_event_time(&batch);
    let mut output = runner.batch(batch)?;
    // The view is matched against the speed layer in sorted order.
    output.sort();
    Ok(BatchView {
        boundary: head,
        records: output.records,
        max_event_time,
    })
}

/// The key records of both layers are matched by: the merge's key fields (or the whole record for
/// a stateless pipeline), as JSON text.
type MergeKey = String;

/// One layer's records by merge key.
type Layer<O> = BTreeMap<MergeKey, Vec<(O, isize)>>;

/// The serving layer's state: the batch view, the speed layer over `[boundary, ..)` and their
/// merge, published as the view's table.
struct Lambda<'a, P: Pipeline, I: Schema + 'static, L: Log> {
    runner: &'a Runner<P>,
    log: &'a L,
    options: &'a ServeOptions,
    merge: MergeKind,
    boundary: u64,
    batch: Layer<P::Output>,
    batch_event_time: Option<u64>,
    speed: Replay<P, I, L>,
    speed_layer: Layer<P::Output>,
    merged: BTreeMap<MergeKey, Vec<RowChange>>,
    table: Table,
}

/// Runs the speed layer from offset 0 and follows the tail; switches to each batch view the batch
/// layer hands over; publishes the merged view after every step and every switch.
pub(crate) fn drive_lambda<P, I, L>(
    runner: &Runner<P>,
    log: &L,
    shared: &Shared,
    options: &ServeOptions,
    ready: Receiver<BatchView<P::Output>>,
) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    let merge = check_mergeable::<P>()?;
    let mut lambda = Lambda {
        runner,
        log,
        options,
        merge,
        boundary: 0,
        batch: BTreeMap::new(),
        batch_event_time: None,
        speed: Replay::<P, I, L>::start(runner, log, 0, options.step)?,
        speed_layer: BTreeMap::new(),
        merged: BTreeMap::new(),
        table: Table::default(),
    };
    while !shared.stop.load(Ordering::SeqCst) {
        if let Some(view) = ready.try_iter().last() {
            let (from, changes) = lambda.switch(view)?;
            lambda.publish(shared, from, changes);
        }
        let step = match lambda.speed.step()? {
            Some(step) => step,
            None => match lambda.speed.follow(options.poll)? {
                Some(step) => step,
                None => continue,
            },
        };
        let late = lambda.speed.running().take_late().len() as u64;
        shared.late.fetch_add(late, Ordering::Relaxed);
        shared.metrics.add_late(late);
        let running = lambda.speed.running();
        shared
            .metrics
            .set_watermark(running.watermark(), running.max_event_time());
        let mut touched = BTreeSet::new();
        for change in &step.changes {
            let key = lambda.merge_key(&change.record)?;
            add(
                &mut lambda.speed_layer,
                key.clone(),
                change.record.clone(),
                change.diff,
            );
            touched.insert(key);
        }
        let changes = lambda.remerge(touched)?;
        lambda.publish(shared, step.from, changes);
    }
    Ok(())
}

/// Adds `diff` of `record` to `layer` under `key`.
fn add<O: PartialEq>(layer: &mut Layer<O>, key: MergeKey, record: O, diff: isize) {
    let records = layer.entry(key.clone()).or_default();
    match records.iter_mut().find(|(r, _)| *r == record) {
        Some((_, n)) => *n += diff,
        None => records.push((record, diff)),
    }
    records.retain(|(_, n)| *n != 0);
    if records.is_empty() {
        layer.remove(&key);
    }
}

impl<P, I, L> Lambda<'_, P, I, L>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log<Position = u64>,
{
    fn merge_key(&self, record: &P::Output) -> Result<MergeKey, Error> {
        let value = to_value(record)?;
        match &self.merge {
            MergeKind::Union => Ok(value.to_string()),
            MergeKind::Fields(fields) => {
                let parts: Vec<Value> = fields
                    .iter()
                    .filter(|f| f.merge == Merge::Key)
                    .map(|f| at(&value, &f.path).cloned().unwrap_or(Value::Null))
                    .collect();
                Ok(Value::from(parts).to_string())
            }
        }
    }

    /// The merged rows of `key`, as additions.
    fn merged_rows(&self, key: &MergeKey) -> Result<Vec<RowChange>, Error> {
        let none = Vec::new();
        let batch = self.batch.get(key).unwrap_or(&none);
        let speed = self.speed_layer.get(key).unwrap_or(&none);
        let records: Vec<(P::Output, isize)> = match (
            &self.merge,
            batch.as_slice(),
            speed.as_slice(),
        ) {
            (MergeKind::Union, _, _) => {
                let mut all: Layer<P::Output> = BTreeMap::new();
                for (record, n) in batch.iter().chain(speed) {
                    add(&mut all, String::new(), record.clone(), *n);
                }
                all.remove("").unwrap_or_default()
            }
            (MergeKind::Fields(_), [], records) | (MergeKind::Fields(_), records, []) => {
                records.to_vec()
            }
            (MergeKind::Fields(fields), [(b, 1)], [(s, 1)]) => {
                vec![(merge_records(b, s, fields)?, 1)]
            }
            (MergeKind::Fields(_), _, _) => {
                return Err(Error::Source(format!(
                    "{}: more than one output record with the merge key {key}: the layers cannot be merged",
                    P::NAME
                )));
            }
        };
        records
            .iter()
            .map(|(record, n)| row_of(record, P::VIEW_KEY, *n))
            .collect()
    }

    /// Recomputes the merged rows of `keys`; returns the view changes.
    fn remerge(&mut self, keys: BTreeSet<MergeKey>) -> Result<Vec<RowChange>, Error> {
        let mut changes = Vec::new();
        for key in keys {
            let new = self.merged_rows(&key)?;
            let old = self.merged.remove(&key).unwrap_or_default();
            if old == new {
                if !new.is_empty() {
                    self.merged.insert(key, new);
                }
                continue;
            }
            for row in &old {
                let retraction = RowChange {
                    diff: -row.diff,
                    ..row.clone()
                };
                self.table.apply(&retraction);
                changes.push(retraction);
            }
            for row in &new {
                self.table.apply(row);
                changes.push(row.clone());
            }
            if !new.is_empty() {
                self.merged.insert(key, new);
            }
        }
        Ok(changes)
    }

    /// Switches to `view`: a speed layer from its boundary catches up to at least the current
    /// offset, then both replace the current layers. Returns the offset before and the changes.
    fn switch(&mut self, view: BatchView<P::Output>) -> Result<(u64, Vec<RowChange>), Error> {
        let from = self.speed.position();
        if view.boundary <= self.boundary {
            return Ok((from, Vec::new()));
        }
        let mut speed =
            Replay::<P, I, L>::start(self.runner, self.log, view.boundary, self.options.step)?;
        while speed.position() < from {
            if speed.step()?.is_none() {
                return Err(Error::Source(format!(
                    "the log {} ends at offset {} before offset {from} it served",
                    self.log.name(),
                    speed.position()
                )));
            }
        }
        let mut batch: Layer<P::Output> = BTreeMap::new();
        for (record, n) in view.records {
            let key = self.merge_key(&record)?;
            add(&mut batch, key, record, n);
        }
        let mut speed_layer: Layer<P::Output> = BTreeMap::new();
        for (record, n) in speed.running().consolidated() {
            let key = self.merge_key(&record)?;
            add(&mut speed_layer, key, record, n);
        }
        let touched: BTreeSet<MergeKey> = self
            .merged
            .keys()
            .chain(batch.keys())
            .chain(speed_layer.keys())
            .cloned()
            .collect();
        tracing::info!(
            "{}: batch view over offsets 0..{} switched in, with a speed layer from it at offset {}",
            P::NAME,
            view.boundary,
            speed.position()
        );
        self.boundary = view.boundary;
        self.batch = batch;
        self.batch_event_time = view.max_event_time;
        self.speed = speed;
        self.speed_layer = speed_layer;
        let changes = self.remerge(touched)?;
        Ok((from, changes))
    }

    fn watermark(&self) -> Option<u64> {
        let speed = self.speed.running().watermark();
        let batch = self
            .batch_event_time
            .map_or(0, |t| t.saturating_sub(self.runner.max_delay_ms()));
        watermark_of::<P>(speed.max(batch))
    }

    fn publish(&self, shared: &Shared, from: u64, changes: Vec<RowChange>) {
        let offset = self.speed.position();
        let watermark = self.watermark();
        let snapshot = self.table.snapshot(offset, Some(self.boundary), watermark);
        shared.publish(
            StepChanges {
                from,
                to: offset,
                watermark,
                changes,
            },
            snapshot,
        );
    }
}

fn to_value<O: serde::Serialize>(record: &O) -> Result<Value, Error> {
    serde_json::to_value(record)
        .map_err(|e| Error::Source(format!("cannot write an output record as JSON: {e}")))
}

/// The value at `path` (`field`, `1.0`) of a record's JSON form.
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |value, step| match value {
        Value::Object(map) => map.get(step),
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

fn at_mut<'v>(value: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.').try_fold(value, |value, step| match value {
        Value::Object(map) => map.get_mut(step),
        Value::Array(items) => items.get_mut(step.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The record of a key from its batch-layer record `batch` and its speed-layer record `speed`.
fn merge_records<O>(batch: &O, speed: &O, fields: &[MergeField]) -> Result<O, Error>
where
    O: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut merged = to_value(batch)?;
    let speed = to_value(speed)?;
    for field in fields.iter().filter(|f| f.merge != Merge::Key) {
        let (Some(into), Some(other)) = (at_mut(&mut merged, &field.path), at(&speed, &field.path))
        else {
            return Err(Error::Source(format!(
                "the output record has no field `{}` to merge",
                field.path
            )));
        };
        *into = combine(into, other, field.merge).ok_or_else(|| {
            Error::Source(format!(
                "cannot merge field `{}`: {into} and {other} are not numbers of one kind",
                field.path
            ))
        })?;
    }
    serde_json::from_value(merged)
        .map_err(|e| Error::Source(format!("cannot read a merged output record: {e}")))
}

/// Two values of one field combined: added (sums, counts), or the lesser or greater.
pub(crate) fn combine(a: &Value, b: &Value, merge: Merge) -> Option<Value> {
    match merge {
        Merge::Key => Some(a.clone()),
        Merge::Sum | Merge::Count => add_values(a, b),
        Merge::Min | Merge::Max => {
            let order = compare(a, b)?;
            let a_wins = (merge == Merge::Min) == (order != CmpOrdering::Greater);
            Some(if a_wins { a.clone() } else { b.clone() })
        }
    }
}

fn add_values(a: &Value, b: &Value) -> Option<Value> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x.checked_add(y).map(Value::from);
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x.checked_add(y).map(Value::from);
            }
            let sum = Decimal::parse(&x.to_string())?.add(Decimal::parse(&y.to_string())?)?;
            serde_json::from_str(&sum.to_text()).ok()
        }
        (Value::String(x), Value::String(y)) => {
            let sum = Decimal::parse(x)?.add(Decimal::parse(y)?)?;
            Some(Value::String(sum.to_text()))
        }
        (Value::Null, other) | (other, Value::Null) => Some(other.clone()),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Option<CmpOrdering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Decimal::parse(&x.to_string())?.cmp(&Decimal::parse(&y.to_string())?)
        }
        (Value::String(x), Value::String(y)) => match (Decimal::parse(x), Decimal::parse(y)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => Some(x.cmp(y)),
        },
        _ => None,
    }
}

/// An exact decimal number: `digits × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    /// Reads `-12.5`, `3`, `1.5e-7`, `2E3`.
    fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, mantissa) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .chars()
                .chain(fraction.chars())
                .all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let mut digits: i128 = 0;
        for c in whole.chars().chain(fraction.chars()) {
            digits = digits
                .checked_mul(10)?
                .checked_add(i128::from(c as u8 - b'0'))?;
        }
        let mut scale = fraction.len() as i64 - i64::from(exponent);
        while scale < 0 {
            digits = digits.checked_mul(10)?;
            scale += 1;
        }
        let digits = if negative { -digits } else { digits };
        Some(Decimal {
            digits,
            scale: u32::try_from(scale).ok()?,
        })
    }

    fn rescale(self, scale: u32) -> Option<i128> {
        self.digits
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        Some(Decimal {
            digits: self.rescale(scale)?.checked_add(other.rescale(scale)?)?,
            scale,
        })
    }

    fn cmp(&self, other: &Decimal) -> Option<CmpOrdering> {
        let scale = self.scale.max(other.scale);
        Some(self.rescale(scale)?.cmp(&other.rescale(scale)?))
    }

    fn to_text(self) -> String {
        let sign = if self.digits < 0 { "-" } else { "" };
        let magnitude = self.digits.unsigned_abs().to_string();
        if self.scale == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = self.scale as usize;
        let padded = format!("{magnitude:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        format!("{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_add_exactly() {
        let sum = |a: &str, b: &str| {
            Decimal::parse(a)
                .unwrap()
                .add(Decimal::parse(b).unwrap())
                .unwrap()
                .to_text()
        };
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("-1.25", "1"), "-0.25");
        assert_eq!(sum("1.5e-7", "2E3"), "2000.00000015");
        assert_eq!(add_values(&json!(0.1), &json!(0.2)), Some(json!(0.3)));
        assert_eq!(add_values(&json!(2), &json!(40)), Some(json!(42)));
        assert_eq!(
            add_values(&json!("1.10"), &json!("2.05")),
            Some(json!("3.15"))
        );
        assert_eq!(
            combine(&json!(3), &json!(2.5), Merge::Min),
            Some(json!(2.5))
        );
        assert_eq!(
            combine(&json!("b"), &json!("a"), Merge::Max),
            Some(json!("b"))
        );
        assert_eq!(add_values(&json!(true), &json!(1)), None);
    }

    #[test]
    fn records_merge_field_by_field() {
        let fields = vec![
            MergeField {
                path: "0".into(),
                merge: Merge::Key,
            },
            MergeField {
                path: "1.0".into(),
                merge: Merge::Sum,
            },
            MergeField {
                path: "1.1".into(),
                merge: Merge::Count,
            },
        ];
        let merged: (String, (u64, u64)) = merge_records(
            &("tea".to_string(), (5, 1)),
            &("tea".to_string(), (7, 2)),
            &fields,
        )
        .unwrap();
        assert_eq!(merged, ("tea".to_string(), (12, 3)));
    }
}
