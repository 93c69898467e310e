//! Event-time windows: tumbling, sliding, session and global, with allowed lateness and two emit modes.
//!
//! Event time comes from the data (an `event_time` stage), never from the wall clock. The watermark is
//! the engine's progress frontier in event time: a source advances it to the greatest event time seen
//! minus a bounded out-of-orderness (`max_delay`). A window `[start, end)` is complete once the
//! watermark passes `end + lateness`; then its state is released, so memory stays flat on an endless
//! stream of bounded windows.
//!
//! ```text
//!  event time ─────────────────────────────────────────────────────────────▶
//!  tumbling(1h)        [00:00, 01:00)  [01:00, 02:00)  [02:00, 03:00)
//!  sliding(1h, 30m)    [00:00, 01:00)
//!                              [00:30, 01:30)
//!                                      [01:00, 02:00)
//!  session(30m)        ●──●────●·····························  ●──●·······
//!                      [first, last + 30m)                    [next session)
//!
//!  watermark ──────────────┃ records behind it by more than `lateness` go to the late side output
//! ```
//!
//! Tumbling and sliding windows are aligned to the Unix epoch (as in Flink) and start at or after it. A
//! session window follows Flink's definition: each record opens `[ts, ts + gap)`, and windows of a key that
//! overlap or touch merge, so a session's `end` is its last record's time plus the gap.
//!
//! Emit modes: [`Emit::Final`] gives one result per window once it is complete; [`Emit::Updating`]
//! gives every change of a window's result as its records arrive (a retraction of the old value and the
//! new value). Both consolidate to the same answer.
//!
//! # Examples
//!
//! ```
//! use dataflow_core::window::{Window, WindowKind, parse_duration};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
//! let hourly = Window::parse("sliding:1h:15m").unwrap();
//! assert_eq!(hourly, WindowKind::Sliding { size: 3_600_000, slide: 900_000 });
//! let windows: Vec<_> = Window::tumbling(Duration::from_secs(60)).assign(125_000).collect();
//! assert_eq!((windows[0].start, windows[0].end), (120_000, 180_000));
//! ```

use crate::HashMap;
use crate::aggregate::Accumulator;
use crate::context::{Context, catch_user};
use crate::{Record, Stamp};
use differential_dataflow::{AsCollection, Hashable, VecCollection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

/// How logical times encode the watermark: the high bits are event time in milliseconds, the low
/// `SUBSTEP_BITS` count steps taken while the watermark stood still.
pub mod clock {
    /// Bits of a logical time below the watermark.
    pub const SUBSTEP_BITS: u32 = 20;

    /// The logical time at which the watermark is `millis`.
    pub fn at(millis: u64) -> u64 {
        millis.saturating_mul(1 << SUBSTEP_BITS).min(u64::MAX - 1)
    }

    /// The watermark (milliseconds) at logical time `time`.
    pub fn watermark(time: u64) -> u64 {
        time >> SUBSTEP_BITS
    }
}

/// The bounds of one window, `[start, end)` in milliseconds of event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeWindow {
    /// First millisecond in the window.
    pub start: u64,
    /// First millisecond after the window.
    pub end: u64,
}

/// The shape of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows of `size` ms.
    Tumbling {
        /// Window length, ms.
        size: u64,
    },
    /// Windows of `size` ms starting every `slide` ms; a record belongs to `size / slide` of them.
    Sliding {
        /// Window length, ms.
        size: u64,
        /// Distance between window starts, ms.
        slide: u64,
    },
    /// Per-key sessions: records closer than `gap` ms belong to the same window.
    Session {
        /// Inactivity gap, ms.
        gap: u64,
    },
    /// One window over all time, complete when the input ends.
    Global,
}

/// When a window's result is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Emit {
    /// One result per window, once the watermark passes its end plus the allowed lateness.
    Final,
    /// Every change of a window's result as records arrive: a retraction and the new value.
    Updating,
}

/// A window specification: its kind, allowed lateness and emit mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The window's shape.
    pub kind: WindowKind,
    /// How long after its end (in event time) a window still accepts records, ms.
    pub lateness: u64,
    /// When results are emitted.
    pub emit: Emit,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Window {
    fn of(kind: WindowKind) -> Window {
        Window {
            kind,
            lateness: 0,
            emit: Emit::Final,
        }
    }

    /// Tumbling windows of `size`, aligned to the epoch.
    pub fn tumbling(size: Duration) -> Window {
        Window::of(WindowKind::Tumbling { size: millis(size) })
    }

    /// Sliding windows of `size`, one starting every `slide`, aligned to the epoch.
    pub fn sliding(size: Duration, slide: Duration) -> Window {
        Window::of(WindowKind::Sliding {
            size: millis(size),
            slide: millis(slide),
        })
    }

    /// Session windows closed by `gap` of inactivity.
    pub fn session(gap: Duration) -> Window {
        Window::of(WindowKind::Session { gap: millis(gap) })
    }

    /// One window over all time; its result is complete when the input ends. This is the explicit
    /// opt-in for aggregating an event-time stream without bounds.
    pub fn global() -> Window {
        Window::of(WindowKind::Global)
    }

    /// Accepts records up to `lateness` behind a window's end (in event time).
    pub fn lateness(mut self, lateness: Duration) -> Window {
        self.lateness = u64::try_from(lateness.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Emits `emit` results.
    pub fn emit(mut self, emit: Emit) -> Window {
        self.emit = emit;
        self
    }

    /// Parses `tumbling:1h`, `sliding:1h:15m` (size:slide), `session:30m` or `global`.
    pub fn parse(text: &str) -> Result<WindowKind, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let ms = |part: &str| parse_duration(part).map(millis);
        match parts.as_slice() {
            ["tumbling", size] => Ok(WindowKind::Tumbling { size: ms(size)? }),
            ["sliding", size, slide] => Ok(WindowKind::Sliding {
                size: ms(size)?,
                slide: ms(slide)?,
            }),
            ["session", gap] => Ok(WindowKind::Session { gap: ms(gap)? }),
            ["global"] => Ok(WindowKind::Global),
            _ => Err(format!(
                "`{text}` is not a window: use tumbling:SIZE, sliding:SIZE:SLIDE, session:GAP or global (e.g. tumbling:1h)"
            )),
        }
    }

    /// The windows a record at event time `time` belongs to (not for sessions, which depend on the
    /// key's other records).
    pub fn assign(&self, time: u64) -> impl Iterator<Item = TimeWindow> + use<> {
        let (first, size, slide, count) = match self.kind {
            WindowKind::Tumbling { size } => (time - time % size.max(1), size, size, 1),
            WindowKind::Sliding { size, slide } => {
                let slide = slide.max(1);
                let last = time - time % slide;
                let mut first = last;
                let mut count = 1;
                while first >= slide && first - slide + size > time {
                    first -= slide;
                    count += 1;
                }
                (
                    first,
                    size,
                    slide,
                    if last + size > time { count } else { 0 },
                )
            }
            WindowKind::Session { gap } => (time, gap, gap, 1),
            WindowKind::Global => (0, u64::MAX, u64::MAX, 1),
        };
        (0..count).map(move |i| {
            let start = first + i * slide;
            TimeWindow {
                start,
                end: start.saturating_add(size),
            }
        })
    }
}

/// Parses a duration written `500ms`, `30s`, `10m`, `1h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 500ms, 30s, 10m, 1h or 1d"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` has no known unit: write 500ms, 30s, 10m, 1h or 1d"
            ));
        }
    };
    if value == 0 {
        return Err(format!("`{text}` is zero: a duration must be positive"));
    }
    Ok(Duration::from_millis(value.saturating_mul(unit_ms)))
}

/// Overrides for every window stage of a pipeline, set from the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowOverrides {
    /// Replaces each window's kind.
    pub kind: Option<WindowKind>,
    /// Replaces each window's allowed lateness, ms.
    pub lateness: Option<u64>,
    /// Replaces each window's emit mode.
    pub emit: Option<Emit>,
}

impl WindowOverrides {
    /// `window` with these overrides applied.
    pub fn apply(&self, mut window: Window) -> Window {
        if let Some(kind) = self.kind {
            window.kind = kind;
        }
        if let Some(lateness) = self.lateness {
            window.lateness = lateness;
        }
        if let Some(emit) = self.emit {
            window.emit = emit;
        }
        window
    }
}

/// One window of one key.
struct Slot<S, O> {
    window: TimeWindow,
    state: S,
    count: isize,
    emitted: Option<O>,
    dirty: bool,
}

/// The open windows of one key.
type Slots<S, O> = Vec<Slot<S, O>>;

/// The windows of every key on one worker.
struct Windows<K, V, A: Accumulator<V>> {
    acc: A,
    spec: Window,
    keys: HashMap<K, Slots<A::State, A::Output>>,
    /// Keys with a slot changed in the current time (updating mode).
    dirty: Vec<K>,
    /// Results of sessions merged away, still to be retracted (updating mode).
    retired: Vec<((K, TimeWindow), A::Output)>,
    /// Keys with a window that closes at a given watermark.
    closing: BTreeMap<u64, Vec<K>>,
    /// Capabilities at the logical times final results are emitted at.
    close_caps: BTreeMap<u64, Capability<u64>>,
    _v: std::marker::PhantomData<fn(&V)>,
}

/// Why a record was not applied.
enum Applied {
    Ok,
    Late,
}

impl<K: Record, V: Record, A: Accumulator<V>> Windows<K, V, A>
where
    A::Output: Record,
{
    /// Applies one record that arrived at logical time `time` (with `capability` for that time).
    fn apply(
        &mut self,
        key: &K,
        value: &V,
        stamp: Stamp,
        diff: isize,
        time: u64,
        capability: &Capability<u64>,
    ) -> Applied {
        let arrival = clock::watermark(time);
        let spec = self.spec;
        let mut applied = false;
        let mut late = false;
        if let WindowKind::Session { .. } = spec.kind {
            for window in spec.assign(stamp.time) {
                let Some(index) = self.session_slot(key, window, arrival) else {
                    late = true;
                    continue;
                };
                let Windows {
                    keys,
                    acc,
                    dirty,
                    close_caps,
                    ..
                } = self;
                if let Some(slot) = keys.get_mut(key).and_then(|slots| slots.get_mut(index)) {
                    update_slot(acc, slot, value, diff, spec, key, dirty);
                    let at = clock::at(slot.window.end.saturating_add(spec.lateness));
                    close_caps
                        .entry(at)
                        .or_insert_with(|| capability.delayed(&at.max(time)));
                    applied = true;
                }
            }
        } else {
            // Tumbling, sliding, global: one lookup of the key's slots for all its windows.
            if !self.keys.contains_key(key) {
                self.keys.insert(key.clone(), Vec::new());
            }
            let Windows {
                keys,
                acc,
                dirty,
                closing,
                close_caps,
                ..
            } = self;
            let slots = keys.get_mut(key).expect("inserted above");
            for window in spec.assign(stamp.time) {
                let close = window.end.saturating_add(spec.lateness);
                let index = match slots.iter().position(|s| s.window == window) {
                    Some(index) => index,
                    None if close <= arrival => {
                        late = true;
                        continue;
                    }
                    None => {
                        slots.push(new_slot(window));
                        closing.entry(close).or_default().push(key.clone());
                        slots.len() - 1
                    }
                };
                update_slot(acc, &mut slots[index], value, diff, spec, key, dirty);
                let at = clock::at(close);
                if close_caps
                    .last_key_value()
                    .is_none_or(|(last, _)| *last != at)
                {
                    close_caps
                        .entry(at)
                        .or_insert_with(|| capability.delayed(&at.max(time)));
                }
                applied = true;
            }
            if slots.is_empty() {
                keys.remove(key);
            }
        }
        if late || !applied {
            Applied::Late
        } else {
            Applied::Ok
        }
    }

    /// The session slot `window` falls into after merging every session it overlaps or touches.
    fn session_slot(&mut self, key: &K, window: TimeWindow, arrival: u64) -> Option<usize> {
        let lateness = self.spec.lateness;
        let slots = self.keys.entry(key.clone()).or_default();
        let (overlapping, rest): (Vec<_>, Vec<_>) = std::mem::take(slots)
            .into_iter()
            .partition(|s| s.window.start <= window.end && s.window.end >= window.start);
        *slots = rest;
        if overlapping.is_empty() && window.end.saturating_add(lateness) <= arrival {
            return None;
        }
        let mut merged = new_slot(window);
        for slot in &overlapping {
            merged.window.start = merged.window.start.min(slot.window.start);
            merged.window.end = merged.window.end.max(slot.window.end);
        }
        for slot in overlapping {
            merged.count += slot.count;
            merged.dirty |= slot.dirty;
            self.acc.merge(&mut merged.state, slot.state);
            if slot.window == merged.window {
                // The record falls inside this session: it keeps what it emitted.
                merged.emitted = slot.emitted;
            } else if let Some(old) = slot.emitted {
                self.retired.push(((key.clone(), slot.window), old));
            }
        }
        let close = merged.window.end.saturating_add(lateness);
        slots.push(merged);
        self.closing.entry(close).or_default().push(key.clone());
        Some(slots.len() - 1)
    }

    /// Updating mode: emits the changes of every slot touched since the last call.
    fn emit_changes(&mut self, mut give: impl FnMut(((K, TimeWindow), A::Output), isize)) {
        for record in self.retired.drain(..) {
            give(record, -1);
        }
        for key in std::mem::take(&mut self.dirty) {
            let Some(slots) = self.keys.get_mut(&key) else {
                continue;
            };
            for slot in slots.iter_mut().filter(|s| s.dirty) {
                slot.dirty = false;
                let result = if slot.count > 0 {
                    self.acc.output(&slot.state, slot.count)
                } else {
                    None
                };
                if result != slot.emitted {
                    if let Some(old) = slot.emitted.take() {
                        give(((key.clone(), slot.window), old), -1);
                    }
                    if let Some(new) = &result {
                        give(((key.clone(), slot.window), new.clone()), 1);
                    }
                    slot.emitted = result;
                }
            }
        }
    }

    /// Closes every window whose end plus lateness is at or before `watermark` (all of them when
    /// `None`): final mode emits their results; both modes release their state.
    fn close_until(&mut self, watermark: Option<u64>, closed: &mut Closed<K, A::Output>) {
        let lateness = self.spec.lateness;
        let final_results = self.spec.emit == Emit::Final;
        let Windows {
            keys,
            acc,
            closing,
            close_caps,
            ..
        } = self;
        while let Some(entry) = closing.first_entry() {
            if watermark.is_some_and(|w| *entry.key() > w) {
                break;
            }
            let (close, closing_keys) = entry.remove_entry();
            for key in closing_keys {
                let Some(slots) = keys.get_mut(&key) else {
                    continue;
                };
                slots.retain(|slot| {
                    let slot_close = slot.window.end.saturating_add(lateness);
                    if slot_close > close && watermark.is_none_or(|w| slot_close > w) {
                        return true;
                    }
                    if final_results
                        && slot.count > 0
                        && let Some(result) = acc.output(&slot.state, slot.count)
                        && let Some(cap) = close_caps.get(&clock::at(slot_close))
                    {
                        let record = ((key.clone(), slot.window), result);
                        match closed.iter_mut().find(|(c, _)| c.time() == cap.time()) {
                            Some((_, records)) => records.push(record),
                            None => closed.push((cap.clone(), vec![record])),
                        }
                    }
                    false
                });
                if slots.is_empty() {
                    keys.remove(&key);
                }
            }
        }
        match watermark {
            Some(w) => {
                let keep = self.close_caps.split_off(&(clock::at(w) + 1));
                self.close_caps = keep;
            }
            None => self.close_caps.clear(),
        }
    }
}

/// Applies one update to `slot`; in updating mode, notes the key the first time the slot changes.
#[inline]
fn update_slot<K: Clone, V, A: Accumulator<V>>(
    acc: &mut A,
    slot: &mut Slot<A::State, A::Output>,
    value: &V,
    diff: isize,
    spec: Window,
    key: &K,
    dirty: &mut Vec<K>,
) {
    acc.update(&mut slot.state, value, diff);
    slot.count += diff;
    if !slot.dirty {
        slot.dirty = true;
        if spec.emit == Emit::Updating {
            dirty.push(key.clone());
        }
    }
}

fn new_slot<S: Default, O>(window: TimeWindow) -> Slot<S, O> {
    Slot {
        window,
        state: S::default(),
        count: 0,
        emitted: None,
        dirty: false,
    }
}

/// Final results of closed windows, with the capability of the time each group is emitted at.
type Closed<K, O> = Vec<(Capability<u64>, Vec<((K, TimeWindow), O)>)>;

/// Buffered updates of a later time, with the capability for that time.
type Pending<K, V> = (Capability<u64>, Vec<((K, V), Stamp, isize)>);

/// Aggregates `acc` per key and window of `input`, exchanging records by key. Outputs
/// `((key, window), result)`; late records go to the context's late side output.
pub(crate) fn window_aggregate<'scope, K: Record, V: Record, A: Accumulator<V>>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, u64, ((K, V), Stamp), isize>,
    spec: Window,
    acc: A,
) -> VecCollection<'scope, u64, ((K, TimeWindow), A::Output), isize>
where
    A::Output: Record,
{
    let name = ctx.operator_name(id);
    let ctx = ctx.clone();
    let pact = Exchange::new(|(((key, _), _), _, _): &(((K, V), Stamp), u64, isize)| key.hashed());
    input
        .inner
        .unary_frontier::<CapacityContainerBuilder<Vec<(((K, TimeWindow), A::Output), u64, isize)>>, _, _, _>(
            pact,
            &name,
            move |_capability, _info| {
                let mut windows = Windows {
                    acc,
                    spec,
                    keys: HashMap::default(),
                    dirty: Vec::new(),
                    retired: Vec::new(),
                    closing: BTreeMap::new(),
                    close_caps: BTreeMap::new(),
                    _v: std::marker::PhantomData,
                };
                let mut open: Option<Capability<u64>> = None;
                let mut pending: BTreeMap<u64, Pending<K, V>> = BTreeMap::new();
                // Final results of closed windows, grouped by the time they are emitted at.
                let mut closed: Closed<K, A::Output> = Vec::new();
                move |(input, frontier), output| {
                    let least = frontier.frontier().iter().next().copied();
                    let complete = |time: u64| least.is_none_or(|least| time < least);
                    // Applies one time's updates, reporting late records.
                    let apply = |windows: &mut Windows<K, V, A>,
                                     updates: &mut dyn Iterator<Item = ((K, V), Stamp, isize)>,
                                     capability: &Capability<u64>| {
                        let time = *capability.time();
                        while let Err(payload) = catch_user(|| {
                            for ((key, value), stamp, diff) in &mut *updates {
                                if let Applied::Late = windows.apply(
                                    &key,
                                    &value,
                                    stamp,
                                    diff,
                                    time,
                                    capability,
                                ) {
                                    ctx.report_late(id, stamp.time, clock::watermark(time), &(key, value));
                                }
                            }
                        }) {
                            ctx.report_panic(id, payload);
                        }
                    };

                    // The open time is done: emit its changes.
                    if let Some(capability) = open.take_if(|cap| complete(*cap.time())) {
                        let time = *capability.time();
                        let mut session = output.session(&capability);
                        windows.emit_changes(|record, diff| session.give((record, time, diff)));
                    }
                    // Complete buffered times, in order: close windows, apply, emit changes.
                    while let Some(entry) = pending.first_entry() {
                        if !complete(*entry.key()) {
                            break;
                        }
                        let (capability, updates) = entry.remove();
                        let time = *capability.time();
                        windows.close_until(Some(clock::watermark(time)), &mut closed);
                        for (cap, records) in closed.drain(..) {
                            let at = *cap.time();
                            output.session(&cap).give_iterator(records.into_iter().map(|r| (r, at, 1)));
                        }
                        apply(&mut windows, &mut updates.into_iter(), &capability);
                        let mut session = output.session(&capability);
                        windows.emit_changes(|record, diff| session.give((record, time, diff)));
                    }
                    // Close what the frontier has passed.
                    windows.close_until(least.map(clock::watermark), &mut closed);
                    for (cap, records) in closed.drain(..) {
                        let at = *cap.time();
                        output.session(&cap).give_iterator(records.into_iter().map(|r| (r, at, 1)));
                    }
                    // The least open time takes over its buffered updates, then reads new ones.
                    if let Some(least) = least
                        && let Some((capability, updates)) = pending.remove(&least)
                    {
                        apply(&mut windows, &mut updates.into_iter(), &capability);
                        open.get_or_insert(capability);
                    }
                    input.for_each(|capability, data| {
                        let Some(&time) = capability.least() else {
                            return;
                        };
                        if Some(time) == least {
                            let Some(held) = capability.retain_least(0) else {
                                return;
                            };
                            let held = open.get_or_insert(held).clone();
                            apply(
                                &mut windows,
                                &mut data.drain(..).map(|(record, _, diff)| (record.0, record.1, diff)),
                                &held,
                            );
                        } else {
                            let slot = pending
                                .entry(time)
                                .or_insert_with(|| (capability.delayed(&time, 0), Vec::new()));
                            slot.1.extend(
                                data.drain(..).map(|((record, stamp), _, diff)| (record, stamp, diff)),
                            );
                        }
                    });
                }
            },
        )
        .as_collection()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(window: Window, time: u64) -> Vec<(u64, u64)> {
        window.assign(time).map(|w| (w.start, w.end)).collect()
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch() {
        let w = Window::tumbling(Duration::from_millis(10));
        assert_eq!(windows(w, 0), vec![(0, 10)]);
        assert_eq!(windows(w, 9), vec![(0, 10)]);
        assert_eq!(windows(w, 10), vec![(10, 20)]);
    }

    #[test]
    fn sliding_windows_cover_every_start_after_the_epoch() {
        let w = Window::sliding(Duration::from_millis(10), Duration::from_millis(5));
        assert_eq!(windows(w, 12), vec![(5, 15), (10, 20)]);
        assert_eq!(windows(w, 3), vec![(0, 10)]);
        let gaps = Window::sliding(Duration::from_millis(5), Duration::from_millis(10));
        assert_eq!(windows(gaps, 7), Vec::<(u64, u64)>::new());
        assert_eq!(windows(gaps, 13), vec![(10, 15)]);
    }

    #[test]
    fn durations_and_windows_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(
            Window::parse("session:30m").unwrap(),
            WindowKind::Session { gap: 1_800_000 }
        );
        assert!(
            Window::parse("hopping:1h")
                .unwrap_err()
                .contains("tumbling:SIZE")
        );
    }

    #[test]
    fn the_clock_keeps_watermark_order() {
        assert!(clock::at(5) + 3 < clock::at(6));
        assert_eq!(clock::watermark(clock::at(77) + 12), 77);
        assert_eq!(clock::at(u64::MAX), u64::MAX - 1);
    }
}
