//! The context a pipeline's operators share: its plan, and the failures its user code reported.

use crate::error::StageFailure;
use crate::params::Params;
use crate::time::{Window, WindowOverrides};
use crate::user_code::{install_quiet_panic_hook, panic_message};
use dataflow_plan::{Plan, StageKind};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many failures a context keeps in detail; further ones are only counted.
const KEPT_FAILURES: usize = 100;

/// What the operators of one running pipeline share: which pipeline they belong to, its plan, and the
/// failures of user code (a panicking closure) reported while it runs.
///
/// Cheap to clone; clones share their failure list.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    plan: &'static Plan,
    failures: Mutex<Vec<StageFailure>>,
    failure_count: AtomicU64,
    late: Mutex<Vec<LateRecord>>,
    late_count: AtomicU64,
    /// The most any late record was behind the watermark it arrived at, ms.
    late_behind: AtomicU64,
    windows: WindowOverrides,
    params: Params,
}

impl Context {
    /// A context for a pipeline with `plan`.
    pub fn new(plan: &'static Plan) -> Context {
        Context::with_windows(plan, WindowOverrides::default())
    }

    /// A context whose window stages take `windows` overrides (from the command line).
    pub fn with_windows(plan: &'static Plan, windows: WindowOverrides) -> Context {
        Context::for_run(plan, windows, Params::new())
    }

    /// A context whose window stages take `windows` overrides and whose parameters take `params`.
    pub fn for_run(plan: &'static Plan, windows: WindowOverrides, params: Params) -> Context {
        install_quiet_panic_hook();
        Context {
            inner: Arc::new(Inner {
                plan,
                failures: Mutex::new(Vec::new()),
                failure_count: AtomicU64::new(0),
                late: Mutex::new(Vec::new()),
                late_count: AtomicU64::new(0),
                late_behind: AtomicU64::new(0),
                windows,
                params,
            }),
        }
    }

    /// The values given to the pipeline's runtime parameters.
    pub fn params(&self) -> &Params {
        &self.inner.params
    }

    /// The window a window stage declared as `declared` uses, after overrides.
    pub fn window(&self, declared: Window) -> Window {
        self.inner.windows.apply(declared)
    }

    /// Sends `record`, which arrived behind the watermark by more than the allowed lateness, to the
    /// late side output.
    pub fn report_late<T: Serialize>(
        &self,
        stage: usize,
        event_time: u64,
        watermark: u64,
        record: &T,
    ) {
        self.inner.late_count.fetch_add(1, Ordering::Relaxed);
        self.inner
            .late_behind
            .fetch_max(watermark.saturating_sub(event_time), Ordering::Relaxed);
        let record = serde_json::to_value(record)
            .unwrap_or_else(|e| serde_json::Value::String(format!("unprintable record: {e}")));
        self.inner
            .late
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(LateRecord {
                pipeline: self.inner.plan.pipeline.clone(),
                stage,
                event_time,
                watermark,
                record,
            });
    }

    /// Adds late records another process's stages reported (a cluster's process 0 collects them).
    pub(crate) fn absorb_late(&self, records: Vec<LateRecord>) {
        for record in &records {
            self.inner.late_count.fetch_add(1, Ordering::Relaxed);
            self.inner.late_behind.fetch_max(
                record.watermark.saturating_sub(record.event_time),
                Ordering::Relaxed,
            );
        }
        self.inner
            .late
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(records);
    }

    /// Takes the late records reported since the last call.
    pub fn take_late(&self) -> Vec<LateRecord> {
        std::mem::take(
            &mut *self
                .inner
                .late
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// The most any late record was behind the watermark it arrived at, ms: a maximum delay larger
    /// than the current one by more than this would have kept every late record in time.
    pub fn late_behind(&self) -> u64 {
        self.inner.late_behind.load(Ordering::Relaxed)
    }

    /// How many late records were reported in all.
    pub fn late_count(&self) -> u64 {
        self.inner.late_count.load(Ordering::Relaxed)
    }

    /// The plan of the pipeline this context runs.
    pub fn plan(&self) -> &'static Plan {
        self.inner.plan
    }

    /// A display name for the operator that runs `stage`: `daily_sales/#3 map`.
    pub fn operator_name(&self, stage: usize) -> String {
        let plan = self.inner.plan;
        match plan.nodes.get(stage) {
            Some(node) => format!("{}/#{} {}", plan.pipeline, node.id, node.name),
            None => format!("{}/#{stage}", plan.pipeline),
        }
    }

    /// Records that user code of `stage` panicked with `payload`. The record it was processing is not
    /// passed on, and the run ends with an error naming the stage.
    pub fn report_panic(&self, stage: usize, payload: Box<dyn Any + Send>) {
        let message = panic_message(payload.as_ref());
        self.report(stage, message);
    }

    /// Records a failure of `stage` with `message`.
    pub fn report(&self, stage: usize, message: String) {
        self.inner.failure_count.fetch_add(1, Ordering::Relaxed);
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if failures.len() < KEPT_FAILURES {
            let node = self.inner.plan.nodes.get(stage);
            failures.push(StageFailure {
                pipeline: self.inner.plan.pipeline.clone(),
                stage,
                kind: node.map_or(StageKind::Map, |n| n.kind),
                source: node.map(|n| n.source.clone()).unwrap_or_default(),
                line: node.map_or(0, |n| n.line),
                message,
            });
        }
    }

    /// How many failures were reported in all.
    pub fn failure_count(&self) -> u64 {
        self.inner.failure_count.load(Ordering::Relaxed)
    }

    /// The first failures reported (at most 100).
    pub fn failures(&self) -> Vec<StageFailure> {
        self.inner
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A record that arrived too late for its window: the late side output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LateRecord {
    /// The pipeline's name.
    pub pipeline: String,
    /// The window or scan stage that turned it away.
    pub stage: usize,
    /// The record's event time, ms.
    pub event_time: u64,
    /// The watermark when it arrived, ms.
    pub watermark: u64,
    /// The record (as the stage saw it: key and value).
    pub record: serde_json::Value,
}
