//! The [`EventLog`] handle: opening, group-committed appends, fsync policies, and the
//! committed-head watermark readers wait on.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::{LogError, io_err};
use crate::format::Durable;
use crate::format::{
    self, IndexEntry, IndexSummary, MAX_PAYLOAD, Marker, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use crate::options::{FsyncPolicy, LogOptions};
use crate::reader::{Follower, LogReader};
use crate::recovery::{self, DirKind, Truncation};
use crate::schema::Schema;
use crate::shapes;
use crate::shared::{SegmentMeta, Shared, State};
use crate::verify::SegmentReport;

/// The segment the writer appends to.
struct Writer {
    file: File,
    base: u64,
    /// Length of the active segment file.
    bytes: u64,
    /// The next offset to assign.
    next: u64,
    /// Position of the last index entry (or of the first record) in the active segment.
    last_indexed: u64,
    /// Records written since the last flush.
    unsynced: u64,
    last_sync: Instant,
    /// An earlier write or flush failed: the file state is unknown.
    failed: bool,
    /// The segment file path, for error messages.
    path: PathBuf,
    /// The commit marker file, rewritten after every flush.
    marker: File,
    marker_path: PathBuf,
}

impl Writer {
    /// Flushes the active segment, then records the flushed head in the commit marker.
    fn sync(&mut self) -> Result<(), LogError> {
        self.file.sync_data().map_err(io_err("sync", &self.path))?;
        self.unsynced = 0;
        self.last_sync = Instant::now();
        self.write_marker()
    }

    /// Records the writer's position as the durable head. The marker is written after
    /// the flush and not flushed itself: on disk it may lag behind, never run ahead.
    fn write_marker(&mut self) -> Result<(), LogError> {
        let bytes = format::encode_marker(Marker {
            base: self.base,
            head: self.next,
            bytes: self.bytes,
        });
        self.marker
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.marker.write_all(&bytes))
            .map_err(io_err("write", &self.marker_path))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.failed && self.unsynced > 0 {
            // Best effort: `EventLog::sync` is the way to observe a flush error.
            let _ = self.sync();
        }
    }
}

/// Opens the commit marker file, creating it (durably) if the log has none yet.
fn open_marker(dir: &Path) -> Result<File, LogError> {
    let path = dir.join(format::MARKER_NAME);
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("open", &path))?;
    if !existed {
        file.sync_all().map_err(io_err("sync", &path))?;
        format::sync_dir(dir).map_err(io_err("sync directory", dir))?;
    }
    Ok(file)
}

/// What opening the segments produced.
struct Loaded {
    segments: Vec<SegmentMeta>,
    /// The last segment, open for appending (writable opens).
    file: Option<File>,
    torn: Option<Truncation>,
}

/// An embedded, durable, append-only event log stored as segment files in a directory.
///
/// The handle is cheap to clone and can be shared between threads: clones append to
/// and read the same log. Appends go through a [`Batch`] (group commit); reads through
/// [`EventLog::read_from`] and [`EventLog::follow_from`], which only ever see committed
/// records. See the crate documentation for the format and the guarantees.
#[derive(Clone)]
pub struct EventLog {
    shared: Arc<Shared>,
    /// The writer, shared by the clones of a handle opened for writing.
    writer: Option<Arc<Mutex<Writer>>>,
    /// The torn tail the open found.
    recovery: Option<Truncation>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("dir", &self.shared.dir)
            .field("head", &self.head())
            .field("read_only", &self.writer.is_none())
            .finish()
    }
}

impl EventLog {
    /// Opens (or creates) the log in `dir` for reading and appending.
    ///
    /// A missing or empty directory gets a new, empty log. A directory that holds files
    /// but no segment and no commit marker is refused ([`LogError::NotALog`]).
    ///
    /// Takes an exclusive lock on the directory (a `LOCK` file), checks that no segment
    /// is missing ([`LogError::MissingSegment`]), checks every sealed segment against
    /// its index, and recovers the last segment: a torn tail left by a crash is truncated
    /// to the last whole record and reported by [`EventLog::recovery`], while damage to
    /// a committed record is reported as [`LogError::Corrupt`] and nothing is truncated.
    /// See the crate documentation ("Crash recovery") for the rules.
    pub fn open(dir: impl AsRef<Path>, options: LogOptions) -> Result<EventLog, LogError> {
        let dir = dir.as_ref().to_path_buf();
        if recovery::classify_dir(&dir)? == DirKind::NotALog {
            return Err(LogError::NotALog { dir });
        }
        std::fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let lock_path = dir.join(format::LOCK_NAME);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LogError::Locked { dir }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        let marker = recovery::read_marker(&dir);
        let mut bases = recovery::discover(&dir, marker)?;
        if bases.is_empty() {
            recovery::create_segment(&dir, 0)?;
            bases.push(0);
        }
        let loaded = Self::load_segments(&dir, &bases, &options, true, marker)?;
        let segments = loaded.segments;
        let last = segments
            .last()
            .cloned()
            .ok_or_else(|| LogError::BadSegment {
                segment: format::segment_name(0),
                reason: "no segment".to_string(),
            })?;
        let file = loaded.file.ok_or_else(|| LogError::BadSegment {
            segment: format::segment_name(last.base),
            reason: "could not be opened for writing".to_string(),
        })?;
        let path = dir.join(format::segment_name(last.base));
        // What recovery kept becomes the durable head: flush it before the marker says so.
        file.sync_data().map_err(io_err("sync", &path))?;
        let marker_file = open_marker(&dir)?;
        let last_indexed = last
            .index
            .last()
            .map_or(SEGMENT_HEADER_LEN, |entry| entry.position);
        let mut writer = Writer {
            file,
            base: last.base,
            bytes: last.bytes,
            next: last.end,
            last_indexed,
            unsynced: 0,
            last_sync: Instant::now(),
            failed: false,
            path,
            marker: marker_file,
            marker_path: dir.join(format::MARKER_NAME),
        };
        writer.write_marker()?;
        let state = State {
            segments,
            head: last.end,
        };
        Ok(EventLog {
            shared: Arc::new(Shared::new(dir, options, state, Some(lock))),
            writer: Some(Arc::new(Mutex::new(writer))),
            recovery: loaded.torn,
        })
    }

    /// Opens the log in `dir` for reading only, without taking the write lock, so that
    /// another process may be appending. The log holds the records present when it was
    /// opened, up to the last whole record; a torn tail is ignored (not truncated) and
    /// reported by [`EventLog::recovery`]. [`EventLog::refresh`] and a [`Follower`] pick
    /// up what the other process appends later. Appending returns [`LogError::ReadOnly`].
    ///
    /// A directory that does not exist or is empty is [`LogError::NoLog`]; one that holds
    /// files but no segment and no commit marker is [`LogError::NotALog`].
    ///
    /// Opening the same directory read-only again in the same process (to poll it)
    /// resumes the scan of the last segment where the previous open stopped, when that
    /// file only grew since, so a poll reads only the new bytes.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<EventLog, LogError> {
        let dir = dir.as_ref().to_path_buf();
        match recovery::classify_dir(&dir)? {
            DirKind::Missing | DirKind::Empty => return Err(LogError::NoLog { dir }),
            DirKind::NotALog => return Err(LogError::NotALog { dir }),
            DirKind::Log => {}
        }
        let options = LogOptions::default();
        // The marker first: a writer only ever moves it forward, to segments that exist.
        let marker = recovery::read_marker(&dir);
        let bases = recovery::discover(&dir, marker)?;
        let loaded = Self::load_segments(&dir, &bases, &options, false, marker)?;
        let head = loaded.segments.last().map_or(0, |s| s.end);
        let state = State {
            segments: loaded.segments,
            head,
        };
        Ok(EventLog {
            shared: Arc::new(Shared::new(dir, options, state, None)),
            writer: None,
            recovery: loaded.torn,
        })
    }

    fn load_segments(
        dir: &Path,
        bases: &[u64],
        options: &LogOptions,
        writable: bool,
        marker: Option<Marker>,
    ) -> Result<Loaded, LogError> {
        let mut loaded = Loaded {
            segments: Vec::with_capacity(bases.len()),
            file: None,
            torn: None,
        };
        for (i, &base) in bases.iter().enumerate() {
            match bases.get(i + 1) {
                Some(&next) => loaded.segments.push(recovery::open_sealed(
                    dir,
                    base,
                    next,
                    options.index_interval_bytes,
                    writable,
                )?),
                None => {
                    let recovered = recovery::recover_last(
                        dir,
                        base,
                        options.index_interval_bytes,
                        writable,
                        Durable::of(marker, base),
                    )?;
                    loaded.segments.push(recovered.meta);
                    loaded.file = recovered.file;
                    loaded.torn = recovered.torn;
                }
            }
        }
        Ok(loaded)
    }

    /// The torn tail this handle's open found at the end of the last segment, if any:
    /// truncated by [`EventLog::open`], ignored (left in place) by
    /// [`EventLog::open_read_only`]. `None` if the last segment ended with a whole record.
    pub fn recovery(&self) -> Option<&Truncation> {
        self.recovery.as_ref()
    }

    /// Brings a read-only handle up to date with what another process appended since it
    /// was opened (or last refreshed), reading only the new bytes; returns the head.
    /// Readers and followers of the handle see the new records. A handle opened for
    /// writing is always up to date: this returns its head.
    ///
    /// Idle, this costs a `stat` of the last segment file and of the name the next
    /// segment would have.
    pub fn refresh(&self) -> Result<u64, LogError> {
        if self.writer.is_some() {
            return Ok(self.head());
        }
        crate::tail::refresh(&self.shared)
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The options the log was opened with.
    pub fn options(&self) -> &LogOptions {
        &self.shared.options
    }

    /// The next offset to be written: the number of committed records.
    pub fn head(&self) -> u64 {
        self.shared.head()
    }

    /// Whether the log was opened with [`EventLog::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// Starts a batch of appends, committed together by [`Batch::commit`].
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            log: self,
            buf: Vec::new(),
            count: 0,
            shapes: Vec::new(),
        }
    }

    /// Appends and commits a single record; returns its offset. Prefer a [`Batch`] for
    /// many records: each commit costs a write and, depending on the policy, a flush.
    pub fn append<T: Schema>(&self, event_time: u64, value: &T) -> Result<u64, LogError> {
        let mut batch = self.batch();
        batch.push(event_time, value)?;
        Ok(batch.commit()?.start)
    }

    /// Flushes every committed record to stable storage, whatever the policy.
    pub fn sync(&self) -> Result<(), LogError> {
        let writer = self.writer.as_ref().ok_or(LogError::ReadOnly)?;
        let mut w = writer.lock().map_err(|_| LogError::Poisoned)?;
        if w.failed {
            return Err(LogError::Poisoned);
        }
        let result = w.sync();
        if result.is_err() {
            w.failed = true;
        }
        result
    }

    /// Reads the committed records from `offset` up to the head at the time of the
    /// call, in order. `offset == head()` gives an empty reader.
    pub fn read_from(&self, offset: u64) -> Result<LogReader, LogError> {
        let head = self.head();
        self.check_offset(offset, head)?;
        Ok(LogReader::new(Arc::clone(&self.shared), offset, Some(head)))
    }

    /// Reads the committed records from `offset` on, following the tail: once the
    /// reader reaches the head, [`Follower::next_timeout`] waits for new commits.
    pub fn follow_from(&self, offset: u64) -> Result<Follower, LogError> {
        let head = self.head();
        self.check_offset(offset, head)?;
        Ok(Follower::new(LogReader::new(
            Arc::clone(&self.shared),
            offset,
            None,
        )))
    }

    fn check_offset(&self, offset: u64, head: u64) -> Result<(), LogError> {
        if offset > head {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                head,
            });
        }
        let start = self.shared.state().segments.first().map_or(0, |s| s.base);
        if offset < start {
            return Err(LogError::OffsetBeforeStart {
                requested: offset,
                start,
            });
        }
        Ok(())
    }

    /// Reads every committed record of every segment, checking checksums, offsets and
    /// segment boundaries. Returns one report per segment, or the first corruption.
    pub fn verify(&self) -> Result<Vec<SegmentReport>, LogError> {
        crate::verify::verify(&self.shared, self.recovery.as_ref())
    }

    /// Records that this log holds records of schema `version` with `shape` (before they are
    /// committed), or refuses them if it holds that version with another shape.
    fn register_shape(&self, version: u32, shape: &str) -> Result<(), LogError> {
        let mut cached = self.shared.shapes.lock().map_err(|_| LogError::Poisoned)?;
        if cached.is_none() {
            *cached = Some(shapes::read(&self.shared.dir)?);
        }
        let known = cached.as_mut().expect("read above");
        match known.get(&version) {
            Some(logged) if logged == shape => Ok(()),
            Some(logged) => Err(shapes::mismatch(
                &self.shared.dir,
                version,
                logged,
                shape,
                false,
            )),
            None => {
                let mut updated = known.clone();
                updated.insert(version, shape.to_string());
                shapes::write(&self.shared.dir, &updated)?;
                *known = updated;
                Ok(())
            }
        }
    }

    /// The shape this log holds records of schema `version` with, if it was declared when
    /// they were written ([`Schema::SHAPE`]).
    pub fn shape(&self, version: u32) -> Result<Option<String>, LogError> {
        Ok(shapes::read(&self.shared.dir)?.remove(&version))
    }

    /// Checks that records of `T`'s version in this log were written with `T`'s shape: a
    /// reader of a log written with another layout under the same version gets an error naming
    /// the fields, never garbage. Passes when either shape is not declared.
    pub fn check_shape<T: Schema>(&self) -> Result<(), LogError> {
        let Some(given) = T::SHAPE else {
            return Ok(());
        };
        match self.shape(T::VERSION)? {
            Some(logged) if logged != given => Err(shapes::mismatch(
                &self.shared.dir,
                T::VERSION,
                &logged,
                given,
                true,
            )),
            _ => Ok(()),
        }
    }

    fn commit_encoded(&self, buf: &mut [u8], count: u64) -> Result<Range<u64>, LogError> {
        let writer = self.writer.as_ref().ok_or(LogError::ReadOnly)?;
        let mut w = writer.lock().map_err(|_| LogError::Poisoned)?;
        if w.failed {
            return Err(LogError::Poisoned);
        }
        let first = w.next;
        if count == 0 {
            return Ok(first..first);
        }
        let result = self.write_batch(&mut w, buf);
        if result.is_err() {
            // Part of the batch may be on disk: refuse further appends on this handle.
            w.failed = true;
        }
        result?;
        Ok(first..w.next)
    }

    fn write_batch(&self, w: &mut Writer, buf: &mut [u8]) -> Result<(), LogError> {
        let shared = &*self.shared;
        let limit = shared.options.segment_bytes;
        let interval = shared.options.index_interval_bytes;
        let mut new_entries: Vec<IndexEntry> = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let chunk_start = at;
            let mut seg_len = w.bytes;
            let mut offset = w.next;
            while at < buf.len() {
                let total = RECORD_HEADER_LEN + format::framed_payload_len(&buf[at..]);
                if seg_len > SEGMENT_HEADER_LEN && seg_len + total as u64 > limit {
                    break;
                }
                format::seal_record(&mut buf[at..at + total], offset);
                if seg_len - w.last_indexed >= interval {
                    new_entries.push(IndexEntry {
                        offset,
                        position: seg_len,
                    });
                    w.last_indexed = seg_len;
                }
                seg_len += total as u64;
                offset += 1;
                at += total;
            }
            if at > chunk_start {
                let path = shared.dir.join(format::segment_name(w.base));
                w.file
                    .write_all(&buf[chunk_start..at])
                    .map_err(io_err("write", &path))?;
                w.bytes = seg_len;
                w.unsynced += offset - w.next;
                w.next = offset;
            }
            if at < buf.len() {
                self.roll(w, &mut new_entries)?;
            }
        }
        let flush = match shared.options.fsync {
            FsyncPolicy::EveryCommit => true,
            FsyncPolicy::EveryN(n) => w.unsynced >= n,
            FsyncPolicy::Interval(d) => w.last_sync.elapsed() >= d,
            FsyncPolicy::Never => false,
        };
        if flush {
            w.sync()?;
        }
        let mut state = shared.state();
        if let Some(active) = state.segments.last_mut() {
            active.end = w.next;
            active.bytes = w.bytes;
            active.index.append(&mut new_entries);
        }
        state.head = w.next;
        drop(state);
        shared.notify_head_moved();
        Ok(())
    }

    /// Seals the active segment (flush, next segment, index file) and starts a new one
    /// at `w.next`. The next segment is created before the index is written, so a
    /// segment with an index is never the last one.
    fn roll(&self, w: &mut Writer, new_entries: &mut Vec<IndexEntry>) -> Result<(), LogError> {
        let shared = &*self.shared;
        w.sync()?;
        let file = recovery::create_segment(&shared.dir, w.next)?;
        let entries = {
            let mut state = shared.state();
            match state.segments.last_mut() {
                Some(active) => {
                    // Readers may now read the sealed bytes, but never past the head,
                    // which moves only when the whole batch is committed.
                    active.end = w.next;
                    active.bytes = w.bytes;
                    active.sealed = true;
                    active.index.append(new_entries);
                    std::mem::take(&mut active.index)
                }
                None => std::mem::take(new_entries),
            }
        };
        let summary = IndexSummary {
            base: w.base,
            records: w.next - w.base,
            segment_bytes: w.bytes,
        };
        let index_path = shared.dir.join(format::index_name(w.base));
        format::write_atomically(&index_path, &format::encode_index(summary, &entries))
            .map_err(io_err("write", &index_path))?;
        w.file = file;
        w.path = shared.dir.join(format::segment_name(w.next));
        w.base = w.next;
        w.bytes = SEGMENT_HEADER_LEN;
        w.last_indexed = SEGMENT_HEADER_LEN;
        shared.state().segments.push(SegmentMeta {
            base: w.next,
            end: w.next,
            bytes: SEGMENT_HEADER_LEN,
            sealed: false,
            index: Vec::new(),
        });
        Ok(())
    }
}

/// A group of appends committed together: one `write` per segment touched and at most
/// one flush, with consecutive offsets.
///
/// Records are encoded as they are pushed, without holding any lock; offsets are
/// assigned at commit. The batch can be reused after a commit.
#[derive(Debug)]
pub struct Batch<'a> {
    log: &'a EventLog,
    buf: Vec<u8>,
    count: u64,
    /// The declared shapes of the versions pushed since the last commit.
    shapes: Vec<(u32, &'static str)>,
}

impl Batch<'_> {
    /// Adds a record with the given event time, encoding `value` with postcard and
    /// tagging it with `T::VERSION`.
    pub fn push<T: Schema>(&mut self, event_time: u64, value: &T) -> Result<(), LogError> {
        if let Some(shape) = T::SHAPE
            && !self
                .shapes
                .iter()
                .any(|(version, _)| *version == T::VERSION)
        {
            self.shapes.push((T::VERSION, shape));
        }
        let start = self.buf.len();
        format::begin_record(&mut self.buf, 0, event_time, T::VERSION);
        if let Err(e) = postcard::to_io(value, &mut self.buf) {
            self.buf.truncate(start);
            return Err(LogError::Encode {
                message: e.to_string(),
            });
        }
        self.finish(start)
    }

    /// Adds a record whose payload is already encoded, written as `schema_version`.
    pub fn push_raw(
        &mut self,
        event_time: u64,
        schema_version: u32,
        payload: &[u8],
    ) -> Result<(), LogError> {
        let start = self.buf.len();
        format::begin_record(&mut self.buf, 0, event_time, schema_version);
        self.buf.extend_from_slice(payload);
        self.finish(start)
    }

    fn finish(&mut self, start: usize) -> Result<(), LogError> {
        let len = format::finish_record(&mut self.buf, start);
        if len > MAX_PAYLOAD {
            self.buf.truncate(start);
            return Err(LogError::RecordTooLarge {
                len,
                max: MAX_PAYLOAD,
            });
        }
        self.count += 1;
        Ok(())
    }

    /// The number of records pushed since the last commit.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was pushed since the last commit.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded size of the pending records, headers included.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Drops the pending records.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
        self.shapes.clear();
    }

    /// Writes the pending records and flushes them as the [`FsyncPolicy`] says; returns
    /// the offsets they were given. Once this returns `Ok`, readers see the records and
    /// they survive a crash of the process (and, under [`FsyncPolicy::EveryCommit`], of
    /// the machine). Committing an empty batch returns an empty range at the head.
    ///
    /// If it returns an error, some of the records may have reached the disk; the
    /// handle then refuses further appends ([`LogError::Poisoned`]) until the log is
    /// reopened, which recovers whatever was written whole.
    pub fn commit(&mut self) -> Result<Range<u64>, LogError> {
        if self.count > 0 {
            for (version, shape) in std::mem::take(&mut self.shapes) {
                if let Err(e) = self.log.register_shape(version, shape) {
                    self.clear();
                    return Err(e);
                }
            }
        }
        let result = self.log.commit_encoded(&mut self.buf, self.count);
        self.clear();
        result
    }
}
