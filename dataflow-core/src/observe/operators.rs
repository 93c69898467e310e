//! Per-operator metrics from timely's and differential's logging: busy time and records in and out
//! of every operator, and the size of every arrangement.
//!
//! [`attach`] registers two loggers on a worker before its dataflow is built. timely hands them its
//! events in batches (when a buffer fills and when the worker steps); each batch is folded into the
//! worker's own table of operators, whose counters are handles into the shared [`Metrics`] families,
//! so a scrape sees them without stopping any worker.

use crate::observe::metrics::{Metrics, OperatorLabels};
use differential_dataflow::logging::{DifferentialEvent, DifferentialEventBuilder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use timely::logging::{StartStop, TimelyEvent, TimelyEventBuilder};

/// One operator's counters.
struct Operator {
    labels: OperatorLabels,
    busy: Counter<f64, AtomicU64>,
    records_in: Counter,
    records_out: Counter,
    /// When its current scheduling started.
    started: Option<Duration>,
}

/// A channel's ends, as operator addresses.
struct Channel {
    source: Vec<usize>,
    target: Vec<usize>,
}

/// What one worker knows of its operators and channels.
struct Worker {
    metrics: Arc<Metrics>,
    worker: String,
    operators: HashMap<usize, Operator>,
    by_address: HashMap<Vec<usize>, usize>,
    channels: HashMap<usize, Channel>,
    /// Arrangements' gauges (updates, batches), by operator id.
    arrangements: HashMap<usize, (Gauge, Gauge)>,
    /// Arrangement changes of operators not yet named.
    pending: HashMap<usize, (i64, i64)>,
}

/// The stage `#N` an operator of ours runs, from its name `pipeline/#N stage`.
fn stage_of(name: &str) -> String {
    name.split_once("/#")
        .map(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            format!("#{digits}")
        })
        .unwrap_or_default()
}

impl Worker {
    fn operates(&mut self, id: usize, address: Vec<usize>, name: String) {
        // The dataflow itself (address of length 1) holds every other operator: its time is theirs.
        if address.len() < 2 {
            return;
        }
        let labels = OperatorLabels {
            stage: stage_of(&name),
            operator: name,
            id: id.to_string(),
            worker: self.worker.clone(),
        };
        let families = &self.metrics.operators;
        let operator = Operator {
            busy: families.busy_seconds.get_or_create(&labels).clone(),
            records_in: families.records_in.get_or_create(&labels).clone(),
            records_out: families.records_out.get_or_create(&labels).clone(),
            labels,
            started: None,
        };
        self.by_address.insert(address, id);
        self.operators.insert(id, operator);
    }

    fn operator_at(&mut self, address: &[usize]) -> Option<&mut Operator> {
        let id = self.by_address.get(address)?;
        self.operators.get_mut(id)
    }

    fn event(&mut self, time: Duration, event: TimelyEvent) {
        match event {
            TimelyEvent::Operates(op) => self.operates(op.id, op.addr, op.name),
            TimelyEvent::Channels(channel) => {
                let at = |index: usize| {
                    let mut address = channel.scope_addr.clone();
                    address.push(index);
                    address
                };
                self.channels.insert(
                    channel.id,
                    Channel {
                        source: at(channel.source.0),
                        target: at(channel.target.0),
                    },
                );
            }
            TimelyEvent::Messages(message) => {
                let Some(channel) = self.channels.get(&message.channel) else {
                    return;
                };
                let count = u64::try_from(message.record_count).unwrap_or(0);
                if message.is_send {
                    let address = channel.source.clone();
                    if let Some(op) = self.operator_at(&address) {
                        op.records_out.inc_by(count);
                    }
                } else {
                    let address = channel.target.clone();
                    if let Some(op) = self.operator_at(&address) {
                        op.records_in.inc_by(count);
                    }
                }
            }
            TimelyEvent::Schedule(schedule) => {
                if let Some(op) = self.operators.get_mut(&schedule.id) {
                    match schedule.start_stop {
                        StartStop::Start => op.started = Some(time),
                        StartStop::Stop => {
                            if let Some(started) = op.started.take() {
                                op.busy.inc_by(time.saturating_sub(started).as_secs_f64());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Adds `records` and `batches` to the arrangement of `operator`; kept until the operator's
    /// name is known when differential reports it before timely does.
    fn arrangement(&mut self, operator: usize, records: i64, batches: i64) {
        let pending = self.pending.entry(operator).or_insert((0, 0));
        pending.0 += records;
        pending.1 += batches;
    }

    /// Applies the arrangement changes of operators whose names are known.
    fn flush_arrangements(&mut self) {
        let families = &self.metrics.operators;
        let operators = &self.operators;
        let arrangements = &mut self.arrangements;
        self.pending.retain(|id, (records, batches)| {
            let Some(operator) = operators.get(id) else {
                return true;
            };
            let (record_gauge, batch_gauge) = arrangements.entry(*id).or_insert_with(|| {
                (
                    families
                        .arrangement_records
                        .get_or_create(&operator.labels)
                        .clone(),
                    families
                        .arrangement_batches
                        .get_or_create(&operator.labels)
                        .clone(),
                )
            });
            record_gauge.inc_by(*records);
            batch_gauge.inc_by(*batches);
            false
        });
    }

    fn differential(&mut self, event: DifferentialEvent) {
        let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        match event {
            DifferentialEvent::Batch(batch) => {
                self.arrangement(batch.operator, signed(batch.length), 1);
            }
            DifferentialEvent::Merge(merge) => {
                if let Some(merged) = merge.complete {
                    let change = signed(merged) - signed(merge.length1) - signed(merge.length2);
                    self.arrangement(merge.operator, change, -1);
                }
            }
            DifferentialEvent::Drop(dropped) => {
                self.arrangement(dropped.operator, -signed(dropped.length), -1);
            }
            _ => {}
        }
    }
}

/// Registers loggers on `worker` that write its operators' metrics to `metrics`. Call it before the
/// worker builds its dataflow: operators built earlier are not seen.
pub(crate) fn attach(worker: &mut timely::worker::Worker, metrics: &Arc<Metrics>) {
    let state = Rc::new(RefCell::new(Worker {
        metrics: Arc::clone(metrics),
        worker: worker.index().to_string(),
        operators: HashMap::new(),
        by_address: HashMap::new(),
        channels: HashMap::new(),
        arrangements: HashMap::new(),
        pending: HashMap::new(),
    }));
    let Some(mut registry) = worker.log_register() else {
        return;
    };
    let timely_state = Rc::clone(&state);
    registry.insert::<TimelyEventBuilder, _>("timely", move |_time, data| {
        if let Some(data) = data {
            let mut state = timely_state.borrow_mut();
            for (time, event) in data.drain(..) {
                state.event(time, event);
            }
            state.flush_arrangements();
        }
    });
    registry.insert::<DifferentialEventBuilder, _>("differential/arrange", move |_time, data| {
        if let Some(data) = data {
            let mut state = state.borrow_mut();
            for (_time, event) in data.drain(..) {
                state.differential(event);
            }
            state.flush_arrangements();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_come_from_our_operator_names() {
        assert_eq!(stage_of("daily_sales/#1 key_by (fused)"), "#1");
        assert_eq!(stage_of("daily_sales/#12 aggregate"), "#12");
        assert_eq!(stage_of("Exchange"), "");
    }
}
