//! The on-disk format: segment headers, record framing, the buffered segment cursor and
//! the sparse offset index files. See the crate documentation for the layout.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::CorruptReason;

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"DFLOGSEG";
/// The first eight bytes of every index file.
pub const INDEX_MAGIC: [u8; 8] = *b"DFLOGIDX";
/// The first eight bytes of the commit marker file.
pub const MARKER_MAGIC: [u8; 8] = *b"DFLOGHED";
/// The name of the commit marker file in a log directory.
pub(crate) const MARKER_NAME: &str = "HEAD";
/// The name of the write lock file in a log directory.
pub(crate) const LOCK_NAME: &str = "LOCK";
/// The format version written into segment and index headers.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes in a segment header: magic, format version, reserved word, base offset.
pub const SEGMENT_HEADER_LEN: u64 = 24;
/// Bytes in a record header: crc, length, offset, event time, schema version.
pub const RECORD_HEADER_LEN: usize = 28;
/// The largest payload a record may carry.
pub const MAX_PAYLOAD: usize = 256 << 20;

const INDEX_HEADER_LEN: usize = 8 + 4 + 4 + 8 + 8 + 8;
const INDEX_ENTRY_LEN: usize = 16;
const READ_CHUNK: usize = 256 << 10;

/// The file name of the segment starting at `base`.
pub(crate) fn segment_name(base: u64) -> String {
    format!("{base:020}.seg")
}

/// The file name of the index of the segment starting at `base`.
pub(crate) fn index_name(base: u64) -> String {
    format!("{base:020}.idx")
}

/// The base offset encoded in a segment file name, if `name` is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment header for a segment starting at `base`.
pub(crate) fn segment_header(base: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    header
}

/// Checks a segment header; the error is a human-readable reason.
pub(crate) fn check_segment_header(bytes: &[u8], base: u64) -> Result<(), String> {
    if bytes.len() < SEGMENT_HEADER_LEN as usize {
        return Err(format!(
            "file is {} bytes, shorter than the {SEGMENT_HEADER_LEN}-byte segment header",
            bytes.len()
        ));
    }
    if bytes[0..8] != SEGMENT_MAGIC {
        return Err("not a segment file (bad magic)".to_string());
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported format version {version} (this build reads version {FORMAT_VERSION})"
        ));
    }
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[16..24]);
    let stored = u64::from_le_bytes(raw);
    if stored != base {
        return Err(format!(
            "header says base offset {stored}, file name says {base}"
        ));
    }
    Ok(())
}

/// Appends one framed record to `buf` with a zero checksum; [`seal_record`] fills it in.
pub(crate) fn begin_record(buf: &mut Vec<u8>, offset: u64, event_time: u64, version: u32) {
    buf.extend_from_slice(&[0u8; 8]);
    buf.extend_from_slice(&offset.to_le_bytes());
    buf.extend_from_slice(&event_time.to_le_bytes());
    buf.extend_from_slice(&version.to_le_bytes());
}

/// Writes the payload length of the record starting at `start`; returns the payload length.
pub(crate) fn finish_record(buf: &mut [u8], start: usize) -> usize {
    let len = buf.len() - start - RECORD_HEADER_LEN;
    buf[start + 4..start + 8].copy_from_slice(&(len as u32).to_le_bytes());
    len
}

/// Sets the offset of the framed record at the start of `record` and computes its checksum.
pub(crate) fn seal_record(record: &mut [u8], offset: u64) {
    record[8..16].copy_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&record[4..]);
    record[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// The payload length stored in the framed record at the start of `record`.
pub(crate) fn framed_payload_len(record: &[u8]) -> usize {
    u32::from_le_bytes([record[4], record[5], record[6], record[7]]) as usize
}

/// The fixed fields of a record that passed its checksum.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordHeader {
    pub offset: u64,
    pub event_time: u64,
    pub version: u32,
    pub payload_len: usize,
}

impl RecordHeader {
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_LEN + self.payload_len
    }
}

/// What [`parse_record`] found at the start of a buffer.
pub(crate) enum Parsed {
    /// A whole record with a valid checksum.
    Record(RecordHeader),
    /// The buffer holds only part of the record; this many bytes are needed in total
    /// (never more than the segment has left).
    NeedMore(usize),
    /// The bytes are not a valid record.
    Corrupt(CorruptReason),
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(raw)
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Parses the record at the start of `buf`, given that the segment has `remaining` bytes
/// from that point on (`buf.len() <= remaining`).
#[inline]
pub(crate) fn parse_record(buf: &[u8], remaining: u64) -> Parsed {
    if buf.len() < RECORD_HEADER_LEN {
        if remaining < RECORD_HEADER_LEN as u64 {
            return Parsed::Corrupt(CorruptReason::IncompleteHeader { remaining });
        }
        return Parsed::NeedMore(RECORD_HEADER_LEN);
    }
    let len = u32_at(buf, 4);
    let after_header = remaining - RECORD_HEADER_LEN as u64;
    if u64::from(len) > after_header || len as usize > MAX_PAYLOAD {
        return Parsed::Corrupt(CorruptReason::ImpossibleLength {
            len,
            remaining: after_header,
        });
    }
    let total = RECORD_HEADER_LEN + len as usize;
    if buf.len() < total {
        return Parsed::NeedMore(total);
    }
    let stored = u32_at(buf, 0);
    let computed = crc32fast::hash(&buf[4..total]);
    if stored != computed {
        return Parsed::Corrupt(CorruptReason::ChecksumMismatch { stored, computed });
    }
    Parsed::Record(RecordHeader {
        offset: u64_at(buf, 8),
        event_time: u64_at(buf, 16),
        version: u32_at(buf, 24),
        payload_len: len as usize,
    })
}

/// Whether an intact record with an offset of at least `min_offset` starts anywhere in
/// `bytes`. Used to tell a torn tail (garbage up to the end of the file) from damage in
/// the middle of the last segment (intact records follow).
pub(crate) fn intact_record_in(bytes: &[u8], min_offset: u64) -> bool {
    let max_records = (bytes.len() / RECORD_HEADER_LEN) as u64;
    (0..bytes.len()).any(|at| {
        let rest = &bytes[at..];
        if rest.len() < RECORD_HEADER_LEN {
            return false;
        }
        let offset = u64_at(rest, 8);
        if offset < min_offset || offset > min_offset.saturating_add(max_records) {
            return false;
        }
        matches!(parse_record(rest, rest.len() as u64), Parsed::Record(_))
    })
}

/// One step of a [`SegmentCursor`].
pub(crate) enum Step {
    /// A record; its payload is `cursor.payload()`.
    Record(RecordHeader),
    /// The cursor reached its byte limit.
    End,
    /// The bytes at `position` are not a valid record.
    Bad {
        position: u64,
        reason: CorruptReason,
    },
}

/// Reads the records of one segment file sequentially with large buffered reads, never
/// past a byte limit (the committed length of the segment).
pub(crate) struct SegmentCursor {
    file: File,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// File position of `buf[start]`.
    pos: u64,
    /// Bytes of the file that may be read.
    limit: u64,
    /// The payload range of the last record returned.
    payload: (usize, usize),
}

impl SegmentCursor {
    /// A cursor over `file` starting at byte `pos`, reading at most up to byte `limit`.
    pub fn new(mut file: File, pos: u64, limit: u64) -> io::Result<Self> {
        file.seek(SeekFrom::Start(pos))?;
        Ok(SegmentCursor {
            file,
            buf: Vec::new(),
            start: 0,
            end: 0,
            pos,
            limit,
            payload: (0, 0),
        })
    }

    /// The file position of the next record.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The byte limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Raises the byte limit (the segment grew).
    pub fn extend_limit(&mut self, limit: u64) {
        self.limit = self.limit.max(limit);
    }

    /// The payload of the record returned by the last [`SegmentCursor::next_step`].
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.payload.0..self.payload.1]
    }

    /// Reads the next record.
    #[inline]
    pub fn next_step(&mut self) -> io::Result<Step> {
        loop {
            let remaining = self.limit.saturating_sub(self.pos);
            if remaining == 0 {
                return Ok(Step::End);
            }
            match parse_record(&self.buf[self.start..self.end], remaining) {
                Parsed::Record(header) => {
                    let total = header.total_len();
                    self.payload = (self.start + RECORD_HEADER_LEN, self.start + total);
                    self.start += total;
                    self.pos += total as u64;
                    return Ok(Step::Record(header));
                }
                Parsed::NeedMore(needed) => {
                    if !self.fill(needed)? {
                        // The file is shorter than the limit claims.
                        let available = (self.end - self.start) as u64;
                        return Ok(Step::Bad {
                            position: self.pos,
                            reason: CorruptReason::IncompleteHeader {
                                remaining: available,
                            },
                        });
                    }
                }
                Parsed::Corrupt(reason) => {
                    return Ok(Step::Bad {
                        position: self.pos,
                        reason,
                    });
                }
            }
        }
    }

    /// Makes at least `needed` bytes available from `start`. `needed` never exceeds the
    /// bytes left before `limit`, so the buffer never grows past what the file holds.
    /// Returns false if the file ended first.
    fn fill(&mut self, needed: usize) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let left_in_limit = self.limit - self.pos;
        let want = needed
            .max(READ_CHUNK)
            .min(usize::try_from(left_in_limit).unwrap_or(usize::MAX));
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.end < needed {
            let read_to = want.max(needed);
            let n = self.file.read(&mut self.buf[self.end..read_to])?;
            if n == 0 {
                return Ok(false);
            }
            self.end += n;
        }
        Ok(true)
    }
}

/// One entry of a sparse offset index: the record `offset` starts at byte `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub offset: u64,
    pub position: u64,
}

/// The summary fields of an index file, checked against the segment before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexSummary {
    pub base: u64,
    pub records: u64,
    pub segment_bytes: u64,
}

/// Encodes an index file: header, entries, CRC32 of everything before it.
pub(crate) fn encode_index(summary: IndexSummary, entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(INDEX_HEADER_LEN + entries.len() * INDEX_ENTRY_LEN + 4);
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&summary.base.to_le_bytes());
    out.extend_from_slice(&summary.records.to_le_bytes());
    out.extend_from_slice(&summary.segment_bytes.to_le_bytes());
    for entry in entries {
        out.extend_from_slice(&entry.offset.to_le_bytes());
        out.extend_from_slice(&entry.position.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads the summary from the start of an index file, without the entries.
pub(crate) fn read_index_summary(path: &Path) -> Option<IndexSummary> {
    let mut file = File::open(path).ok()?;
    let mut header = [0u8; INDEX_HEADER_LEN];
    file.read_exact(&mut header).ok()?;
    parse_index_header(&header).map(|(summary, _)| summary)
}

fn parse_index_header(bytes: &[u8]) -> Option<(IndexSummary, usize)> {
    if bytes.len() < INDEX_HEADER_LEN
        || bytes[0..8] != INDEX_MAGIC
        || u32_at(bytes, 8) != FORMAT_VERSION
    {
        return None;
    }
    let count = u32_at(bytes, 12) as usize;
    let summary = IndexSummary {
        base: u64_at(bytes, 16),
        records: u64_at(bytes, 24),
        segment_bytes: u64_at(bytes, 32),
    };
    Some((summary, count))
}

/// Reads a whole index file; `None` if it is missing, damaged or does not describe the
/// segment summarized by `expected`.
pub(crate) fn read_index(path: &Path, expected: IndexSummary) -> Option<Vec<IndexEntry>> {
    let bytes = std::fs::read(path).ok()?;
    let (summary, count) = parse_index_header(&bytes)?;
    if summary != expected {
        return None;
    }
    let body_len = INDEX_HEADER_LEN.checked_add(count.checked_mul(INDEX_ENTRY_LEN)?)?;
    if bytes.len() != body_len + 4
        || crc32fast::hash(&bytes[..body_len]) != u32_at(&bytes, body_len)
    {
        return None;
    }
    let entries = bytes[INDEX_HEADER_LEN..body_len]
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(|raw| IndexEntry {
            offset: u64_at(raw, 0),
            position: u64_at(raw, 8),
        })
        .collect();
    Some(entries)
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
    }
    std::fs::rename(&tmp, path)
}

/// The commit marker: the records before `head` are on stable storage, and the last of
/// them ends at byte `bytes` of the segment starting at `base`. The writer rewrites it
/// after every flush of the segment data, so it never claims more than was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub base: u64,
    pub head: u64,
    pub bytes: u64,
}

/// Bytes in the commit marker file.
pub(crate) const MARKER_LEN: usize = 8 + 4 + 4 + 8 + 8 + 8 + 4;

/// Encodes the commit marker: magic, format version, reserved, base, head, bytes, CRC32.
pub(crate) fn encode_marker(marker: Marker) -> [u8; MARKER_LEN] {
    let mut out = [0u8; MARKER_LEN];
    out[0..8].copy_from_slice(&MARKER_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[16..24].copy_from_slice(&marker.base.to_le_bytes());
    out[24..32].copy_from_slice(&marker.head.to_le_bytes());
    out[32..40].copy_from_slice(&marker.bytes.to_le_bytes());
    let crc = crc32fast::hash(&out[..40]);
    out[40..44].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a commit marker; `None` if the bytes are not a whole, valid one.
pub(crate) fn parse_marker(bytes: &[u8]) -> Option<Marker> {
    if bytes.len() != MARKER_LEN
        || bytes[0..8] != MARKER_MAGIC
        || u32_at(bytes, 8) != FORMAT_VERSION
        || crc32fast::hash(&bytes[..40]) != u32_at(bytes, 40)
    {
        return None;
    }
    let marker = Marker {
        base: u64_at(bytes, 16),
        head: u64_at(bytes, 24),
        bytes: u64_at(bytes, 32),
    };
    (marker.head >= marker.base && marker.bytes >= SEGMENT_HEADER_LEN).then_some(marker)
}

/// Flushes a directory entry change (file creation, rename) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(offset: u64, time: u64, version: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        begin_record(&mut buf, 0, time, version);
        buf.extend_from_slice(payload);
        finish_record(&mut buf, 0);
        seal_record(&mut buf, offset);
        buf
    }

    #[test]
    fn markers_round_trip_and_damage_is_rejected() {
        let marker = Marker {
            base: 42,
            head: 50,
            bytes: 1234,
        };
        let mut bytes = encode_marker(marker);
        assert_eq!(parse_marker(&bytes), Some(marker));
        assert_eq!(parse_marker(&bytes[..MARKER_LEN - 1]), None);
        bytes[30] ^= 1;
        assert_eq!(parse_marker(&bytes), None);
    }

    #[test]
    fn record_layout_is_little_endian_and_checksummed() {
        let buf = framed(7, 1000, 3, b"abc");
        assert_eq!(buf.len(), RECORD_HEADER_LEN + 3);
        assert_eq!(&buf[4..8], &3u32.to_le_bytes());
        assert_eq!(&buf[8..16], &7u64.to_le_bytes());
        assert_eq!(&buf[16..24], &1000u64.to_le_bytes());
        assert_eq!(&buf[24..28], &3u32.to_le_bytes());
        assert_eq!(&buf[28..], b"abc");
        assert_eq!(
            u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]),
            crc32fast::hash(&buf[4..])
        );
        match parse_record(&buf, buf.len() as u64) {
            Parsed::Record(h) => {
                assert_eq!(
                    (h.offset, h.event_time, h.version, h.payload_len),
                    (7, 1000, 3, 3)
                );
            }
            _ => panic!("expected a record"),
        }
    }

    #[test]
    fn parse_reports_each_kind_of_damage() {
        let mut buf = framed(0, 1, 1, b"hello");
        assert!(matches!(
            parse_record(&buf[..10], 100),
            Parsed::NeedMore(28)
        ));
        assert!(matches!(
            parse_record(&buf[..10], 10),
            Parsed::Corrupt(CorruptReason::IncompleteHeader { remaining: 10 })
        ));
        assert!(matches!(parse_record(&buf[..30], 33), Parsed::NeedMore(33)));
        assert!(matches!(
            parse_record(&buf[..30], 30),
            Parsed::Corrupt(CorruptReason::ImpossibleLength {
                len: 5,
                remaining: 2
            })
        ));
        buf[30] ^= 0xff;
        assert!(matches!(
            parse_record(&buf, buf.len() as u64),
            Parsed::Corrupt(CorruptReason::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_name(1234), "00000000000000001234.seg");
        assert_eq!(parse_segment_name("00000000000000001234.seg"), Some(1234));
        assert_eq!(parse_segment_name("1234.seg"), None);
        assert_eq!(parse_segment_name("00000000000000001234.idx"), None);
        assert_eq!(check_segment_header(&segment_header(5), 5), Ok(()));
        assert!(check_segment_header(&segment_header(5), 6).is_err());
    }

    #[test]
    fn intact_record_search_finds_records_after_garbage() {
        let mut bytes = vec![0xAB; 40];
        bytes.extend_from_slice(&framed(12, 0, 1, b"x"));
        assert!(intact_record_in(&bytes, 10));
        assert!(!intact_record_in(&bytes, 13));
        assert!(!intact_record_in(&[0u8; 100], 0));
    }
}

/// What is known to be durable in the last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durable {
    /// No (valid) commit marker: a log written before markers existed.
    Unknown,
    /// The commit marker says the segment's first `n` bytes were flushed (the header
    /// alone when the marker names an earlier segment).
    UpTo(u64),
}

impl Durable {
    /// What the marker says about the segment starting at `base`.
    pub fn of(marker: Option<Marker>, base: u64) -> Self {
        match marker {
            None => Durable::Unknown,
            Some(m) if m.base == base => Durable::UpTo(m.bytes),
            Some(_) => Durable::UpTo(SEGMENT_HEADER_LEN),
        }
    }
}
