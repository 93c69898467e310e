//! `--metrics ADDR` on the command line: a run's metrics served at `http://ADDR/metrics` while it
//! runs (batch, stream, replay, ingest). The endpoint needs the `serve` feature (its HTTP server);
//! without it the flag is refused with the reason.

use crate::error::Error;
use crate::io::SourceStats;
use crate::pipeline::Pipeline;
use crate::runtime::{Runner, Running};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(feature = "serve")]
use crate::observe::{Metrics, MetricsServer};
#[cfg(feature = "serve")]
use std::sync::Arc;

/// The metrics of one command-line run, when `--metrics` asks for them; every method does nothing
/// otherwise.
pub(crate) struct RunMetrics {
    #[cfg(feature = "serve")]
    served: Option<(Arc<Metrics>, MetricsServer)>,
    /// Dead letters counted so far (the sources count them from the start).
    dead: AtomicU64,
}

impl RunMetrics {
    /// No metrics.
    pub(crate) fn off() -> RunMetrics {
        RunMetrics {
            #[cfg(feature = "serve")]
            served: None,
            dead: AtomicU64::new(0),
        }
    }

    /// The metrics of `P`'s run in `mode` at `version`, served on `addr` (and the address printed
    /// on standard error unless `quiet`), or none when `addr` is `None`.
    pub(crate) fn start<P: Pipeline>(
        addr: Option<SocketAddr>,
        version: &str,
        mode: &str,
        quiet: bool,
    ) -> Result<RunMetrics, Error> {
        let Some(addr) = addr else {
            return Ok(RunMetrics::off());
        };
        #[cfg(feature = "serve")]
        {
            let metrics = Arc::new(Metrics::new(P::NAME, version, mode, P::EVENT_TIME));
            let server = MetricsServer::start(addr, Arc::clone(&metrics))?;
            if !quiet {
                eprintln!("metrics on http://{}/metrics", server.local_addr());
            }
            Ok(RunMetrics {
                served: Some((metrics, server)),
                dead: AtomicU64::new(0),
            })
        }
        #[cfg(not(feature = "serve"))]
        {
            let _ = (addr, version, mode, quiet);
            Err(Error::Usage(
                "--metrics needs dataflow-core's `serve` feature, which has the HTTP server".into(),
            ))
        }
    }

    /// `runner`, measuring its operators when there are metrics.
    pub(crate) fn runner<P: Pipeline>(&self, runner: Runner<P>) -> Runner<P> {
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            return runner.metrics(Arc::clone(metrics));
        }
        runner
    }

    /// A function setting the bytes-read gauge, for a progress bar to call.
    pub(crate) fn bytes_gauge(&self) -> Box<dyn Fn(u64) + Send + Sync> {
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            let metrics = Arc::clone(metrics);
            return Box::new(move |bytes| metrics.set_bytes_read(bytes));
        }
        Box::new(|_| {})
    }

    /// What the sources read so far: their dead letters and `bytes` read.
    pub(crate) fn sources(&self, stats: SourceStats, bytes: u64) {
        let before = self.dead.swap(stats.dead, Ordering::Relaxed);
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            metrics.add_dead_letters(stats.dead.saturating_sub(before));
            metrics.set_bytes_read(bytes);
        }
        #[cfg(not(feature = "serve"))]
        let _ = (before, bytes);
    }

    /// A step of `records` records gave `changes` output changes and `late` late records.
    pub(crate) fn step(&self, records: u64, changes: u64, late: u64) {
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            metrics.record_step(records, changes);
            metrics.add_late(late);
        }
        #[cfg(not(feature = "serve"))]
        let _ = (records, changes, late);
    }

    /// Where the run's watermark is.
    pub(crate) fn watermark<P: Pipeline>(&self, running: &Running<P>) {
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            metrics.set_watermark(running.watermark(), running.max_event_time());
        }
        #[cfg(not(feature = "serve"))]
        let _ = running;
    }

    /// The log's head and the offset covered.
    pub(crate) fn log(&self, head: u64, covered: u64) {
        #[cfg(feature = "serve")]
        if let Some((metrics, _)) = &self.served {
            metrics.set_log(head, covered);
        }
        #[cfg(not(feature = "serve"))]
        let _ = (head, covered);
    }
}
