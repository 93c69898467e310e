//! The architectures example: the batch architecture of the serving layer; a `--quick` run of the
//! harness (bounded in time) whose matrix has the expected shape and exact lambda and kappa answers;
//! `advise` against a fixed matrix (the article's four rules, further cases with their reasoning,
//! bad input).

mod common;

use dataflow_core::Runner;
use dataflow_core::kappa::{EventLog, LogOptions};
use dataflow_core::log::{Log, Tail};
use dataflow_core::serve::{Architecture, ServeOptions, serve};
use dataflow_examples::{DailySales, Sale};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn sale(i: u64) -> (u64, Sale) {
    let sale = Sale {
        product: ["tea", "espresso", "bagel"][(i % 3) as usize].into(),
        quantity: 1 + (i % 4) as i64,
        price: dataflow_core::decimal::Decimal::new(150 + (i % 7) as i64 * 10, 2),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1 + (i % 5) as u32).unwrap(),
    };
    (0, sale)
}

fn get(url: &str) -> Value {
    let text = ureq::get(url).call().unwrap().into_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

fn batch_rows(log: &EventLog, upto: u64) -> Vec<Value> {
    let mut tail = log.tail::<Sale>(0).unwrap();
    let mut records = Vec::new();
    while tail.position() < upto {
        tail.read(usize::MAX, &mut records).unwrap();
    }
    records.truncate(upto as usize);
    let mut rows: Vec<Value> = Runner::<DailySales>::new()
        .batch(records)
        .unwrap()
        .iter_expanded()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    rows.sort_by_key(Value::to_string);
    rows
}

fn sorted(answer: &Value) -> Vec<Value> {
    let mut rows = answer["rows"].as_array().unwrap().clone();
    rows.sort_by_key(Value::to_string);
    rows
}

fn wait_offset(base: &str, at_least: u64) -> Value {
    let started = Instant::now();
    loop {
        let answer = get(&format!("{base}/v1/view"));
        if answer["offset"].as_u64().unwrap() >= at_least {
            return answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the view stays at {answer}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn batch_architecture_answers_the_last_recompute_until_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let first: Vec<_> = (0..500).map(sale).collect();
    Log::append(&log, &first).unwrap();
    let server = serve::<DailySales, Sale, EventLog>(
        Runner::new(),
        log.clone(),
        ServeOptions {
            architecture: Architecture::Batch,
            batch_every: Some(Duration::from_secs(3600)),
            ..ServeOptions::default()
        },
    )
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    // The first recompute runs at start.
    let answer = wait_offset(&base, 500);
    assert_eq!(answer["architecture"], "batch");
    assert_eq!(answer["offset"], 500);
    assert_eq!(answer["boundary"], 500);
    assert_eq!(sorted(&answer), batch_rows(&log, 500));
    // New records are stored but in no answer until the next recompute.
    let more: Vec<_> = (500..800).map(sale).collect();
    Log::append(&log, &more).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(&format!("{base}/v1/view"))["offset"], 500);
    let requested = ureq::post(&format!("{base}/v1/batch")).call().unwrap();
    assert_eq!(requested.status(), 202);
    let answer = wait_offset(&base, 800);
    assert_eq!(answer["offset"], 800);
    assert_eq!(sorted(&answer), batch_rows(&log, 800));
    server.stop().unwrap();
}

/// The machine as `architectures` describes it (CPU model, cores).
fn this_machine() -> (String, usize) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    (
        cpu,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )
}

#[test]
fn quick_run_measures_the_four_architectures() {
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--quick",
        "--out",
        out.path().to_str().unwrap(),
        "--work",
        work.path().to_str().unwrap(),
    ];
    let output = common::run_within("architectures", &args, Duration::from_secs(300))
        .expect("architectures run --quick ends within 300 s");
    assert!(
        output.status.success(),
        "architectures run --quick failed: {}",
        common::stderr(&output)
    );
    let matrix: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("architectures.json")).unwrap(),
    )
    .unwrap();
    let archs = matrix["architectures"].as_array().unwrap();
    let names: Vec<&str> = archs
        .iter()
        .map(|a| a["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["batch", "stream", "lambda", "kappa"]);
    let by_name = |name: &str| archs.iter().find(|a| a["architecture"] == name).unwrap();
    for a in archs {
        let name = a["architecture"].as_str().unwrap();
        assert!(
            a["freshness"]["posts"].as_u64().unwrap() > 0,
            "{name}: no freshness"
        );
        assert!(a["freshness"]["p99_ms"].as_f64().unwrap() > 0.0, "{name}");
        assert!(!a["ramp"].as_array().unwrap().is_empty(), "{name}: no ramp");
        assert!(a["cost"]["peak_rss_mib"].as_f64().unwrap() > 0.0, "{name}");
        assert!(
            a["correctness"]["samples"].as_u64().unwrap() > 0,
            "{name}: no sample"
        );
        assert_eq!(a["reprocessing"].as_array().unwrap().len(), 1, "{name}");
    }
    for name in ["lambda", "kappa"] {
        let a = by_name(name);
        let c = &a["correctness"];
        assert_eq!(
            c["exact"], c["samples"],
            "{name}: an answer differs from the oracle: {c}"
        );
        assert_eq!(c["unverified"], 0, "{name}");
        assert_eq!(a["restart"]["lost"], 0, "{name}");
        assert_eq!(a["restart"]["double_counted"], 0, "{name}");
        assert!(
            a["reprocessing"][0]["seconds"].as_f64().is_some(),
            "{name}: never reprocessed"
        );
    }
    // The batch log is durable too; the stream loses what it held at the kill and cannot replay.
    assert_eq!(by_name("batch")["restart"]["lost"], 0);
    let stream = by_name("stream");
    assert!(stream["restart"]["lost"].as_u64().unwrap() >= 20_000);
    assert!(stream["reprocessing"][0]["seconds"].is_null());
    assert_eq!(
        by_name("lambda")["complexity"]["stores"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let md = std::fs::read_to_string(out.path().join("architectures.md")).unwrap();
    for row in [
        "**Latency**",
        "**Throughput**",
        "**Complexity**",
        "**Reprocessing**",
        "**Use cases**",
        "Correctness",
        "Restart: kill -9",
        "Cost at",
    ] {
        assert!(md.contains(row), "the table lacks the row {row}:\n{md}");
    }
    let header = md
        .lines()
        .find(|l| l.starts_with("| | batch"))
        .expect("a table header");
    assert_eq!(header, "| | batch | stream | lambda | kappa | ");
    let svg = std::fs::read_to_string(out.path().join("architectures.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<rect").count(), 1 + 4 + 4 + 4 + 4);

    // The adviser reads what the run measured.
    let advice = advise_with(
        &out.path().join("architectures.json"),
        &["--latency", "seconds", "--reprocessing", "frequent"],
    );
    assert_eq!(advice["architecture"], "kappa", "{advice}");
}

/// The fixed matrix of `tests/fixtures/architectures-matrix.json`, as measured on this machine,
/// with `edit` applied, written to a temporary file.
fn fixture(edit: impl FnOnce(&mut Value)) -> tempfile::TempPath {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/architectures-matrix.json"
    );
    let mut matrix: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (cpu, cores) = this_machine();
    matrix["machine"]["cpu"] = cpu.into();
    matrix["machine"]["cores"] = cores.into();
    edit(&mut matrix);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), matrix.to_string()).unwrap();
    file.into_temp_path()
}

fn advise_output(matrix: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "advise",
        "--format",
        "json",
        "--matrix",
        matrix.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    common::run_within("architectures", &all, Duration::from_secs(60)).expect("advise ends")
}

fn advise_with(matrix: &Path, args: &[&str]) -> Value {
    let output = advise_output(matrix, args);
    assert!(
        output.status.success(),
        "advise {args:?}: {}",
        common::stderr(&output)
    );
    serde_json::from_str(&common::stdout(&output)).unwrap()
}

fn advise_error(matrix: &Path, args: &[&str]) -> String {
    let output = advise_output(matrix, args);
    assert!(!output.status.success(), "advise {args:?} should fail");
    common::stderr(&output)
}

#[test]
fn the_articles_four_rules_give_the_articles_answers() {
    let matrix = fixture(|_| {});
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["--latency", "hours", "--complexity", "low"],
            "batch",
            "rule 1",
        ),
        (
            &["--latency", "seconds", "--volume", "moderate"],
            "stream",
            "rule 2",
        ),
        (
            &["--latency", "mixed", "--reprocessing", "occasional"],
            "lambda",
            "rule 3",
        ),
        (
            &["--latency", "seconds", "--reprocessing", "frequent"],
            "kappa",
            "rule 4",
        ),
    ];
    for (args, expected, rule) in cases {
        let advice = advise_with(&matrix, args);
        assert_eq!(advice["architecture"], expected, "{args:?}: {advice}");
        let rationale = advice["rationale"].as_str().unwrap();
        assert!(rationale.contains(rule), "{args:?}: {rationale}");
        assert!(
            rationale.contains("measurements on this machine agree"),
            "{rationale}"
        );
        assert!(!advice["evidence"].as_array().unwrap().is_empty());
    }
    // Rule 1 quotes the measured recompute; rule 3 notes that kappa met the same with fewer stores.
    let batch = advise_with(&matrix, &["--latency", "hours", "--complexity", "low"]);
    assert!(
        batch["evidence"]
            .to_string()
            .contains("a full recompute of 10.10 M events took 2.40 s"),
        "{batch}"
    );
    let lambda = advise_with(
        &matrix,
        &["--latency", "mixed", "--reprocessing", "occasional"],
    );
    assert!(
        lambda["rationale"]
            .as_str()
            .unwrap()
            .contains("kappa meets them too with 2 stores instead of 3"),
        "{lambda}"
    );
    // No rule applies (the article says hybrid); measured, batch meets minutes alone.
    let minutes = advise_with(&matrix, &["--latency", "minutes", "--volume", "high"]);
    assert_eq!(minutes["architecture"], "batch", "{minutes}");
    assert!(
        minutes["rationale"]
            .as_str()
            .unwrap()
            .contains("none of the article's four rules applies")
    );
}

#[test]
fn measured_figures_go_beyond_the_rules() {
    let matrix = fixture(|_| {});
    // (requirements, answer, a phrase the reasoning must contain)
    let cases: [(&[&str], &str, &str); 7] = [
        // Rule 2 says stream, but the stream lost events across the kill: exact answers need a log.
        (
            &[
                "--latency",
                "seconds",
                "--volume",
                "moderate",
                "--exact",
                "true",
                "--history",
                "10M",
            ],
            "kappa",
            "1100000 events lost",
        ),
        // Rule 2 again, but logic changes often: the stream cannot replay.
        (
            &[
                "--latency",
                "seconds",
                "--volume",
                "moderate",
                "--reprocessing",
                "frequent",
            ],
            "kappa",
            "stream: cannot reprocess",
        ),
        // A freshness target of an hour over 10 M events: batch alone.
        (
            &["--freshness", "1h", "--history", "10M"],
            "batch",
            "batch first",
        ),
        // Rule 4, but 60 k events/s is more than kappa sustained here; the stream sustained 80 k
        // but cannot reprocess, so nothing measured fits.
        (
            &[
                "--latency",
                "seconds",
                "--reprocessing",
                "frequent",
                "--rate",
                "60k/s",
            ],
            "hybrid",
            "kappa: sustained at most 40.0 k/s",
        ),
        // 500 ms freshness: batch cannot, kappa can with fewer stores than lambda.
        (
            &["--freshness", "500ms", "--exact", "true"],
            "kappa",
            "fewest stores",
        ),
        // Rule 1 with a history so large that a recompute would take most of the hour: of the
        // others, only the stream runs at most 2 stores (nothing asked for exact answers).
        (
            &[
                "--latency",
                "hours",
                "--complexity",
                "low",
                "--history",
                "2G",
            ],
            "stream",
            "batch: recomputing 2000.00 M events takes 475.25 s",
        ),
        // At most one store: only the stream, which is fine when nothing needs to be exact.
        (
            &["--freshness", "1s", "--stores", "1"],
            "stream",
            "fewest stores",
        ),
    ];
    for (args, expected, phrase) in cases {
        let advice = advise_with(&matrix, args);
        assert_eq!(advice["architecture"], expected, "{args:?}: {advice}");
        let text = format!("{} {}", advice["rationale"], advice["evidence"]);
        assert!(text.contains(phrase), "{args:?}: no {phrase:?} in {text}");
    }
    // The answer follows the file, not a table in the code: make kappa's p99 too slow and rule 4's
    // answer changes.
    let slow_kappa = fixture(|m| {
        m["architectures"][3]["freshness"]["p99_ms"] = 9000.0.into();
    });
    let advice = advise_with(
        &slow_kappa,
        &["--latency", "seconds", "--reprocessing", "frequent"],
    );
    assert_eq!(advice["architecture"], "lambda", "{advice}");
    assert!(
        advice["rationale"]
            .as_str()
            .unwrap()
            .contains("kappa: p99 freshness 9000 ms"),
        "{advice}"
    );
}

#[test]
fn without_a_matrix_of_this_machine_the_rules_stand_alone() {
    let missing = Path::new("/nonexistent/architectures.json");
    let advice = advise_with(
        missing,
        &["--latency", "seconds", "--reprocessing", "frequent"],
    );
    assert_eq!(advice["architecture"], "kappa");
    let rationale = advice["rationale"].as_str().unwrap();
    assert!(
        rationale.contains("no matrix measured on this machine"),
        "{rationale}"
    );
    assert!(
        rationale.contains("falling back to the article's rules"),
        "{rationale}"
    );
    assert!(advice["matrix"].is_null());
    let elsewhere = fixture(|m| m["machine"]["cpu"] = "Another CPU".into());
    let advice = advise_with(&elsewhere, &["--latency", "hours", "--complexity", "low"]);
    assert_eq!(advice["architecture"], "batch");
    assert!(
        advice["rationale"]
            .as_str()
            .unwrap()
            .contains("measured on another machine (Another CPU"),
        "{advice}"
    );
    let advice = advise_with(missing, &["--latency", "minutes"]);
    assert_eq!(advice["architecture"], "hybrid");
}

#[test]
fn requirements_from_a_toml_file_and_bad_input() {
    let matrix = fixture(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("requirements.toml");
    std::fs::write(
        &config,
        "latency = \"seconds\"\nreprocessing = \"frequent\"\nexact = true\nhistory = \"10M\"\n",
    )
    .unwrap();
    let advice = advise_with(&matrix, &["--config", config.to_str().unwrap()]);
    assert_eq!(advice["architecture"], "kappa", "{advice}");
    for (args, phrase) in [
        (
            &["--latency", "weekly"][..],
            "--latency \"weekly\": unknown; one of hours, minutes, seconds, mixed",
        ),
        (
            &["--latency", "hours", "--freshness", "5s"],
            "contradict each other",
        ),
        (
            &["--latency", "seconds", "--freshness", "2h"],
            "contradict each other",
        ),
        (&["--rate", "fast"], "--rate \"fast\": not a rate"),
        (&["--history", "lots"], "--history \"lots\": not a count"),
        (&["--freshness", "0s"], "--freshness \"0s\""),
        (
            &["--complexity", "low", "--stores", "3"],
            "contradict each other",
        ),
        (&["--exact", "maybe"], "--exact \"maybe\": unknown"),
        (&[], "no requirements given"),
        (
            &["--config", config.to_str().unwrap(), "--latency", "hours"],
            "`latency` is \"hours\" on the command line and \"seconds\" in the file",
        ),
    ] {
        let error = advise_error(&matrix, args);
        assert!(error.contains(phrase), "{args:?}: {error}");
    }
    std::fs::write(&config, "latency = \"seconds\"\nbudget = 3\n").unwrap();
    let error = advise_error(&matrix, &["--config", config.to_str().unwrap()]);
    assert!(error.contains("unknown requirement `budget`"), "{error}");
}
