//! `serve` on the command line: `<example> serve --log DIR --listen 127.0.0.1:8080
//! [--architecture kappa|lambda|batch] [--batch-every 10s]`.

use crate::cli::progress::Progress;
use crate::error::Error;
use crate::log::{EventLog, LogOptions, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::Runner;
use crate::serve::{Architecture, Retention, ServeOptions, serve};
use crate::time::{Emit, WindowOverrides, parse_duration};
use clap::{ArgAction, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `--architecture`, as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ArchitectureArg {
    /// One pipeline replays the log and follows its tail.
    Kappa,
    /// A batch layer, a speed layer and a serving layer that merges them.
    Lambda,
    /// The batch runner recomputes the whole view every `--batch-every` (and on `POST /v1/batch`).
    Batch,
}

/// The arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The event log's directory (created if needed).
    #[arg(long)]
    pub log: PathBuf,
    /// The address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Kappa (one pipeline over the whole log), Lambda (batch layer + speed layer, merged) or batch
    /// (the whole view recomputed every `--batch-every`).
    #[arg(long, value_enum, default_value = "kappa")]
    pub architecture: ArchitectureArg,
    /// Lambda and batch: recompute the batch view this often (and on `POST /v1/batch`).
    #[arg(long, value_parser = parse_duration)]
    pub batch_every: Option<Duration>,
    /// Records per step of the pipeline.
    #[arg(long, default_value_t = 10_000)]
    pub step_size: usize,
    /// Worker threads of the pipeline.
    #[arg(short = 'w', long, default_value_t = 1)]
    pub workers: usize,
    /// Event-time pipelines: bounded out-of-orderness of the watermark.
    #[arg(long, value_parser = parse_duration)]
    pub max_delay: Option<Duration>,
    /// Event-time pipelines: allowed lateness of every window (a window is final after it).
    #[arg(long, value_parser = parse_duration)]
    pub lateness: Option<Duration>,
    /// A value for one of the pipeline's runtime parameters, as `NAME=VALUE`; once per parameter.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = crate::cli::parse_param)]
    pub params: Vec<(String, String)>,
    /// Keep snapshots readable by `as_of` and cursors this long.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub retain: Duration,
    /// Keep at most this many recent snapshots.
    #[arg(long, default_value_t = 64)]
    pub retain_snapshots: usize,
    /// The largest body `POST /v1/events` takes, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Threads answering HTTP.
    #[arg(long, default_value_t = 2)]
    pub http_threads: usize,
    /// No progress on standard error (shown only when it is a terminal: the catch-up with the
    /// log, then serving).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `serve`: serves pipeline `P` over the log in `args.log` until the process is stopped.
pub fn run<P, I>(args: &ServeArgs) -> Result<(), Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    // The one parse of --log: serving reads the embedded file log (its HTTP answers carry one
    // offset); a Kafka topic is refused by name rather than taken as a directory.
    if let Ok(crate::log::LogLocation::Kafka { .. }) =
        crate::log::LogLocation::parse(&args.log.to_string_lossy())
    {
        return Err(Error::Usage(format!(
            "serve reads the embedded file log, whose answers carry one offset; {} is a Kafka              topic: replay or follow it with --mode replay --log {}",
            args.log.display(),
            args.log.display()
        )));
    }
    let log = EventLog::open(&args.log, LogOptions::default())
        .map_err(|e| Error::Source(format!("event log {}: {e}", args.log.display())))?;
    // Windows are served while still open, so every window's result is emitted as it changes.
    let mut runner = Runner::<P>::new()
        .workers(args.workers)
        .windows(WindowOverrides {
            kind: None,
            lateness: args
                .lateness
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            emit: Some(Emit::Updating),
        })
        .params({
            let mut params = crate::params::Params::new();
            for (name, value) in &args.params {
                params.set(name, value);
            }
            params
        });
    if let Some(delay) = args.max_delay {
        runner = runner.max_delay(delay);
    }
    let architecture = match args.architecture {
        ArchitectureArg::Kappa => Architecture::Kappa,
        ArchitectureArg::Lambda => Architecture::Lambda,
        ArchitectureArg::Batch => Architecture::Batch,
    };
    let options = ServeOptions {
        listen: args.listen,
        architecture,
        batch_every: args.batch_every,
        step: args.step_size,
        retention: Retention {
            period: args.retain,
            max: args.retain_snapshots,
            ..Retention::default()
        },
        max_body: args.max_body,
        lateness: args.lateness.unwrap_or_default(),
        http_threads: args.http_threads,
        ..ServeOptions::default()
    };
    let server = serve::<P, I, EventLog>(runner, log, options)?;
    println!(
        "serving {} (version {}, {}) on http://{}",
        P::NAME,
        P::version(),
        architecture.as_str(),
        server.local_addr()
    );
    std::io::stdout()
        .flush()
        .map_err(|e| Error::io("stdout", e))?;
    let shown = show_progress(server.position(), P::NAME, args.quiet);
    let result = server.wait();
    shown.stop();
    result
}

/// The progress of a server on standard error: its catch-up with the log, then serving.
struct ShownProgress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ShownProgress {
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Shows `position` (offset covered, head) four times a second until stopped.
fn show_progress(
    position: impl Fn() -> (u64, u64) + Send + 'static,
    pipeline: &'static str,
    quiet: bool,
) -> ShownProgress {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("serve-progress".into())
        .spawn(move || {
            let (_, head) = position();
            let progress = Progress::offsets("catching up", 0, head, quiet);
            let mut caught_up = false;
            while !stopped.load(Ordering::Relaxed) {
                let (offset, head) = position();
                progress.set_total(head.max(offset));
                progress.set(offset);
                if !caught_up && offset >= head {
                    caught_up = true;
                    tracing::info!(
                        "{pipeline}: caught up with the log at offset {offset}: serving"
                    );
                }
                progress.note(if offset >= head {
                    "serving".to_string()
                } else {
                    format!("{} behind the head", head - offset)
                });
                std::thread::sleep(Duration::from_millis(250));
            }
        })
        .ok();
    ShownProgress { stop, thread }
}
