//! The stages a pipeline body can use, each described as data in a file of its own. The rules in
//! `check` are generic over these descriptions.

use dataflow_plan::StageKind;

pub mod foreign;

/// What a stage's argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSpec {
    /// A closure with `params` parameters (or any other expression, which rustc then checks).
    Closure {
        /// Number of closure parameters.
        params: usize,
        /// How the closure looks, for error messages.
        shape: &'static str,
    },
    /// Another chain of stages starting from an input or a `let` binding.
    Chain {
        /// Whether that chain must end keyed.
        keyed: bool,
    },
    /// Any expression.
    Value {
        /// What the value looks like, for error messages.
        shape: &'static str,
    },
}

/// What a stage does to the "keyed" state of the stream it produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyed {
    /// The output is keyed.
    Set,
    /// The output is keyed if the input was.
    Keep,
    /// The output is not keyed.
    Clear,
}

/// How a stage relates to event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeRule {
    /// Works on any stream; an event-time stream stays one.
    Stateless,
    /// `event_time`: only directly on an input; makes the stream an event-time stream.
    Stamp,
    /// `window`: on a keyed event-time stream; an aggregate must follow.
    Window,
    /// An aggregate: after a `window` on event-time streams, anywhere on others.
    Aggregate,
    /// `scan`: on a keyed event-time stream.
    Ordered,
    /// Not on event-time streams.
    Untimed,
}

/// The description of one stage kind.
#[derive(Clone, Copy, Debug)]
pub struct StageSpec {
    /// The method name written in a pipeline body.
    pub name: &'static str,
    /// The plan's kind for the stage.
    pub kind: StageKind,
    /// The arguments, in order.
    pub args: &'static [ArgSpec],
    /// Whether a `key` stage must come before it.
    pub needs_key: bool,
    /// Whether an `event_time` stage must come before it.
    pub needs_event_time: bool,
    /// How it relates to event time.
    pub time: TimeRule,
    /// Whether its output is keyed.
    pub keyed_after: Keyed,
    /// A short example of its use, for error messages.
    pub example: &'static str,
}

/// Declares the stages: a `mod` line for each stage's file and [`ALL`], the registry of their
/// descriptions, in the order written. A stage is one file and one line here.
macro_rules! declare_stages {
    ($($module:ident => $spec:ident),* $(,)?) => {
        $(
            #[doc = concat!("The `", stringify!($module), "` stage.")]
            mod $module;
        )*

        /// Every stage, in the order error messages list them.
        pub const ALL: &[StageSpec] = &[$($module::$spec),*];
    };
}

declare_stages![
    map => MAP,
    filter => FILTER,
    filter_map => FILTER_MAP,
    flat_map => FLAT_MAP,
    key => KEY,
    key_by => KEY_BY,
    event_time => EVENT_TIME,
    window => WINDOW,
    reduce => REDUCE,
    count => COUNT,
    sum => SUM,
    min => MIN,
    max => MAX,
    mean => MEAN,
    aggregate => AGGREGATE,
    distinct => DISTINCT,
    join => JOIN,
    union => UNION,
    scan => SCAN,
];

/// The stage called `name`.
pub fn lookup(name: &str) -> Option<&'static StageSpec> {
    ALL.iter().find(|spec| spec.name == name)
}

/// The stage name closest to `name`, if one is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<&'static str> {
    ALL.iter()
        .map(|spec| (edit_distance(name, spec.name), spec.name))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| candidate)
}

/// The Levenshtein distance between `a` and `b`, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Tests of the stage registry.
#[cfg(test)]
mod tests {
    use super::*;

    /// Every plan kind has exactly one stage, named as the kind.
    #[test]
    fn every_kind_has_one_description() {
        let mut kinds: Vec<StageKind> = ALL.iter().map(|s| s.kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), ALL.len());
        for spec in ALL {
            assert_eq!(spec.kind.as_str(), spec.name);
        }
    }

    /// Only names within a small edit distance are suggested.
    #[test]
    fn suggests_near_names_only() {
        assert_eq!(suggest("mapp"), Some("map"));
        assert_eq!(suggest("reduse"), Some("reduce"));
        assert_eq!(suggest("group_by_everything"), None);
    }
}
