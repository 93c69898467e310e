//! `architectures advise`: requirements in, an architecture out, with the reasons quoted from the
//! measured matrix.
//!
//! The rules, in order:
//!
//! 1. The article's four rules pick a first answer from its vocabulary: hours + low complexity →
//!    batch; seconds + moderate volume → stream; mixed + occasional reprocessing → lambda; seconds +
//!    frequent reprocessing → kappa; none of them → hybrid.
//! 2. With a matrix measured on this machine, every architecture is checked against the
//!    requirements: its measured p99 freshness within the target (batch: a full recompute of the
//!    history, scaled linearly from the measured one, at most a tenth of the target, so the job is
//!    busy at most 10 % of the time); its highest sustained rate at least the event rate; exact
//!    answers (every sampled answer equal to the oracle, nothing lost or counted twice across the
//!    kill) when they must be exact; a measured reprocessing time when logic changes; at most the
//!    tolerated number of stores.
//! 3. The article's answer stands if it passes. Otherwise (or when no rule matched) the first that
//!    passes in this order: batch (when it passes, it is the simplest and cheapest), then fewest
//!    stores, then lowest p99 freshness. None passes: hybrid, with each architecture's shortfall.
//! 4. Without a matrix measured on this machine the article's rule stands alone, and the answer
//!    says so.

use crate::matrix::{Matrix, Measured, count, millis};
use crate::node::Deployment;
use dataflow_core::time::parse_duration;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A requirement the user gave that cannot be used: its name and why.
#[derive(Debug)]
pub struct BadRequirement(pub String);

impl fmt::Display for BadRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRequirement {}

fn bad<T>(message: impl Into<String>) -> Result<T, BadRequirement> {
    Err(BadRequirement(message.into()))
}

/// The requirements as given (flags or a TOML file with the same names), as text.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
pub struct Given {
    /// hours | minutes | seconds | mixed (both realtime and historical answers).
    #[arg(long)]
    pub latency: Option<String>,
    /// moderate | high.
    #[arg(long)]
    pub volume: Option<String>,
    /// Tolerance for operating more components: low | medium | high.
    #[arg(long)]
    pub complexity: Option<String>,
    /// How often the logic changes: none | occasional | frequent.
    #[arg(long)]
    pub reprocessing: Option<String>,
    /// Freshness target: an answer includes an event within this (500ms, 5s, 10m, 1h, 1d).
    #[arg(long)]
    pub freshness: Option<String>,
    /// Event rate: 50000/s, 50k/s, 3M/h, 20000.
    #[arg(long)]
    pub rate: Option<String>,
    /// History size: 10M, 1_000_000, 500k.
    #[arg(long)]
    pub history: Option<String>,
    /// Whether answers must be exact: true | false.
    #[arg(long)]
    pub exact: Option<String>,
    /// The most stores (logs, views) you will operate: 1, 2, 3.
    #[arg(long)]
    pub stores: Option<String>,
}

impl Given {
    /// `self` with the values of `file` it does not set; a key set in both to different values is
    /// an error.
    pub fn merged_with(self, file: Given) -> Result<Given, BadRequirement> {
        fn pick(
            name: &str,
            flag: Option<String>,
            file: Option<String>,
        ) -> Result<Option<String>, BadRequirement> {
            match (flag, file) {
                (Some(a), Some(b)) if a != b => bad(format!(
                    "`{name}` is {a:?} on the command line and {b:?} in the file: give it once"
                )),
                (a, b) => Ok(a.or(b)),
            }
        }
        Ok(Given {
            latency: pick("latency", self.latency, file.latency)?,
            volume: pick("volume", self.volume, file.volume)?,
            complexity: pick("complexity", self.complexity, file.complexity)?,
            reprocessing: pick("reprocessing", self.reprocessing, file.reprocessing)?,
            freshness: pick("freshness", self.freshness, file.freshness)?,
            rate: pick("rate", self.rate, file.rate)?,
            history: pick("history", self.history, file.history)?,
            exact: pick("exact", self.exact, file.exact)?,
            stores: pick("stores", self.stores, file.stores)?,
        })
    }

    /// Reads a TOML file of requirements.
    pub fn from_toml(path: &Path) -> Result<Given, BadRequirement> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BadRequirement(format!("{}: {e}", path.display())))?;
        // Numbers and booleans are welcome as such: read them as text like the flags.
        let table: toml::Table = text
            .parse()
            .map_err(|e| BadRequirement(format!("{}: {e}", path.display())))?;
        let mut given = Given::default();
        for (key, value) in table {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return bad(format!(
                        "{}: `{key}` is a {}: give a string, a number or a boolean",
                        path.display(),
                        other.type_str()
                    ));
                }
            };
            let slot = match key.as_str() {
                "latency" => &mut given.latency,
                "volume" => &mut given.volume,
                "complexity" => &mut given.complexity,
                "reprocessing" => &mut given.reprocessing,
                "freshness" => &mut given.freshness,
                "rate" => &mut given.rate,
                "history" => &mut given.history,
                "exact" => &mut given.exact,
                "stores" => &mut given.stores,
                _ => {
                    return bad(format!(
                        "{}: unknown requirement `{key}`: latency, volume, complexity, reprocessing, \
                         freshness, rate, history, exact, stores",
                        path.display()
                    ));
                }
            };
            *slot = Some(text);
        }
        Ok(given)
    }
}

/// The article's latency classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latency {
    /// Answers within hours.
    Hours,
    /// Within minutes.
    Minutes,
    /// Within seconds.
    Seconds,
    /// Realtime answers and historical ones.
    Mixed,
}

/// Three levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// How often the logic changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Never.
    None,
    /// Now and then.
    Occasional,
    /// Often.
    Frequent,
}

/// Requirements, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requirements {
    /// Latency class.
    pub latency: Option<Latency>,
    /// Volume is high (`Some(true)`) or moderate.
    pub high_volume: Option<bool>,
    /// Complexity tolerance.
    pub complexity: Option<Level>,
    /// Logic changes.
    pub reprocessing: Option<Changes>,
    /// Freshness target.
    pub freshness: Option<Duration>,
    /// Events/s.
    pub rate: Option<f64>,
    /// Events of history.
    pub history: Option<u64>,
    /// Answers must be exact.
    pub exact: Option<bool>,
    /// Most stores.
    pub stores: Option<usize>,
}

fn one_of<T: Copy>(name: &str, value: &str, options: &[(&str, T)]) -> Result<T, BadRequirement> {
    options
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(value.trim()))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            BadRequirement(format!(
                "--{name} {value:?}: unknown; one of {}",
                options
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// `10M`, `1_000_000`, `500k`, `2.5M` → a count.
pub fn parse_count(text: &str) -> Option<f64> {
    let t = text.trim().replace('_', "");
    let (number, scale) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1e3),
        'm' | 'M' => (&t[..t.len() - 1], 1e6),
        'g' | 'G' | 'b' | 'B' => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let n: f64 = number.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * scale)
}

/// `50000/s`, `50k/s`, `3M/h`, `20000` (per second) → events/s.
pub fn parse_rate(text: &str) -> Option<f64> {
    let (n, per) = text.split_once('/').unwrap_or((text, "s"));
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "min" | "m" => 60.0,
        "h" | "hour" => 3600.0,
        "d" | "day" => 86_400.0,
        _ => return None,
    };
    Some(parse_count(n)? / seconds)
}

impl Requirements {
    /// Checks `given`: unknown values, and requirements that contradict each other, are errors.
    pub fn from_given(given: &Given) -> Result<Requirements, BadRequirement> {
        use Changes as C;
        use Latency as L;
        let mut r = Requirements::default();
        if let Some(v) = &given.latency {
            r.latency = Some(one_of(
                "latency",
                v,
                &[
                    ("hours", L::Hours),
                    ("minutes", L::Minutes),
                    ("seconds", L::Seconds),
                    ("mixed", L::Mixed),
                ],
            )?);
        }
        if let Some(v) = &given.volume {
            r.high_volume = Some(one_of("volume", v, &[("moderate", false), ("high", true)])?);
        }
        let levels = [
            ("low", Level::Low),
            ("medium", Level::Medium),
            ("high", Level::High),
        ];
        if let Some(v) = &given.complexity {
            r.complexity = Some(one_of("complexity", v, &levels)?);
        }
        if let Some(v) = &given.reprocessing {
            r.reprocessing = Some(one_of(
                "reprocessing",
                v,
                &[
                    ("none", C::None),
                    ("occasional", C::Occasional),
                    ("frequent", C::Frequent),
                ],
            )?);
        }
        if let Some(v) = &given.freshness {
            let d = parse_duration(v.trim())
                .map_err(|e| BadRequirement(format!("--freshness {v:?}: {e}")))?;
            if d.is_zero() {
                return bad("--freshness 0: no architecture answers before an event arrives");
            }
            r.freshness = Some(d);
        }
        if let Some(v) = &given.rate {
            let rate = parse_rate(v).ok_or_else(|| {
                BadRequirement(format!(
                    "--rate {v:?}: not a rate; write events per second as 50000/s, 50k/s or 3M/h"
                ))
            })?;
            r.rate = Some(rate);
        }
        if let Some(v) = &given.history {
            let h = parse_count(v).ok_or_else(|| {
                BadRequirement(format!(
                    "--history {v:?}: not a count; write 10M, 500k or 1000000"
                ))
            })?;
            r.history = Some(h as u64);
        }
        if let Some(v) = &given.exact {
            r.exact = Some(one_of(
                "exact",
                v,
                &[
                    ("true", true),
                    ("yes", true),
                    ("false", false),
                    ("no", false),
                ],
            )?);
        }
        if let Some(v) = &given.stores {
            let n: usize = v.trim().parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                BadRequirement(format!("--stores {v:?}: a number of stores, at least 1"))
            })?;
            r.stores = Some(n);
        }
        if r == Requirements::default() {
            return bad(
                "no requirements given: give at least one of --latency, --volume, --complexity, \
                 --reprocessing, --freshness, --rate, --history, --exact, --stores (or --config FILE)",
            );
        }
        // Contradictions.
        if let (Some(latency), Some(f)) = (r.latency, r.freshness) {
            let s = f.as_secs_f64();
            let fits = match latency {
                L::Seconds | L::Mixed => s < 60.0,
                L::Minutes => (60.0..3600.0).contains(&s),
                L::Hours => s >= 3600.0,
            };
            if !fits {
                return bad(format!(
                    "--latency {} and --freshness {} contradict each other: {} means a freshness {}",
                    latency_name(latency),
                    given.freshness.as_deref().unwrap_or(""),
                    latency_name(latency),
                    match latency {
                        L::Seconds => "under a minute",
                        L::Mixed => "under a minute for the realtime answers",
                        L::Minutes => "from a minute to under an hour",
                        L::Hours => "of an hour or more",
                    }
                ));
            }
        }
        if r.complexity == Some(Level::Low) && r.stores.is_some_and(|n| n > 2) {
            return bad(format!(
                "--complexity low and --stores {} contradict each other: low tolerates at most 2 stores",
                r.stores.unwrap_or(0)
            ));
        }
        if r.reprocessing == Some(C::None) && r.latency == Some(L::Mixed) && r.exact == Some(false)
        {
            // Not a contradiction: mixed answers without reprocessing and without exactness are fine.
        }
        Ok(r)
    }

    /// The freshness to check against: the one given, or the one the latency class stands for.
    fn target(&self) -> Option<(Duration, String)> {
        if let Some(f) = self.freshness {
            return Some((
                f,
                format!("the freshness target {}", millis(f.as_secs_f64() * 1000.0)),
            ));
        }
        let (d, class) = match self.latency? {
            Latency::Hours => (Duration::from_secs(3600), "hours"),
            Latency::Minutes => (Duration::from_secs(300), "minutes"),
            Latency::Seconds | Latency::Mixed => (Duration::from_secs(5), "seconds"),
        };
        Some((
            d,
            format!("{} (taken as {})", class, millis(d.as_secs_f64() * 1000.0)),
        ))
    }

    /// The most stores tolerated.
    fn max_stores(&self) -> Option<usize> {
        let by_level = self.complexity.map(|level| match level {
            Level::Low | Level::Medium => 2,
            Level::High => usize::MAX,
        });
        match (by_level, self.stores) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn latency_name(l: Latency) -> &'static str {
    match l {
        Latency::Hours => "hours",
        Latency::Minutes => "minutes",
        Latency::Seconds => "seconds",
        Latency::Mixed => "mixed",
    }
}

/// The answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Advice {
    /// batch, stream, lambda, kappa or hybrid.
    pub architecture: String,
    /// Why, in one paragraph.
    pub rationale: String,
    /// The figures and rules it rests on.
    pub evidence: Vec<String>,
    /// The matrix read, if any.
    pub matrix: Option<String>,
}

/// The article's four rules, in its order.
pub fn article_rule(r: &Requirements) -> (Option<Deployment>, &'static str) {
    use Changes as C;
    use Latency as L;
    if r.latency == Some(L::Hours) && r.complexity == Some(Level::Low) {
        return (
            Some(Deployment::Batch),
            "the article's rule 1 (hours + low complexity → batch): latency requirements allow batch processing",
        );
    }
    if r.latency == Some(L::Seconds) && r.high_volume == Some(false) {
        return (
            Some(Deployment::Stream),
            "the article's rule 2 (seconds + moderate volume → stream): real-time requirements with manageable data volume",
        );
    }
    if r.latency == Some(L::Mixed) && r.reprocessing == Some(C::Occasional) {
        return (
            Some(Deployment::Lambda),
            "the article's rule 3 (mixed + occasional reprocessing → lambda): both comprehensive historical views and real-time processing",
        );
    }
    if r.latency == Some(L::Seconds) && r.reprocessing == Some(C::Frequent) {
        return (
            Some(Deployment::Kappa),
            "the article's rule 4 (seconds + frequent reprocessing → kappa): stream-first with reprocessing by log replay",
        );
    }
    (
        None,
        "none of the article's four rules applies (its answer: hybrid, a custom combination)",
    )
}

/// A matrix read for advice, or why there is none.
pub enum Source {
    /// Measured on this machine.
    Measured(Box<Matrix>, PathBuf),
    /// None usable, and why.
    Missing(String),
}

/// Reads the matrix at `path` and checks it was measured on `here`.
pub fn load(path: &Path, here: &crate::matrix::Machine) -> Source {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return Source::Missing(format!(
                "no matrix measured on this machine ({}: {e}); run `architectures run` to measure one",
                path.display()
            ));
        }
    };
    let matrix: Matrix = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            return Source::Missing(format!(
                "{} is not a matrix written by `architectures run`: {e}",
                path.display()
            ));
        }
    };
    if matrix.machine.cpu != here.cpu || matrix.machine.cores != here.cores {
        return Source::Missing(format!(
            "the matrix {} was measured on another machine ({}, {} cores), not this one ({}, {} cores)",
            path.display(),
            matrix.machine.cpu,
            matrix.machine.cores,
            here.cpu,
            here.cores
        ));
    }
    Source::Measured(Box::new(matrix), path.to_path_buf())
}

/// One architecture against the requirements: the reasons it fails (none: it passes) and the
/// figures that were checked.
fn check(
    m: &Measured,
    matrix: &Matrix,
    r: &Requirements,
    evidence: &mut Vec<String>,
) -> Vec<String> {
    let name = m.architecture.name();
    let mut fails = Vec::new();
    // Without a history size, the measured one stands as it is.
    let history = r.history;
    if let Some((target, described)) = r.target() {
        let target_ms = target.as_secs_f64() * 1000.0;
        if m.architecture == Deployment::Batch {
            match m.recompute() {
                Some((h, s)) if h > 0 => {
                    let history = history.unwrap_or(h);
                    let scaled = s * history as f64 / h as f64;
                    evidence.push(format!(
                        "batch: a full recompute of {} events took {s:.2} s on this machine{}",
                        count(h as f64),
                        if history != h {
                            format!(
                                ", so {:.2} s for {} (scaled linearly)",
                                scaled,
                                count(history as f64)
                            )
                        } else {
                            String::new()
                        }
                    ));
                    if scaled * 10.0 > target.as_secs_f64() {
                        fails.push(format!(
                            "batch: recomputing {} events takes {scaled:.2} s, more than a tenth of {described}: the job would run more than 10 % of the time",
                            count(history as f64)
                        ));
                    } else {
                        evidence.push(format!(
                            "batch: meets {described} when it recomputes every {}: an answer is then at most {} old",
                            millis((target.as_secs_f64() - scaled) * 1000.0),
                            millis(target_ms)
                        ));
                    }
                }
                _ => fails.push("batch: no full recompute measured".into()),
            }
        } else {
            let p99 = m.freshness.p99_ms;
            if p99 > target_ms {
                fails.push(format!(
                    "{name}: p99 freshness {} at {}/s, over {described}",
                    millis(p99),
                    count(m.freshness.rate as f64)
                ));
            } else {
                evidence.push(format!(
                    "{name}: p99 freshness {} (max {}) at {}/s, within {described}",
                    millis(p99),
                    millis(m.freshness.max_ms),
                    count(m.freshness.rate as f64)
                ));
            }
        }
    }
    if let Some(rate) = r.rate {
        let capacity = if m.architecture == Deployment::Batch {
            m.ramp
                .iter()
                .map(|s| s.achieved)
                .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
        } else {
            m.max_rate
        };
        match capacity {
            Some(c) if c >= rate => evidence.push(format!(
                "{name}: sustained {}/s{}, at least the {}/s required",
                count(c),
                if m.architecture == Deployment::Batch {
                    " of appends"
                } else {
                    " with p99 freshness under the bound"
                },
                count(rate)
            )),
            Some(c) => fails.push(format!(
                "{name}: sustained at most {}/s on this machine, less than the {}/s required",
                count(c),
                count(rate)
            )),
            None => fails.push(format!(
                "{name}: sustained no rate with p99 freshness under {}",
                millis(matrix.workload.bound_ms)
            )),
        }
    }
    if r.exact == Some(true) {
        let c = &m.correctness;
        let k = &m.restart;
        if c.exact < c.samples || k.lost > 0 || k.double_counted > 0 {
            fails.push(format!(
                "{name}: not exact: {}/{} sampled answers equal to the oracle, {} events lost and {} counted twice across one kill -9",
                c.exact, c.samples, k.lost, k.double_counted
            ));
        } else {
            evidence.push(format!(
                "{name}: {}/{} sampled answers equal to the oracle at their offset; 0 lost, 0 counted twice across one kill -9",
                c.exact, c.samples
            ));
        }
    }
    if matches!(
        r.reprocessing,
        Some(Changes::Occasional | Changes::Frequent)
    ) {
        let measured: Vec<(u64, f64)> = m
            .reprocessing
            .iter()
            .filter_map(|p| Some((p.head_at_deploy, p.seconds?)))
            .collect();
        match measured.iter().max_by_key(|(h, _)| *h) {
            Some((h, s)) => evidence.push(format!(
                "{name}: version 2 exact over {} events of history {s:.2} s after its deploy{}",
                count(*h as f64),
                match history {
                    Some(history) if *h > 0 && history != *h => format!(
                        " ({:.2} s for {}, scaled linearly)",
                        s * history as f64 / *h as f64,
                        count(history as f64)
                    ),
                    _ => String::new(),
                }
            )),
            None => fails.push(format!(
                "{name}: cannot reprocess: version 2 never reached the exact answer over history (no log to replay)"
            )),
        }
    }
    if let Some(max) = r.max_stores() {
        let n = m.complexity.stores.len();
        if n > max {
            fails.push(format!(
                "{name}: runs {n} stores ({}), more than the {max} tolerated",
                m.complexity.stores.join(", ")
            ));
        }
    }
    fails
}

/// Advice for `r` from `source`.
pub fn advise(r: &Requirements, source: &Source) -> Advice {
    let (rule, rule_text) = article_rule(r);
    let Source::Measured(matrix, path) = source else {
        let Source::Missing(why) = source else {
            unreachable!()
        };
        return Advice {
            architecture: rule.map_or("hybrid", Deployment::name).to_string(),
            rationale: format!("{why}; falling back to the article's rules: {rule_text}."),
            evidence: vec![rule_text.to_string()],
            matrix: None,
        };
    };
    let mut evidence = vec![format!("{}", matrix.provenance())];
    let mut failures: Vec<(Deployment, Vec<String>)> = Vec::new();
    for d in Deployment::ALL {
        if let Some(m) = matrix.get(d) {
            let fails = check(m, matrix, r, &mut evidence);
            failures.push((d, fails));
        }
    }
    let passes = |d: Deployment| failures.iter().any(|(x, f)| *x == d && f.is_empty());
    let fails_of = |d: Deployment| {
        failures
            .iter()
            .find(|(x, _)| *x == d)
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| vec![format!("{}: not in the matrix", d.name())])
    };
    let matrix_name = Some(path.display().to_string());
    if let Some(rule) = rule
        && passes(rule)
    {
        evidence.insert(0, rule_text.to_string());
        let mut rationale = format!(
            "{}: {rule_text}, and the measurements on this machine agree: it meets every requirement given{}.",
            rule.name(),
            figures_of(rule, &evidence)
        );
        if let Some(note) = better_alternative(rule, matrix, &failures) {
            rationale.push(' ');
            rationale.push_str(&note);
        }
        return Advice {
            architecture: rule.name().into(),
            rationale,
            evidence,
            matrix: matrix_name,
        };
    }
    // The first that passes: batch, then fewest stores, then lowest p99 freshness.
    let mut candidates: Vec<&Measured> = Deployment::ALL
        .iter()
        .filter(|d| passes(**d))
        .filter_map(|d| matrix.get(*d))
        .collect();
    candidates.sort_by(|a, b| {
        let batch = |m: &Measured| m.architecture != Deployment::Batch;
        (batch(a), a.complexity.stores.len())
            .cmp(&(batch(b), b.complexity.stores.len()))
            .then(a.freshness.p99_ms.total_cmp(&b.freshness.p99_ms))
    });
    let prefix = match rule {
        Some(rule) => format!(
            "{rule_text}; but on this machine {} does not meet the requirements ({})",
            rule.name(),
            fails_of(rule).join("; ")
        ),
        None => rule_text.to_string(),
    };
    evidence.insert(0, rule_text.to_string());
    match candidates.first() {
        Some(pick) => {
            let name = pick.architecture.name();
            let order = "of those that meet every requirement measured here, batch first (the simplest), then the fewest stores, then the lowest p99 freshness";
            Advice {
                architecture: name.into(),
                rationale: format!(
                    "{name}: {prefix}. {}: {order}{}.",
                    capitalize(name),
                    figures_of(pick.architecture, &evidence)
                ),
                evidence,
                matrix: matrix_name,
            }
        }
        None => {
            for (_, fails) in &failures {
                evidence.extend(fails.iter().cloned());
            }
            Advice {
                architecture: "hybrid".into(),
                rationale: format!(
                    "hybrid: {prefix}. No architecture measured on this machine meets every requirement: {}.",
                    failures
                        .iter()
                        .flat_map(|(_, f)| f.iter().cloned())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                evidence,
                matrix: matrix_name,
            }
        }
    }
}

/// When the article's pick passes but another architecture passed too with fewer stores and a
/// lower p99 freshness, say so (the answer stays the article's).
fn better_alternative(
    pick: Deployment,
    matrix: &Matrix,
    failures: &[(Deployment, Vec<String>)],
) -> Option<String> {
    let chosen = matrix.get(pick)?;
    failures
        .iter()
        .filter(|(d, f)| *d != pick && f.is_empty())
        .filter_map(|(d, _)| matrix.get(*d))
        .find(|m| {
            m.complexity.stores.len() < chosen.complexity.stores.len()
                && m.freshness.p99_ms <= chosen.freshness.p99_ms
                && m.architecture != Deployment::Stream
        })
        .map(|m| {
            format!(
                "Measured here, {} meets them too with {} store{} instead of {} and p99 freshness {} instead of {}.",
                m.architecture.name(),
                m.complexity.stores.len(),
                if m.complexity.stores.len() == 1 { "" } else { "s" },
                chosen.complexity.stores.len(),
                millis(m.freshness.p99_ms),
                millis(chosen.freshness.p99_ms)
            )
        })
}

/// The evidence about `d`, as a clause: ` (measured: ...; ...)`.
fn figures_of(d: Deployment, evidence: &[String]) -> String {
    let prefix = format!("{}: ", d.name());
    let figures: Vec<&str> = evidence
        .iter()
        .filter_map(|e| e.strip_prefix(&prefix))
        .collect();
    if figures.is_empty() {
        String::new()
    } else {
        format!(" (measured: {})", figures.join("; "))
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
