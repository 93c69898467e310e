//! Checkpoints: the state of a replay at a position, enough to resume it exactly (see the
//! [module docs](super)), written atomically; and the journal of how the replay fed its pipeline.

use crate::error::Error;
use crate::log::Split;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// One entry of the record of how a replay fed its pipeline: steps of a number of records, or idle
/// periods. Replaying the same entries over the same log rebuilds the same state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FeedMark {
    /// `count` consecutive steps of `size` records each.
    Steps {
        /// Records per step.
        size: u64,
        /// Consecutive steps.
        count: u64,
    },
    /// `count` consecutive calls of [`Running::idle`](crate::Running::idle).
    Idle {
        /// Consecutive calls.
        count: u64,
    },
    /// `count` consecutive steps of a partitioned log, each of which read `split` (how many records
    /// of each partition, and the event-time floor after it).
    Split {
        /// What each step read.
        split: Split,
        /// Consecutive steps.
        count: u64,
    },
}

/// Appends `mark` to `journal`, merging it into the last entry when they are alike.
pub(crate) fn note(journal: &mut Vec<FeedMark>, mark: FeedMark) {
    match (journal.last_mut(), &mark) {
        (Some(FeedMark::Steps { size, count }), FeedMark::Steps { size: s, count: c })
            if size == s =>
        {
            *count += c
        }
        (Some(FeedMark::Idle { count }), FeedMark::Idle { count: c }) => *count += c,
        (Some(FeedMark::Split { split, count }), FeedMark::Split { split: s, count: c })
            if split == s =>
        {
            *count += c
        }
        _ => journal.push(mark),
    }
}

/// What one process of a cluster had read at a checkpoint: the journal of its steps and the
/// position they reached (over its own partitions; the others stay at the replay's start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "Pos: Serialize", deserialize = "Pos: DeserializeOwned"))]
pub(crate) struct ProcessPart<Pos> {
    /// How the process fed its share of the pipeline.
    pub journal: Vec<FeedMark>,
    /// The position its steps reached.
    pub offset: Pos,
}

/// The state of a replay at an offset, enough to resume it exactly: see [checkpoints and restart](crate::kappa#checkpoints-and-restart).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "O: Serialize, Pos: Serialize",
    deserialize = "O: DeserializeOwned, Pos: DeserializeOwned"
))]
pub struct Checkpoint<O, Pos = u64> {
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline's version (its plan's fingerprint).
    pub version: String,
    /// What else the run's output depends on, as `(name, value)` pairs: the output file and its
    /// identity, the mode and the flags that shape the output. A restart compares them with its own
    /// and refuses any difference before touching the output (see [`Checkpoint::mismatches`]).
    pub settings: Vec<(String, String)>,
    /// The position the replay started at.
    pub from: Pos,
    /// The position covered: the records from `from` to `offset` went into the pipeline, none after.
    pub offset: Pos,
    /// The length of the output sink at this point, bytes.
    pub sink: u64,
    /// The consolidated output at `offset`.
    pub output: Vec<(O, isize)>,
    pub(crate) journal: Vec<FeedMark>,
    /// A replay across processes: what each process read, by process index (empty for one
    /// process). Every process resumes from its own part of the one checkpoint.
    pub(crate) processes: Vec<ProcessPart<Pos>>,
}

/// A checkpoint of format 2, which had no parts per process (it was always of one process).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
#[serde(bound(
    serialize = "O: Serialize, Pos: Serialize",
    deserialize = "O: DeserializeOwned, Pos: DeserializeOwned"
))]
struct CheckpointV2<O, Pos> {
    pipeline: String,
    version: String,
    settings: Vec<(String, String)>,
    from: Pos,
    offset: Pos,
    sink: u64,
    output: Vec<(O, isize)>,
    journal: Vec<FeedMark>,
}

impl<O, Pos> From<CheckpointV2<O, Pos>> for Checkpoint<O, Pos> {
    fn from(v2: CheckpointV2<O, Pos>) -> Self {
        Checkpoint {
            pipeline: v2.pipeline,
            version: v2.version,
            settings: v2.settings,
            from: v2.from,
            offset: v2.offset,
            sink: v2.sink,
            output: v2.output,
            journal: v2.journal,
            processes: Vec::new(),
        }
    }
}

/// The first bytes of a checkpoint file (format 3: with a part per process of a cluster).
const CHECKPOINT_MAGIC: &[u8; 8] = b"DFCKPT\x00\x03";
/// The first bytes of a checkpoint file of format 2, of one process.
const CHECKPOINT_MAGIC_V2: &[u8; 8] = b"DFCKPT\x00\x02";
/// The first bytes of a checkpoint file of format 1, which recorded no settings.
const CHECKPOINT_MAGIC_V1: &[u8; 8] = b"DFCKPT\x00\x01";

/// The leading fields of every checkpoint: whose it is, readable whatever its output type.
#[derive(Deserialize)]
struct Head {
    pipeline: String,
    version: String,
}

/// The settings of `ours` that differ from `theirs`: `(name, checkpoint's value, this run's value)`,
/// with `-` for a setting one side does not have.
fn differing(
    theirs: &[(String, String)],
    ours: &[(String, String)],
) -> Vec<(String, String, String)> {
    let value = |list: &[(String, String)], name: &str| {
        list.iter()
            .find(|(n, _)| n == name)
            .map_or("-".to_string(), |(_, v)| v.clone())
    };
    let mut names: Vec<&str> = theirs.iter().chain(ours).map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (value(theirs, name), value(ours, name));
            (a != b).then(|| (name.to_string(), a, b))
        })
        .collect()
}

impl<O, Pos> Checkpoint<O, Pos> {
    /// The settings in which this run (`settings`) differs from the one that wrote the checkpoint, as
    /// `(name, checkpoint's value, this run's value)`; empty when the run may resume from it.
    pub fn mismatches(&self, settings: &[(String, String)]) -> Vec<(String, String, String)> {
        differing(&self.settings, settings)
    }

    /// The steps this checkpoint's replay took, as the number of records each read.
    pub fn steps(&self) -> u64 {
        self.journal
            .iter()
            .map(|mark| match mark {
                FeedMark::Steps { count, .. } | FeedMark::Split { count, .. } => *count,
                FeedMark::Idle { .. } => 0,
            })
            .sum()
    }
}

impl<O: Serialize + DeserializeOwned, Pos: Serialize + DeserializeOwned> Checkpoint<O, Pos> {
    /// Writes the checkpoint to `path` atomically: to a temporary file next to it, flushed to disk,
    /// then renamed over `path`, and the directory flushed. A crash leaves the old checkpoint or the
    /// new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let payload = postcard::to_stdvec(self)
            .map_err(|e| Error::Source(format!("cannot encode a checkpoint: {e}")))?;
        let mut bytes = Vec::with_capacity(payload.len() + 20);
        bytes.extend_from_slice(CHECKPOINT_MAGIC);
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        write_atomically(path, &bytes)
    }

    /// Reads the checkpoint at `path`; `None` if there is none. A damaged file is an error.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let damaged = |why: &str| {
            Error::Source(format!(
                "checkpoint {} is damaged ({why}): remove it to replay from the start",
                path.display()
            ))
        };
        if bytes.len() >= 8 && &bytes[..8] == CHECKPOINT_MAGIC_V1 {
            return Err(Error::Usage(format!(
                "checkpoint {} is of an earlier format, which did not record what the run wrote: \
                 remove it to replay from the start",
                path.display()
            )));
        }
        let v2 = bytes.len() >= 8 && &bytes[..8] == CHECKPOINT_MAGIC_V2;
        if bytes.len() < 20 || (&bytes[..8] != CHECKPOINT_MAGIC && !v2) {
            return Err(damaged("not a checkpoint file"));
        }
        let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[12..20]);
        let payload = &bytes[20..];
        if u64::from_le_bytes(len) != payload.len() as u64 {
            return Err(damaged("wrong length"));
        }
        if crc32fast::hash(payload) != crc {
            return Err(damaged("checksum mismatch"));
        }
        let decoded = if v2 {
            postcard::from_bytes::<CheckpointV2<O, Pos>>(payload).map(Checkpoint::from)
        } else {
            postcard::from_bytes(payload)
        };
        decoded.map(Some).map_err(|e| {
            // A sound file whose output does not decode was written by another pipeline (or
            // version): say whose it is rather than that it is damaged.
            match postcard::from_bytes::<Head>(payload) {
                Ok(head) => Error::Usage(format!(
                    "checkpoint {} was written by {} version {}, whose output is not this \
                     pipeline's: remove it (or pass another --checkpoint) to replay from the start",
                    path.display(),
                    head.pipeline,
                    head.version
                )),
                Err(_) => damaged(&e.to_string()),
            }
        })
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let mut file = File::create(&temporary).map_err(|e| Error::io(&temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&temporary, e))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> Result<(), Error> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Directories can be opened and flushed on Unix; elsewhere the rename is as durable as it gets.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journals_merge_equal_neighbours() {
        let mut journal = Vec::new();
        for mark in [
            FeedMark::Steps { size: 5, count: 1 },
            FeedMark::Steps { size: 5, count: 1 },
            FeedMark::Steps { size: 3, count: 1 },
            FeedMark::Idle { count: 1 },
            FeedMark::Idle { count: 1 },
        ] {
            note(&mut journal, mark);
        }
        assert_eq!(
            journal,
            vec![
                FeedMark::Steps { size: 5, count: 2 },
                FeedMark::Steps { size: 3, count: 1 },
                FeedMark::Idle { count: 2 },
            ]
        );
    }

    #[test]
    fn checkpoints_round_trip_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert_eq!(Checkpoint::<String>::load(&path).unwrap(), None);
        let checkpoint = Checkpoint {
            pipeline: "p".into(),
            version: "v".into(),
            settings: vec![("output".into(), "out.jsonl".into())],
            from: 0,
            offset: 9,
            sink: 123,
            output: vec![("x".to_string(), 1)],
            journal: vec![FeedMark::Steps { size: 9, count: 1 }],
            processes: vec![ProcessPart {
                journal: vec![FeedMark::Idle { count: 1 }],
                offset: 4,
            }],
        };
        checkpoint.save(&path).unwrap();
        assert_eq!(Checkpoint::<String>::load(&path).unwrap(), Some(checkpoint));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        let error = Checkpoint::<String>::load(&path).unwrap_err().to_string();
        assert!(error.contains("checksum mismatch"), "{error}");
    }

    #[test]
    fn a_checkpoint_of_another_output_type_names_its_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        let checkpoint = Checkpoint {
            pipeline: "daily_sales".into(),
            version: "v1".into(),
            settings: Vec::new(),
            from: 0u64,
            offset: 1,
            sink: 0,
            output: vec![("x".to_string(), 1)],
            journal: Vec::new(),
            processes: Vec::new(),
        };
        checkpoint.save(&path).unwrap();
        let error = Checkpoint::<(u64, u64, u64)>::load(&path)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("written by daily_sales version v1"),
            "{error}"
        );
        assert!(!error.contains("damaged"), "{error}");
    }

    #[test]
    fn a_checkpoint_of_format_2_still_loads() {
        let v2 = CheckpointV2::<String, u64> {
            pipeline: "p".into(),
            version: "v".into(),
            settings: Vec::new(),
            from: 0,
            offset: 7,
            sink: 70,
            output: vec![("y".to_string(), 2)],
            journal: vec![FeedMark::Steps { size: 7, count: 1 }],
        };
        let payload = postcard::to_stdvec(&v2).unwrap();
        let mut bytes = CHECKPOINT_MAGIC_V2.to_vec();
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        std::fs::write(&path, bytes).unwrap();
        let loaded = Checkpoint::<String>::load(&path).unwrap().unwrap();
        assert_eq!((loaded.offset, loaded.sink), (7, 70));
        assert_eq!(loaded.journal, v2.journal);
        assert!(loaded.processes.is_empty());
    }

    #[test]
    fn an_earlier_format_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        std::fs::write(&path, b"DFCKPT\x00\x01rest-of-an-old-file").unwrap();
        let error = Checkpoint::<String>::load(&path).unwrap_err().to_string();
        assert!(error.contains("earlier format"), "{error}");
    }

    #[test]
    fn mismatched_settings_are_listed() {
        let mine = vec![
            ("output".to_string(), "a.jsonl".to_string()),
            ("changes".to_string(), "true".to_string()),
        ];
        let theirs = vec![("output".to_string(), "b.jsonl".to_string())];
        assert_eq!(
            differing(&theirs, &mine),
            vec![
                ("changes".to_string(), "-".to_string(), "true".to_string()),
                (
                    "output".to_string(),
                    "b.jsonl".to_string(),
                    "a.jsonl".to_string()
                ),
            ]
        );
        assert!(differing(&mine, &mine).is_empty());
    }
}
