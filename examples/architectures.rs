//! The article's comparison matrix of batch, stream, Lambda and Kappa, measured on one workload on
//! this machine, and an architecture adviser that reads it.
//!
//! ```text
//! cargo run --release --example architectures -- run [--quick] [--rate 10000] [--history 1M,10M]
//!     [--period 10s] [--duration 20s] [--bound 1s] [--out docs] [--readme README.md]
//! cargo run --release --example architectures -- advise --latency seconds --reprocessing frequent
//!     [--freshness 5s] [--rate 50000/s] [--history 10M] [--exact true] [--stores 2]
//!     [--config requirements.toml] [--matrix docs/architectures.json] [--format text|json]
//! ```
//!
//! `run` deploys one pipeline declaration four ways, each as a child process behind the serving
//! layer's HTTP API, drives them with events at a steady rate and queries, and writes
//! `architectures.json`, `architectures.md` and `architectures.svg` into `--out` (with `--workload
//! windowed`, the hourly windowed view: `architectures-windowed.*`). `advise` answers
//! requirements with an architecture and the measured figures it rests on (`examples/architectures/
//! advise.rs` states its rules).

#[path = "architectures/advise.rs"]
mod advise;
#[path = "architectures/harness.rs"]
mod harness;
#[path = "architectures/matrix.rs"]
mod matrix;
#[path = "architectures/node.rs"]
mod node;
#[path = "architectures/workload.rs"]
mod workload;

use clap::{Parser, Subcommand, ValueEnum};
use dataflow_core::time::parse_duration;
use node::Deployment;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Batch, stream, Lambda and Kappa measured on one workload, and an adviser that reads the figures.
#[derive(Parser)]
#[command(name = "architectures")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the four architectures and write the matrix.
    Run(RunArgs),
    /// Recommend an architecture for requirements, from the measured matrix.
    Advise(AdviseArgs),
    /// Write architectures.md and .svg (and the README section) again from a measured .json.
    Render(RenderArgs),
    /// (internal) The computing process of one deployment.
    #[command(hide = true)]
    Node(node::NodeArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// A small run (under a minute): H = 20k, 2k events/s, short phases.
    #[arg(long)]
    quick: bool,
    /// Offered rate of the steady phase, events/s (10000, 10k).
    #[arg(long, value_parser = parse_events)]
    rate: Option<u64>,
    /// History sizes H, comma-separated: every phase at the first, reprocessing at each.
    #[arg(long, value_delimiter = ',', value_parser = parse_events)]
    history: Option<Vec<u64>>,
    /// Batch and lambda recompute period P.
    #[arg(long, value_parser = parse_duration)]
    period: Option<Duration>,
    /// Length of the steady phase.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Freshness bound of the sustained-rate ramp (p99).
    #[arg(long, value_parser = parse_duration)]
    bound: Option<Duration>,
    /// Length of each ramp step.
    #[arg(long, value_parser = parse_duration)]
    ramp_step: Option<Duration>,
    /// The highest rate the ramp offers, events/s.
    #[arg(long, value_parser = parse_events)]
    max_rate: Option<u64>,
    /// Length of the phase with the kill -9.
    #[arg(long, value_parser = parse_duration)]
    kill_phase: Option<Duration>,
    /// Products (the view has products × 28 keys).
    #[arg(long)]
    products: Option<u16>,
    /// The view: daily revenue per product (the matrix `advise` reads by default), or revenue per
    /// product per hour of event time (written as architectures-windowed.*).
    #[arg(long, value_enum, default_value = "daily")]
    workload: workload::Kind,
    /// Only these architectures (comma-separated).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Option<Vec<Deployment>>,
    /// Where to write architectures.{json,md,svg}.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/docs"))]
    out: PathBuf,
    /// Also replace the matrix section of this README (between its architectures markers).
    #[arg(long)]
    readme: Option<PathBuf>,
    /// Scratch directory for the logs (default: a temporary directory, removed at the end).
    #[arg(long)]
    work: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// The matrix `run` measured.
    matrix: PathBuf,
    /// Where to write the .md and .svg (default: beside the matrix).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also replace the matrix section of this README.
    #[arg(long)]
    readme: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct AdviseArgs {
    #[command(flatten)]
    given: advise::Given,
    /// Requirements as TOML (the same names as the flags).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The measured matrix.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architectures.json"))]
    matrix: PathBuf,
    /// text or json (`{"architecture", "rationale", "evidence"}`).
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
}

fn parse_events(text: &str) -> Result<u64, String> {
    advise::parse_count(text.trim_end_matches("/s"))
        .map(|n| n as u64)
        .ok_or_else(|| format!("{text:?} is not a count (10000, 10k, 1M)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Box<dyn std::error::Error + Send + Sync>> = match cli.command {
        Command::Run(args) => run(args),
        Command::Advise(args) => advise_command(args),
        Command::Render(args) => render(args),
        Command::Node(args) => node::run(&args).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let q = args.quick;
    let (work, _temp) = harness::scratch(args.work.clone())?;
    let settings = harness::Settings {
        deployments: args
            .only
            .clone()
            .unwrap_or_else(|| Deployment::ALL.to_vec()),
        workload: args.workload,
        histories: args.history.clone().unwrap_or_else(|| {
            if q {
                vec![20_000]
            } else {
                vec![1_000_000, 10_000_000]
            }
        }),
        rate: args.rate.unwrap_or(if q { 2_000 } else { 10_000 }),
        period: args
            .period
            .unwrap_or(Duration::from_secs(if q { 1 } else { 10 })),
        duration: args
            .duration
            .unwrap_or(Duration::from_secs(if q { 3 } else { 20 })),
        bound: args.bound.unwrap_or(Duration::from_secs(1)),
        ramp_step: args
            .ramp_step
            .unwrap_or(Duration::from_secs(if q { 1 } else { 3 })),
        ramp_factor: if q { 4 } else { 2 },
        max_rate: args.max_rate.unwrap_or(if q { 32_000 } else { 320_000 }),
        kill_phase: args
            .kill_phase
            .unwrap_or(Duration::from_secs(if q { 2 } else { 10 })),
        products: args.products.unwrap_or(if q { 20 } else { 50 }),
        step: if q { 5_000 } else { 10_000 },
        work,
        command: command_line(),
        quick: q,
    };
    if settings.histories.is_empty() || settings.rate == 0 {
        return Err("--history and --rate must be positive".into());
    }
    let matrix = harness::run(&settings)?;
    std::fs::create_dir_all(&args.out)?;
    let stem = args.workload.stem();
    let json = args.out.join(format!("{stem}.json"));
    write_atomically(&json, &serde_json::to_string_pretty(&matrix)?)?;
    write_atomically(&args.out.join(format!("{stem}.md")), &matrix.markdown())?;
    write_atomically(&args.out.join(format!("{stem}.svg")), &matrix::svg(&matrix))?;
    if let Some(readme) = &args.readme {
        update_readme(readme, &matrix)?;
    }
    println!("{}\n\n{}", matrix.provenance(), matrix.table());
    println!("wrote {}, {stem}.md and {stem}.svg", json.display());
    Ok(())
}

/// The command as a user would type it (the executable by its example name).
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release --example architectures -- {}",
        args.join(" ")
    )
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

/// The README's markers around the matrix of workload `stem`.
fn markers(stem: &str) -> (String, String) {
    (
        format!("<!-- {stem} matrix: begin (written by `architectures run --readme`) -->"),
        format!("<!-- {stem} matrix: end -->"),
    )
}

/// Replaces the text between the README's markers with the matrix.
fn update_readme(
    path: &Path,
    matrix: &matrix::Matrix,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(path)?;
    let (begin_marker, end_marker) = markers(matrix.workload.kind.stem());
    let (Some(begin), Some(end)) = (text.find(&begin_marker), text.find(&end_marker)) else {
        return Err(format!(
            "{} has no section for this matrix: add the lines {begin_marker} and {end_marker} where it goes",
            path.display()
        )
        .into());
    };
    if end < begin {
        return Err(format!("{}: the matrix markers are out of order", path.display()).into());
    }
    let section = format!(
        "{begin_marker}\n{}\n\n{}{end_marker}",
        matrix.provenance(),
        matrix.table()
    );
    let updated = format!(
        "{}{section}{}",
        &text[..begin],
        &text[end + end_marker.len()..]
    );
    write_atomically(path, &updated)?;
    Ok(())
}

fn render(args: RenderArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(&args.matrix)
        .map_err(|e| format!("{}: {e}", args.matrix.display()))?;
    let matrix: matrix::Matrix = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a matrix written by `architectures run`: {e}",
            args.matrix.display()
        )
    })?;
    let out = match args.out {
        Some(out) => out,
        None => args
            .matrix
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let stem = matrix.workload.kind.stem();
    write_atomically(&out.join(format!("{stem}.md")), &matrix.markdown())?;
    write_atomically(&out.join(format!("{stem}.svg")), &matrix::svg(&matrix))?;
    if let Some(readme) = &args.readme {
        update_readme(readme, &matrix)?;
    }
    Ok(())
}

fn advise_command(args: AdviseArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut given = args.given;
    if let Some(config) = &args.config {
        given = given.merged_with(advise::Given::from_toml(config)?)?;
    }
    let requirements = advise::Requirements::from_given(&given)?;
    let source = advise::load(&args.matrix, &harness::machine());
    let advice = advise::advise(&requirements, &source);
    let mut out = String::new();
    match args.format {
        OutputFormat::Json => out = serde_json::to_string_pretty(&advice)? + "\n",
        OutputFormat::Text => {
            out.push_str(&format!(
                "architecture: {}\n\n{}\n\nevidence:\n",
                advice.architecture, advice.rationale
            ));
            for line in &advice.evidence {
                out.push_str(&format!("  - {line}\n"));
            }
        }
    }
    // A reader that stops early (`| head`) is no error.
    match std::io::stdout().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(())
}
