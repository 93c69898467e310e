//! Helpers shared by the end-to-end tests: run the example executables that `cargo test` builds.

#![allow(dead_code)]

pub mod builds;
pub mod cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The path of an example executable built by `cargo test` next to this test binary.
pub fn example(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test`",
        path.display()
    );
    path
}

/// Runs example `name` with `args` in the workspace directory and checks that it succeeds.
pub fn run(name: &str, args: &[&str]) -> Output {
    let output = Command::new(example(name))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("example runs");
    assert!(
        output.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The standard output of a run.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

/// The standard error of a run.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 errors")
}

/// Runs example `name` with `args` in the workspace directory, standard input closed, and returns
/// its output; `None` if it was still running after `limit`, when it is killed. The pipes are
/// drained on threads, so a chatty run cannot block on a full pipe.
pub fn run_within<S: AsRef<std::ffi::OsStr>>(
    name: &str,
    args: &[S],
    limit: std::time::Duration,
) -> Option<Output> {
    use std::process::Stdio;
    let mut child = Command::new(example(name))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("example runs");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).ok();
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            out.join().ok();
            err.join().ok();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Some(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Daily-sales output lines as totals per (product, date): revenue in cents and the count.
pub fn parse_daily_totals(out: &str) -> std::collections::BTreeMap<(String, String), (i64, u64)> {
    out.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let revenue = value["total_revenue"].as_f64().unwrap();
            (
                (
                    value["product"].as_str().unwrap().to_string(),
                    value["date"].as_str().unwrap().to_string(),
                ),
                (
                    (revenue * 100.0).round() as i64,
                    value["transaction_count"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Generated sales with event times, for windowed_sales: `n` rows over 20 products, a minute apart.
pub fn timed_sales(path: &Path, n: usize) {
    timed_sales_with_late(path, n, None);
}

/// [`timed_sales`], where with `late_every: Some(k)` every `k`-th row is two hours behind the others:
/// late for any window once the watermark passed it.
pub fn timed_sales_with_late(path: &Path, n: usize, late_every: Option<usize>) {
    let mut text = String::from("product,quantity,price,ts\n");
    for i in 0..n {
        let on_time = 1_700_000_000_000u64 + (i as u64) * 60_000;
        let ts = match late_every {
            Some(k) if i % k == k - 1 => on_time - 2 * 3_600_000,
            _ => on_time,
        };
        text.push_str(&format!(
            "p{},{},{}.{:02},{ts}\n",
            i % 20,
            1 + i % 7,
            1 + i % 9,
            i % 100
        ));
    }
    std::fs::write(path, text).unwrap();
}
