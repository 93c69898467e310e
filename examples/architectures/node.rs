//! The computing side, run as a child process of the harness so that it can be killed with SIGKILL:
//! one of the four deployments of the workload, each behind the serving layer's HTTP API.
//!
//! It prints `ready VERSION http://ADDR` once version 1 answers, then reads commands on standard
//! input: `deploy` starts version 2 next to version 1 (same log: it reprocesses the history while
//! version 1 keeps answering) and prints its `ready` line; `retire` stops version 1. It ends when
//! standard input closes.

use crate::workload::{DailySalesV1, Event, Kind, MAX_DELAY, WindowedSalesV1};
use dataflow_core::Error;
use dataflow_core::Runner;
use dataflow_core::kappa::{EventLog, LogOptions};
use dataflow_core::log::{Log, Schema, Tail};
use dataflow_core::serve::{Architecture, ServeOptions, Server, serve};
use dataflow_core::time::{Emit, WindowOverrides};
use dataflow_examples::{DailySales, Sale, TimedSale, WindowedSales};
use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The four deployments.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// The batch runner recomputes the whole view over the log every period.
    Batch,
    /// The incremental runner fed directly from the HTTP front door, no log.
    Stream,
    /// The serving layer's Lambda mode: batch layer + speed layer, merged.
    Lambda,
    /// The log, replayed and followed by one pipeline: the served view.
    Kappa,
}

impl Deployment {
    /// All four, in the article's order.
    pub const ALL: [Deployment; 4] = [
        Deployment::Batch,
        Deployment::Stream,
        Deployment::Lambda,
        Deployment::Kappa,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Deployment::Batch => "batch",
            Deployment::Stream => "stream",
            Deployment::Lambda => "lambda",
            Deployment::Kappa => "kappa",
        }
    }

    /// Whether its input survives the process (a log on disk).
    pub fn durable(self) -> bool {
        self != Deployment::Stream
    }
}

/// The arguments of the hidden `node` subcommand.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// Which deployment.
    #[arg(long, value_enum)]
    pub deployment: Deployment,
    /// Which view.
    #[arg(long, value_enum, default_value = "daily")]
    pub workload: Kind,
    /// The event log (batch, lambda, kappa).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Stream: events this process has seen before the run (generated, pushed into the runner).
    #[arg(long, default_value_t = 0)]
    pub history: u64,
    /// Products of the generated history.
    #[arg(long, default_value_t = 50)]
    pub products: u16,
    /// Batch and lambda: recompute the batch view this often (milliseconds).
    #[arg(long, default_value_t = 10_000)]
    pub period_ms: u64,
    /// Records per step of the pipeline.
    #[arg(long, default_value_t = 10_000)]
    pub step: usize,
}

fn options(architecture: Architecture, args: &NodeArgs) -> ServeOptions {
    ServeOptions {
        architecture,
        batch_every: Some(Duration::from_millis(args.period_ms)),
        step: args.step,
        poll: Duration::from_millis(5),
        ..ServeOptions::default()
    }
}

fn open_log(args: &NodeArgs) -> Result<EventLog, Error> {
    let dir: &Path = args
        .log
        .as_deref()
        .ok_or_else(|| Error::Usage("--log is needed for this deployment".into()))?;
    EventLog::open(dir, LogOptions::default())
        .map_err(|e| Error::Source(format!("event log {}: {e}", dir.display())))
}

/// The windowed workload's runner: windows served as they change, hours out of order by up to
/// [`MAX_DELAY`].
fn windowed<P: dataflow_core::Pipeline>() -> Runner<P> {
    Runner::new().max_delay(MAX_DELAY).windows(WindowOverrides {
        emit: Some(Emit::Updating),
        ..WindowOverrides::default()
    })
}

// Each deployment as a user writes it with this project: version 1 and, on `deploy`, version 2.
// Their lines are counted in the matrix's complexity row (from `fn deploy_` to its closing brace).

fn deploy_batch(args: &NodeArgs, version: u8, log: &EventLog) -> Result<Server, Error> {
    let (options, log) = (options(Architecture::Batch, args), log.clone());
    match (args.workload, version) {
        (Kind::Daily, 1) => serve::<DailySalesV1, Sale, _>(Runner::new(), log, options),
        (Kind::Daily, _) => serve::<DailySales, Sale, _>(Runner::new(), log, options),
        (Kind::Windowed, 1) => serve::<WindowedSalesV1, TimedSale, _>(windowed(), log, options),
        (Kind::Windowed, _) => serve::<WindowedSales, TimedSale, _>(windowed(), log, options),
    }
}

fn deploy_stream(args: &NodeArgs, version: u8, input: &Handoff) -> Result<Server, Error> {
    let (options, input) = (options(Architecture::Kappa, args), input.clone());
    match (args.workload, version) {
        (Kind::Daily, 1) => serve::<DailySalesV1, Sale, _>(Runner::new(), input, options),
        (Kind::Daily, _) => serve::<DailySales, Sale, _>(Runner::new(), input, options),
        (Kind::Windowed, 1) => serve::<WindowedSalesV1, TimedSale, _>(windowed(), input, options),
        (Kind::Windowed, _) => serve::<WindowedSales, TimedSale, _>(windowed(), input, options),
    }
}

fn deploy_lambda(args: &NodeArgs, version: u8, log: &EventLog) -> Result<Server, Error> {
    let (options, log) = (options(Architecture::Lambda, args), log.clone());
    match (args.workload, version) {
        (Kind::Daily, 1) => serve::<DailySalesV1, Sale, _>(Runner::new(), log, options),
        (Kind::Daily, _) => serve::<DailySales, Sale, _>(Runner::new(), log, options),
        (Kind::Windowed, 1) => serve::<WindowedSalesV1, TimedSale, _>(windowed(), log, options),
        (Kind::Windowed, _) => serve::<WindowedSales, TimedSale, _>(windowed(), log, options),
    }
}

fn deploy_kappa(args: &NodeArgs, version: u8, log: &EventLog) -> Result<Server, Error> {
    let (options, log) = (options(Architecture::Kappa, args), log.clone());
    match (args.workload, version) {
        (Kind::Daily, 1) => serve::<DailySalesV1, Sale, _>(Runner::new(), log, options),
        (Kind::Daily, _) => serve::<DailySales, Sale, _>(Runner::new(), log, options),
        (Kind::Windowed, 1) => serve::<WindowedSalesV1, TimedSale, _>(windowed(), log, options),
        (Kind::Windowed, _) => serve::<WindowedSales, TimedSale, _>(windowed(), log, options),
    }
}

/// The lines of `fn deploy_NAME` in this file, its signature and closing brace included.
pub fn deployment_lines(deployment: Deployment) -> usize {
    let source = include_str!("node.rs");
    let start = format!("fn deploy_{}(", deployment.name());
    source
        .lines()
        .skip_while(|line| !line.starts_with(&start))
        .position(|line| line == "}")
        .map_or(0, |last| last + 1)
}

/// Runs the node until standard input closes.
pub fn run(args: &NodeArgs) -> Result<(), Error> {
    let log = if args.deployment.durable() {
        Some(open_log(args)?)
    } else {
        None
    };
    let mut inputs = vec![Handoff::default()];
    let start = |version: u8, input: &Handoff| match (args.deployment, &log) {
        (Deployment::Batch, Some(log)) => deploy_batch(args, version, log),
        (Deployment::Lambda, Some(log)) => deploy_lambda(args, version, log),
        (Deployment::Kappa, Some(log)) => deploy_kappa(args, version, log),
        _ => deploy_stream(args, version, input),
    };
    let v1 = start(1, &inputs[0])?;
    if args.deployment == Deployment::Stream {
        feed_history(&v1, &inputs[0], args)?;
    }
    announce(1, &v1)?;
    let mut servers = vec![Some(v1)];
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| Error::io("stdin", e))?;
        match line.trim() {
            "deploy" => {
                inputs.push(Handoff::default());
                let v2 = start(2, &inputs[1])?;
                announce(2, &v2)?;
                servers.push(Some(v2));
            }
            "retire" => {
                if let Some(v1) = servers[0].take() {
                    v1.stop()?;
                }
            }
            other => {
                return Err(Error::Usage(format!(
                    "unknown command {other:?}: deploy, retire"
                )));
            }
        }
    }
    for server in servers.into_iter().flatten() {
        server.stop()?;
    }
    Ok(())
}

fn announce(version: u8, server: &Server) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {version} http://{}", server.local_addr())
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("stdout", e))
}

/// Stream: pushes the generated history through the runner (it is seen once and kept nowhere but
/// in the pipeline's state), in chunks, each after the previous one has been consumed.
fn feed_history(server: &Server, input: &Handoff, args: &NodeArgs) -> Result<(), Error> {
    let chunk = 50_000;
    let mut seq = 0;
    while seq < args.history {
        let n = chunk.min(args.history - seq);
        let events = (seq..seq + n).map(|i| Event::generate(i, args.products));
        match args.workload {
            Kind::Daily => {
                let records: Vec<(u64, Sale)> =
                    events.map(|e| (e.event_time(), e.sale())).collect();
                Log::append(input, &records)?;
            }
            Kind::Windowed => {
                let records: Vec<(u64, TimedSale)> =
                    events.map(|e| (e.ts(), e.timed_sale())).collect();
                Log::append(input, &records)?;
            }
        }
        seq += n;
        let started = Instant::now();
        while server.offset() < seq {
            if started.elapsed() > Duration::from_secs(600) {
                return Err(Error::Source("the stream did not take its history".into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// The stream deployment's input: a volatile hand-off from the HTTP front door to the runner, not
/// a log. A record is dropped once the runner has read it and nothing survives the process, so a
/// restart loses everything before it, and a new version cannot replay history. Its positions
/// count the records handed over in this process's life.
#[derive(Clone, Default)]
pub struct Handoff {
    shared: Arc<(Mutex<HandoffState>, Condvar)>,
}

#[derive(Default)]
struct HandoffState {
    taken: u64,
    queue: VecDeque<Vec<u8>>,
    reader: bool,
}

impl Handoff {
    fn state(&self) -> std::sync::MutexGuard<'_, HandoffState> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Log for Handoff {
    type Position = u64;
    type Tail<I: Schema + 'static> = HandoffTail<I>;

    fn name(&self) -> String {
        "the stream's in-memory hand-off".into()
    }

    fn head(&self) -> u64 {
        let state = self.state();
        state.taken + state.queue.len() as u64
    }

    fn tail<I: Schema + 'static>(&self, from: u64) -> Result<HandoffTail<I>, Error> {
        let mut state = self.state();
        if state.reader || from != state.taken {
            return Err(Error::Source(format!(
                "the stream's hand-off keeps no records: one reader only, from the records not yet \
                 handed over (offset {}), not from {from}",
                state.taken
            )));
        }
        state.reader = true;
        Ok(HandoffTail {
            input: self.clone(),
            _record: PhantomData,
        })
    }

    fn append<I: Schema>(&self, records: &[(u64, I)]) -> Result<(u64, u64), Error> {
        let encoded = records
            .iter()
            .map(|(_, record)| postcard::to_stdvec(record))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Source(format!("cannot hand over a record: {e}")))?;
        let mut state = self.state();
        let from = state.taken + state.queue.len() as u64;
        state.queue.extend(encoded);
        let to = state.taken + state.queue.len() as u64;
        drop(state);
        self.shared.1.notify_all();
        Ok((from, to))
    }
}

/// The runner's end of a [`Handoff`].
pub struct HandoffTail<I> {
    input: Handoff,
    _record: PhantomData<fn() -> I>,
}

impl<I: Schema + 'static> HandoffTail<I> {
    fn take(state: &mut HandoffState, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        let mut count = 0;
        while count < max {
            let Some(bytes) = state.queue.pop_front() else {
                break;
            };
            let record = postcard::from_bytes(&bytes)
                .map_err(|e| Error::Source(format!("cannot read a handed-over record: {e}")))?;
            into.push(record);
            state.taken += 1;
            count += 1;
        }
        Ok(count)
    }
}

impl<I: Schema + 'static> Tail<I> for HandoffTail<I> {
    type Position = u64;

    fn position(&self) -> u64 {
        self.input.state().taken
    }

    fn head(&self) -> u64 {
        self.input.head()
    }

    fn read(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        Self::take(&mut self.input.state(), max, into)
    }

    fn wait(&mut self, max: usize, timeout: Duration, into: &mut Vec<I>) -> Result<usize, Error> {
        let state = self.input.state();
        let (mut state, _) = self
            .input
            .shared
            .1
            .wait_timeout_while(state, timeout, |s| s.queue.is_empty())
            .unwrap_or_else(|p| p.into_inner());
        Self::take(&mut state, max, into)
    }
}
