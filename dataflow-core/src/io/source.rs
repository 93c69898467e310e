//! File sources (CSV and JSON Lines) and the dead-letter output for records that cannot be read.
//!
//! A malformed line never stops a run and is never dropped silently: [`FileSource`] yields it as a
//! [`DeadLetter`] naming the line and the reason, the caller writes it to a [`DeadLetterSink`], and the
//! run ends with the counts in [`SourceStats`]. A file that cannot be read (a directory, an I/O error,
//! a CSV file without a header line) is one [`Error`] naming it, which ends the run.
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
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, Mutex};

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
///
/// [`FileSource::try_next`] yields each record, or a [`DeadLetter`] for a line that cannot be read as
/// one, and fails with an [`Error`] when the file itself cannot be read (an I/O error, or a CSV file
/// without a header line). As an [`Iterator`] it ends at such an error, which
/// [`FileSource::take_error`] then returns.
pub struct FileSource<T> {
    path: String,
    lines: Lines,
    stats: SourceStats,
    /// The input is a FIFO, a pipe or a device: a read can wait for a writer.
    may_wait: bool,
    /// Set once reading failed as a whole: nothing more is read.
    failed: bool,
    /// The source reads the whole file from its start (not a part from [`FileSource::split`]): only
    /// then can its first record tell that the file has no header line.
    from_start: bool,
    error: Option<Error>,
    _record: PhantomData<fn() -> T>,
}

enum Lines {
    Csv {
        reader: csv::Reader<LineEnds<Reader>>,
        ends: Arc<Mutex<LineEndIndex>>,
        headers: csv::StringRecord,
        /// The same header, as bytes: records are deserialized from their bytes, without a copy.
        byte_headers: csv::ByteRecord,
        record: csv::ByteRecord,
    },
    Jsonl {
        reader: BufReader<Reader>,
        line: u64,
        buffer: Vec<u8>,
        /// Bytes read so far.
        bytes: u64,
    },
}

/// What a source reads from: a file, or bytes in memory.
type Reader = Box<dyn Read + Send>;

/// Passes a file's bytes through to the CSV reader and notes where its line ends are, so that a
/// record's line number is exact whatever ends its lines (`\n`, `\r\n`) and however many blank
/// lines the reader skipped before it.
struct LineEnds<R> {
    inner: R,
    offset: u64,
    ends: Arc<Mutex<LineEndIndex>>,
}

impl<R: Read> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut index = self.ends.lock().unwrap_or_else(|p| p.into_inner());
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[..n]) {
            index.ends.push_back((self.offset + i as u64, buf[i]));
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The line-end bytes read but not yet behind a record, and the lines that ended before them.
#[derive(Default)]
struct LineEndIndex {
    ends: std::collections::VecDeque<(u64, u8)>,
    lines_before: u64,
}

impl LineEndIndex {
    /// The 1-based line of a record that starts at byte `start`: line ends before it, and those it
    /// starts with (the rest of a `\r\n`, blank lines), are behind it.
    fn line_at(&mut self, start: u64) -> u64 {
        let mut first = start;
        while let Some(&(offset, byte)) = self.ends.front() {
            if offset <= first {
                if offset == first {
                    first += 1;
                }
                if byte == b'\n' {
                    self.lines_before += 1;
                }
                self.ends.pop_front();
            } else {
                break;
            }
        }
        self.lines_before + 1
    }
}

/// The least bytes per part for [`FileSource::split`] to split a file: below it, reading in one
/// part is as fast.
pub const SPLIT_MIN_BYTES: u64 = 1 << 20;

/// Why a line could not be read: its line number, the reason and its text.
type Bad = (u64, String, String);

impl<T: DeserializeOwned> FileSource<T> {
    /// Opens `path` in `format`. A directory is refused here, and so is a CSV file whose header line
    /// cannot be read.
    pub fn open(path: impl AsRef<Path>, format: Format) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let metadata = file.metadata().map_err(|e| Error::io(path, e))?;
        if metadata.is_dir() {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "is a directory, not an input file",
                ),
            ));
        }
        let may_wait = !metadata.is_file();
        Self::from_reader(path, Box::new(file), format, may_wait)
    }

    /// Reads records from `bytes` held in memory (a request body, for example), named `name` in dead
    /// letters and errors. A CSV text must start with its header line.
    pub fn from_bytes(name: &str, bytes: Vec<u8>, format: Format) -> Result<Self, Error> {
        Self::from_reader(
            Path::new(name),
            Box::new(std::io::Cursor::new(bytes)),
            format,
            false,
        )
    }

    fn from_reader(
        path: &Path,
        file: Reader,
        format: Format,
        may_wait: bool,
    ) -> Result<Self, Error> {
        Self::from_part(path, file, format, may_wait, None)
    }

    /// A source over `file`; `part` is set for a part of a larger file that starts after a line
    /// end: the CSV header read from the file's start, and the number of lines before the part.
    fn from_part(
        path: &Path,
        file: Reader,
        format: Format,
        may_wait: bool,
        part: Option<(&csv::StringRecord, u64)>,
    ) -> Result<Self, Error> {
        let reader = BufReader::with_capacity(1 << 16, file);
        let lines_before = part.map_or(0, |(_, lines)| lines);
        let lines = match format {
            Format::Csv => {
                let ends = Arc::new(Mutex::new(LineEndIndex {
                    lines_before,
                    ..LineEndIndex::default()
                }));
                let counted = LineEnds {
                    inner: reader.into_inner(),
                    offset: 0,
                    ends: Arc::clone(&ends),
                };
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    // Fields are trimmed by `next_csv`, only those that need it: csv would copy
                    // every record to trim it.
                    .trim(csv::Trim::Headers)
                    .has_headers(part.is_none())
                    .buffer_capacity(1 << 16)
                    .from_reader(counted);
                let headers = match part {
                    Some((headers, _)) => headers.clone(),
                    None => reader
                        .headers()
                        .map_err(|e| match e.kind() {
                            csv::ErrorKind::Io(io) => Error::io(
                                path,
                                std::io::Error::new(
                                    io.kind(),
                                    format!("cannot read the CSV header: {io}"),
                                ),
                            ),
                            _ => Error::Source(format!(
                                "{}: cannot read the CSV header: {e}",
                                path.display()
                            )),
                        })?
                        .clone(),
                };
                Lines::Csv {
                    byte_headers: csv::ByteRecord::from(headers.clone()),
                    headers,
                    reader,
                    ends,
                    record: csv::ByteRecord::new(),
                }
            }
            Format::Jsonl => Lines::Jsonl {
                reader,
                line: lines_before,
                buffer: Vec::new(),
                bytes: 0,
            },
        };
        Ok(FileSource {
            path: path.display().to_string(),
            lines,
            stats: SourceStats::default(),
            may_wait,
            failed: false,
            from_start: part.is_none(),
            error: None,
            _record: PhantomData,
        })
    }

    /// Splits the regular file `path` into up to `parts` sources over consecutive byte ranges, each
    /// starting after a line end, to be read in parallel: their records, dead letters (with their
    /// exact line numbers) and counts together are those of [`FileSource::open`], part after part.
    ///
    /// `None` when the file cannot be split exactly or is not worth it: not a regular file, smaller
    /// than `SPLIT_MIN_BYTES` (1 MiB) per part, or CSV with a quote character anywhere (a quoted field may
    /// hold a line end, so a line end is not surely a record boundary). JSON Lines always splits at
    /// line ends: a JSON string cannot hold a raw line end.
    pub fn split(
        path: impl AsRef<Path>,
        format: Format,
        parts: usize,
    ) -> Result<Option<Vec<Self>>, Error> {
        let path = path.as_ref();
        let io = |e| Error::io(path, e);
        let file = File::open(path).map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        let len = metadata.len();
        if parts < 2 || !metadata.is_file() || len < SPLIT_MIN_BYTES * parts as u64 {
            return Ok(None);
        }
        // One pass over the file: refuse quotes in CSV, find a line end after each target offset
        // and count the lines before it.
        let targets: Vec<u64> = (1..parts as u64).map(|i| len * i / parts as u64).collect();
        let mut starts: Vec<(u64, u64)> = Vec::with_capacity(parts);
        let mut reader = file;
        let mut buffer = vec![0u8; 1 << 20];
        let (mut offset, mut lines) = (0u64, 0u64);
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            let chunk = &buffer[..n];
            if format == Format::Csv && memchr::memchr(b'"', chunk).is_some() {
                return Ok(None);
            }
            for i in memchr::memchr_iter(b'\n', chunk) {
                lines += 1;
                let after = offset + i as u64 + 1;
                // The first line end at or after the next target starts the next part.
                if starts.len() < targets.len() && after > targets[starts.len()] {
                    starts.push((after, lines));
                }
            }
            offset += n as u64;
        }
        // A part starting at the end of the file would be empty.
        starts.retain(|&(start, _)| start < offset);
        if starts.is_empty() {
            return Ok(None);
        }
        let first_end = starts[0].0;
        let file = File::open(path).map_err(io)?;
        let first = Self::from_reader(path, Box::new(file.take(first_end)), format, false)?;
        let headers = match &first.lines {
            Lines::Csv { headers, .. } => headers.clone(),
            Lines::Jsonl { .. } => csv::StringRecord::new(),
        };
        let mut sources = Vec::with_capacity(starts.len() + 1);
        sources.push(first);
        for (k, &(start, lines_before)) in starts.iter().enumerate() {
            let end = starts.get(k + 1).map_or(offset, |&(next, _)| next);
            let mut file = File::open(path).map_err(io)?;
            file.seek(SeekFrom::Start(start)).map_err(io)?;
            sources.push(Self::from_part(
                path,
                Box::new(file.take(end - start)),
                format,
                false,
                Some((&headers, lines_before)),
            )?);
        }
        Ok(Some(sources))
    }

    /// The next record, or a dead letter for a line that cannot be read as one; `None` at the end of
    /// the file. An error reading the file (not a line of it) is returned once, names the file, and
    /// ends the source.
    pub fn try_next(&mut self) -> Result<Option<Result<T, DeadLetter>>, Error> {
        if self.failed {
            return Ok(None);
        }
        let next = match self.lines {
            Lines::Csv { .. } => self.next_csv(),
            Lines::Jsonl { .. } => self.next_jsonl(),
        };
        if next.is_err() {
            self.failed = true;
        }
        next
    }

    /// The error that ended iteration (see [`FileSource::try_next`]), if any; taken once.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Whether a read can wait for a writer (a FIFO, a pipe, a device), unlike a regular file's.
    pub fn may_wait(&self) -> bool {
        self.may_wait
    }

    /// How many bytes of the file have been read as records so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        match &self.lines {
            Lines::Csv { reader, .. } => reader.position().byte(),
            Lines::Jsonl { bytes, .. } => *bytes,
        }
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

    fn next_csv(&mut self) -> Result<Option<Result<T, DeadLetter>>, Error> {
        let Lines::Csv {
            reader,
            ends,
            headers,
            byte_headers,
            record,
        } = &mut self.lines
        else {
            return Ok(None);
        };
        let outcome: Result<T, Bad> = match reader.read_byte_record(record) {
            Ok(false) => return Ok(None),
            Ok(true) => {
                if needs_trim(record) {
                    record.trim();
                }
                let line = record.position().map_or(0, |p| {
                    ends.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .line_at(p.byte())
                });
                if record.len() != headers.len() {
                    Err((
                        line,
                        format!(
                            "expected {} fields ({}), found {}",
                            headers.len(),
                            headers.iter().collect::<Vec<_>>().join(","),
                            record.len()
                        ),
                        raw_csv(record),
                    ))
                } else if std::str::from_utf8(record.as_slice()).is_err() {
                    // Only a record that is not UTF-8 is copied, for the reason csv gives.
                    let reason = match csv::StringRecord::from_byte_record(record.clone()) {
                        Err(e) => format!("invalid UTF-8: {e}"),
                        Ok(_) => "invalid UTF-8".to_string(),
                    };
                    Err((line, reason, raw_csv(record)))
                } else {
                    // Read straight from the record's bytes (known to be UTF-8): no copy, and the
                    // raw text is built only for a dead letter.
                    match record.deserialize::<T>(Some(byte_headers)) {
                        Ok(value) => Ok(value),
                        Err(_)
                            if self.from_start
                                && self.stats.read == 0
                                && looks_like_a_record::<T>(headers) =>
                        {
                            return Err(Error::Source(format!(
                                "{}: line 1: the CSV file has no header line: its first line \
                                 looks like a record; add a header naming the fields",
                                self.path
                            )));
                        }
                        Err(e) => {
                            let text = csv::StringRecord::from_byte_record_lossy(record.clone());
                            Err((line, csv_reason::<T>(&e, &text, headers), raw_csv(record)))
                        }
                    }
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::new(io.kind(), format!("line {line}: {io}")),
                    ));
                }
                Err((line, e.to_string(), String::new()))
            }
        };
        self.stats.read += 1;
        Ok(Some(match outcome {
            Ok(value) => {
                self.stats.ok += 1;
                Ok(value)
            }
            Err((line, reason, raw)) => Err(self.dead(line, reason, raw)),
        }))
    }

    fn next_jsonl(&mut self) -> Result<Option<Result<T, DeadLetter>>, Error> {
        loop {
            let Lines::Jsonl {
                reader,
                line,
                buffer,
                bytes,
            } = &mut self.lines
            else {
                return Ok(None);
            };
            buffer.clear();
            let read = reader.read_until(b'\n', buffer);
            *bytes += buffer.len() as u64;
            *line += 1;
            let number = *line;
            match read {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    let outcome = match std::str::from_utf8(buffer) {
                        Ok(text) => {
                            let text = text.trim();
                            if text.is_empty() {
                                continue;
                            }
                            serde_json::from_str::<T>(text)
                                .map_err(|e| (e.to_string(), text.to_string()))
                        }
                        Err(e) => {
                            let raw = String::from_utf8_lossy(buffer).trim().to_string();
                            Err((format!("invalid UTF-8: {e}"), raw))
                        }
                    };
                    self.stats.read += 1;
                    return Ok(Some(match outcome {
                        Ok(value) => {
                            self.stats.ok += 1;
                            Ok(value)
                        }
                        Err((reason, raw)) => Err(self.dead(number, reason, raw)),
                    }));
                }
                Err(e) => {
                    return Err(Error::io(
                        &self.path,
                        std::io::Error::new(e.kind(), format!("line {number}: {e}")),
                    ));
                }
            }
        }
    }
}

/// Whether the CSV header line itself reads as a record of `T`: then the file has no header line.
fn looks_like_a_record<T: DeserializeOwned>(headers: &csv::StringRecord) -> bool {
    headers.deserialize::<T>(None).is_ok()
}

/// Whether a field of `record` starts or ends with ASCII whitespace, which is trimmed as csv's
/// `Trim::All` trims it.
#[inline]
fn needs_trim(record: &csv::ByteRecord) -> bool {
    record.iter().any(|field| {
        field.first().is_some_and(u8::is_ascii_whitespace)
            || field.last().is_some_and(u8::is_ascii_whitespace)
    })
}

fn raw_csv(record: &csv::ByteRecord) -> String {
    record
        .iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(",")
}

/// Why `record` is not a `T`, naming the field (its column number and header name) where csv knows it
/// or where it can be found (see [`failing_column`]).
fn csv_reason<T: DeserializeOwned>(
    error: &csv::Error,
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => {
            let message = err.kind().to_string();
            let field = err
                .field()
                .map(|field| field as usize)
                .or_else(|| failing_column::<T>(record, headers, &message));
            match field {
                Some(field) => format!(
                    "field {} ({}): {message}",
                    field + 1,
                    headers.get(field).unwrap_or("?")
                ),
                None => message,
            }
        }
        _ => error.to_string(),
    }
}

/// The column whose value made deserializing `record` fail with `message`, for errors csv reports
/// without a field (those a field's own `Deserialize` makes, such as chrono's dates). csv reads the
/// columns in order and stops at the first error, so the failing column is the first `k` for which the
/// record with every column after `k` left unnamed (and so ignored) fails the same way.
fn failing_column<T: DeserializeOwned>(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    message: &str,
) -> Option<usize> {
    // A missing field is found after the last column, not at one.
    if message.starts_with("missing field") {
        return None;
    }
    (0..headers.len()).find(|&k| {
        let names: csv::StringRecord = headers
            .iter()
            .enumerate()
            .map(|(j, name)| {
                if j <= k {
                    name.to_string()
                } else {
                    format!("\u{0}column {j}")
                }
            })
            .collect();
        match record.deserialize::<T>(Some(&names)) {
            Ok(_) => false,
            Err(e) => match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => err.kind().to_string() == message,
                _ => false,
            },
        }
    })
}

impl<T: DeserializeOwned> Iterator for FileSource<T> {
    type Item = Result<T, DeadLetter>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.try_next() {
            Ok(item) => item,
            Err(error) => {
                self.error = Some(error);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Word {
        text: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sale {
        product: String,
        quantity: u32,
        #[serde(deserialize_with = "day")]
        day: u32,
    }

    /// A day of the month, refused with a custom error (as chrono's dates are) when out of range.
    fn day<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.parse::<u32>() {
            Ok(day @ 1..=31) => Ok(day),
            _ => Err(serde::de::Error::custom("input is out of range")),
        }
    }

    fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Every item of a source that must not fail as a whole.
    fn items<T: DeserializeOwned>(source: &mut FileSource<T>) -> Vec<Result<T, DeadLetter>> {
        std::iter::from_fn(|| source.try_next().unwrap()).collect()
    }

    #[test]
    fn json_lines_invalid_utf8_is_one_dead_letter_and_every_other_line_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "words.jsonl",
            b"{\"text\":\"alpha\"}\n\xff\xfe\n{\"text\":\"beta\"}\n\n{\"text\":\"gamma\"}",
        );
        let mut source = FileSource::<Word>::open(&path, Format::Jsonl).unwrap();
        let items = items(&mut source);
        assert_eq!(items.len(), 4, "{items:?}");
        let letter = items[1].as_ref().unwrap_err();
        assert_eq!(letter.line, 2);
        assert_eq!(letter.raw, "\u{fffd}\u{fffd}");
        assert!(letter.reason.contains("invalid UTF-8"), "{}", letter.reason);
        let words: Vec<&str> = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .map(|w| w.text.as_str())
            .collect();
        assert_eq!(words, ["alpha", "beta", "gamma"]);
        assert_eq!(
            (source.stats().read, source.stats().ok, source.stats().dead),
            (4, 3, 1)
        );
        // The line after the blank one is line 5.
        let mut source = FileSource::<Sale>::open(&path, Format::Jsonl).unwrap();
        let lines: Vec<u64> = items_lines(&mut source);
        assert_eq!(lines, [1, 2, 3, 5]);
    }

    fn items_lines<T: DeserializeOwned>(source: &mut FileSource<T>) -> Vec<u64> {
        items(source)
            .into_iter()
            .filter_map(Result::err)
            .map(|letter| letter.line)
            .collect()
    }

    #[test]
    fn csv_invalid_utf8_is_a_dead_letter_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "sales.csv",
            b"product,quantity,day\ntea,1,3\nj\xffm,2,4\n\"multi\nline\",3,5\nbad,x,6\njam,4,7\n",
        );
        let mut source = FileSource::<Sale>::open(&path, Format::Csv).unwrap();
        let items = items(&mut source);
        assert_eq!(items.len(), 5, "{items:?}");
        let letter = items[1].as_ref().unwrap_err();
        assert_eq!(letter.line, 3);
        assert_eq!(letter.raw, "j\u{fffd}m,2,4");
        assert!(letter.reason.contains("invalid UTF-8"), "{}", letter.reason);
        assert_eq!(items[2].as_ref().unwrap().product, "multi\nline");
        assert_eq!(items[3].as_ref().unwrap_err().line, 6);
        assert_eq!(items[4].as_ref().unwrap().product, "jam");
    }

    #[test]
    fn a_directory_is_refused_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Jsonl, Format::Csv] {
            let error = FileSource::<Word>::open(dir.path(), format)
                .err()
                .expect("a directory is not an input");
            let text = error.to_string();
            assert!(
                text.contains(&dir.path().display().to_string()) && text.contains("is a directory"),
                "{text}"
            );
        }
    }

    #[test]
    fn an_io_error_while_reading_is_one_error_that_ends_the_source() {
        let dir = tempfile::tempdir().unwrap();
        // Reading a directory opened as a file fails on every read: one error, then the end.
        let file = File::open(dir.path()).unwrap();
        let mut source =
            FileSource::<Word>::from_reader(dir.path(), Box::new(file), Format::Jsonl, false)
                .unwrap();
        let error = source.try_next().expect_err("an I/O error");
        assert!(matches!(error, Error::Io { .. }), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");
        assert!(source.try_next().unwrap().is_none());
        assert_eq!(source.stats(), SourceStats::default());
        let file = File::open(dir.path()).unwrap();
        let mut source =
            FileSource::<Word>::from_reader(dir.path(), Box::new(file), Format::Jsonl, false)
                .unwrap();
        assert!(source.next().is_none());
        assert!(matches!(source.take_error(), Some(Error::Io { .. })));
    }

    #[test]
    fn a_csv_without_a_header_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(&dir, "sales.csv", b"tea,1,3\njam,2,4\n");
        let mut source = FileSource::<Sale>::open(&path, Format::Csv).unwrap();
        let error = source.try_next().expect_err("no header is an error");
        let text = error.to_string();
        assert!(
            text.contains("sales.csv") && text.contains("has no header line"),
            "{text}"
        );
        // A first record that is merely malformed is a dead letter, as any other.
        let path = file(&dir, "bad.csv", b"product,quantity,day\ntea,x,3\njam,2,4\n");
        let mut source = FileSource::<Sale>::open(&path, Format::Csv).unwrap();
        let items = items(&mut source);
        assert!(items[0].is_err() && items[1].is_ok(), "{items:?}");
    }

    /// Every item of the parts of a split file, part after part.
    fn split_items<T: DeserializeOwned>(
        path: &Path,
        format: Format,
        parts: usize,
    ) -> Option<(Vec<Result<T, DeadLetter>>, SourceStats)> {
        let sources = FileSource::<T>::split(path, format, parts).unwrap()?;
        assert!(sources.len() > 1, "the file is split");
        let mut all = Vec::new();
        let mut stats = SourceStats::default();
        for mut source in sources {
            all.extend(items(&mut source));
            let part = source.stats();
            stats.read += part.read;
            stats.ok += part.ok;
            stats.dead += part.dead;
        }
        Some((all, stats))
    }

    #[test]
    fn a_split_file_reads_as_the_whole_file_with_exact_lines() {
        let dir = tempfile::tempdir().unwrap();
        // Bad rows, blank lines and `\r\n` line ends spread over a file of several MiB.
        let mut csv = String::from("product,quantity,day\r\n");
        let mut jsonl = String::new();
        for i in 0..220_000 {
            match i % 50_001 {
                7 => csv.push_str("tea,lots,3\r\n"),
                8 => csv.push_str("\r\n"),
                9 => csv.push_str("jam,2\n"),
                _ => csv.push_str(&format!(" tea-{i} ,{},{}\r\n", i % 100, 1 + i % 28)),
            }
            match i % 40_009 {
                5 => jsonl.push_str("{\"text\": 5}\n"),
                6 => jsonl.push('\n'),
                _ => jsonl.push_str(&format!("{{\"text\":\"word {i}\"}}\n")),
            }
        }
        let path = file(&dir, "sales.csv", csv.as_bytes());
        let whole = items(&mut FileSource::<Sale>::open(&path, Format::Csv).unwrap());
        let mut opened = FileSource::<Sale>::open(&path, Format::Csv).unwrap();
        let _ = items(&mut opened);
        for parts in [2, 3] {
            let (split, stats) = split_items::<Sale>(&path, Format::Csv, parts).unwrap();
            assert_eq!(format!("{split:?}"), format!("{whole:?}"), "{parts} parts");
            assert_eq!(stats, opened.stats());
        }
        assert!(whole.iter().filter(|item| item.is_err()).count() >= 8);
        let path = file(&dir, "words.jsonl", jsonl.as_bytes());
        let whole = items(&mut FileSource::<Word>::open(&path, Format::Jsonl).unwrap());
        let (split, _) = split_items::<Word>(&path, Format::Jsonl, 2).unwrap();
        assert_eq!(format!("{split:?}"), format!("{whole:?}"));
        // A quote anywhere: a line end may sit inside a field, so the file is not split.
        csv.push_str("\"multi\nline\",1,2\n");
        let path = file(&dir, "quoted.csv", csv.as_bytes());
        assert!(
            FileSource::<Sale>::split(&path, Format::Csv, 2)
                .unwrap()
                .is_none()
        );
        // Too small to be worth it.
        let path = file(&dir, "small.csv", b"product,quantity,day\ntea,1,3\n");
        assert!(
            FileSource::<Sale>::split(&path, Format::Csv, 2)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn csv_dead_letters_name_the_field_even_for_custom_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = file(
            &dir,
            "sales.csv",
            b"product,quantity,day\ntea,1,3\ntea,1,45\ntea,x,45\n",
        );
        let mut source = FileSource::<Sale>::open(&path, Format::Csv).unwrap();
        let reasons: Vec<String> = items(&mut source)
            .into_iter()
            .filter_map(Result::err)
            .map(|letter| letter.reason)
            .collect();
        assert_eq!(
            reasons,
            [
                "field 3 (day): input is out of range",
                "field 2 (quantity): invalid digit found in string"
            ]
        );
    }
}
