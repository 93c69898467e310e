//! The output file of a checkpointed replay: append-only, cut back to a checkpoint's length on restart.

use crate::error::Error;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An append-only output file whose length a [`Checkpoint`](crate::kappa::Checkpoint) records: reopened after a restart, it is
/// cut back to the checkpoint's length, so that what the restarted run writes again appears once.
pub struct FileSink {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
}

impl FileSink {
    /// Opens `path` for appending after its first `len` bytes, cutting off anything after them: `0`
    /// for a fresh run, [`Checkpoint::sink`](crate::kappa::Checkpoint::sink) for a resumed one. A file shorter than `len` is an error
    /// (the sink lost data the checkpoint says it held).
    pub fn open(path: &Path, len: u64) -> Result<Self, Error> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let actual = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if actual < len {
            return Err(Error::Source(format!(
                "{} is {actual} bytes long, shorter than the {len} bytes its checkpoint recorded",
                path.display()
            )));
        }
        file.set_len(len).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(len))
            .map_err(|e| Error::io(path, e))?;
        Ok(FileSink {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            len,
        })
    }

    /// Appends one JSON value and a newline.
    pub fn write_json<T: Serialize>(&mut self, value: &T) -> Result<(), Error> {
        let mut line = serde_json::to_vec(value)
            .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        line.push(b'\n');
        self.out
            .write_all(&line)
            .map_err(|e| Error::io(&self.path, e))?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// The bytes written so far, including those still buffered.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands what is buffered to the operating system, so that readers of the file see it (no fsync).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// Flushes the buffer and the file to disk; returns the durable length, for a checkpoint.
    pub fn sync(&mut self) -> Result<u64, Error> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_cut_back_to_the_checkpointed_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut sink = FileSink::open(&path, 0).unwrap();
        sink.write_json(&1).unwrap();
        let kept = sink.sync().unwrap();
        sink.write_json(&2).unwrap();
        sink.sync().unwrap();
        drop(sink);
        let mut sink = FileSink::open(&path, kept).unwrap();
        sink.write_json(&3).unwrap();
        sink.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n3\n");
        let error = FileSink::open(&path, 100).err().unwrap().to_string();
        assert!(error.contains("shorter"), "{error}");
    }
}
