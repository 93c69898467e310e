//! A pipeline's inputs on the command line: one `--input NAME=PATH` per declared input (a single
//! input also takes `--input PATH`), read in turn, `--step-size` records from each per step.

use crate::cli::progress::Progress;
use crate::cli::{FormatArg, input_format};
use crate::error::Error;
use crate::io::{DeadLetter, FileSource, Format, LiveSource, Next, SourceStats, field_names};
use crate::log::{LoggedInputs, Schema};
use crate::pipeline::{Inputs, Pipeline};
use crate::record::Record;
use dataflow_plan::StageKind;
use std::path::PathBuf;

/// What one read of every input left: whether all are exhausted, whether one is waiting for a
/// writer (a FIFO with nothing yet).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadState {
    /// Every input has ended.
    pub ended: bool,
    /// Some input has nothing for now.
    pub waiting: bool,
}

/// The inputs of a pipeline as the command line reads them: implemented for one to three inputs.
pub trait CliInputs: LoggedInputs {
    /// One open source per input.
    type Sources;

    /// Opens one file per input, in the declaration's order.
    fn open(paths: &[PathBuf], format: Option<FormatArg>) -> Result<Self::Sources, Error>;

    /// Reads up to `max` records from each input into `batch`, in turn, without waiting for a live
    /// input; dead letters go to `dead`.
    fn read(
        sources: &mut Self::Sources,
        max: usize,
        batch: &mut Self::Batch,
        dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
    ) -> Result<ReadState, Error>;

    /// Waits until some waiting input has a record (or has ended).
    fn wait(sources: &mut Self::Sources);

    /// The counts of all inputs together.
    fn stats(sources: &Self::Sources) -> SourceStats;

    /// Bytes of all inputs read so far (live inputs count 0).
    fn bytes_read(sources: &Self::Sources) -> u64;

    /// Each input's record type and fields, for help texts.
    fn fields() -> Vec<Option<(&'static str, &'static [&'static str])>>;

    /// Batch mode: reads the input in `parts` parts in parallel when it can be split exactly (one
    /// input, a regular file: see [`FileSource::split`]), handing every part's records to `part` as
    /// they come (in no fixed order across parts) and the dead letters to `dead` in file order.
    /// Returns the counts, or `None` when the input cannot be split (nothing was read then).
    fn read_split(
        paths: &[PathBuf],
        format: Option<FormatArg>,
        parts: usize,
        progress: &mut dyn FnMut(u64),
        dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
        part: &mut dyn FnMut(Self::Batch) -> Result<(), Error>,
    ) -> Result<Option<SourceStats>, Error>;

    /// `serve`: serves pipeline `P` over HTTP (pipelines with one input).
    #[cfg(feature = "serve")]
    fn serve<P: Pipeline<Inputs = Self>>(args: &crate::serve::ServeArgs) -> Result<(), Error>;
}

/// The body of [`CliInputs::serve`]: one input is served, more are refused with the reason.
#[cfg(feature = "serve")]
macro_rules! serve_body {
    ($args:ident; $t:ident) => {
        crate::serve::run::<P, $t>($args)
    };
    ($args:ident; $($t:ident)+) => {{
        let _ = $args;
        Err(Error::Usage(format!(
            "serve takes a pipeline with one input; {} has {}: ingest its inputs into one log and \
             replay it with --mode replay",
            P::NAME,
            [$(stringify!($t)),+].len()
        )))
    }};
}

/// Reads up to `max` records of one source into `into`; returns (ended, waiting).
fn read_one<T: Record>(
    source: &mut (LiveSource<T>, bool),
    max: usize,
    into: &mut Vec<T>,
    dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
) -> Result<(bool, bool), Error> {
    if source.1 {
        return Ok((true, false));
    }
    let mut taken = 0;
    while taken < max {
        match source.0.try_next()? {
            Next::Item(Ok(record)) => {
                into.push(record);
                taken += 1;
            }
            Next::Item(Err(letter)) => dead(letter)?,
            Next::Waiting => return Ok((false, true)),
            Next::End => {
                source.1 = true;
                return Ok((true, false));
            }
        }
    }
    Ok((false, false))
}

fn open_one<T: Record + Schema>(
    path: &PathBuf,
    format: Option<FormatArg>,
) -> Result<(LiveSource<T>, bool), Error> {
    let source = FileSource::<T>::open(path, input_format(path, format)?)?;
    let may_wait = source.may_wait();
    Ok((LiveSource::new(source, may_wait), false))
}

fn add(a: SourceStats, b: SourceStats) -> SourceStats {
    SourceStats {
        read: a.read + b.read,
        ok: a.ok + b.ok,
        dead: a.dead + b.dead,
    }
}

/// The body of [`CliInputs::read_split`]: one input is split, several are read in turn.
macro_rules! read_split_body {
    ($paths:ident, $format:ident, $parts:ident, $progress:ident, $dead:ident, $part:ident; $t:ident) => {
        read_split_one::<$t>(
            &$paths[0],
            input_format(&$paths[0], $format)?,
            $parts,
            $progress,
            $dead,
            &mut |records| $part((records,)),
        )
    };
    ($paths:ident, $format:ident, $parts:ident, $progress:ident, $dead:ident, $part:ident; $($t:ident)+) => {{
        let _ = ($paths, $format, $parts, $progress, $dead, $part);
        Ok(None)
    }};
}

/// What a thread reading one part of a split input tells the reader.
enum PartMessage<T> {
    /// Records read, and the part's bytes read so far.
    Records(Vec<T>, u64),
    /// A record that could not be read.
    Letter(DeadLetter),
    /// The part is read to its end: its counts.
    Done(SourceStats),
    /// Reading the file failed.
    Failed(Error),
}

/// Records a part's thread gathers before handing them over.
const PART_PIECE: usize = 1 << 14;

/// Reads the file `path` in up to `parts` parts in parallel (see [`CliInputs::read_split`]).
fn read_split_one<T: Record>(
    path: &PathBuf,
    format: Format,
    parts: usize,
    progress: &mut dyn FnMut(u64),
    dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
    part: &mut dyn FnMut(Vec<T>) -> Result<(), Error>,
) -> Result<Option<SourceStats>, Error> {
    let Some(sources) = FileSource::<T>::split(path, format, parts)? else {
        return Ok(None);
    };
    let count = sources.len();
    std::thread::scope(|scope| {
        let (sender, receiver) =
            std::sync::mpsc::sync_channel::<(usize, PartMessage<T>)>(4 * count);
        for (index, mut source) in sources.into_iter().enumerate() {
            let sender = sender.clone();
            scope.spawn(move || {
                let mut records = Vec::with_capacity(PART_PIECE);
                let message = loop {
                    match source.try_next() {
                        Ok(Some(Ok(record))) => {
                            records.push(record);
                            if records.len() == PART_PIECE {
                                let full =
                                    std::mem::replace(&mut records, Vec::with_capacity(PART_PIECE));
                                let bytes = source.bytes_read();
                                if sender
                                    .send((index, PartMessage::Records(full, bytes)))
                                    .is_err()
                                {
                                    return;
                                }
                            }
                        }
                        Ok(Some(Err(letter))) => {
                            if sender.send((index, PartMessage::Letter(letter))).is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            let bytes = source.bytes_read();
                            if sender
                                .send((index, PartMessage::Records(records, bytes)))
                                .is_err()
                            {
                                return;
                            }
                            break PartMessage::Done(source.stats());
                        }
                        Err(error) => break PartMessage::Failed(error),
                    }
                };
                let _ = sender.send((index, message));
            });
        }
        drop(sender);
        // Dead letters are written in file order: those of a part once every part before it is done.
        let mut held: Vec<Vec<DeadLetter>> = (0..count).map(|_| Vec::new()).collect();
        let mut done = vec![false; count];
        let mut bytes = vec![0u64; count];
        let mut writing = 0;
        let mut total = SourceStats::default();
        for (index, message) in receiver {
            match message {
                PartMessage::Records(records, read) => {
                    bytes[index] = read;
                    progress(bytes.iter().sum());
                    if !records.is_empty() {
                        part(records)?;
                    }
                }
                PartMessage::Letter(letter) if index == writing => dead(letter)?,
                PartMessage::Letter(letter) => held[index].push(letter),
                PartMessage::Done(stats) => {
                    total = add(total, stats);
                    done[index] = true;
                    while writing < count && done[writing] {
                        writing += 1;
                        if writing < count {
                            for letter in std::mem::take(&mut held[writing]) {
                                dead(letter)?;
                            }
                        }
                    }
                }
                PartMessage::Failed(error) => return Err(error),
            }
        }
        if done.iter().all(|d| *d) {
            Ok(Some(total))
        } else {
            Err(Error::Source(format!(
                "{}: a reading thread stopped early",
                path.display()
            )))
        }
    })
}

macro_rules! cli_inputs {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Record + Schema),+> CliInputs for ($($t,)+) {
            type Sources = ($((LiveSource<$t>, bool),)+);

            fn open(paths: &[PathBuf], format: Option<FormatArg>) -> Result<Self::Sources, Error> {
                Ok(($(open_one::<$t>(&paths[$i], format)?,)+))
            }

            fn read(
                sources: &mut Self::Sources,
                max: usize,
                batch: &mut Self::Batch,
                dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
            ) -> Result<ReadState, Error> {
                let mut state = ReadState { ended: true, waiting: false };
                $(
                    let (ended, waiting) = read_one(&mut sources.$i, max, &mut batch.$i, dead)?;
                    state.ended &= ended;
                    state.waiting |= waiting;
                )+
                Ok(state)
            }

            fn wait(sources: &mut Self::Sources) {
                let open = 0 $(+ usize::from(!sources.$i.1))+;
                if open == 1 {
                    $( if !sources.$i.1 { sources.$i.0.wait(); } )+
                } else {
                    // Several live inputs: look again shortly at all of them.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }

            fn stats(sources: &Self::Sources) -> SourceStats {
                let total = SourceStats::default();
                $( let total = add(total, sources.$i.0.stats()); )+
                total
            }

            fn bytes_read(sources: &Self::Sources) -> u64 {
                0 $(+ sources.$i.0.bytes_read())+
            }

            fn fields() -> Vec<Option<(&'static str, &'static [&'static str])>> {
                vec![$(field_names::<$t>(),)+]
            }

            fn read_split(
                paths: &[PathBuf],
                format: Option<FormatArg>,
                parts: usize,
                progress: &mut dyn FnMut(u64),
                dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
                part: &mut dyn FnMut(Self::Batch) -> Result<(), Error>,
            ) -> Result<Option<SourceStats>, Error> {
                read_split_body!(paths, format, parts, progress, dead, part; $($t)+)
            }

            #[cfg(feature = "serve")]
            fn serve<P: Pipeline<Inputs = Self>>(
                args: &crate::serve::ServeArgs,
            ) -> Result<(), Error> {
                serve_body!(args; $($t)+)
            }
        }
    };
}

cli_inputs!(A 0);
cli_inputs!(A 0, B 1);
cli_inputs!(A 0, B 1, C 2);

/// The names of `P`'s inputs, as declared.
pub(crate) fn input_names<P: Pipeline>() -> Vec<&'static str> {
    P::plan()
        .nodes
        .iter()
        .filter(|n| n.kind == StageKind::Input)
        .map(|n| n.name.as_str())
        .collect()
}

/// The total size of `paths` in bytes (0 for what is not a regular file).
pub(crate) fn total_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// The input files `args` name, one per declared input of `P`, in the declaration's order:
/// `--input NAME=PATH` for each (one input also takes `--input PATH`).
pub(crate) fn input_paths<P: Pipeline>(inputs: &[String]) -> Result<Vec<PathBuf>, Error> {
    let names = input_names::<P>();
    let usage = || {
        let each: Vec<String> = names.iter().map(|n| format!("--input {n}=PATH")).collect();
        each.join(" ")
    };
    if inputs.is_empty() {
        return Err(Error::Usage(format!(
            "{} (or --explain)",
            if names.len() == 1 {
                "--input PATH is required".to_string()
            } else {
                format!("{} needs one input file per input: {}", P::NAME, usage())
            }
        )));
    }
    if names.len() == 1 && inputs.len() == 1 {
        let given = &inputs[0];
        let path = match given.split_once('=') {
            Some((name, path)) if name == names[0] => path,
            _ => given.as_str(),
        };
        return Ok(vec![PathBuf::from(path)]);
    }
    let mut paths: Vec<Option<PathBuf>> = vec![None; names.len()];
    for given in inputs {
        let Some((name, path)) = given.split_once('=') else {
            return Err(Error::Usage(format!(
                "--input {given} does not say which input it is: {} has {} inputs, pass {}",
                P::NAME,
                names.len(),
                usage()
            )));
        };
        let Some(index) = names.iter().position(|n| *n == name) else {
            return Err(Error::Usage(format!(
                "--input {given}: {} has no input `{name}`; its inputs are {}",
                P::NAME,
                names.join(", ")
            )));
        };
        if paths[index].replace(PathBuf::from(path)).is_some() {
            return Err(Error::Usage(format!("--input {name}= is given twice")));
        }
    }
    let missing: Vec<&str> = names
        .iter()
        .zip(&paths)
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "no --input for {}: pass {}",
            missing.join(", "),
            usage()
        )));
    }
    Ok(paths.into_iter().flatten().collect())
}

/// Records read from each input between progress updates.
const PROGRESS_EVERY: usize = 1 << 16;

/// Reads every input to its end, handing it to `part` in parts of up to [`PROGRESS_EVERY`] records
/// per input, in input order, showing progress; dead letters go to `dead`. The parts of a batch run
/// go straight into its open step ([`crate::Running::insert`]), so the input is never held whole.
pub(crate) fn read_parts<P>(
    sources: &mut <P::Inputs as CliInputs>::Sources,
    progress: &Progress,
    dead: &mut dyn FnMut(DeadLetter) -> Result<(), Error>,
    part: &mut dyn FnMut(<P::Inputs as Inputs>::Batch) -> Result<(), Error>,
) -> Result<(), Error>
where
    P: Pipeline,
    P::Inputs: CliInputs,
{
    loop {
        let mut batch = <P::Inputs as Inputs>::empty();
        let state = <P::Inputs as CliInputs>::read(sources, PROGRESS_EVERY, &mut batch, dead)?;
        progress.set(<P::Inputs as CliInputs>::bytes_read(sources));
        if <P::Inputs as Inputs>::len(&batch) > 0 {
            part(batch)?;
        }
        if state.ended {
            return Ok(());
        }
        if state.waiting {
            <P::Inputs as CliInputs>::wait(sources);
        }
    }
}
