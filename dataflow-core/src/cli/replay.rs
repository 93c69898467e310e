//! `--mode replay`: feeds the pipeline from the event log, following its tail if asked, with
//! checkpoints.

use crate::cli::metrics::RunMetrics;
use crate::cli::progress::Progress;
use crate::cli::{Args, CliInputs, cluster_of, late_note, late_output, output_counts, runner_of};
use crate::error::Error;
use crate::io::jsonl::{write_changes, write_late, write_records};
use crate::kappa::{
    Checkpoint, Control, FileSink, Follow, Replay, ReplayHooks, ReplayStep, write_atomically,
};
use crate::log::{EventLog, Log, LogLocation, Position, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::Change;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where replay mode writes: changes to an append-only sink (cut back to the checkpoint on
/// restart), or the final result to standard output or to a file written atomically at the end.
enum ReplayOut {
    Changes(FileSink),
    Stdout(BufWriter<std::io::Stdout>),
    Buffer(Vec<u8>, PathBuf),
    /// A process of a cluster other than 0, which collects no output.
    Nowhere,
}

impl ReplayOut {
    fn write_changes<O: Serialize>(&mut self, changes: &[Change<O>]) -> Result<(), Error> {
        match self {
            ReplayOut::Changes(sink) => changes.iter().try_for_each(|c| sink.write_json(c)),
            ReplayOut::Stdout(out) => write_changes(out, changes, "stdout"),
            ReplayOut::Buffer(out, path) => {
                write_changes(out, changes, &path.display().to_string())
            }
            ReplayOut::Nowhere => Ok(()),
        }
    }

    /// Makes what was written visible to readers (no fsync): live output while following.
    fn flush(&mut self) -> Result<(), Error> {
        match self {
            ReplayOut::Changes(sink) => sink.flush(),
            ReplayOut::Stdout(out) => out.flush().map_err(|e| Error::io("stdout", e)),
            ReplayOut::Buffer(..) | ReplayOut::Nowhere => Ok(()),
        }
    }

    /// Makes what was written durable; returns the sink's length for a checkpoint.
    fn sync(&mut self) -> Result<u64, Error> {
        match self {
            ReplayOut::Changes(sink) => sink.sync(),
            ReplayOut::Stdout(out) => out.flush().map(|()| 0).map_err(|e| Error::io("stdout", e)),
            ReplayOut::Buffer(..) | ReplayOut::Nowhere => Ok(0),
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        self.sync()?;
        if let ReplayOut::Buffer(bytes, path) = self {
            write_atomically(&path, &bytes)?;
        }
        Ok(())
    }
}

/// What a replay's output depends on besides the pipeline's version, as a checkpoint records it: the
/// log, the output (its path and, once it exists, which file it is), the mode and the flags that
/// shape the output. A restart with any of them different is refused before it touches the output.
fn settings(args: &Args, log: &str) -> Vec<(String, String)> {
    let absolute = |path: &Path| {
        std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    };
    let output = args
        .output
        .as_deref()
        .map_or("stdout".to_string(), absolute);
    let mut settings = vec![
        ("log".to_string(), log.to_string()),
        ("--output".to_string(), output),
        ("--changes".to_string(), args.changes.to_string()),
        ("--window".to_string(), format!("{:?}", args.window)),
        ("--emit".to_string(), format!("{:?}", args.emit)),
        ("--max-delay".to_string(), format!("{:?}", args.max_delay)),
        ("--lateness".to_string(), format!("{:?}", args.lateness)),
    ];
    if let Some(path) = &args.output
        && args.changes
    {
        settings.push(("output file".to_string(), file_identity(path)));
    }
    settings
}

/// Which file `path` is: device and inode on Unix (a file replaced under the same name is another
/// file), its length elsewhere; `missing` when there is none.
fn file_identity(path: &Path) -> String {
    match std::fs::metadata(path) {
        #[cfg(unix)]
        Ok(metadata) => {
            use std::os::unix::fs::MetadataExt;
            format!("device {} inode {}", metadata.dev(), metadata.ino())
        }
        #[cfg(not(unix))]
        Ok(_) => "present".to_string(),
        Err(_) => "missing".to_string(),
    }
}

/// `--mode replay`: feeds the pipeline from the event log, with checkpoints if asked.
pub(crate) fn replay<P, I>(args: &Args) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
{
    let location = args.log.as_ref().ok_or_else(|| {
        Error::Usage("--mode replay needs --log DIR or --log kafka://HOST:PORT/TOPIC".into())
    })?;
    if !args.input.is_empty() {
        return Err(Error::Usage(
            "--mode replay reads --log, not --input: append the input with `ingest` first".into(),
        ));
    }
    let cluster = cluster_of(args)?;
    if args.checkpoint.is_some() && args.changes && args.output.is_none() {
        return Err(Error::Usage(
            "--checkpoint with --changes needs --output PATH, which a restart cuts back to the checkpoint".into(),
        ));
    }
    if args.checkpoint_every() == 0 {
        return Err(Error::Usage("--checkpoint-every must be at least 1".into()));
    }
    // In a cluster, each process reads its share of the log's partitions and deals it to its
    // workers; the keyed stages exchange records between the processes. The file log's one
    // partition is process 0's.
    let runner = runner_of::<P>(args, cluster.clone()).disjoint_inputs(true);
    match location {
        LogLocation::Dir(_) if cluster.process != 0 => no_partition(args, runner, 1),
        LogLocation::Dir(dir) => {
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "there is no event log in {}: create it with `ingest --input PATH --log {}`",
                    dir.display(),
                    dir.display()
                )));
            }
            let from = args.from_offsets();
            if from.partitions() > 1 {
                return Err(Error::Usage(format!(
                    "--from {from} names several partitions, but the file log {} has one: give one offset",
                    dir.display()
                )));
            }
            let log = EventLog::open_read_only(dir)
                .map_err(|e| Error::Source(format!("event log {}: {e}", dir.display())))?;
            let name = std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string();
            replay_log::<P, I, EventLog>(args, runner, &log, name, args.from())
        }
        #[cfg(feature = "kafka")]
        LogLocation::Kafka { broker, topic } => {
            let address = crate::log::KafkaAddress {
                broker: broker.clone(),
                topic: topic.clone(),
            };
            let options = crate::log::KafkaOptions {
                partition_idle: args.idle_timeout(),
                ..Default::default()
            };
            let log = crate::log::KafkaLog::connect(&address, options)?;
            if crate::log::partitions_of(cluster.process, cluster.processes, log.partitions())
                .is_empty()
            {
                return no_partition(args, runner, log.partitions());
            }
            let from = args.from_offsets();
            if from.partitions() > 1 && from.partitions() != log.partitions() {
                return Err(Error::Usage(format!(
                    "--from {from} names {} partitions, but {address} has {}",
                    from.partitions(),
                    log.partitions()
                )));
            }
            let from = match from.partitions() {
                0 => crate::log::Offsets::start(log.partitions()),
                1 if log.partitions() > 1 && from.get(0) == 0 => {
                    crate::log::Offsets::start(log.partitions())
                }
                1 if log.partitions() > 1 => {
                    return Err(Error::Usage(format!(
                        "--from {} names one offset, but {address} has {} partitions: give one offset per partition, as in --from {}",
                        from.get(0),
                        log.partitions(),
                        vec![from.get(0).to_string(); log.partitions()].join(",")
                    )));
                }
                _ => from,
            };
            replay_log::<P, I, crate::log::KafkaLog>(args, runner, &log, address.to_string(), from)
        }
        #[cfg(not(feature = "kafka"))]
        LogLocation::Kafka { .. } => Err(Error::Usage(
            "this build has no Kafka support (dataflow-core's `kafka` feature)".into(),
        )),
    }
}

/// A process of a cluster that has no partition of the log to read (there are `partitions`): it
/// pushes nothing, and works on what the keyed stages exchange to it.
fn no_partition<P: Pipeline>(
    args: &Args,
    runner: crate::runtime::Runner<P>,
    partitions: usize,
) -> Result<(), Error> {
    let cluster = runner.cluster_spec().clone();
    runner.start()?.finish()?;
    if !args.quiet {
        eprintln!(
            "{}: process {} of {} read no partition (the log has {partitions}), and worked on what \
             the other processes exchanged to it",
            P::NAME,
            cluster.process,
            cluster.processes
        );
    }
    Ok(())
}

/// Replays `log` (named `name` in messages and checkpoints) from `from` on, as `args` say.
fn replay_log<P, I, L>(
    args: &Args,
    runner: crate::runtime::Runner<P>,
    log: &L,
    name: String,
    from: L::Position,
) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
    L: Log,
{
    let started = Instant::now();
    // In a cluster, process 0 collects the output, writes it and the checkpoints; the others
    // replay their partitions and resume from their part of process 0's checkpoint.
    let cluster = runner.cluster_spec().clone();
    let leader = cluster.process == 0;
    let metrics = RunMetrics::start::<P>(args.metrics, &runner.version(), "replay", args.quiet)?;
    let runner = metrics.runner(runner);
    let checkpoint = match &args.checkpoint {
        Some(path) => Checkpoint::<P::Output, L::Position>::load(path)?,
        None => None,
    };
    if let (Some(checkpoint), Some(path)) = (&checkpoint, &args.checkpoint) {
        if checkpoint.from != from {
            return Err(Error::Usage(format!(
                "the checkpoint {} is of a replay from offset {}, not {}",
                path.display(),
                checkpoint.from,
                from
            )));
        }
        // Before anything is replayed or an output is cut back: the checkpoint must be this run's.
        // (Process 0 owns the output and checks; the others may not see its file.)
        let mismatches = checkpoint.mismatches(&settings(args, &name));
        if leader && !mismatches.is_empty() {
            let list: Vec<String> = mismatches
                .iter()
                .map(|(name, then, now)| format!("{name}: {then} then, {now} now"))
                .collect();
            return Err(Error::Usage(format!(
                "the checkpoint {} was written by a run with other settings ({}): resume with the \
                 same settings, or pass another --checkpoint to replay from the start",
                path.display(),
                list.join("; ")
            )));
        }
    }
    let mut replay = match &checkpoint {
        Some(checkpoint) => Replay::<P, I, L>::resume(&runner, log, checkpoint, args.step_size())?,
        None => Replay::<P, I, L>::start(&runner, log, from.clone(), args.step_size())?,
    };
    let resumed_at = checkpoint.as_ref().map(|c| c.offset.clone());
    let out = match (&args.output, args.changes) {
        _ if !leader => ReplayOut::Nowhere,
        (Some(path), true) => ReplayOut::Changes(FileSink::open(
            path,
            checkpoint.as_ref().map_or(0, |c| c.sink),
        )?),
        (Some(path), false) => ReplayOut::Buffer(Vec::new(), path.clone()),
        (None, _) => ReplayOut::Stdout(BufWriter::new(std::io::stdout())),
    };
    // Process 0 writes every process's late records (the others send theirs to it).
    let (late_out, late_name) = late_output(args, leader)?;
    let mut hooks = ReplayCli {
        args,
        // The output file exists now: its identity goes into every checkpoint.
        settings: settings(args, &name),
        leader,
        out,
        late_out,
        late_name,
        since_checkpoint: 0,
        following: false,
        metrics: &metrics,
        progress: Progress::offsets(
            "replaying",
            from.records(),
            replay.head().records(),
            args.quiet,
        ),
    };
    let follow = args.follow.then_some(Follow {
        poll: args.idle_timeout(),
        idle_timeout: Some(args.idle_timeout()),
        idle_when_quiet_at_head: true,
        end_when_idle: true,
    });
    replay.drive(follow, &mut hooks)?;
    if let Some(path) = &args.checkpoint
        && leader
        && hooks.since_checkpoint > 0
    {
        let sink = hooks.out.sync()?;
        let mut checkpoint = replay.checkpoint(sink);
        checkpoint.settings = hooks.settings.clone();
        checkpoint.save(path)?;
    }
    let ReplayCli {
        mut out,
        mut late_out,
        late_name,
        progress,
        ..
    } = hooks;
    drop(progress);
    let version = replay.running().version().to_string();
    let replayed = replay.finish()?;
    if leader {
        if args.changes {
            out.write_changes(&replayed.output.closing_changes)?;
        } else {
            match &mut out {
                ReplayOut::Stdout(w) => write_records(w, &replayed.output, P::NAME, "stdout")?,
                ReplayOut::Buffer(bytes, path) => write_records(
                    bytes,
                    &replayed.output,
                    P::NAME,
                    &path.display().to_string(),
                )?,
                ReplayOut::Changes(_) | ReplayOut::Nowhere => {}
            }
        }
    }
    write_late(
        &mut late_out,
        &replayed.output.late,
        &late_name,
        args.late.is_none(),
    )?;
    if leader {
        out.finish()?;
    }
    late_out.flush().map_err(|e| Error::io(&late_name, e))?;
    if leader && !args.quiet {
        let workers = args.workers * args.processes;
        let resumed = resumed_at.map_or(String::new(), |offset| {
            format!(" (resumed from the checkpoint at offset {offset})")
        });
        let late_note = late_note(&replayed.output.summary);
        eprintln!(
            "{} (version {}): replay of {} offsets {}..{}{resumed}, steps of {}, {workers} worker{}: {} records{late_note}; {} in {:.3} s",
            P::NAME,
            version,
            name,
            replayed.from,
            replayed.to,
            args.step_size(),
            if workers == 1 { "" } else { "s" },
            replayed.output.summary.input_records,
            output_counts(&replayed.output.records),
            started.elapsed().as_secs_f64()
        );
    }
    if !leader && !args.quiet {
        let share = crate::log::partitions_of(cluster.process, cluster.processes, log.partitions());
        eprintln!(
            "{}: process {} of {} replayed partition{} {} of {} (offsets {}..{}): {} records",
            P::NAME,
            cluster.process,
            cluster.processes,
            if share.len() == 1 { "" } else { "s" },
            share
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
            name,
            replayed.from,
            replayed.to,
            replayed.output.summary.input_records,
        );
    }
    Ok(())
}

/// The command line's replay hooks: write each step's changes and late records, checkpoint every
/// `--checkpoint-every` steps.
struct ReplayCli<'a> {
    args: &'a Args,
    /// What this run's checkpoints record it wrote (see [`settings`]).
    settings: Vec<(String, String)>,
    leader: bool,
    out: ReplayOut,
    late_out: Box<dyn Write>,
    late_name: String,
    since_checkpoint: u64,
    /// Following the tail: every step's output is flushed, as the next read may wait for appends.
    following: bool,
    /// Offsets replayed against the head, on a terminal.
    progress: Progress,
    /// `--metrics`.
    metrics: &'a RunMetrics,
}

impl ReplayCli<'_> {
    /// Makes the output so far visible before the replay waits for the log.
    fn flush(&mut self) -> Result<(), Error> {
        if self.leader {
            self.out.flush()?;
        }
        self.late_out
            .flush()
            .map_err(|e| Error::io(&self.late_name, e))
    }
}

impl<P, I, L> ReplayHooks<P, I, L> for ReplayCli<'_>
where
    P: Pipeline,
    P::Inputs: CliInputs<Entry = I>,
    I: Record + Schema,
    L: Log,
{
    fn step(
        &mut self,
        replay: &mut Replay<P, I, L>,
        step: ReplayStep<P::Output, L::Position>,
    ) -> Result<Control, Error> {
        if self.args.changes && self.leader {
            self.out.write_changes(&step.changes)?;
        }
        let late = replay.running().take_late();
        let records = step.to.records().saturating_sub(step.from.records());
        self.metrics
            .step(records, step.changes.len() as u64, late.len() as u64);
        self.metrics.watermark(replay.running());
        self.metrics
            .log(replay.head().records(), replay.position().records());
        write_late(
            &mut self.late_out,
            &late,
            &self.late_name,
            self.args.late.is_none(),
        )?;
        self.since_checkpoint += 1;
        if let Some(path) = &self.args.checkpoint
            && self.leader
            && self.since_checkpoint >= self.args.checkpoint_every()
        {
            let sink = self.out.sync()?;
            let mut checkpoint = replay.checkpoint(sink);
            checkpoint.settings = self.settings.clone();
            checkpoint.save(path)?;
            self.since_checkpoint = 0;
        }
        self.progress.set_total(replay.head().records());
        self.progress.set(replay.position().records());
        if self.following {
            self.flush()?;
        }
        Ok(Control::Continue)
    }

    fn at_head(&mut self, _replay: &mut Replay<P, I, L>) -> Result<Control, Error> {
        self.following = self.args.follow;
        if self.following {
            self.progress.note("at the head, following".into());
        }
        if self.following {
            self.flush()?;
        }
        Ok(Control::Continue)
    }

    fn idle(
        &mut self,
        _replay: &mut Replay<P, I, L>,
        changes: Vec<Change<P::Output>>,
    ) -> Result<Control, Error> {
        if self.args.changes && self.leader {
            self.out.write_changes(&changes)?;
        }
        self.flush()?;
        Ok(Control::Continue)
    }
}
