//! Errors of runners, sources and the command line.

use dataflow_plan::StageKind;
use std::fmt;
use std::path::PathBuf;

/// Everything that can make a run fail.
#[derive(Debug)]
pub enum Error {
    /// Timely could not start or lost its workers.
    Timely(String),
    /// A worker thread panicked outside user code.
    WorkerPanicked(String),
    /// User code in one or more stages panicked; the first failures are listed.
    StageFailed {
        /// How many records made a stage panic.
        count: u64,
        /// The first failures, each naming its stage.
        failures: Vec<StageFailure>,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// An input could not be read at all (not a single record: those go to the dead-letter output).
    Source(String),
    /// The command line or configuration is wrong.
    Usage(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timely(message) => write!(f, "timely: {message}"),
            Error::WorkerPanicked(message) => write!(f, "a worker panicked: {message}"),
            Error::StageFailed { count, failures } => {
                write!(f, "{count} record(s) made user code panic")?;
                for failure in failures.iter().take(5) {
                    write!(f, "\n  {failure}")?;
                }
                if failures.len() > 5 {
                    write!(f, "\n  ...")?;
                }
                Ok(())
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Source(message) => write!(f, "{message}"),
            Error::Usage(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A failure of user code inside a stage: a closure that panicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageFailure {
    /// The pipeline's name.
    pub pipeline: String,
    /// The stage's node id in the plan.
    pub stage: usize,
    /// The stage's kind.
    pub kind: StageKind,
    /// The stage's arguments as declared.
    pub source: String,
    /// The line the stage is declared on.
    pub line: u32,
    /// The panic message.
    pub message: String,
}

impl fmt::Display for StageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stage #{} `{}` of pipeline `{}` (line {}: `{}`) panicked: {}",
            self.stage, self.kind, self.pipeline, self.line, self.source, self.message
        )
    }
}
