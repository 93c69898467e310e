//! The measured matrix: what `run` writes (`docs/architectures.json`, `.md`, `.svg`) and `advise`
//! reads.

use crate::node::Deployment;
use crate::workload::Kind;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One run of `architectures run`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Matrix {
    /// When (UTC day).
    pub date: String,
    /// Where.
    pub machine: Machine,
    /// The command that measured it.
    pub command: String,
    /// Whether it was the small `--quick` run.
    pub quick: bool,
    /// How long the run took, s.
    pub seconds: f64,
    /// What ran.
    pub workload: Workload,
    /// One entry per architecture.
    pub architectures: Vec<Measured>,
}

/// The machine a matrix was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores available.
    pub cores: usize,
    /// Memory, GiB.
    pub memory_gib: f64,
    /// The 1-minute load average at the end of the run (other work on the machine shows here).
    #[serde(default)]
    pub load: Option<f64>,
}

/// The workload's parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    /// Which view.
    pub kind: Kind,
    /// The pipeline and its two versions.
    pub pipeline: String,
    /// Products.
    pub products: u16,
    /// Keys of the view (products × days).
    pub keys: u64,
    /// Offered rate of the steady phase, events/s.
    pub rate: u64,
    /// Batch and lambda recompute period P, s.
    pub period_s: f64,
    /// Steady phase, s.
    pub duration_s: f64,
    /// Freshness bound of the sustained-rate ramp, ms.
    pub bound_ms: f64,
    /// Histories H.
    pub histories: Vec<u64>,
}

/// Everything measured of one architecture.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// Which.
    pub architecture: Deployment,
    /// From starting the process until the view covered the history, s.
    pub startup_s: Option<f64>,
    /// Freshness in the steady phase.
    pub freshness: Freshness,
    /// Highest achieved ingest rate with p99 freshness under the bound, events/s.
    pub max_rate: Option<f64>,
    /// The ramp's steps.
    pub ramp: Vec<RampStep>,
    /// Version 2 deployed, per history size.
    pub reprocessing: Vec<Reprocessing>,
    /// Sampled answers against the oracle.
    pub correctness: Correctness,
    /// The kill -9.
    pub restart: Restart,
    /// CPU and memory of the computing process.
    pub cost: Cost,
    /// Declarations, lines, components.
    pub complexity: Complexity,
}

/// Time from a post's sending to the first answer that includes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Freshness {
    /// Offered rate, events/s.
    pub rate: u64,
    /// Events posted.
    pub events: u64,
    /// Posts measured.
    pub posts: u64,
    /// Posts no answer included before the phase's end.
    pub unseen: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
}

/// One offered rate of the ramp.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RampStep {
    /// Offered, events/s.
    pub offered: u64,
    /// Achieved (acknowledged), events/s.
    pub achieved: f64,
    /// p99 freshness, ms.
    pub p99_ms: f64,
    /// Achieved ≥ 95 % of offered, p99 under the bound, every post seen.
    pub sustained: bool,
}

/// Version 2 deployed over a history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reprocessing {
    /// History size H at the run's start.
    pub history: u64,
    /// Events acknowledged when version 2 was deployed.
    pub head_at_deploy: u64,
    /// From the deploy until version 2's whole view was exact over everything up to the deploy, s
    /// (`None`: never, within the watch).
    pub seconds: Option<f64>,
    /// Front-door answers sampled meanwhile.
    pub meanwhile_answers: usize,
    /// Of those, from version 1.
    pub meanwhile_v1: usize,
    /// Of those, equal to version 1's oracle at their offset.
    pub meanwhile_v1_exact: usize,
    /// Events before the deploy that version 2's last answer covered.
    pub history_covered: u64,
}

/// Sampled answers against the oracle at their offset.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Correctness {
    /// Answers compared.
    pub samples: usize,
    /// Of those, equal.
    pub exact: usize,
    /// Answers that could not be compared (their offset was never acknowledged in time).
    pub unverified: usize,
    /// exact / samples.
    pub fraction: f64,
    /// Answers compared before the kill.
    pub samples_before_kill: usize,
    /// Of those, equal.
    pub exact_before_kill: usize,
    /// The lowest offset an answer reported.
    pub lowest_offset: u64,
}

/// One SIGKILL of the computing process and its restart.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Restart {
    /// Events acknowledged before the kill (history included).
    pub acknowledged_before_kill: u64,
    /// From the kill until the new process listened, s.
    pub downtime_s: f64,
    /// From the kill until it answered again, s.
    pub answering_s: Option<f64>,
    /// From the kill until its answers covered everything acknowledged before it, s (`None`: never).
    pub recovered_s: Option<f64>,
    /// Events acknowledged and missing from the final view.
    pub lost: u64,
    /// Events counted more than once in the final view.
    pub double_counted: u64,
    /// Events of a post in flight at the kill that were stored without an acknowledgement.
    pub stored_unacknowledged: u64,
}

/// Resources of the computing process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cost {
    /// CPU seconds (user + system) per million events of the steady phase.
    pub cpu_s_per_million: Option<f64>,
    /// Peak resident memory (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// What a deployment takes here, and what the article says a classic one takes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Complexity {
    /// Pipeline declarations per version.
    pub declarations: usize,
    /// Lines of the declaration.
    pub declaration_lines: usize,
    /// Lines of the deployment code.
    pub deployment_lines: usize,
    /// Processes.
    pub processes: usize,
    /// Threads of the process, measured.
    pub threads: u64,
    /// Stores.
    pub stores: Vec<String>,
    /// A classic deployment, as the article describes it.
    pub classic: String,
    /// Codebases of the classic deployment.
    pub classic_codebases: usize,
}

/// `1234567` → `1.23 M`, `12000` → `12.0 k`.
pub fn count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2} M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Milliseconds, readably.
pub fn millis(ms: f64) -> String {
    let trim = |text: String| text.replace(".0 ", " ");
    if ms >= 3_600_000.0 {
        trim(format!("{:.1} h", ms / 3_600_000.0))
    } else if ms >= 60_000.0 {
        trim(format!("{:.1} min", ms / 60_000.0))
    } else if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

impl Measured {
    /// The batch view's full recompute: (history, seconds), from its largest reprocessing.
    pub fn recompute(&self) -> Option<(u64, f64)> {
        self.reprocessing
            .iter()
            .filter_map(|r| Some((r.head_at_deploy, r.seconds?)))
            .max_by_key(|(h, _)| *h)
    }

    fn latency_cell(&self) -> String {
        let f = &self.freshness;
        format!(
            "{} / {} / {}",
            millis(f.p50_ms),
            millis(f.p99_ms),
            millis(f.max_ms)
        )
    }

    fn throughput_cell(&self, bound_ms: f64) -> String {
        let failed = self.ramp.iter().find(|s| !s.sustained);
        let reason = |s: &RampStep| {
            if s.p99_ms > bound_ms {
                format!("p99 {}", millis(s.p99_ms))
            } else if s.achieved < 0.95 * s.offered as f64 {
                format!(
                    "{}/s acknowledged, p99 {}",
                    count(s.achieved),
                    millis(s.p99_ms)
                )
            } else {
                "the view did not catch up".into()
            }
        };
        let mut cell = match (self.max_rate, failed) {
            (Some(rate), Some(step)) => format!(
                "{} events/s (at {}/s offered: {})",
                count(rate),
                count(step.offered as f64),
                reason(step)
            ),
            (Some(rate), None) => format!(
                "≥ {} events/s: every rate offered was sustained, up to the highest ({}/s, p99 {})",
                count(rate),
                count(self.ramp.last().map_or(0, |s| s.offered) as f64),
                millis(self.ramp.last().map_or(0.0, |s| s.p99_ms))
            ),
            (None, Some(step)) => format!(
                "none (at {}/s offered: {})",
                count(step.offered as f64),
                reason(step)
            ),
            (None, None) => "not measured".into(),
        };
        if self.architecture == Deployment::Batch
            && let Some((h, s)) = self.recompute()
        {
            let _ = write!(cell, "; full recompute {} events/s", count(h as f64 / s));
        }
        cell
    }

    fn complexity_cell(&self) -> String {
        let c = &self.complexity;
        format!(
            "{} declaration ({} lines) + {} lines of deployment; {} process, {} threads, {} store{}: {}",
            c.declarations,
            c.declaration_lines,
            c.deployment_lines,
            c.processes,
            c.threads,
            c.stores.len(),
            if c.stores.len() == 1 { "" } else { "s" },
            c.stores.join(", ")
        )
    }

    fn reprocessing_cell(&self) -> String {
        self.reprocessing
            .iter()
            .map(|r| match r.seconds {
                Some(s) => format!("H = {}: {s:.2} s", count(r.history as f64)),
                None => format!(
                    "H = {}: never (no log to replay: version 2 covered {} of {} events)",
                    count(r.history as f64),
                    r.history_covered,
                    r.head_at_deploy
                ),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn meanwhile_cell(&self) -> String {
        let Some(r) = self.reprocessing.first() else {
            return String::new();
        };
        if self.architecture == Deployment::Stream {
            return format!(
                "version 2 at once, over the events since its start only ({} answers sampled)",
                r.meanwhile_answers
            );
        }
        format!(
            "version 1: {} of {} answers, {} exact for version 1",
            r.meanwhile_v1, r.meanwhile_answers, r.meanwhile_v1_exact
        )
    }

    fn correctness_cell(&self) -> String {
        let c = &self.correctness;
        format!(
            "{}/{} exact ({:.0} %); before the kill {}/{}",
            c.exact,
            c.samples,
            c.fraction * 100.0,
            c.exact_before_kill,
            c.samples_before_kill
        )
    }

    fn restart_cell(&self) -> String {
        let r = &self.restart;
        let recovery = match r.recovered_s {
            Some(s) => format!("caught up after {s:.2} s"),
            None => "never caught up (state lost)".into(),
        };
        format!(
            "{} lost, {} counted twice of {}; down {:.2} s, {recovery}",
            r.lost,
            r.double_counted,
            count(r.acknowledged_before_kill as f64),
            r.downtime_s
        )
    }

    fn cost_cell(&self) -> String {
        let cpu = self
            .cost
            .cpu_s_per_million
            .map_or("n/a".into(), |c| format!("{c:.1}"));
        format!(
            "{cpu} CPU-s per M events; peak {:.0} MiB",
            self.cost.peak_rss_mib
        )
    }
}

const ARTICLE: [(&str, [&str; 4]); 5] = [
    (
        "Latency",
        [
            "Hours to days",
            "Milliseconds to seconds",
            "Seconds (hybrid)",
            "Milliseconds to seconds",
        ],
    ),
    (
        "Throughput",
        [
            "Very high (TB/hour)",
            "High (GB/sec)",
            "High (both)",
            "High",
        ],
    ),
    (
        "Complexity",
        ["Low", "Medium", "High (two systems)", "Medium"],
    ),
    (
        "Reprocessing",
        [
            "Easy (rerun job)",
            "Hard (if no log replay)",
            "Medium (batch layer)",
            "Easy (replay log)",
        ],
    ),
    (
        "Use Cases",
        [
            "Historical analysis, ML training, ETL",
            "Monitoring, fraud detection, real-time dashboards",
            "Both historical and real-time requirements",
            "Event-driven apps, streaming analytics",
        ],
    ),
];

impl Matrix {
    /// The architectures in the article's order.
    pub fn get(&self, deployment: Deployment) -> Option<&Measured> {
        self.architectures
            .iter()
            .find(|m| m.architecture == deployment)
    }

    /// The table: the article's rows with measured figures, then the rows it does not have.
    pub fn table(&self) -> String {
        let columns: Vec<&Measured> = Deployment::ALL
            .iter()
            .filter_map(|d| self.get(*d))
            .collect();
        let mut out = String::new();
        let _ = write!(out, "| | ");
        for m in &columns {
            let _ = write!(out, "{} | ", m.architecture.name());
        }
        out.push('\n');
        let _ = writeln!(out, "|---|{}", "---|".repeat(columns.len()));
        let w = &self.workload;
        type Cell<'a> = Box<dyn Fn(&Measured) -> String + 'a>;
        let rows: Vec<(String, Cell<'_>)> = vec![
            (
                format!(
                    "**Latency**: freshness p50 / p99 / max at {}/s",
                    count(w.rate as f64)
                ),
                Box::new(Measured::latency_cell),
            ),
            (
                format!(
                    "**Throughput**: highest ingest rate sustained with p99 freshness ≤ {}",
                    millis(w.bound_ms)
                ),
                Box::new(|m: &Measured| m.throughput_cell(w.bound_ms)),
            ),
            (
                "**Complexity**: here (measured threads)".into(),
                Box::new(Measured::complexity_cell),
            ),
            (
                "**Complexity**: a classic deployment (the article)".into(),
                Box::new(|m: &Measured| {
                    format!(
                        "{} codebase{}: {}",
                        m.complexity.classic_codebases,
                        if m.complexity.classic_codebases == 1 {
                            ""
                        } else {
                            "s"
                        },
                        m.complexity.classic
                    )
                }),
            ),
            (
                "**Reprocessing**: version 2 deployed → its answers exact over all history".into(),
                Box::new(Measured::reprocessing_cell),
            ),
            (
                "**Reprocessing**: what queries return meanwhile".into(),
                Box::new(Measured::meanwhile_cell),
            ),
            (
                "**Use cases** (the article)".into(),
                Box::new(|m: &Measured| {
                    ARTICLE[4].1[Deployment::ALL
                        .iter()
                        .position(|d| *d == m.architecture)
                        .unwrap_or(0)]
                    .to_string()
                }),
            ),
            (
                "Correctness: sampled answers = oracle at their offset".into(),
                Box::new(Measured::correctness_cell),
            ),
            (
                "Restart: kill -9 of the computing process".into(),
                Box::new(Measured::restart_cell),
            ),
            (
                format!("Cost at {}/s", count(w.rate as f64)),
                Box::new(Measured::cost_cell),
            ),
            (
                format!(
                    "Start over H = {}",
                    count(w.histories.first().copied().unwrap_or(0) as f64)
                ),
                Box::new(|m: &Measured| {
                    m.startup_s.map_or("n/a".into(), |s| {
                        format!("{s:.2} s until the view covered H")
                    })
                }),
            ),
        ];
        for (name, cell) in &rows {
            let _ = write!(out, "| {name} | ");
            for m in &columns {
                let _ = write!(out, "{} | ", cell(m).replace('|', "\\|"));
            }
            out.push('\n');
        }
        out
    }

    /// One line on when, where and how.
    pub fn provenance(&self) -> String {
        format!(
            "Measured {} on {} ({} cores, {} GiB{}), {}in {:.0} s: `{}`",
            self.date,
            self.machine.cpu,
            self.machine.cores,
            self.machine.memory_gib,
            self.machine.load.map_or(String::new(), |l| format!(
                ", load average {l:.1} at the end"
            )),
            if self.quick { "a --quick run, " } else { "" },
            self.seconds,
            self.command
        )
    }

    /// `docs/architectures.md`.
    pub fn markdown(&self) -> String {
        let w = &self.workload;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Batch, stream, Lambda and Kappa, measured on one workload\n"
        );
        let _ = writeln!(
            out,
            "The comparison matrix of the article, with the adjectives replaced by figures measured in one run \
             of `architectures run` on one machine: the same pipeline declaration deployed four ways, each a child \
             process behind the same HTTP serving API, events posted at a steady rate, queries through the API.\n"
        );
        let _ = writeln!(out, "{}\n", self.provenance());
        let _ = writeln!(
            out,
            "Workload: {}; {} products × 28 {} = {} keys; history H = {}; steady phase {:.0} s at {} events/s; \
             batch and lambda recompute period P = {} s; freshness bound {}.\n",
            w.pipeline,
            w.products,
            if w.kind == Kind::Windowed {
                "hours"
            } else {
                "days"
            },
            w.keys,
            w.histories
                .iter()
                .map(|h| count(*h as f64))
                .collect::<Vec<_>>()
                .join(" and "),
            w.duration_s,
            w.rate,
            w.period_s,
            millis(w.bound_ms),
        );
        out.push_str(&self.table());
        let _ = writeln!(out, "\n![the matrix as a chart]({}.svg)\n", w.kind.stem());
        let _ = writeln!(out, "## The article's matrix, for reference\n");
        let _ = writeln!(
            out,
            "| | batch | stream | lambda | kappa |\n|---|---|---|---|---|"
        );
        for (row, cells) in ARTICLE {
            let _ = writeln!(out, "| {row} | {} |", cells.join(" | "));
        }
        let _ = writeln!(out, "\n## How each figure is measured\n");
        out.push_str(METHOD);
        out
    }
}

const METHOD: &str = "\
* **Deployments.** batch: `serve --architecture batch`, the batch runner recomputing the whole view over \
the log every P. stream: the incremental runner fed from the HTTP front door through an in-memory hand-off, \
no log (the history H is pushed through it at start). lambda: `serve --architecture lambda` (batch layer \
every P + speed layer, merged). kappa: `serve` (the log replayed from offset 0, then followed). Version 1 \
of the logic sums unit prices (the bug), version 2 sums quantity × price.
* **Freshness**: from sending a post to the first answer of `GET /v1/view?limit=1` (asked every \
millisecond by one client) whose `offset` covers the post. The harness's own clients share the 2 cores \
with the computing process.
* **Throughput**: offered rates rising by a factor each step; sustained = at least 95 % of the offered \
rate acknowledged, every post seen, p99 freshness under the bound. One posting client, posts of up to a \
hundredth of a second's events (fsynced by the log for batch, lambda and kappa), waiting for each answer: \
a rate not acknowledged is the client's limit against that front door as much as the server's.
* **Reprocessing**: version 2 is started next to version 1 in the same process while posts go on; the \
time is from the deploy until version 2's whole view equals the oracle's version-2 answer at its offset, \
covering every event acknowledged at the deploy. Then the front door switches to version 2 and version \
1 retires. The stream has no history to replay: version 2 starts from nothing (measured at the first H \
only: it is the same at any H).
* **Correctness**: the whole view asked every few hundred milliseconds, compared with an oracle (a hash \
map over the acknowledged events) at the offset the answer reports. The stream's offsets restart with \
its process; they are mapped to the run's sequence of events, so after its restart its answers miss what \
came before.
* **Restart**: SIGKILL of the child mid-ingest, a new one started at once; the poster retries what was \
not acknowledged (unless the log shows it stored). Lost and double-counted: the final view's counts \
against the oracle's, per key.
* **Cost**: CPU (user + system, `/proc/PID/stat`) of the computing process in the steady phase per \
million events posted in it, answering the harness's queries included (about a thousand a second); \
peak resident memory (`VmHWM`) of the process over its life.
* **Complexity**: lines counted from the sources at run time (`src/sales.rs`, \
`examples/architectures/node.rs`), threads from `/proc/PID/status`.
";

/// `docs/architectures.svg`: four panels of horizontal bars.
pub fn svg(matrix: &Matrix) -> String {
    let colors = ["#c0504d", "#4f81bd", "#9bbb59", "#8064a2"];
    let arch: Vec<&Measured> = Deployment::ALL
        .iter()
        .filter_map(|d| matrix.get(*d))
        .collect();
    type Panel<'a> = (String, bool, Vec<(String, Option<f64>, String)>);
    let mut panels: Vec<Panel<'_>> = Vec::new();
    panels.push((
        format!(
            "freshness p99 at {}/s (ms, log scale; shorter is better)",
            count(matrix.workload.rate as f64)
        ),
        true,
        arch.iter()
            .map(|m| {
                (
                    m.architecture.name().to_string(),
                    Some(m.freshness.p99_ms),
                    millis(m.freshness.p99_ms),
                )
            })
            .collect(),
    ));
    panels.push((
        format!(
            "highest ingest rate with p99 ≤ {} (events/s; longer is better)",
            millis(matrix.workload.bound_ms)
        ),
        false,
        arch.iter()
            .map(|m| {
                (
                    m.architecture.name().to_string(),
                    m.max_rate,
                    m.max_rate
                        .map_or("none".into(), |r| format!("{}/s", count(r))),
                )
            })
            .collect(),
    ));
    let mut reprocess = Vec::new();
    for m in &arch {
        for r in &m.reprocessing {
            reprocess.push((
                format!("{} H={}", m.architecture.name(), count(r.history as f64)),
                r.seconds,
                r.seconds.map_or("never".into(), |s| format!("{s:.2} s")),
            ));
        }
    }
    panels.push((
        "reprocessing: version 2 exact over all history (s; shorter is better)".into(),
        false,
        reprocess,
    ));
    panels.push((
        "CPU seconds per million events (shorter is better)".into(),
        false,
        arch.iter()
            .map(|m| {
                (
                    m.architecture.name().to_string(),
                    m.cost.cpu_s_per_million,
                    m.cost
                        .cpu_s_per_million
                        .map_or("n/a".into(), |c| format!("{c:.1}")),
                )
            })
            .collect(),
    ));
    let (width, label_w, bar_w, row_h) = (780.0, 150.0, 480.0, 22.0);
    let height: f64 = 40.0
        + panels
            .iter()
            .map(|(_, _, bars)| 28.0 + row_h * bars.len() as f64 + 14.0)
            .sum::<f64>();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">Four architectures, one workload ({}{})</text>"#,
        matrix.date,
        if matrix.quick { ", --quick" } else { "" }
    );
    let mut y = 40.0;
    for (title, log_scale, bars) in &panels {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
            y + 18.0,
            escape(title)
        );
        y += 28.0;
        let values: Vec<f64> = bars
            .iter()
            .filter_map(|b| b.1)
            .filter(|v| *v > 0.0)
            .collect();
        let max = values.iter().copied().fold(0.0, f64::max);
        let min = values.iter().copied().fold(f64::MAX, f64::min);
        for (i, (label, value, text)) in bars.iter().enumerate() {
            let color = colors[Deployment::ALL
                .iter()
                .position(|d| label.starts_with(d.name()))
                .unwrap_or(0)];
            let length = match value {
                Some(v) if *v > 0.0 && max > 0.0 => {
                    if *log_scale {
                        let lo = (min / 2.0).max(0.01).ln();
                        let span = (max.ln() - lo).max(1e-9);
                        bar_w * ((v.ln() - lo) / span).clamp(0.02, 1.0)
                    } else {
                        bar_w * (v / max).clamp(0.005, 1.0)
                    }
                }
                _ => 0.0,
            };
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                label_w - 6.0,
                y + 14.0,
                escape(label)
            );
            let _ = writeln!(
                out,
                r#"<rect x="{label_w}" y="{}" width="{length:.1}" height="{}" fill="{color}"/>"#,
                y + 3.0,
                row_h - 6.0
            );
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{}">{}</text>"#,
                label_w + length + 6.0,
                y + 14.0,
                escape(text)
            );
            y += row_h;
            let _ = i;
        }
        y += 14.0;
    }
    out.push_str("</svg>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
