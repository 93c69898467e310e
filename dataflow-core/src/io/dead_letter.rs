//! Dead letters: records that could not be read, with where they were and why, and the output they
//! go to. A malformed record is never dropped silently.

use crate::error::Error;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// A record that could not be read: where it was, why, and what it said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The input file.
    pub source: String,
    /// The 1-based line number in the file.
    pub line: u64,
    /// Why it could not be read.
    pub reason: String,
    /// The line's text.
    pub raw: String,
}

/// Where dead letters go: a JSON Lines file, or standard error.
pub struct DeadLetterSink {
    out: Box<dyn Write + Send>,
    target: String,
    to_stderr: bool,
    written: u64,
}

impl DeadLetterSink {
    /// Writes dead letters to standard error.
    pub fn stderr() -> Self {
        DeadLetterSink {
            out: Box::new(std::io::stderr()),
            target: "stderr".into(),
            to_stderr: true,
            written: 0,
        }
    }

    /// Writes dead letters to the file `path` (created or truncated), one JSON object per line.
    pub fn file(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(DeadLetterSink {
            out: Box::new(BufWriter::new(file)),
            target: path.display().to_string(),
            to_stderr: false,
            written: 0,
        })
    }

    /// Writes one dead letter.
    pub fn write(&mut self, letter: &DeadLetter) -> Result<(), Error> {
        let line = serde_json::to_string(letter)
            .map_err(|e| Error::Source(format!("cannot encode a dead letter: {e}")))?;
        let written = if self.to_stderr {
            writeln!(self.out, "dead letter: {line}")
        } else {
            writeln!(self.out, "{line}")
        };
        written.map_err(|e| Error::io(&self.target, e))?;
        self.written += 1;
        Ok(())
    }

    /// How many dead letters were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Where the dead letters go.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(|e| Error::io(&self.target, e))
    }
}
