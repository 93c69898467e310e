//! How logical times encode the watermark.
//!
//! A logical time is a [`Time`], a `u128`: the high 64 bits are the watermark in milliseconds, the
//! low 64 bits count the steps taken while the watermark stood still. Every `u64` event time is a
//! watermark the clock can represent, and no number of steps at one watermark can spill into the
//! next millisecond, so a stream's answer never depends on how finely it was split into steps.
//!
//! ```text
//!   logical time = watermark (ms) · 2^64 + step
//!   at(5) < at(5) + 1 < at(5) + 2 < … < at(6)       (2^64 steps fit below the next millisecond)
//! ```
//!
//! Pipelines without event time use the step count alone (watermark 0).

/// The logical time of timely's progress tracking, as every pipeline's graph uses it.
pub type Time = u128;

/// Bits of a logical time below the watermark.
pub const SUBSTEP_BITS: u32 = 64;

/// The logical time at which the watermark is `millis` (its first step).
pub fn at(millis: u64) -> Time {
    Time::from(millis) << SUBSTEP_BITS
}

/// The watermark (milliseconds) at logical time `time`.
pub fn watermark(time: Time) -> u64 {
    (time >> SUBSTEP_BITS) as u64
}

/// The number of steps taken at logical time `time` since its watermark was reached.
pub fn substep(time: Time) -> u64 {
    time as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_clock_keeps_watermark_order() {
        assert!(at(5) + 3 < at(6));
        assert_eq!(watermark(at(77) + 12), 77);
        assert_eq!(substep(at(77) + 12), 12);
        assert_eq!(watermark(at(u64::MAX)), u64::MAX);
        // The last step at one watermark is still below the next millisecond.
        assert!(at(9) + Time::from(u64::MAX) < at(10));
    }

    proptest! {
        /// The encoding is monotone in (watermark, step) and round-trips, for every event time.
        #[test]
        fn the_clock_is_monotone(a in any::<u64>(), b in any::<u64>(), s in any::<u64>(), t in any::<u64>()) {
            let x = at(a) + Time::from(s);
            let y = at(b) + Time::from(t);
            prop_assert_eq!(watermark(x), a);
            prop_assert_eq!(substep(x), s);
            prop_assert_eq!(x.cmp(&y), (a, s).cmp(&(b, t)));
        }
    }
}
