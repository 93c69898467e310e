//! The Kafka-protocol log against a real broker (tansu, from `scripts/install-kafka.sh`) on a
//! loopback port chosen at run time: ingest partitioned by key, replay equal to batch with one and
//! two workers, follow, checkpoints that resume exactly, and the faults (broker down, topic missing
//! or of another partition count, a record that does not decode, a broker restarted mid-follow).
//! Without a broker outside CI every test says so loudly and passes; in CI a missing broker fails.

#[path = "common/broker.rs"]
mod broker;
mod common;

use broker::Broker;
use common::builds::{first_build, later_build};
use common::cluster::{hostfile, spawn, strings, wait};
use common::{example, run, run_within, stderr, stdout, timed_sales};
use dataflow_core::kappa::{self, Phase, ServedView};
use dataflow_core::log::{KafkaAddress, KafkaLog, KafkaOptions, Log, Offsets, Tail};
use dataflow_core::runtime::Runner;
use dataflow_examples::{DailySales, DailyTotal, Line, Sale};
use std::path::Path;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn address(broker: &Broker, topic: &str) -> KafkaAddress {
    KafkaAddress {
        broker: broker.address.clone(),
        topic: topic.to_string(),
    }
}

fn ok(output: &std::process::Output, what: &str) {
    assert!(output.status.success(), "{what}: {}", stderr(output));
}

#[test]
fn ingest_by_key_then_replay_equals_batch_on_one_and_two_workers() {
    let Some(broker) = Broker::start("ingest_by_key_then_replay_equals_batch") else {
        return;
    };
    let topic = broker.topic("sales");
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    let ingested = run_within(
        "daily_sales",
        &[
            "ingest",
            "--input",
            "examples/data/sales.csv",
            "--log",
            &topic,
            "--partitions",
            "3",
            "--dead-letter",
            "/dev/null",
        ],
        LIMIT,
    )
    .expect("ingest ends");
    ok(&ingested, "ingest");
    let said = stdout(&ingested);
    assert!(
        said.contains("ingested 40 records")
            && said.contains("3 partitions, partitioned by key (product, date)"),
        "{said}"
    );
    let log = KafkaLog::connect(&address(&broker, "sales"), KafkaOptions::default()).unwrap();
    let head = log.head();
    assert_eq!(head.0.len(), 3);
    assert_eq!(head.0.iter().sum::<u64>(), 40);
    assert!(head.0.iter().filter(|&&n| n > 0).count() >= 2, "{head}");
    // A deployment serves a view from the topic as from the file log.
    let view = ServedView::new();
    let deployment = kappa::deploy::<DailySales, Sale, _, _, _, _>(
        Runner::new(),
        &log,
        &view,
        |t: &DailyTotal| ((t.product.clone(), t.date), t.transaction_count),
        Default::default(),
    )
    .unwrap();
    deployment
        .wait_until(
            |p| p.position == head && p.phase == Phase::Serving,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(view.len(), batch.lines().count());
    deployment.stop().unwrap();
    for workers in ["1", "2"] {
        let replayed = run_within(
            "daily_sales",
            &[
                "--mode",
                "replay",
                "--log",
                &topic,
                "-w",
                workers,
                "-q",
                "--step-size",
                "7",
            ],
            LIMIT,
        )
        .expect("replay ends");
        ok(&replayed, "replay");
        assert_eq!(stdout(&replayed), batch, "{workers} workers");
    }
    // --from names one offset per partition: from the head, nothing is left.
    let from = head
        .0
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let rest = run_within(
        "daily_sales",
        &["--mode", "replay", "--log", &topic, "--from", &from, "-q"],
        LIMIT,
    )
    .expect("replay ends");
    ok(&rest, "replay from the head");
    assert_eq!(stdout(&rest), "");
    let one = run_within(
        "daily_sales",
        &["--mode", "replay", "--log", &topic, "--from", "3"],
        LIMIT,
    )
    .expect("replay ends");
    assert!(!one.status.success());
    assert!(
        stderr(&one).contains("one offset per partition"),
        "{}",
        stderr(&one)
    );
}

#[test]
fn the_head_is_the_high_watermark_not_list_offsets() {
    // Regression: tansu 0.6 with memory storage answers ListOffsets(latest) with the last batch's
    // base offset + 1 (1 after one batch of 50); the head must be 50.
    let Some(broker) = Broker::start("the_head_is_the_high_watermark_not_list_offsets") else {
        return;
    };
    let log = KafkaLog::create(&address(&broker, "fifty"), 1, KafkaOptions::default()).unwrap();
    let lines: Vec<(u64, Line)> = (0..50)
        .map(|i| {
            (
                i,
                Line {
                    text: format!("line {i}"),
                },
            )
        })
        .collect();
    let (before, after) = log.append(&lines).unwrap();
    assert_eq!(before, Offsets(vec![0]));
    assert_eq!(after, Offsets(vec![50]));
    assert_eq!(log.head(), Offsets(vec![50]));
    let mut tail = log.tail::<Line>(Offsets::default()).unwrap();
    let mut read = Vec::new();
    assert_eq!(tail.read(1000, &mut read).unwrap(), 50);
    assert_eq!(read[49].text, "line 49");
    assert_eq!(tail.position(), Offsets(vec![50]));
    assert_eq!(tail.head(), Offsets(vec![50]));
}

#[test]
fn follow_picks_up_what_is_ingested_meanwhile() {
    let Some(broker) = Broker::start("follow_picks_up_what_is_ingested_meanwhile") else {
        return;
    };
    let topic = broker.topic("follow");
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let all = std::fs::read_to_string("examples/data/sales.csv").unwrap();
    let lines: Vec<&str> = all.lines().collect();
    std::fs::write(
        &first,
        format!("{}\n{}\n", lines[0], lines[1..20].join("\n")),
    )
    .unwrap();
    std::fs::write(
        &second,
        format!("{}\n{}\n", lines[0], lines[20..].join("\n")),
    )
    .unwrap();
    let ingest = |path: &Path| {
        let out = run_within(
            "daily_sales",
            &[
                "ingest",
                "--input",
                path.to_str().unwrap(),
                "--log",
                &topic,
                "--partitions",
                "2",
                "--dead-letter",
                "/dev/null",
                "-q",
            ],
            LIMIT,
        )
        .expect("ingest ends");
        ok(&out, "ingest");
    };
    ingest(&first);
    let output = dir.path().join("out.jsonl");
    let follower = std::process::Command::new(example("daily_sales"))
        .args([
            "--mode",
            "replay",
            "--log",
            &topic,
            "--follow",
            "--idle-timeout",
            "4s",
            "-q",
        ])
        .arg("--output")
        .arg(&output)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    ingest(&second);
    let done = follower.wait_with_output().unwrap();
    ok(&done, "follow");
    let batch = stdout(&run("daily_sales", &["--input", "examples/data/sales.csv"]));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), batch);
}

/// Ingests `rows` generated timed sales into `topic` (3 partitions) with windowed_sales.
fn ingest_timed_sales(dir: &Path, topic: &str, rows: usize) {
    let input = dir.join("timed.csv");
    timed_sales(&input, rows);
    let ingested = run_within(
        "windowed_sales",
        &[
            "ingest",
            "--input",
            input.to_str().unwrap(),
            "--log",
            topic,
            "--partitions",
            "3",
            "-q",
        ],
        LIMIT,
    )
    .expect("ingest ends");
    ok(&ingested, "ingest");
}

#[test]
fn a_checkpointed_replay_killed_and_restarted_writes_the_same_output() {
    let Some(broker) = Broker::start("a_checkpointed_replay_killed_and_restarted") else {
        return;
    };
    let topic = broker.topic("timed");
    let dir = tempfile::tempdir().unwrap();
    ingest_timed_sales(dir.path(), &topic, 5000);
    let args = |out: &Path, checkpoint: &Path| -> Vec<String> {
        strings(&[
            "--mode",
            "replay",
            "--log",
            &topic,
            "--step-size",
            "25",
            "--changes",
            "--max-delay",
            "10m",
            "-q",
            "--checkpoint-every",
            "3",
            "--output",
            out.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ])
    };
    let (whole, whole_checkpoint) = (dir.path().join("whole.jsonl"), dir.path().join("whole.cp"));
    ok(
        &run_within("windowed_sales", &args(&whole, &whole_checkpoint), LIMIT).expect("ends"),
        "uninterrupted replay",
    );
    let expected = std::fs::read_to_string(&whole).unwrap();
    assert!(expected.lines().count() > 50);
    // The uninterrupted run covered every partition's head, and says so in its checkpoint.
    let (out, checkpoint) = (dir.path().join("out.jsonl"), dir.path().join("out.cp"));
    let mut child = std::process::Command::new(example("windowed_sales"))
        .args(args(&out, &checkpoint))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !checkpoint.exists() && started.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(30));
    child.kill().ok();
    child.wait().unwrap();
    let resumed = run_within("windowed_sales", &args(&out, &checkpoint), LIMIT).expect("ends");
    ok(&resumed, "resumed replay");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
    // Resuming when everything is done changes nothing.
    ok(
        &run_within("windowed_sales", &args(&out, &checkpoint), LIMIT).expect("ends"),
        "second resume",
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), expected);
}

#[test]
fn faults_are_clear_errors_within_bounded_time() {
    let Some(mut broker) = Broker::start("faults_are_clear_errors_within_bounded_time") else {
        return;
    };
    // A topic that does not exist.
    let missing = run_within(
        "daily_sales",
        &["--mode", "replay", "--log", &broker.topic("nothing")],
        LIMIT,
    )
    .expect("ends");
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("there is no topic nothing"),
        "{}",
        stderr(&missing)
    );

    // Another partition count than the topic has.
    let topic = broker.topic("three");
    let ingest = |partitions: &str| {
        run_within(
            "daily_sales",
            &[
                "ingest",
                "--input",
                "examples/data/sales.csv",
                "--log",
                &topic,
                "--partitions",
                partitions,
                "--dead-letter",
                "/dev/null",
                "-q",
            ],
            LIMIT,
        )
        .expect("ends")
    };
    ok(&ingest("3"), "ingest");
    let other = ingest("2");
    assert!(!other.status.success());
    assert!(
        stderr(&other).contains("has 3 partitions, not 2"),
        "{}",
        stderr(&other)
    );

    // A record that does not decode: lines in a topic read as sales.
    let log = KafkaLog::create(&address(&broker, "lines"), 1, KafkaOptions::default()).unwrap();
    log.append(&[(
        0,
        Line {
            text: "not a sale".into(),
        },
    )])
    .unwrap();
    let bad = run_within(
        "daily_sales",
        &["--mode", "replay", "--log", &broker.topic("lines")],
        LIMIT,
    )
    .expect("ends");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("cannot decode the record at partition 0 offset 0"),
        "{}",
        stderr(&bad)
    );

    // A broker restarted during a follow (its memory storage comes back empty): a clear error,
    // never a hang.
    let output = tempfile::NamedTempFile::new().unwrap();
    let follower = std::process::Command::new(example("daily_sales"))
        .args([
            "--mode",
            "replay",
            "--log",
            &topic,
            "--follow",
            "--idle-timeout",
            "60s",
            "-q",
        ])
        .arg("--output")
        .arg(output.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    broker.restart();
    let restarted = Instant::now();
    let done = follower.wait_with_output().unwrap();
    assert!(
        restarted.elapsed() < Duration::from_secs(40),
        "{:?}",
        restarted.elapsed()
    );
    assert!(!done.status.success());
    assert!(stderr(&done).contains("kafka://"), "{}", stderr(&done));

    // A broker that is down at the start: an error after the bounded retries (10 s).
    broker.stop();
    let started = Instant::now();
    let down =
        run_within("daily_sales", &["--mode", "replay", "--log", &topic], LIMIT).expect("ends");
    let took = started.elapsed();
    assert!(!down.status.success());
    assert!(
        stderr(&down).contains("cannot reach the broker"),
        "{}",
        stderr(&down)
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(30),
        "{took:?}"
    );
}

#[test]
fn a_topic_written_with_another_layout_under_the_same_version_is_refused_naming_the_fields() {
    let Some(broker) = Broker::start("a_topic_written_with_another_layout") else {
        return;
    };
    let log = KafkaLog::create(&address(&broker, "views"), 1, KafkaOptions::default()).unwrap();
    log.append(&[(0, first_build::View { url: "/a".into() })])
        .unwrap();
    // The first build reads its record back.
    let mut tail = log.tail::<first_build::View>(Offsets::default()).unwrap();
    let mut read = Vec::new();
    assert_eq!(tail.read(10, &mut read).unwrap(), 1);
    // The later build's reader is refused at the record, with its partition, offset and fields.
    let mut tail = log.tail::<later_build::View>(Offsets::default()).unwrap();
    let mut read = Vec::new();
    let error = tail.read(10, &mut read).unwrap_err().to_string();
    assert!(
        error.contains("partition 0")
            && error.contains("offset 0")
            && error.contains("`ts: u64` added"),
        "{error}"
    );
    assert!(read.is_empty());
}

#[test]
fn two_processes_replay_their_own_partitions_and_resume_from_one_checkpoint() {
    let Some(broker) = Broker::start("two_processes_replay_their_own_partitions") else {
        return;
    };
    let topic = broker.topic("shared");
    let dir = tempfile::tempdir().unwrap();
    ingest_timed_sales(dir.path(), &topic, 6000);
    let head = KafkaLog::connect(&address(&broker, "shared"), KafkaOptions::default())
        .unwrap()
        .head();
    let args = |out: &Path, more: &[&str]| -> Vec<String> {
        let mut args = strings(&[
            "--mode",
            "replay",
            "--log",
            &topic,
            "--step-size",
            "40",
            "--max-delay",
            "10m",
            "--output",
            out.to_str().unwrap(),
        ]);
        args.extend(strings(more));
        args
    };
    let one = dir.path().join("one.jsonl");
    ok(
        &run_within("windowed_sales", &args(&one, &["-q"]), LIMIT).expect("ends"),
        "one process",
    );
    let expected = std::fs::read_to_string(&one).unwrap();
    assert!(expected.lines().count() > 50, "{expected}");

    // Two processes: process 0 reads partitions 0 and 2, process 1 partition 1.
    let two = dir.path().join("two.jsonl");
    let hosts = hostfile(dir.path(), 2);
    let second = spawn("windowed_sales", &args(&two, &[]), 1, &hosts);
    let first = spawn("windowed_sales", &args(&two, &[]), 0, &hosts);
    let (status0, err0) = wait(first, LIMIT, "process 0");
    let (status1, err1) = wait(second, LIMIT, "process 1");
    assert!(status0.success(), "{err0}");
    assert!(status1.success(), "{err1}");
    assert_eq!(std::fs::read_to_string(&two).unwrap(), expected);
    assert!(
        err1.contains(&format!(
            "process 1 of 2 replayed partition 1 of {} (offsets [0,0,0]..[0,{},0]): {} records",
            address(&broker, "shared"),
            head.get(1),
            head.get(1)
        )),
        "{err1}"
    );
    assert!(
        err0.contains(&format!("{} records", head.get(0) + head.get(2))),
        "{err0}"
    );

    // With changes and checkpoints: a kill of process 1 stops process 0 naming it, and a restart
    // of both resumes from process 0's one checkpoint to the same output, byte for byte.
    let changes = |out: &Path, checkpoint: &Path| -> Vec<String> {
        args(
            out,
            &[
                "-q",
                "--changes",
                "--checkpoint-every",
                "3",
                "--checkpoint",
                checkpoint.to_str().unwrap(),
            ],
        )
    };
    let (whole, whole_checkpoint) = (dir.path().join("whole.jsonl"), dir.path().join("whole.cp"));
    let hosts = hostfile(dir.path(), 2);
    let second = spawn(
        "windowed_sales",
        &changes(&whole, &whole_checkpoint),
        1,
        &hosts,
    );
    let first = spawn(
        "windowed_sales",
        &changes(&whole, &whole_checkpoint),
        0,
        &hosts,
    );
    assert!(wait(first, LIMIT, "process 0").0.success());
    assert!(wait(second, LIMIT, "process 1").0.success());
    let whole = std::fs::read_to_string(&whole).unwrap();
    assert!(whole.lines().count() > 50);

    let (out, checkpoint) = (dir.path().join("out.jsonl"), dir.path().join("out.cp"));
    let hosts = hostfile(dir.path(), 2);
    let mut second = spawn("windowed_sales", &changes(&out, &checkpoint), 1, &hosts);
    let first = spawn("windowed_sales", &changes(&out, &checkpoint), 0, &hosts);
    let started = Instant::now();
    while !checkpoint.exists() && started.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(2));
    }
    second.kill().unwrap();
    second.wait().unwrap();
    let (status, err) = wait(
        first,
        Duration::from_secs(30),
        "process 0 after its peer died",
    );
    if !status.success() {
        assert!(err.contains("lost its connection to process 1"), "{err}");
        let hosts = hostfile(dir.path(), 2);
        let second = spawn("windowed_sales", &changes(&out, &checkpoint), 1, &hosts);
        let first = spawn("windowed_sales", &changes(&out, &checkpoint), 0, &hosts);
        let (status0, err0) = wait(first, LIMIT, "restarted process 0");
        let (status1, err1) = wait(second, LIMIT, "restarted process 1");
        assert!(status0.success(), "{err0}");
        assert!(status1.success(), "{err1}");
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), whole);
}
