//! Full checks of a log: [`EventLog::verify`](crate::EventLog::verify) and its
//! per-segment [`SegmentReport`].

use std::fmt;

use crate::error::{CorruptReason, LogError};
use crate::format;
use crate::recovery::Truncation;
use crate::scan::scan_segment;
use crate::shared::Shared;

/// What a full scan found in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReport {
    /// The segment file name, for example `00000000000000000000.seg`.
    pub file: String,
    /// The offset of the segment's first record.
    pub base_offset: u64,
    /// The number of records in the segment.
    pub records: u64,
    /// The segment's committed length in bytes, header included.
    pub bytes: u64,
    /// The schema versions present, ascending.
    pub schema_versions: Vec<u32>,
    /// The smallest and largest event time, if the segment holds records.
    pub event_time_range: Option<(u64, u64)>,
    /// The bytes of a torn tail after the segment's last whole record that the open
    /// found (truncated by a writable open, ignored by a read-only one); 0 if none.
    pub torn_tail_bytes: u64,
}

impl fmt::Display for SegmentReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<String> = self.schema_versions.iter().map(u32::to_string).collect();
        let times = match self.event_time_range {
            Some((lo, hi)) => format!("{lo}..={hi}"),
            None => "-".to_string(),
        };
        write!(
            f,
            "{} base {} records {} bytes {} versions [{}] event time {}",
            self.file,
            self.base_offset,
            self.records,
            self.bytes,
            versions.join(","),
            times
        )
    }
}

pub(crate) fn verify(
    shared: &Shared,
    torn: Option<&Truncation>,
) -> Result<Vec<SegmentReport>, LogError> {
    let torn_bytes = |file: &str| torn.filter(|t| t.segment == file).map_or(0, |t| t.bytes);
    let segments: Vec<(u64, u64, u64)> = shared
        .state()
        .segments
        .iter()
        .map(|s| (s.base, s.end, s.bytes))
        .collect();
    let mut reports = Vec::with_capacity(segments.len());
    for (base, end, bytes) in segments {
        let file = format::segment_name(base);
        let torn_tail_bytes = torn_bytes(&file);
        let path = shared.dir.join(&file);
        if bytes < format::SEGMENT_HEADER_LEN && end == base {
            // The last segment was being created when its writer stopped.
            reports.push(SegmentReport {
                file,
                base_offset: base,
                records: 0,
                bytes,
                schema_versions: Vec::new(),
                event_time_range: None,
                torn_tail_bytes,
            });
            continue;
        }
        let scan = scan_segment(&path, base, Some(bytes), None, u64::MAX, true)?;
        if let Some((offset, position, reason)) = scan.bad {
            return Err(LogError::Corrupt {
                segment: file,
                offset,
                position,
                reason,
            });
        }
        if base + scan.records != end {
            let reason = if base + scan.records < end {
                CorruptReason::MissingRecords {
                    next_segment_base: end,
                }
            } else {
                CorruptReason::UnexpectedOffset {
                    found: base + scan.records - 1,
                }
            };
            return Err(LogError::Corrupt {
                segment: file,
                offset: base + scan.records,
                position: scan.end_pos,
                reason,
            });
        }
        reports.push(SegmentReport {
            file,
            base_offset: base,
            records: scan.records,
            bytes: scan.end_pos,
            schema_versions: scan.stats.versions,
            event_time_range: scan.stats.event_times,
            torn_tail_bytes,
        });
    }
    Ok(reports)
}
