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
//! use dataflow_core::time::{Window, WindowKind, parse_duration};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
//! let hourly = Window::parse("sliding:1h:15m").unwrap();
//! assert_eq!(hourly, WindowKind::Sliding { size: 3_600_000, slide: 900_000 });
//! let windows: Vec<_> = Window::tumbling(Duration::from_secs(60)).assign(125_000).collect();
//! assert_eq!((windows[0].start, windows[0].end), (120_000, 180_000));
//! ```

use crate::time::duration::{format_millis, millis, parse_duration};
use dataflow_plan::{Plan, StageKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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

/// The most windows a sliding window may put one record in (`size / slide`): beyond it every record
/// would cost thousands of updates, which is almost always a slip of the units.
pub const MAX_WINDOWS_PER_RECORD: u64 = 1000;

impl std::fmt::Display for WindowKind {
    /// The window as `--window` takes it: `tumbling:1h`, `sliding:1h:15m`, `session:30m`, `global`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            WindowKind::Tumbling { size } => write!(f, "tumbling:{}", format_millis(size)),
            WindowKind::Sliding { size, slide } => {
                write!(
                    f,
                    "sliding:{}:{}",
                    format_millis(size),
                    format_millis(slide)
                )
            }
            WindowKind::Session { gap } => write!(f, "session:{}", format_millis(gap)),
            WindowKind::Global => f.write_str("global"),
        }
    }
}

impl WindowKind {
    /// Refuses windows that would lose records or explode: a zero size, slide or gap; a sliding
    /// window whose slide is longer than its size (records between windows would belong to none);
    /// more than `MAX_WINDOWS_PER_RECORD` (1,000) windows per record.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            WindowKind::Tumbling { size: 0 } => Err("a window's size must be at least 1ms".into()),
            WindowKind::Session { gap: 0 } => Err("a session's gap must be at least 1ms".into()),
            WindowKind::Sliding { size, slide } if size == 0 || slide == 0 => {
                Err("a sliding window's size and slide must be at least 1ms".into())
            }
            WindowKind::Sliding { size, slide } if slide > size => Err(format!(
                "the slide ({slide} ms) is longer than the size ({size} ms), so records between \
                 windows would belong to none: use a slide no longer than the size, or a tumbling window"
            )),
            WindowKind::Sliding { size, slide } if size / slide > MAX_WINDOWS_PER_RECORD => {
                Err(format!(
                    "a size of {size} ms with a slide of {slide} ms puts every record in {} windows \
                 (at most {MAX_WINDOWS_PER_RECORD}): use a longer slide",
                    size / slide
                ))
            }
            _ => Ok(()),
        }
    }
}

/// When a window's result is emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Parses `tumbling:1h`, `sliding:1h:15m` (size:slide), `session:30m` or `global`, and checks it
    /// (see [`WindowKind::check`]).
    pub fn parse(text: &str) -> Result<WindowKind, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let ms = |part: &str| parse_duration(part).map(millis);
        let kind = match parts.as_slice() {
            ["tumbling", size] => WindowKind::Tumbling { size: ms(size)? },
            ["sliding", size, slide] => WindowKind::Sliding {
                size: ms(size)?,
                slide: ms(slide)?,
            },
            ["session", gap] => WindowKind::Session { gap: ms(gap)? },
            ["global"] => WindowKind::Global,
            _ => {
                return Err(format!(
                    "`{text}` is not a window: use tumbling:SIZE, sliding:SIZE:SLIDE, session:GAP or global (e.g. tumbling:1h)"
                ));
            }
        };
        kind.check().map_err(|why| format!("`{text}`: {why}"))?;
        Ok(kind)
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
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == WindowOverrides::default()
    }

    /// `plan` with these overrides recorded on every window stage (as `window`, `lateness` and `emit`
    /// parameters), so that the plan explains what runs and its fingerprint, the version, names the
    /// computation: the same pipeline with another window is another version.
    pub fn apply_to_plan(&self, plan: &Plan) -> Plan {
        let mut plan = plan.clone();
        for node in plan
            .nodes
            .iter_mut()
            .filter(|n| n.kind == StageKind::Window)
        {
            if let Some(kind) = self.kind {
                node.params
                    .insert("window (overridden)".into(), kind.to_string());
            }
            if let Some(lateness) = self.lateness {
                node.params
                    .insert("lateness (overridden)".into(), format_millis(lateness));
            }
            if let Some(emit) = self.emit {
                let emit = match emit {
                    Emit::Final => "final",
                    Emit::Updating => "updating",
                };
                node.params.insert("emit (overridden)".into(), emit.into());
            }
        }
        plan
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_duration;
    use std::time::Duration;

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
    fn windows_that_lose_records_or_explode_are_refused() {
        for (text, why) in [
            ("sliding:1m:1h", "longer than the size"),
            ("sliding:1h:1ms", "3600000 windows"),
            ("sliding:0s:1s", "is zero"),
            ("tumbling:0s", "is zero"),
            ("session:0ms", "is zero"),
        ] {
            let error = Window::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
        for text in [
            "sliding:1h:15m",
            "sliding:1h:1h",
            "sliding:1000s:1s",
            "tumbling:1ms",
            "global",
        ] {
            assert!(Window::parse(text).is_ok(), "{text}");
        }
    }
}
