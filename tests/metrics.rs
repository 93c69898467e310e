//! Metrics as a scraper sees them: `/metrics` of `serve` and of `--metrics` on a replay, parsed by
//! the rules of the text format, checked against what was posted; per-operator and arrangement
//! metrics from timely's and differential's logging.

mod common;

use dataflow_core::observe::Metrics;
use dataflow_core::prelude::*;
use dataflow_examples::orders::{CountryRevenue, Customer, Order};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample of the text format: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format (OpenMetrics 1.0, as Prometheus scrapes it), failing on any line that
/// breaks its rules: every sample belongs to a family declared by `# TYPE` before it, label values
/// are quoted and escaped, values are numbers, the text ends with `# EOF`.
fn parse(text: &str) -> Vec<Sample> {
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no `# EOF` at the end");
    assert!(text.ends_with("# EOF\n"));
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(valid_name(name), "bad family name in {line:?}");
            match keyword {
                "TYPE" => {
                    let kind = parts.next().unwrap();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "info",
                            "summary",
                            "unknown"
                        ]
                        .contains(&kind),
                        "{line:?}"
                    );
                    assert!(
                        families
                            .insert(name.to_string(), kind.to_string())
                            .is_none(),
                        "family {name} declared twice"
                    );
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                parse_labels(rest.strip_suffix('}').expect("labels end with }")),
            ),
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name), "bad metric name in {line:?}");
        let family = ["_total", "_bucket", "_count", "_sum", "_info", "_created"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| families.contains_key(*base))
            .unwrap_or(name);
        let kind = families
            .get(family)
            .unwrap_or_else(|| panic!("{name} has no # TYPE before it"));
        match kind.as_str() {
            "counter" => {
                assert!(name.ends_with("_total") && value >= 0.0, "{line:?}");
            }
            "info" => assert!(name.ends_with("_info") && value == 1.0, "{line:?}"),
            _ => {}
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&samples);
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        assert!(valid_name(name), "bad label name {name:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("label value ends with a quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        assert!(labels.insert(name.to_string(), value).is_none());
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

/// Every histogram's buckets are cumulative, and its `+Inf` bucket is its count.
fn check_histograms(samples: &[Sample]) {
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let mut labels = sample.labels.clone();
        let le = labels.remove("le").expect("a bucket has `le`");
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap()
        };
        let key = format!("{}{labels:?}", sample.name.trim_end_matches("_bucket"));
        buckets.entry(key).or_default().push((le, sample.value));
    }
    for (series, mut counts) in buckets {
        counts.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            counts.windows(2).all(|w| w[0].1 <= w[1].1),
            "{series}: buckets not cumulative: {counts:?}"
        );
        let base = series.split('{').next().unwrap();
        let count = samples
            .iter()
            .find(|s| {
                s.name == format!("{base}_count") && format!("{base}{:?}", s.labels) == series
            })
            .unwrap_or_else(|| panic!("{series} has no _count"));
        assert_eq!(counts.last().unwrap(), &(f64::INFINITY, count.value));
    }
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map(|s| s.value)
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

fn scrape(agent: &ureq::Agent, url: &str) -> Vec<Sample> {
    let response = agent.get(url).call().expect("scrape");
    assert_eq!(
        response.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    parse(&response.into_string().unwrap())
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines from `pipe` until one contains `marker` (at most 60 s), and returns it; the rest
/// of the pipe is drained, so that the child never writes to a closed pipe.
fn line_with(pipe: impl std::io::Read + Send + 'static, marker: &'static str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if line.contains(marker) {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no line with {marker:?} within 60 s"))
}

#[test]
fn serve_metrics_count_what_was_posted_dead_lettered_and_queried() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut child = Command::new(common::example("daily_sales"))
        .args(["serve", "--log", log.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Killed(child);
    let first = line_with(stdout, "serving daily_sales");
    let base = first.rsplit(' ').next().unwrap().to_string();
    let agent = agent();
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/sales.csv"
    ))
    .unwrap();
    let posted = agent
        .post(&format!("{base}/v1/events"))
        .set("Content-Type", "text/csv")
        .send_string(&csv)
        .unwrap()
        .into_string()
        .unwrap();
    assert!(posted.contains("\"appended\":40"), "{posted}");
    for _ in 0..3 {
        let view = agent
            .get(&format!("{base}/v1/view?min_offset=40&timeout_ms=30000"))
            .call()
            .unwrap();
        assert_eq!(view.status(), 200);
    }
    agent
        .get(&format!("{base}/v1/view/key/espresso,2026-11-04"))
        .call()
        .unwrap();
    let missing = agent
        .get(&format!("{base}/v1/view/key/nothing,2026-11-04"))
        .call();
    assert!(matches!(missing, Err(ureq::Error::Status(404, _))));

    let samples = scrape(&agent, &format!("{base}/metrics"));
    let at = |name: &str, labels: &[(&str, &str)]| {
        value(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}"))
    };
    assert_eq!(
        at(
            "dataflow_pipeline_info",
            &[("pipeline", "daily_sales"), ("mode", "kappa")]
        ),
        1.0
    );
    assert_eq!(at("dataflow_input_records_total", &[]), 40.0);
    assert_eq!(at("dataflow_dead_letters_total", &[]), 3.0);
    assert_eq!(at("dataflow_late_records_total", &[]), 0.0);
    assert_eq!(at("dataflow_log_head_offset", &[]), 40.0);
    assert_eq!(at("dataflow_log_offset_covered", &[]), 40.0);
    // 14 products and days in the sample: the batch output has 14 lines.
    assert_eq!(at("dataflow_view_keys", &[]), 14.0);
    assert!(at("dataflow_input_records_per_second", &[]) >= 0.0);
    let views = [("endpoint", "/v1/view"), ("status", "200")];
    assert_eq!(at("dataflow_http_requests_total", &views), 3.0);
    let key = [("endpoint", "/v1/view/key/{*key}"), ("status", "404")];
    assert_eq!(at("dataflow_http_requests_total", &key), 1.0);
    let latency = [("endpoint", "/v1/view")];
    assert_eq!(
        at("dataflow_http_request_duration_seconds_count", &latency),
        3.0
    );
    assert!(at("dataflow_http_request_duration_seconds_sum", &latency) > 0.0);
    // No event time, no Lambda: those gauges are not shown.
    assert_eq!(
        value(&samples, "dataflow_watermark_milliseconds", &[]),
        None
    );
    assert_eq!(
        value(&samples, "dataflow_lambda_boundary_offset", &[]),
        None
    );
    // From timely's logging: the aggregate received every record, the fused key_by sent them.
    let aggregate = [("stage", "#2"), ("worker", "0")];
    assert_eq!(at("dataflow_operator_records_in_total", &aggregate), 40.0);
    let key_by = [("operator", "daily_sales/#1 key_by (fused)")];
    assert_eq!(at("dataflow_operator_records_out_total", &key_by), 40.0);
    assert!(at("dataflow_operator_busy_seconds_total", &aggregate) > 0.0);
}

#[test]
fn a_followed_replay_serves_its_metrics_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    common::run(
        "windowed_sales",
        &[
            "ingest",
            "--input",
            "examples/data/timed_sales.csv",
            "--log",
            log,
        ],
    );
    let mut child = Command::new(common::example("windowed_sales"))
        .args(["--mode", "replay", "--log", log, "--step-size", "4"])
        .args(["--follow", "--idle-timeout", "60s", "--max-delay", "2m"])
        .args(["--metrics", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _child = Killed(child);
    let line = line_with(stderr, "metrics on http://");
    let url = line.rsplit(' ').next().unwrap().to_string();
    let records = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/data/timed_sales.csv"
    ))
    .unwrap()
    .lines()
    .count() as f64
        - 1.0;
    let agent = agent();
    let started = Instant::now();
    let samples = loop {
        let samples = scrape(&agent, &url);
        let covered = value(&samples, "dataflow_log_offset_covered", &[]).unwrap();
        let head = value(&samples, "dataflow_log_head_offset", &[]).unwrap();
        if (covered > 0.0 && covered == head) || started.elapsed() > Duration::from_secs(60) {
            break samples;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let at = |name: &str| value(&samples, name, &[]).unwrap_or_else(|| panic!("no {name}"));
    let covered = at("dataflow_log_offset_covered");
    assert!(covered > 0.0 && covered == at("dataflow_log_head_offset"));
    // Every record of the log went in (the file's malformed lines were dead-lettered by ingest).
    assert_eq!(at("dataflow_input_records_total"), covered);
    assert!(covered <= records);
    assert_eq!(
        value(&samples, "dataflow_pipeline_info", &[("mode", "replay")]),
        Some(1.0)
    );
    // Event time: the watermark trails the newest event time by the maximum delay (2 min).
    let newest = at("dataflow_newest_event_time_milliseconds");
    let watermark = at("dataflow_watermark_milliseconds");
    assert!(newest > 0.0);
    assert_eq!(
        at("dataflow_watermark_lag_milliseconds"),
        newest - watermark
    );
    assert_eq!(newest - watermark, 120_000.0);
    assert!(at("dataflow_watermark_wall_clock_lag_milliseconds") > 0.0);
    assert!(at("dataflow_steps_total") >= (covered / 4.0).floor());
}

#[test]
fn arrangements_report_their_size_while_the_pipeline_runs() {
    let metrics = Arc::new(Metrics::new(
        "country_revenue",
        &CountryRevenue::version(),
        "stream",
        false,
    ));
    let mut running = Runner::<CountryRevenue>::new()
        .metrics(Arc::clone(&metrics))
        .start()
        .unwrap();
    let customers: Vec<Customer> = (0..50)
        .map(|id| Customer {
            customer_id: id,
            country: format!("c{}", id % 5),
        })
        .collect();
    let orders: Vec<Order> = (0..200)
        .map(|id| Order {
            order_id: id,
            customer_id: id % 50,
            amount: Decimal::from(id),
        })
        .collect();
    running.push((orders, customers)).unwrap();
    let samples = parse(&metrics.encode());
    let arranged: f64 = samples
        .iter()
        .filter(|s| s.name == "dataflow_arrangement_records")
        .map(|s| s.value)
        .sum();
    // The join arranges both sides: at least the 200 orders and 50 customers are held.
    assert!(arranged >= 250.0, "{arranged}: {samples:?}");
    assert!(
        samples
            .iter()
            .any(|s| s.name == "dataflow_arrangement_batches" && s.value > 0.0)
    );
    running.finish().unwrap();
}
