//! Event time: how logical times encode the watermark ([`clock`]), durations as users write them, and
//! window specifications with their overrides.

pub mod clock;
mod duration;
mod window;

pub use duration::{format_millis, parse_duration};
pub use window::{Emit, TimeWindow, Window, WindowKind, WindowOverrides};
