//! File sources (CSV and JSON Lines) and the dead-letter output for records that cannot be read.
//!
//! A malformed line never stops a run and is never dropped silently: [`FileSource`] yields it as a
//! [`DeadLetter`] naming the line and the reason, the caller writes it to a [`DeadLetterSink`], and the
//! run ends with the counts in [`SourceStats`].
//!
//! # Examples
//!
//! ```
//! use dataflow_core::io::{FileSource, Format};
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize, PartialEq)]
//! struct Sale { product: String, quantity: u32 }
//!
//! let dir = std::env::temp_dir().join(format!("dataflow-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("sales.csv");
//! std::fs::write(&path, "product,quantity\ntea,2\njam,lots\n").unwrap();
//!
//! let mut source = FileSource::<Sale>::open(&path, Format::Csv)?;
//! assert_eq!(source.next().unwrap().unwrap(), Sale { product: "tea".into(), quantity: 2 });
//! let bad = source.next().unwrap().unwrap_err();
//! assert_eq!(bad.line, 3);
//! assert!(bad.reason.contains("quantity"), "{}", bad.reason);
//! assert!(source.next().is_none());
//! assert_eq!((source.stats().read, source.stats().ok, source.stats().dead), (2, 1, 1));
//! # Ok::<(), dataflow_core::Error>(())
//! ```

use crate::error::Error;
use crate::io::dead_letter::DeadLetter;
use crate::io::format::Format;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;

/// Counts of a source: lines read as records, records that were read, records dead-lettered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Records read (good and bad).
    pub read: u64,
    /// Records parsed.
    pub ok: u64,
    /// Records sent to the dead-letter output.
    pub dead: u64,
}

/// Reads records of type `T` from a CSV or JSON Lines file, in file order.
pub struct FileSource<T> {
    path: String,
    lines: Lines,
    stats: SourceStats,
    _record: PhantomData<fn() -> T>,
}

enum Lines {
    Csv {
        reader: csv::Reader<BufReader<File>>,
        headers: csv::StringRecord,
        record: csv::ByteRecord,
    },
    Jsonl {
        reader: BufReader<File>,
        line: u64,
        buffer: String,
    },
}

impl<T: DeserializeOwned> FileSource<T> {
    /// Opens `path` in `format`.
    pub fn open(path: impl AsRef<Path>, format: Format) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let reader = BufReader::with_capacity(1 << 16, file);
        let lines = match format {
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .from_reader(reader);
                let headers = reader.headers().map_err(|e| {
                    Error::Source(format!(
                        "{}: cannot read the CSV header: {e}",
                        path.display()
                    ))
                })?;
                Lines::Csv {
                    headers: headers.clone(),
                    reader,
                    record: csv::ByteRecord::new(),
                }
            }
            Format::Jsonl => Lines::Jsonl {
                reader,
                line: 0,
                buffer: String::new(),
            },
        };
        Ok(FileSource {
            path: path.display().to_string(),
            lines,
            stats: SourceStats::default(),
            _record: PhantomData,
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> SourceStats {
        self.stats
    }

    fn dead(&mut self, line: u64, reason: String, raw: String) -> DeadLetter {
        self.stats.dead += 1;
        DeadLetter {
            source: self.path.clone(),
            line,
            reason,
            raw,
        }
    }

    fn next_csv(&mut self) -> Option<Result<T, DeadLetter>> {
        let Lines::Csv {
            reader,
            headers,
            record,
        } = &mut self.lines
        else {
            return None;
        };
        let outcome = match reader.read_byte_record(record) {
            Ok(false) => return None,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                let raw = raw_csv(record);
                if record.len() != headers.len() {
                    Err((
                        line,
                        format!(
                            "expected {} fields ({}), found {}",
                            headers.len(),
                            headers.iter().collect::<Vec<_>>().join(","),
                            record.len()
                        ),
                        raw,
                    ))
                } else {
                    match csv::StringRecord::from_byte_record(record.clone()) {
                        Ok(text) => text
                            .deserialize::<T>(Some(headers))
                            .map_err(|e| (line, csv_reason(&e, headers), raw)),
                        Err(e) => Err((line, format!("invalid UTF-8: {e}"), raw)),
                    }
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err((line, e.to_string(), String::new()))
            }
        };
        self.stats.read += 1;
        Some(match outcome {
            Ok(value) => {
                self.stats.ok += 1;
                Ok(value)
            }
            Err((line, reason, raw)) => Err(self.dead(line, reason, raw)),
        })
    }

    fn next_jsonl(&mut self) -> Option<Result<T, DeadLetter>> {
        loop {
            let Lines::Jsonl {
                reader,
                line,
                buffer,
            } = &mut self.lines
            else {
                return None;
            };
            buffer.clear();
            let read = reader.read_line(buffer);
            *line += 1;
            let number = *line;
            match read {
                Ok(0) => return None,
                Ok(_) => {
                    let text = buffer.trim();
                    if text.is_empty() {
                        continue;
                    }
                    self.stats.read += 1;
                    return Some(match serde_json::from_str::<T>(text) {
                        Ok(value) => {
                            self.stats.ok += 1;
                            Ok(value)
                        }
                        Err(e) => {
                            let raw = text.to_string();
                            Err(self.dead(number, e.to_string(), raw))
                        }
                    });
                }
                Err(e) => {
                    self.stats.read += 1;
                    // Skip the rest of the broken line so that reading can go on after it.
                    let mut rest = Vec::new();
                    let _ = reader.read_until(b'\n', &mut rest);
                    return Some(Err(self.dead(number, e.to_string(), String::new())));
                }
            }
        }
    }
}

fn raw_csv(record: &csv::ByteRecord) -> String {
    record
        .iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_reason(error: &csv::Error, headers: &csv::StringRecord) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!(
                "field {} ({}): {}",
                field + 1,
                headers.get(field as usize).unwrap_or("?"),
                err.kind()
            ),
            None => err.kind().to_string(),
        },
        _ => error.to_string(),
    }
}

impl<T: DeserializeOwned> Iterator for FileSource<T> {
    type Item = Result<T, DeadLetter>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.lines {
            Lines::Csv { .. } => self.next_csv(),
            Lines::Jsonl { .. } => self.next_jsonl(),
        }
    }
}
