//! Logs through `tracing`, filtered by `RUST_LOG` (`RUST_LOG=info`, `RUST_LOG=dataflow_core=debug`):
//! warnings and errors by default, on standard error. The command line's summary line and its
//! progress are not logs: they are printed as before.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "warn";

/// Installs the process's log subscriber: `RUST_LOG`'s filter (warnings when unset), lines on
/// standard error, coloured on a terminal. A malformed `RUST_LOG` falls back to warnings and says
/// so. Does nothing when a subscriber is already installed.
pub fn init_logging() {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => match EnvFilter::try_new(&text) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(DEFAULT_FILTER), Some((text, error))),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .is_ok();
    if installed && let Some((text, error)) = bad {
        tracing::warn!("RUST_LOG={text:?} is not a log filter ({error}); logging warnings only");
    }
}
