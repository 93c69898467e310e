//! Load on the serving layer, loopback only, bounded in time and requests: `daily_sales` served in
//! the Kappa architecture, N clients making point queries (`/v1/view/key/{key}`) and range queries
//! (`/v1/view?from=&to=&limit=`) while sales are posted at a steady rate.
//!
//! ```text
//! cargo run --release --example bench_serve -- [--clients 4] [--seconds 5] [--keys 1000]
//!     [--rate 20000] [--post 200] [--range-every 10] [--max-requests 2000000]
//! ```
//!
//! Phases, each `--seconds` long: (1) ingest alone as fast as one client can post (the maximum);
//! (2) ingest alone at the steady `--rate` records/s (`--post` records per request); (3) the same
//! steady ingest with the query clients running. It prints queries/s, point and range p50/p99, and
//! the ingestion rate of (3) against (2): the ratio is how much query load slows ingestion. Ingestion
//! counts only records the view covers (it waits for the view to catch up at the end of a phase).

use dataflow_core::Runner;
use dataflow_core::kappa::{EventLog, LogOptions};
use dataflow_core::log::Log;
use dataflow_core::serve::{ServeOptions, serve};
use dataflow_examples::{DailySales, Sale};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn product(i: u64) -> String {
    format!("product-{i:05}")
}

/// `n` sales as JSON Lines, spread over `keys` products, from `seed` on.
fn sales(seed: u64, n: u64, keys: u64) -> String {
    (seed..seed + n)
        .map(|i| {
            format!(
                "{{\"product\":\"{}\",\"quantity\":{},\"price\":2.50,\"date\":\"2026-11-01\"}}\n",
                product(i.wrapping_mul(2_654_435_761) % keys),
                1 + i % 3
            )
        })
        .collect()
}

struct Ingested {
    records: u64,
    seconds: f64,
}

/// Posts for `seconds`, `post` records per request, at `rate` records/s (0: as fast as possible);
/// then waits until the view covers everything posted.
fn ingest(
    base: &str,
    seconds: f64,
    rate: u64,
    post: u64,
    keys: u64,
    max_requests: u64,
) -> Ingested {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let started = Instant::now();
    let mut records = 0;
    let mut last = 0;
    for request in 0..max_requests {
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= seconds {
            break;
        }
        if rate > 0 {
            let due = Duration::from_secs_f64((request * post) as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let body = sales(request * post, post, keys);
        let answer = agent
            .post(&format!("{base}/v1/events"))
            .set("Content-Type", "application/x-ndjson")
            .send_string(&body)
            .expect("post")
            .into_string()
            .expect("answer");
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
        records += answer["appended"].as_u64().expect("appended");
        last = answer["to"].as_u64().expect("to");
    }
    agent
        .get(&format!(
            "{base}/v1/view?min_offset={last}&timeout_ms=60000&limit=1"
        ))
        .call()
        .expect("the view catches up");
    Ingested {
        records,
        seconds: started.elapsed().as_secs_f64(),
    }
}

struct Queried {
    point: Histogram<u64>,
    range: Histogram<u64>,
    seconds: f64,
}

/// One query client: point queries, and a range query every `range_every`-th, until `stop`.
fn query(
    base: &str,
    keys: u64,
    range_every: u64,
    seed: u64,
    stop: &AtomicBool,
    max_requests: u64,
) -> Queried {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut point = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut range = point.clone();
    let started = Instant::now();
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for request in 0..max_requests {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = state % keys;
        let is_range = range_every > 0 && request % range_every == 0;
        let url = if is_range {
            format!(
                "{base}/v1/view?from={}&to={}&limit=20",
                product(key),
                product(key + 20)
            )
        } else {
            format!("{base}/v1/view/key/{},2026-11-01", product(key))
        };
        let asked = Instant::now();
        let ok = match agent.get(&url).call() {
            Ok(response) => response.into_string().is_ok(),
            Err(ureq::Error::Status(404, _)) => true,
            Err(e) => panic!("query failed: {e}"),
        };
        assert!(ok);
        let micros = asked.elapsed().as_micros() as u64;
        let histogram = if is_range { &mut range } else { &mut point };
        histogram.record(micros.max(1)).expect("in bounds");
    }
    Queried {
        point,
        range,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn main() {
    let clients = arg("--clients", 4);
    let seconds = arg("--seconds", 5) as f64;
    let keys = arg("--keys", 1_000).max(1);
    let rate = arg("--rate", 20_000);
    let post = arg("--post", 200).max(1);
    let range_every = arg("--range-every", 10);
    let max_requests = arg("--max-requests", 2_000_000);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = EventLog::open(dir.path(), LogOptions::default()).expect("the log");
    let server =
        serve::<DailySales, Sale, EventLog>(Runner::new(), log.clone(), ServeOptions::default())
            .expect("serve");
    let base = format!("http://{}", server.local_addr());
    println!(
        "serving daily_sales on {base}: {clients} query clients, {keys} keys, {seconds} s per phase"
    );
    // Every key exists before the queries start.
    ingest(&base, f64::MAX, 0, keys, keys, 1);

    let max = ingest(&base, seconds, 0, post, keys, max_requests);
    println!(
        "ingest alone, as fast as possible: {:.0} records/s ({} records in {:.2} s)",
        max.records as f64 / max.seconds,
        max.records,
        max.seconds
    );
    let alone = ingest(&base, seconds, rate, post, keys, max_requests);
    let alone_rate = alone.records as f64 / alone.seconds;
    println!("ingest alone at {rate} records/s: {alone_rate:.0} records/s");

    let stop = AtomicBool::new(false);
    let (loaded, queried) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (base, stop) = (&base, &stop);
                scope.spawn(move || query(base, keys, range_every, c + 1, stop, max_requests))
            })
            .collect();
        let loaded = ingest(&base, seconds, rate, post, keys, max_requests);
        stop.store(true, Ordering::Relaxed);
        let queried: Vec<Queried> = handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect();
        (loaded, queried)
    });
    let mut point = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut range = point.clone();
    let mut queries = 0;
    let mut busiest = 0f64;
    for q in &queried {
        point.add(&q.point).expect("same bounds");
        range.add(&q.range).expect("same bounds");
        queries += q.point.len() + q.range.len();
        busiest = busiest.max(q.seconds);
    }
    let loaded_rate = loaded.records as f64 / loaded.seconds;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "queries: {:.0}/s ({} point, {} range in {busiest:.2} s)",
        queries as f64 / busiest,
        point.len(),
        range.len()
    );
    println!(
        "point query p50 {:.3} ms, p99 {:.3} ms; range query (20 keys) p50 {:.3} ms, p99 {:.3} ms",
        ms(&point, 0.5),
        ms(&point, 0.99),
        ms(&range, 0.5),
        ms(&range, 0.99)
    );
    println!(
        "ingest with query load at {rate} records/s: {loaded_rate:.0} records/s; with ÷ without = {:.2}",
        loaded_rate / alone_rate
    );
    println!(
        "log head {}, view offset {}",
        Log::head(&log),
        server.offset()
    );
    server.stop().expect("stop");
}
