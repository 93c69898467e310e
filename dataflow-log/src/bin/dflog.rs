//! `dflog`: inspect and check an event log directory without writing to it.
//!
//! ```text
//! dflog info DIR                      segments, record counts, versions, event times
//! dflog verify DIR                    check every checksum and segment (exit 1 on damage)
//! dflog dump DIR --from N --limit M   one line per record
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dataflow_log::{EventLog, LogError};

/// Inspect and check a dataflow event log directory (read-only).
#[derive(Parser, Debug)]
#[command(name = "dflog", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the segments: file, base offset, record count, bytes, schema versions and
    /// event-time range.
    Info {
        /// The log directory.
        dir: PathBuf,
    },
    /// Check every record's checksum and offset, and that no segment is missing; exits
    /// with status 1 and names the segment and offset of the first corruption, the
    /// missing segment, or a directory that is not a log. A torn tail (what a crash
    /// leaves after the last flush) is reported, not an error.
    Verify {
        /// The log directory.
        dir: PathBuf,
    },
    /// Print records: offset, event time, schema version, payload length, hex prefix.
    Dump {
        /// The log directory.
        dir: PathBuf,
        /// The first offset to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// The maximum number of records to print.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// How many payload bytes to print in hex.
        #[arg(long, default_value_t = 16)]
        hex_bytes: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dflog: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), LogError> {
    match command {
        Command::Info { dir } => {
            let log = EventLog::open_read_only(&dir)?;
            let reports = log.verify()?;
            println!(
                "{:<26} {:>12} {:>10} {:>12} {:<10} event time",
                "segment", "base", "records", "bytes", "versions"
            );
            for r in &reports {
                let versions: Vec<String> = r.schema_versions.iter().map(u32::to_string).collect();
                let times = match r.event_time_range {
                    Some((lo, hi)) => format!("{lo}..={hi}"),
                    None => "-".to_string(),
                };
                println!(
                    "{:<26} {:>12} {:>10} {:>12} {:<10} {}",
                    r.file,
                    r.base_offset,
                    r.records,
                    r.bytes,
                    versions.join(","),
                    times
                );
            }
            if let Some(torn) = log.recovery() {
                println!("{torn} (ignored; the next writer truncates it)");
            }
            let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
            println!(
                "{} segments, {} records (head {}), {} bytes",
                reports.len(),
                log.head(),
                log.head(),
                bytes
            );
        }
        Command::Verify { dir } => {
            let log = EventLog::open_read_only(&dir)?;
            let reports = log.verify()?;
            let records: u64 = reports.iter().map(|r| r.records).sum();
            println!(
                "ok: {} segments, {records} records, every checksum valid",
                reports.len()
            );
            if let Some(torn) = log.recovery() {
                println!("{torn} (ignored; the next writer truncates it)");
            }
        }
        Command::Dump {
            dir,
            from,
            limit,
            hex_bytes,
        } => {
            let log = EventLog::open_read_only(&dir)?;
            let mut reader = log.read_from(from.min(log.head()))?;
            println!(
                "{:>12} {:>15} {:>7} {:>8}  payload",
                "offset", "event_time", "version", "len"
            );
            for _ in 0..limit {
                let Some(record) = reader.next_ref()? else {
                    break;
                };
                let shown = &record.payload[..record.payload.len().min(hex_bytes)];
                let hex: String = shown.iter().map(|b| format!("{b:02x}")).collect();
                let more = if record.payload.len() > shown.len() {
                    "…"
                } else {
                    ""
                };
                println!(
                    "{:>12} {:>15} {:>7} {:>8}  {hex}{more}",
                    record.offset,
                    record.event_time,
                    record.schema_version,
                    record.payload.len()
                );
            }
        }
    }
    Ok(())
}
