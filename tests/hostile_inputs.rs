//! End-to-end: every example executable that reads `--input` (`daily_sales`, `windowed_sales`,
//! `fraud_detection`, `word_count`; `kappa_reprocess`, `nexmark` and the benchmarks generate their
//! own input) against hostile inputs, in batch mode, stream mode and `ingest`: a directory, a FIFO
//! whose writer closes it, `/dev/null`, an empty file, and the input named as its own output.
//!
//! Each run is bounded: a run that has not ended after [`LIMIT`] is killed and fails the test. A run
//! ends with a clear error (non-zero exit and a message naming the problem) or a clean result (exit 0,
//! and the output the same input gives as a regular file).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use common::stdout;

/// How long one run may take.
const LIMIT: Duration = Duration::from_secs(30);

/// Each example with its sample input (in `examples/data`) and that input's format.
const EXAMPLES: [(&str, &str, &str); 4] = [
    ("daily_sales", "sales.csv", "csv"),
    ("windowed_sales", "timed_sales.csv", "csv"),
    ("fraud_detection", "transactions.csv", "csv"),
    ("word_count", "lines.jsonl", "jsonl"),
];

/// The examples with an event-time stage, which take `--late`.
const EVENT_TIME: [&str; 2] = ["windowed_sales", "fraud_detection"];

/// The ways an example reads its input: batch, stream (one record per step) and `ingest` (into a
/// fresh log under `dir`). Each is a function of the input path giving the arguments.
fn modes(dir: &Path, name: &str, format: &str) -> Vec<(&'static str, Vec<String>)> {
    let log = dir
        .join(format!("log-{name}-{}", unique()))
        .display()
        .to_string();
    let format = format.to_string();
    vec![
        ("batch", vec!["--format".into(), format.clone()]),
        (
            "stream",
            vec![
                "--format".into(),
                format.clone(),
                "--mode".into(),
                "stream".into(),
                "--step-size".into(),
                "1".into(),
            ],
        ),
        (
            "ingest",
            vec!["--format".into(), format, "--log".into(), log],
        ),
    ]
}

/// A number not used before in this process, for fresh file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The full argument list of `mode` reading `input`.
fn arguments(mode: &str, input: &Path, extra: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    if mode == "ingest" {
        args.push("ingest".to_string());
    }
    args.push("--input".into());
    args.push(input.display().to_string());
    args.extend_from_slice(extra);
    args
}

/// Runs example `name` with `args` in the workspace directory. A run still going after [`LIMIT`] is
/// killed, and the test fails.
fn run_bounded(name: &str, args: &[String]) -> Output {
    common::run_within(name, args, LIMIT)
        .unwrap_or_else(|| panic!("{name} {args:?} did not end within {LIMIT:?}"))
}

fn errors(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a run failed with an error message mentioning every one of `words`.
fn assert_refused(output: &Output, what: &str, words: &[&str]) {
    let text = errors(output);
    assert!(
        !output.status.success(),
        "{what}: exit 0, expected an error: {text}"
    );
    assert!(
        output.status.code().is_some(),
        "{what}: killed by a signal, not an error: {:?}: {text}",
        output.status
    );
    assert!(text.contains("error"), "{what}: no error message: {text:?}");
    for word in words {
        assert!(
            text.contains(word),
            "{what}: the error does not say {word:?}: {text}"
        );
    }
}

/// Asserts that a run read no records and ended cleanly: nothing printed, zero counts.
fn assert_empty(output: &Output, mode: &str, what: &str) {
    let text = errors(output);
    assert!(output.status.success(), "{what}: {text}");
    if mode == "ingest" {
        let printed = stdout(output);
        assert!(
            printed.starts_with("ingested 0 records into "),
            "{what}: {printed}"
        );
        assert!(
            text.contains("ingest: read 0 records, 0 ok, 0 dead-lettered"),
            "{what}: {text}"
        );
    } else {
        assert_eq!(stdout(output), "", "{what}");
        assert!(
            text.contains("read 0 records, 0 ok, 0 dead-lettered"),
            "{what}: {text}"
        );
    }
}

fn sample(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/data")
        .join(file)
}

#[test]
fn a_directory_as_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    for (name, file, format) in EXAMPLES {
        // Named like an input file, so that the extension gives no hint.
        let input = dir.path().join(format!("input-{name}.{format}"));
        std::fs::create_dir(&input).unwrap();
        for (mode, extra) in modes(dir.path(), name, format) {
            let what = format!("{name} {mode} of a directory ({file})");
            let output = run_bounded(name, &arguments(mode, &input, &extra));
            assert_refused(&output, &what, &[&input.display().to_string(), "directory"]);
            assert!(
                errors(&output).lines().count() <= 2,
                "{what}: one error, not a dead letter per read: {}",
                errors(&output)
            );
            assert_eq!(stdout(&output), "", "{what}");
        }
    }
}

#[test]
fn dev_null_is_an_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    for (name, _, format) in EXAMPLES {
        for (mode, extra) in modes(dir.path(), name, format) {
            let output = run_bounded(name, &arguments(mode, Path::new("/dev/null"), &extra));
            assert_empty(&output, mode, &format!("{name} {mode} of /dev/null"));
        }
    }
}

#[test]
fn an_empty_file_is_an_empty_input() {
    let dir = tempfile::tempdir().unwrap();
    for (name, _, format) in EXAMPLES {
        let input = dir.path().join(format!("empty-{name}.{format}"));
        std::fs::write(&input, "").unwrap();
        for (mode, extra) in modes(dir.path(), name, format) {
            let output = run_bounded(name, &arguments(mode, &input, &extra));
            assert_empty(&output, mode, &format!("{name} {mode} of an empty file"));
        }
    }
}

/// Opens `fifo` for writing once a reader has it open, writes `bytes` and closes it; gives up after
/// [`LIMIT`] (the reader never opened it), so that the writer never outlives the test.
fn write_fifo(fifo: PathBuf, bytes: Vec<u8>) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let started = Instant::now();
        // O_NONBLOCK: opening fails with ENXIO instead of blocking while there is no reader.
        let mut file = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(0o4000)
                .open(&fifo)
            {
                Ok(file) => break file,
                Err(_) if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return false,
            }
        };
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match file.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if started.elapsed() > LIMIT {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return false,
            }
        }
        true
    })
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_reads_like_the_file_its_writer_wrote() {
    let dir = tempfile::tempdir().unwrap();
    for (name, file, format) in EXAMPLES {
        let data = std::fs::read(sample(file)).unwrap();
        for (mode, extra) in modes(dir.path(), name, format) {
            let what = format!("{name} {mode} of a FIFO holding {file}");
            // The same run on the regular file is the reference (into another fresh log for ingest).
            let (_, fresh) = modes(dir.path(), name, format)
                .into_iter()
                .find(|(m, _)| *m == mode)
                .unwrap();
            let reference = run_bounded(name, &arguments(mode, &sample(file), &fresh));
            assert!(reference.status.success(), "{what}: {}", errors(&reference));
            let fifo = dir.path().join(format!("fifo-{name}-{mode}"));
            mkfifo(&fifo);
            let writer = write_fifo(fifo.clone(), data.clone());
            let output = run_bounded(name, &arguments(mode, &fifo, &extra));
            assert!(writer.join().unwrap(), "{what}: the writer could not write");
            assert!(output.status.success(), "{what}: {}", errors(&output));
            if mode == "ingest" {
                // As many records stored, at the same offsets (the log paths differ).
                let stored = |o: &Output| {
                    let text = stdout(o);
                    let (count, rest) = text.split_once(" into ").expect("an ingest report");
                    let offsets = rest.rsplit_once(": ").map(|(_, o)| o.to_string());
                    (count.to_string(), offsets)
                };
                assert_eq!(stored(&output), stored(&reference), "{what}");
                assert!(!stdout(&output).starts_with("ingested 0 "), "{what}");
            } else {
                assert_eq!(stdout(&output), stdout(&reference), "{what}");
                assert!(!stdout(&output).is_empty(), "{what}");
            }
            // The counts of records read, ok and dead-lettered are those of the file.
            let counts = |o: &Output| {
                let text = errors(o);
                let start = text.rfind("read ").expect("a summary");
                text[start..].split(';').next().unwrap().to_string()
            };
            assert_eq!(counts(&output), counts(&reference), "{what}");
            // A FIFO whose writer closes it at once is an empty input.
            let fifo = dir.path().join(format!("fifo-empty-{name}-{mode}"));
            mkfifo(&fifo);
            let writer = write_fifo(fifo.clone(), Vec::new());
            let (_, extra) = modes(dir.path(), name, format)
                .into_iter()
                .find(|(m, _)| *m == mode)
                .unwrap();
            let output = run_bounded(name, &arguments(mode, &fifo, &extra));
            assert!(
                writer.join().unwrap(),
                "{what}: the writer could not open it"
            );
            assert_empty(&output, mode, &format!("{name} {mode} of an empty FIFO"));
        }
    }
}

#[test]
fn the_input_as_its_own_output_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (name, file, format) in EXAMPLES {
        let original = std::fs::read(sample(file)).unwrap();
        let input = dir.path().join(format!("own-{name}.{format}"));
        std::fs::write(&input, &original).unwrap();
        let same = input.display().to_string();
        for (mode, extra) in modes(dir.path(), name, format) {
            let outputs: Vec<(&str, Vec<String>)> = if mode == "ingest" {
                vec![
                    ("--dead-letter", vec!["--dead-letter".into(), same.clone()]),
                    // The log directory is the input file.
                    ("--log", {
                        let mut args = vec!["--format".to_string(), format.to_string()];
                        args.extend(["--log".to_string(), same.clone()]);
                        args
                    }),
                ]
            } else {
                ["--output", "--dead-letter", "--late"]
                    .into_iter()
                    .filter(|flag| *flag != "--late" || EVENT_TIME.contains(&name))
                    .map(|flag| (flag, vec![flag.to_string(), same.clone()]))
                    .collect()
            };
            for (flag, own) in outputs {
                let what = format!("{name} {mode} with {flag} naming the input");
                let mut args = if flag == "--log" {
                    vec!["ingest".to_string(), "--input".into(), same.clone()]
                } else {
                    arguments(mode, &input, &extra)
                };
                args.extend(own);
                let output = run_bounded(name, &args);
                // The log is named as a log, the other outputs by their flag.
                let named = if flag == "--log" { "log" } else { flag };
                assert_refused(&output, &what, &[named, &same]);
                assert_eq!(stdout(&output), "", "{what}");
                assert_eq!(
                    std::fs::read(&input).unwrap(),
                    original,
                    "{what}: the input changed"
                );
            }
        }
    }
}
