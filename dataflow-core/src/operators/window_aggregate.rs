//! The window aggregate: an accumulator per key and event-time window, for an aggregate after
//! `window(..)`. Windows close when the watermark passes their end plus the allowed lateness; final
//! mode emits their results then, and both modes release their state, so memory stays flat on an
//! endless stream of bounded windows. Records behind a closed window go to the late side output.

use crate::accumulators::Accumulator;
use crate::context::Context;
use crate::operators::keyed::{Emitter, Group, KeyedState, keyed_operator};
use crate::record::{HashMap, Record, Stamp};
use crate::time::clock::Time;
use crate::time::{Emit, TimeWindow, Window, WindowKind, clock};
use differential_dataflow::{Hashable, VecCollection};
use std::collections::BTreeMap;
use timely::dataflow::operators::Capability;

/// One window of one key.
struct Slot<S, O> {
    window: TimeWindow,
    group: Group<S, O>,
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
    close_caps: BTreeMap<Time, Capability<Time>>,
    /// Final results of closed windows, grouped by the time they are emitted at.
    closed: Closed<K, A::Output>,
    ctx: Context,
    id: usize,
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
    fn apply_record(
        &mut self,
        key: &K,
        value: &V,
        stamp: Stamp,
        diff: isize,
        time: Time,
        capability: &Capability<Time>,
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
                    let at = close_time(slot.window.end.saturating_add(spec.lateness));
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
                // A key's windows are kept in order of their start (all have one size), so a
                // record finds its window by binary search however many are open: a batch opens
                // every window of the input at once.
                let index = match find_slot(slots, window.start) {
                    Ok(index) => index,
                    Err(_) if passed(close, Some(arrival)) => {
                        late = true;
                        continue;
                    }
                    Err(index) => {
                        slots.insert(index, new_slot(window));
                        closing.entry(close).or_default().push(key.clone());
                        index
                    }
                };
                update_slot(acc, &mut slots[index], value, diff, spec, key, dirty);
                let at = close_time(close);
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
        if overlapping.is_empty() && passed(window.end.saturating_add(lateness), Some(arrival)) {
            return None;
        }
        let mut merged = new_slot(window);
        for slot in &overlapping {
            merged.window.start = merged.window.start.min(slot.window.start);
            merged.window.end = merged.window.end.max(slot.window.end);
        }
        for slot in overlapping {
            merged.group.count += slot.group.count;
            merged.group.dirty |= slot.group.dirty;
            self.acc.merge(&mut merged.group.state, slot.group.state);
            if slot.window == merged.window {
                // The record falls inside this session: it keeps what it emitted.
                merged.group.emitted = slot.group.emitted;
            } else if let Some(old) = slot.group.emitted {
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
            for slot in slots.iter_mut().filter(|s| s.group.dirty) {
                let result = if slot.group.count > 0 {
                    self.acc.output(&slot.group.state, slot.group.count)
                } else {
                    None
                };
                let window = slot.window;
                slot.group.emit(result, |value, diff| {
                    give(((key.clone(), window), value), diff)
                });
            }
        }
    }

    /// Closes every window whose end plus lateness is at or before `watermark` (all of them when
    /// `None`): final mode emits their results; both modes release their state.
    fn close_until(&mut self, watermark: Option<u64>) {
        let lateness = self.spec.lateness;
        let final_results = self.spec.emit == Emit::Final;
        let sessions = matches!(self.spec.kind, WindowKind::Session { .. });
        let Windows {
            keys,
            acc,
            closing,
            close_caps,
            closed,
            ..
        } = self;
        while let Some(entry) = closing.first_entry() {
            if !passed(*entry.key(), watermark) {
                break;
            }
            let (close, closing_keys) = entry.remove_entry();
            let closes = |slot: &Slot<A::State, A::Output>| {
                let slot_close = slot.window.end.saturating_add(lateness);
                slot_close <= close || passed(slot_close, watermark)
            };
            for key in closing_keys {
                let Some(slots) = keys.get_mut(&key) else {
                    continue;
                };
                let mut finish = |slot: Slot<A::State, A::Output>| {
                    let slot_close = slot.window.end.saturating_add(lateness);
                    if final_results
                        && slot.group.count > 0
                        && let Some(result) = acc.output(&slot.group.state, slot.group.count)
                        && let Some(cap) = close_caps.get(&close_time(slot_close))
                    {
                        closed
                            .entry(*cap.time())
                            .or_insert_with(|| (cap.clone(), Vec::new()))
                            .1
                            .push(((key.clone(), slot.window), result));
                    }
                };
                if sessions {
                    let (done, open): (Vec<_>, Vec<_>) = std::mem::take(slots)
                        .into_iter()
                        .partition(|slot| closes(slot));
                    *slots = open;
                    done.into_iter().for_each(&mut finish);
                } else {
                    // In order of start, so in order of closing: the closing ones lead.
                    let done = slots.iter().take_while(|slot| closes(slot)).count();
                    slots.drain(..done).for_each(&mut finish);
                }
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

/// Whether a window that closes at `close` (its end plus the allowed lateness, ms) is complete at
/// `watermark` (`None`: the input has ended). A close of `u64::MAX` lies beyond the clock: a window
/// holding the last millisecond, or whose lateness reaches past it, is complete only when the input
/// ends, so records at the largest event time are never late.
#[inline]
fn passed(close: u64, watermark: Option<u64>) -> bool {
    match watermark {
        None => true,
        Some(_) if close == u64::MAX => false,
        Some(w) => close <= w,
    }
}

/// The logical time a window closing at `close` emits its final result at: the watermark's first
/// step, or for a close beyond the clock (see [`passed`]) the last logical time there is, which no
/// step reaches, so holding it never holds a step back.
#[inline]
fn close_time(close: u64) -> Time {
    if close == u64::MAX {
        Time::MAX
    } else {
        clock::at(close)
    }
}

/// Where the window starting at `start` is among a key's slots (sorted by start), as a binary search
/// answers. Records come mostly in time order, so the newest slot is looked at first: a batch holds
/// every window of a key open, and a search through all of them for every record would miss the
/// cache where the answer is nearly always the last one.
#[inline]
fn find_slot<S, O>(slots: &[Slot<S, O>], start: u64) -> Result<usize, usize> {
    match slots.last() {
        None => Err(0),
        Some(last) if last.window.start == start => Ok(slots.len() - 1),
        Some(last) if last.window.start < start => Err(slots.len()),
        Some(_) => slots.binary_search_by_key(&start, |s| s.window.start),
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
    acc.update(&mut slot.group.state, value, diff);
    slot.group.count += diff;
    if slot.group.touch() && spec.emit == Emit::Updating {
        dirty.push(key.clone());
    }
}

fn new_slot<S: Default, O>(window: TimeWindow) -> Slot<S, O> {
    Slot {
        window,
        group: Group::default(),
    }
}

impl<K: Record, V: Record, A: Accumulator<V>> Windows<K, V, A>
where
    A::Output: Record,
{
    /// Sends the final results of the windows closed so far, each group at its capability.
    fn flush_closed(&mut self, output: &mut Emitter<'_, ((K, TimeWindow), A::Output)>) {
        for (_, (cap, records)) in std::mem::take(&mut self.closed) {
            let at = *cap.time();
            output
                .session(&cap)
                .give_iterator(records.into_iter().map(|r| (r, at, 1)));
        }
    }
}

impl<K: Record, V: Record, A: Accumulator<V>> KeyedState for Windows<K, V, A>
where
    A::Output: Record,
{
    type In = ((K, V), Stamp);
    type Out = ((K, TimeWindow), A::Output);

    fn apply(
        &mut self,
        ((key, value), stamp): Self::In,
        diff: isize,
        capability: &Capability<Time>,
    ) {
        let time = *capability.time();
        if let Applied::Late = self.apply_record(&key, &value, stamp, diff, time, capability) {
            self.ctx
                .report_late(self.id, stamp.time, clock::watermark(time), &(key, value));
        }
    }

    fn emit(&mut self, capability: &Capability<Time>, output: &mut Emitter<'_, Self::Out>) {
        let time = *capability.time();
        let mut session = output.session(capability);
        self.emit_changes(|record, diff| session.give((record, time, diff)));
    }

    fn advance(&mut self, frontier: Option<Time>, output: &mut Emitter<'_, Self::Out>) {
        self.close_until(frontier.map(clock::watermark));
        self.flush_closed(output);
    }
}

/// Final results of closed windows by the time they are emitted at, with its capability.
type Closed<K, O> = BTreeMap<Time, (Capability<Time>, Vec<((K, TimeWindow), O)>)>;

/// Aggregates `acc` per key and window of `input`, exchanging records by key. Outputs
/// `((key, window), result)`; late records go to the context's late side output.
pub(crate) fn window_aggregate<'scope, K: Record, V: Record, A: Accumulator<V>>(
    ctx: &Context,
    id: usize,
    input: VecCollection<'scope, Time, ((K, V), Stamp), isize>,
    spec: Window,
    acc: A,
) -> VecCollection<'scope, Time, ((K, TimeWindow), A::Output), isize>
where
    A::Output: Record,
{
    let windows = Windows {
        acc,
        spec,
        keys: HashMap::default(),
        dirty: Vec::new(),
        retired: Vec::new(),
        closing: BTreeMap::new(),
        close_caps: BTreeMap::new(),
        closed: BTreeMap::new(),
        ctx: ctx.clone(),
        id,
        _v: std::marker::PhantomData,
    };
    keyed_operator(
        ctx,
        id,
        input,
        |((key, _), _): &((K, V), Stamp)| key.hashed(),
        windows,
    )
}
