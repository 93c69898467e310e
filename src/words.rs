//! Word count: the "hello world" of dataflow.

use dataflow_core::prelude::*;

/// A line of text: a JSON object `{"text": ".."}` or a CSV row with a `text` column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Line {
    /// The text.
    pub text: String,
}

/// How often a word occurs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WordFrequency {
    /// The word, lower case.
    pub word: String,
    /// Its number of occurrences.
    pub count: u64,
}

/// Splits text into lower-case words without surrounding punctuation.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Counts the words of every line.
#[pipeline(key(word))]
pub fn word_count(lines: Stream<Line>) -> Stream<WordFrequency> {
    lines
        .flat_map(|line| words(&line.text))
        .key(|word| word.clone())
        .count()
        .map(|(word, count)| WordFrequency { word, count })
}
