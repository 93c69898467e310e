//! Whole-process timing shared by the benchmarks: one child process, its wall time from start to
//! exit, and its CPU time and peak resident memory from `/usr/bin/time` when that is installed.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// One timed process: its wall time, its CPU time (user + system) and peak resident memory.
pub struct Timed {
    /// Wall time from start to exit, seconds.
    pub seconds: f64,
    /// User + system CPU time, seconds (needs `/usr/bin/time`).
    pub cpu: Option<f64>,
    /// Peak resident memory, MiB (needs `/usr/bin/time`).
    pub peak_mib: Option<f64>,
}

/// Runs `program args`, timed, with its CPU time and peak memory through `/usr/bin/time` (which
/// writes them to `stats`) when installed. A failing run is an error with its standard error.
pub fn run_timed(program: &Path, args: &[String], stats: &Path) -> Result<Timed, String> {
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("%M %U %S")
            .arg("-o")
            .arg(stats)
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args);
    let started = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!(
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let fields: Vec<f64> = time
        .exists()
        .then(|| std::fs::read_to_string(stats).ok())
        .flatten()
        .and_then(|text| {
            text.lines()
                .last()?
                .split_whitespace()
                .map(|v| v.parse::<f64>().ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(Timed {
        seconds,
        peak_mib: fields.first().map(|kib| kib / 1024.0),
        cpu: (fields.len() == 3).then(|| fields[1] + fields[2]),
    })
}

/// The median of `values` (the upper one of an even count); `values` must not be empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The machine, for a table's heading: CPU model, logical CPUs and memory, from `/proc`.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{model}, {cpus} logical CPUs, {mem_gib:.0} GiB")
}
