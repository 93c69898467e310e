//! What the source targets share: a scratch file per process for the fuzz input, the check that a
//! record read from a source is written out and read back unchanged, and the check that a price is
//! read exactly as its text writes it.

use dataflow_core::decimal::Decimal;
use dataflow_examples::{Line, Sale, TimedSale};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A directory of this process's own, in memory where the system has one.
pub fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        let base = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("dataflow-source-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

/// Writes `bytes` as the file `name` in the scratch directory.
pub fn input_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// A record that was read must survive being written as JSON (the output format) and read again:
/// nothing rounded, nothing lost.
pub fn round_trips<T: Serialize + DeserializeOwned + PartialEq + Debug>(record: &T) {
    let text = serde_json::to_string(record).expect("a record read is written");
    let back: T = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{text} does not read back: {e} (from {record:?})"));
    assert_eq!(&back, record, "written as {text}");
}

/// A record type of the examples, with its price when it has one.
pub trait Priced {
    /// The price, for records that have one.
    fn price(&self) -> Option<Decimal>;
}

impl Priced for Sale {
    fn price(&self) -> Option<Decimal> {
        Some(self.price)
    }
}

impl Priced for TimedSale {
    fn price(&self) -> Option<Decimal> {
        Some(self.price)
    }
}

impl Priced for Line {
    fn price(&self) -> Option<Decimal> {
        None
    }
}

/// A price read from the text `written` is exactly the decimal that text writes, when it is one.
pub fn exact_price<T: Priced + Debug>(record: &T, written: &str) {
    let (Some(price), Ok(decimal)) = (record.price(), written.trim().parse::<Decimal>()) else {
        return;
    };
    assert_eq!(
        price, decimal,
        "the price `{written}` was read as {price}: {record:?}"
    );
}
