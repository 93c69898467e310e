//! Progress on standard error while a long run reads its input, ingests or replays: shown only when
//! standard error is a terminal (and not with `--quiet`), so pipes and files never get it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// A progress bar of a run, drawn at most 10 times a second, cleared when the run ends.
pub(crate) struct Progress {
    bar: ProgressBar,
    quiet: bool,
    /// Told every new position (a metrics gauge).
    on_set: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

impl Progress {
    /// Bytes of input read, against the inputs' total size (0 when unknown, as for a FIFO).
    pub(crate) fn bytes(what: &str, total: u64, quiet: bool) -> Progress {
        let style = ProgressStyle::with_template(
            "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        Progress::new(what, total, quiet, style)
    }

    /// Log offsets replayed, against the head.
    pub(crate) fn offsets(what: &str, from: u64, head: u64, quiet: bool) -> Progress {
        let style = ProgressStyle::with_template(
            "{prefix} {bar:30} offset {pos}/{len} {per_sec} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let progress = Progress::new(what, head, quiet, style);
        progress.bar.set_position(from);
        progress.bar.reset_eta();
        progress
    }

    fn new(what: &str, total: u64, quiet: bool, style: ProgressStyle) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr_with_hz(10)
        };
        let bar = ProgressBar::with_draw_target(Some(total), target).with_style(style);
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress {
            bar,
            quiet,
            on_set: None,
        }
    }

    /// Tells `f` every position set, as well as the bar.
    pub(crate) fn on_set(mut self, f: Box<dyn Fn(u64) + Send + Sync>) -> Progress {
        self.on_set = Some(f);
        self
    }

    /// Where the run is now.
    pub(crate) fn set(&self, position: u64) {
        self.bar.set_position(position);
        if let Some(f) = &self.on_set {
            f(position);
        }
    }

    /// A new total (a followed log's head moves on).
    pub(crate) fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// A note after the bar: offsets acknowledged, the phase of a run.
    pub(crate) fn note(&self, message: String) {
        self.bar.set_message(message);
    }

    /// A milestone worth keeping, such as what a log acknowledged: after the bar on a terminal, as a
    /// line of its own otherwise (unless quiet), so a log file of the run shows it too.
    pub(crate) fn milestone(&self, message: String) {
        if self.bar.is_hidden() {
            if !self.quiet {
                eprintln!("{message}");
            }
        } else {
            self.bar.set_message(message);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_off_a_terminal_draws_nothing() {
        // Tests run with standard error captured, as a pipe: the bar is hidden, quiet or not.
        for quiet in [false, true] {
            let progress = Progress::bytes("reading", 100, quiet);
            progress.set(50);
            assert!(progress.bar.is_hidden());
        }
    }
}
