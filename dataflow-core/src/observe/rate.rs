//! Events per second over the last few seconds, from samples of a running total.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(5);
/// Samples closer together than this are merged into one.
const RESOLUTION: Duration = Duration::from_millis(100);

/// Samples `(when, total)` of a monotone total, to tell its recent rate. Each sample is a true
/// observation: take one before the total grows, and [`Rate::per_second`] takes one itself.
#[derive(Debug)]
pub(crate) struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    /// A rate whose total was 0 at `now`.
    pub(crate) fn new(now: Instant) -> Rate {
        Rate {
            samples: VecDeque::from([(now, 0)]),
        }
    }

    /// Notes that the total was `total` at `now` (call it before a total grows, so that a burst is
    /// timed from the moment it started).
    pub(crate) fn sample(&mut self, now: Instant, total: u64) {
        if let Some(&(last, _)) = self.samples.back()
            && now.saturating_duration_since(last) < RESOLUTION
        {
            return;
        }
        self.samples.push_back((now, total));
        // Keep one sample older than the window, to measure from when nothing newer is there.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|&(at, _)| now.saturating_duration_since(at) > WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Per second over the last [`WINDOW`] (over the time since the first sample when that is
    /// shorter), with the total `total` at `now`: the growth since the newest sample taken at or
    /// before the window's start.
    pub(crate) fn per_second(&mut self, now: Instant, total: u64) -> f64 {
        self.sample(now, total);
        let Some(&(first, _)) = self.samples.front() else {
            return 0.0;
        };
        let span = now.saturating_duration_since(first).min(WINDOW);
        let seconds = span.as_secs_f64();
        if seconds < 0.001 {
            return 0.0;
        }
        let start = now.checked_sub(span).unwrap_or(first);
        let then = self
            .samples
            .iter()
            .take_while(|&&(at, _)| at <= start)
            .last()
            .map_or(0, |&(_, total)| total);
        total.saturating_sub(then) as f64 / seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_measures_the_recent_window_only() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut rate = Rate::new(start);
        // 1000 records at a steady 1000/s for 10 s.
        for second in 0..10 {
            rate.sample(at(second * 1000), second * 1000);
        }
        let per_second = rate.per_second(at(10_000), 10_000);
        assert!((per_second - 1000.0).abs() < 1.0, "{per_second}");
        // Then quiet for 6 s: the window holds no growth.
        assert_eq!(rate.per_second(at(20_000), 10_000), 0.0);
    }

    #[test]
    fn a_burst_counts_for_the_window_after_it() {
        let start = Instant::now();
        let mut rate = Rate::new(start);
        rate.sample(start + Duration::from_secs(30), 0);
        // 40 records right after 30 s: 40 over the 5 s window.
        let per_second = rate.per_second(start + Duration::from_millis(30_500), 40);
        assert!((per_second - 8.0).abs() < 0.01, "{per_second}");
        assert_eq!(rate.per_second(start + Duration::from_secs(36), 40), 0.0);
    }

    #[test]
    fn a_young_run_is_measured_since_it_started() {
        let start = Instant::now();
        let mut rate = Rate::new(start);
        let per_second = rate.per_second(start + Duration::from_secs(2), 100);
        assert!((per_second - 50.0).abs() < 0.01, "{per_second}");
    }
}
