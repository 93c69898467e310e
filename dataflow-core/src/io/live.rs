//! A source that can tell when its next record is not there yet: a FIFO, a pipe or a terminal is
//! read on a thread of its own, so that stream mode can end a step and make its output visible
//! instead of waiting, with the step's output unflushed, for records nobody has written yet. A
//! regular file never waits and is read in place.

use crate::error::Error;
use crate::io::{DeadLetter, FileSource, SourceStats};
use serde::de::DeserializeOwned;
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::thread::JoinHandle;

/// What a [`LiveSource`] has next.
pub enum Next<T> {
    /// A record, or the dead letter of a line that could not be read as one.
    Item(Result<T, DeadLetter>),
    /// Nothing yet: the writer has not written the next record (only for sources that can wait).
    Waiting,
    /// The end of the input.
    End,
}

/// Records read ahead before the reading thread waits for the consumer.
const READ_AHEAD: usize = 4096;

type Read<T> = Result<Option<Result<T, DeadLetter>>, Error>;

/// A [`FileSource`] that reports [`Next::Waiting`] instead of blocking when its input is a FIFO,
/// a pipe or a character device with nothing to read yet.
pub struct LiveSource<T> {
    source: Inner<T>,
    /// A record received while waiting, handed out next.
    peeked: Option<Read<T>>,
}

enum Inner<T> {
    InPlace(Box<FileSource<T>>),
    Thread {
        items: Receiver<Read<T>>,
        reader: Option<JoinHandle<SourceStats>>,
        stats: SourceStats,
    },
}

impl<T: DeserializeOwned + Send + 'static> LiveSource<T> {
    /// Reads `source` in place when `may_wait` is false (a regular file), else on a thread.
    pub fn new(mut source: FileSource<T>, may_wait: bool) -> Self {
        let source = if may_wait {
            let (send, items) = sync_channel(READ_AHEAD);
            let reader = std::thread::Builder::new()
                .name("dataflow-source".into())
                .spawn(move || {
                    loop {
                        let next = source.try_next();
                        let last = !matches!(next, Ok(Some(_)));
                        if send.send(next).is_err() || last {
                            return source.stats();
                        }
                    }
                })
                .expect("spawning the source thread");
            Inner::Thread {
                items,
                reader: Some(reader),
                stats: SourceStats::default(),
            }
        } else {
            Inner::InPlace(Box::new(source))
        };
        LiveSource {
            source,
            peeked: None,
        }
    }

    /// The next item without waiting: [`Next::Waiting`] when the input has nothing yet.
    pub fn try_next(&mut self) -> Result<Next<T>, Error> {
        let read = match (self.peeked.take(), &mut self.source) {
            (Some(read), _) => read,
            (None, Inner::InPlace(source)) => source.try_next(),
            (None, Inner::Thread { items, .. }) => match items.try_recv() {
                Ok(read) => read,
                Err(TryRecvError::Empty) => return Ok(Next::Waiting),
                Err(TryRecvError::Disconnected) => Ok(None),
            },
        };
        Ok(match read? {
            Some(item) => Next::Item(item),
            None => {
                self.finish_thread();
                Next::End
            }
        })
    }

    /// Waits until the next item is there (or the input ends).
    pub fn wait(&mut self) {
        if self.peeked.is_none()
            && let Inner::Thread { items, .. } = &mut self.source
        {
            self.peeked = Some(items.recv().unwrap_or(Ok(None)));
        }
    }

    /// Bytes read so far when the source is read in place (a regular file); 0 for a live input.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Inner::InPlace(source) => source.bytes_read(),
            Inner::Thread { .. } => 0,
        }
    }

    /// The source's counts: final once [`Next::End`] was returned.
    pub fn stats(&self) -> SourceStats {
        match &self.source {
            Inner::InPlace(source) => source.stats(),
            Inner::Thread { stats, .. } => *stats,
        }
    }

    fn finish_thread(&mut self) {
        if let Inner::Thread { reader, stats, .. } = &mut self.source
            && let Some(reader) = reader.take()
            && let Ok(counted) = reader.join()
        {
            *stats = counted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Format;
    use std::io::Write;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Word {
        text: String,
    }

    /// A pipe's reader sees `Waiting` between writes, every record once, and the end when the
    /// writer closes; the counts are the thread's.
    #[cfg(unix)]
    #[test]
    fn a_fifo_reports_waiting_between_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.jsonl");
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let writer_path = path.clone();
        let (go, gate) = std::sync::mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            let mut fifo = std::fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            fifo.write_all(b"{\"text\":\"alpha\"}\n").unwrap();
            fifo.flush().unwrap();
            gate.recv().unwrap();
            fifo.write_all(b"not json\n{\"text\":\"beta\"}\n").unwrap();
        });
        let source = FileSource::<Word>::open(&path, Format::Jsonl).unwrap();
        let mut live = LiveSource::new(source, true);
        let mut first = None;
        while first.is_none() {
            match live.try_next().unwrap() {
                Next::Item(item) => first = Some(item),
                Next::Waiting => live.wait(),
                Next::End => panic!("ended early"),
            }
        }
        assert_eq!(first.unwrap().unwrap().text, "alpha");
        // The writer holds the second write back: the reader is told to wait, not blocked.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(matches!(live.try_next().unwrap(), Next::Waiting));
        go.send(()).unwrap();
        let mut rest = Vec::new();
        loop {
            match live.try_next().unwrap() {
                Next::Item(item) => rest.push(item),
                Next::Waiting => live.wait(),
                Next::End => break,
            }
        }
        writer.join().unwrap();
        assert!(rest[0].is_err());
        assert_eq!(rest[1].as_ref().unwrap().text, "beta");
        assert_eq!(
            live.stats(),
            SourceStats {
                read: 3,
                ok: 2,
                dead: 1
            }
        );
    }
}
