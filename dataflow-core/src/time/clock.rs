//! How logical times encode the watermark: the high bits of a logical time are event time in
//! milliseconds, the low `SUBSTEP_BITS` count steps taken while the watermark stood still.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_keeps_watermark_order() {
        assert!(at(5) + 3 < at(6));
        assert_eq!(watermark(at(77) + 12), 77);
        assert_eq!(at(u64::MAX), u64::MAX - 1);
    }
}
