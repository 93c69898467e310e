//! Input and output files: sources (CSV and JSON Lines), the dead-letter output for records that
//! cannot be read, and JSON Lines writers for output records, changes and late records.

mod dead_letter;
mod fields;
mod format;
pub mod jsonl;
mod live;
mod source;

pub use dead_letter::{DeadLetter, DeadLetterSink};
pub use fields::field_names;
pub use format::Format;
pub use live::{LiveSource, Next};
pub use source::{FileSource, SourceStats};
