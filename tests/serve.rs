//! End to end: `serve` on an ephemeral loopback port, driven with a real HTTP client. Posts in many
//! requests while other threads read; every answer is one consistent snapshot; the final view equals
//! the batch output; pages of one cursor never mix offsets; read-your-writes after every post; the
//! error statuses; subscriptions; Lambda == Kappa == batch; the refusal of Lambda for scans.

use dataflow_core::kappa::{EventLog, LogOptions};
use dataflow_core::log::{Log, Schema, Tail};
use dataflow_core::serve::{Architecture, Retention, ServeOptions, Server, serve};
use dataflow_core::time::{Emit, WindowOverrides};
use dataflow_core::{Pipeline, Record, Runner};
use dataflow_examples::{DailySales, FraudDetection, Sale, TimedSale, WindowedSales};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PRODUCTS: [&str; 4] = ["croissant", "espresso", "tea", "jam, apricot"];

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

/// A status and a JSON body, whatever the status.
fn call(request: ureq::Request, body: Option<(&str, &str)>) -> (u16, Value) {
    let result = match body {
        Some((content_type, text)) => request.set("Content-Type", content_type).send_string(text),
        None => request.call(),
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let mut text = String::new();
    response
        .into_reader()
        .read_to_string(&mut text)
        .expect("a body");
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    (status, value)
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, Value) {
    call(agent.get(url), None)
}

fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &str) -> (u16, Value) {
    call(agent.post(url), Some((content_type, body)))
}

fn start<P, I>(
    dir: &std::path::Path,
    architecture: Architecture,
    options: ServeOptions,
) -> (Server, EventLog, String)
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let log = EventLog::open(dir, LogOptions::default()).unwrap();
    let runner = Runner::<P>::new()
        .max_delay(Duration::from_secs(86_400))
        .windows(WindowOverrides {
            emit: Some(Emit::Updating),
            ..WindowOverrides::default()
        });
    let server = serve::<P, I, EventLog>(
        runner,
        log.clone(),
        ServeOptions {
            architecture,
            ..options
        },
    )
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    (server, log, base)
}

/// Deterministic pseudo-random numbers.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn sales_body(rng: &mut Lcg, n: usize) -> (String, Vec<Value>) {
    let mut body = String::new();
    let mut records = Vec::new();
    for _ in 0..n {
        let record = json!({
            "product": PRODUCTS[rng.next(4) as usize],
            "quantity": rng.next(5) + 1,
            "price": format!("{}.{:02}", rng.next(5), rng.next(100)).parse::<f64>().unwrap(),
            "date": format!("2026-11-0{}", rng.next(3) + 1),
        });
        body.push_str(&record.to_string());
        body.push('\n');
        records.push(record);
    }
    (body, records)
}

/// The records of the log before `offset`.
fn log_prefix<I: Schema + 'static>(log: &EventLog, offset: u64) -> Vec<I> {
    let mut tail = log.tail::<I>(0).unwrap();
    let mut records = Vec::new();
    while tail.position() < offset {
        assert!(
            tail.read(usize::MAX, &mut records).unwrap() > 0,
            "the log ends early"
        );
    }
    records.truncate(offset as usize);
    records
}

/// The batch output over `[0, offset)` of the log, as JSON values sorted by their text.
fn batch_rows<P, I>(log: &EventLog, offset: u64) -> Vec<Value>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let output = Runner::<P>::new()
        .batch(log_prefix::<I>(log, offset))
        .unwrap();
    let mut rows: Vec<Value> = output
        .iter_expanded()
        .map(|record| serde_json::to_value(record).unwrap())
        .collect();
    rows.sort_by_key(Value::to_string);
    rows
}

fn sorted_rows(answer: &Value) -> Vec<Value> {
    let mut rows = answer["rows"].as_array().unwrap().clone();
    rows.sort_by_key(Value::to_string);
    rows
}

fn counts(rows: &[Value]) -> u64 {
    rows.iter()
        .map(|r| r["transaction_count"].as_u64().unwrap())
        .sum()
}

#[test]
fn concurrent_posts_and_reads_see_consistent_snapshots_and_end_at_the_batch_output() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log, base) = start::<DailySales, Sale>(
        dir.path(),
        Architecture::Kappa,
        ServeOptions {
            step: 7,
            ..ServeOptions::default()
        },
    );
    let posters = 3;
    let posts = 15;
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for p in 0..posters {
            let (base, done) = (&base, &done);
            scope.spawn(move || {
                let agent = agent();
                let mut rng = Lcg(p as u64 + 1);
                for _ in 0..posts {
                    let n = 1 + rng.next(20) as usize;
                    let (body, records) = sales_body(&mut rng, n);
                    let (status, answer) = post(
                        &agent,
                        &format!("{base}/v1/events"),
                        "application/x-ndjson",
                        &body,
                    );
                    assert_eq!(status, 200, "{answer}");
                    assert_eq!(answer["appended"], records.len());
                    let to = answer["to"].as_u64().unwrap();
                    assert_eq!(to - answer["from"].as_u64().unwrap(), records.len() as u64);
                    // Read your write: the view covers it at once when asked to.
                    let (status, view) = get(
                        &agent,
                        &format!("{base}/v1/view?min_offset={to}&timeout_ms=20000"),
                    );
                    assert_eq!(status, 200, "{view}");
                    assert!(view["offset"].as_u64().unwrap() >= to);
                    let last = &records[records.len() - 1];
                    let key = format!(
                        "{},{}",
                        last["product"].as_str().unwrap(),
                        last["date"].as_str().unwrap()
                    );
                    let key = key.replace("jam, apricot", "\"jam, apricot\"");
                    let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
                    let (status, row) = get(
                        &agent,
                        &format!("{base}/v1/view/key/{encoded}?min_offset={to}&timeout_ms=20000"),
                    );
                    assert_eq!(status, 200, "{row}");
                    assert_eq!(row["key"], key);
                    assert_eq!(row["rows"][0]["product"], last["product"]);
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        for reader in 0..2 {
            let (base, done) = (&base, &done);
            scope.spawn(move || {
                let agent = agent();
                let started = Instant::now();
                let mut reads = 0;
                while done.load(std::sync::atomic::Ordering::SeqCst) < posters
                    && reads < 2_000
                    && started.elapsed() < Duration::from_secs(120)
                {
                    reads += 1;
                    if reader == 0 {
                        // One snapshot: the counts add up to the records before its offset.
                        let (status, view) = get(&agent, &format!("{base}/v1/view"));
                        assert_eq!(status, 200);
                        let rows = view["rows"].as_array().unwrap();
                        assert_eq!(counts(rows), view["offset"].as_u64().unwrap(), "{view}");
                    } else {
                        // Pages of one cursor: one offset, and together a consistent snapshot.
                        let (status, mut page) = get(&agent, &format!("{base}/v1/view?limit=2"));
                        assert_eq!(status, 200);
                        let offset = page["offset"].clone();
                        let mut rows = page["rows"].as_array().unwrap().clone();
                        while let Some(cursor) = page["next"].as_str() {
                            let (status, next) =
                                get(&agent, &format!("{base}/v1/view?limit=2&cursor={cursor}"));
                            assert_eq!(status, 200, "{next}");
                            assert_eq!(
                                next["offset"], offset,
                                "a cursor's pages never mix offsets"
                            );
                            rows.extend(next["rows"].as_array().unwrap().iter().cloned());
                            page = next;
                        }
                        assert_eq!(counts(&rows), offset.as_u64().unwrap());
                        let keys: Vec<String> = rows
                            .iter()
                            .map(|r| format!("{}/{}", r["product"], r["date"]))
                            .collect();
                        let mut unique = keys.clone();
                        unique.dedup();
                        assert_eq!(keys, unique, "no key twice across pages");
                    }
                }
            });
        }
    });
    let head = Log::head(&log);
    let agent = agent();
    let (_, view) = get(
        &agent,
        &format!("{base}/v1/view?min_offset={head}&timeout_ms=20000"),
    );
    assert_eq!(view["offset"].as_u64().unwrap(), head);
    assert_eq!(view["pipeline"], "daily_sales");
    assert_eq!(view["version"], DailySales::version());
    assert_eq!(
        sorted_rows(&view),
        batch_rows::<DailySales, Sale>(&log, head)
    );
    // Ranges and prefixes over the key.
    let (_, range) = get(&agent, &format!("{base}/v1/view?from=espresso&to=jam"));
    assert!(
        range["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["product"] == "espresso")
    );
    let (_, prefixed) = get(&agent, &format!("{base}/v1/view?prefix=%22jam"));
    assert!(!prefixed["rows"].as_array().unwrap().is_empty());
    assert!(
        prefixed["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["product"] == "jam, apricot")
    );
    // An earlier retained snapshot.
    let (status, earlier) = get(&agent, &format!("{base}/v1/view?as_of={}", head - 1));
    assert_eq!(status, 200, "{earlier}");
    assert!(earlier["offset"].as_u64().unwrap() < head);
    assert_eq!(
        counts(earlier["rows"].as_array().unwrap()),
        earlier["offset"].as_u64().unwrap()
    );
    let (_, plan) = get(&agent, &format!("{base}/v1/plan"));
    assert_eq!(plan["view_key"], json!(["product", "date"]));
    assert_eq!(plan["mergeability"]["mergeable"], true);
    server.stop().unwrap();
}

#[test]
fn bad_requests_get_json_errors_and_nothing_bad_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log, base) = start::<DailySales, Sale>(
        dir.path(),
        Architecture::Kappa,
        ServeOptions {
            max_body: 1 << 20,
            retention: Retention {
                period: Duration::from_secs(60),
                max: 2,
                max_pinned: 4,
            },
            ..ServeOptions::default()
        },
    );
    let agent = agent();
    let url = |path: &str| format!("{base}{path}");
    let expect = |(status, body): (u16, Value), want: u16| {
        assert_eq!(status, want, "{body}");
        assert!(
            body["error"].is_string() && body["detail"].is_string(),
            "{body}"
        );
        body
    };
    expect(get(&agent, &url("/v2/nothing")), 404);
    expect(get(&agent, &url("/v1/view?limit=ten")), 400);
    expect(get(&agent, &url("/v1/view?limit=0")), 400);
    expect(get(&agent, &url("/v1/view?colour=red")), 400);
    expect(get(&agent, &url("/v1/view?cursor=garbage")), 400);
    expect(get(&agent, &url("/v1/view?from=%22open")), 400);
    expect(get(&agent, &url("/v1/view?from_time=5")), 400);
    expect(get(&agent, &url("/v1/view/key/%22unterminated")), 400);
    expect(get(&agent, &url("/v1/view/key/nothing,2026-11-01")), 404);
    expect(call(agent.delete(&url("/v1/view")), None), 405);
    expect(
        post(&agent, &url("/v1/events"), "application/json", "{}"),
        415,
    );
    expect(
        call(agent.post(&url("/v1/events")), Some(("text/plain", "x"))),
        415,
    );
    expect(post(&agent, &url("/v1/batch"), "application/json", ""), 400);
    let waited = expect(
        get(&agent, &url("/v1/view?min_offset=1000&timeout_ms=100")),
        503,
    );
    assert_eq!(waited["offset"], 0);

    // Malformed records: counted, listed, none appended.
    let body = "{\"product\":\"tea\",\"quantity\":1,\"price\":2.0,\"date\":\"2026-11-01\"}\n\
                not json\n\
                {\"product\":\"tea\",\"quantity\":\"many\",\"price\":2.0,\"date\":\"2026-11-01\"}\n\
                {\"product\":\"jam\",\"quantity\":2,\"price\":3.5,\"date\":\"2026-11-02\"}\n";
    let (status, posted) = post(&agent, &url("/v1/events"), "application/x-ndjson", body);
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["appended"], 2);
    assert_eq!(posted["dead_lettered"], 2);
    assert_eq!(posted["errors"][0]["line"], 2);
    assert_eq!(posted["errors"][1]["line"], 3);
    assert_eq!(Log::head(&log), 2);
    let csv = "product,quantity,price,date\ntea,3,2.10,2026-11-01\ntea,x,1,2026-11-01\n";
    let (status, posted) = post(&agent, &url("/v1/events"), "text/csv; charset=utf-8", csv);
    assert_eq!(status, 200, "{posted}");
    assert_eq!(
        (
            posted["appended"].as_u64(),
            posted["dead_lettered"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (posted["from"].as_u64(), posted["to"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(posted["errors"][0]["line"], 3);
    let (_, row) = get(&agent, &url("/v1/view/key/tea,2026-11-01?min_offset=3"));
    assert_eq!(row["rows"][0]["transaction_count"], 2);

    // A 20 MB body: 413, nothing appended.
    let line = "{\"product\":\"tea\",\"quantity\":1,\"price\":2.0,\"date\":\"2026-11-01\"}\n";
    let big = line.repeat((20 << 20) / line.len() + 1);
    assert!(big.len() >= 20 << 20);
    // The server answers 413 from the declared length, before the body arrives.
    let mut raw = TcpStream::connect(server.local_addr()).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        raw,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = BufReader::new(raw).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("\"error\":\"payload_too_large\""),
        "{answer}"
    );
    // A client that sends it all the same gets the 413, or a closed connection while still writing.
    match agent
        .post(&url("/v1/events"))
        .set("Content-Type", "application/x-ndjson")
        .send_string(&big)
    {
        Err(ureq::Error::Status(413, _)) | Err(ureq::Error::Transport(_)) => {}
        other => panic!("expected 413, got {other:?}"),
    }
    // A client that disconnects in the middle of its body: nothing appended, the server goes on.
    let mut raw = TcpStream::connect(server.local_addr()).unwrap();
    write!(
        raw,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n{{\"product\":\"tea\",\"quantity\":1,"
    )
    .unwrap();
    drop(raw);
    // A streamed (chunked) body over the limit: 413 too.
    let chunked = std::io::Cursor::new(big.into_bytes());
    let response = agent
        .post(&url("/v1/events"))
        .set("Content-Type", "application/x-ndjson")
        .send(chunked);
    match response {
        Err(ureq::Error::Status(413, _)) => {}
        Err(ureq::Error::Transport(_)) => {} // the server may close while the client still writes
        other => panic!("expected 413, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(Log::head(&log), 3);
    let (status, health) = get(&agent, &url("/v1/health"));
    assert_eq!(status, 200);
    assert_eq!(health["status"], "serving");
    assert_eq!(health["head"], 3);

    // Retention: two snapshots kept, so offset 0 is gone.
    for _ in 0..3 {
        let line = "{\"product\":\"tea\",\"quantity\":1,\"price\":2.0,\"date\":\"2026-11-03\"}\n";
        let (_, posted) = post(&agent, &url("/v1/events"), "application/x-ndjson", line);
        let to = posted["to"].as_u64().unwrap();
        get(&agent, &url(&format!("/v1/view?min_offset={to}")));
    }
    // A cursor names its snapshot: one never published (or no longer retained) is gone, and a
    // cursor is not reused with other filters.
    let (_, page) = get(&agent, &url("/v1/view?limit=1"));
    let cursor = page["next"]
        .as_str()
        .expect("two keys, one per page")
        .to_string();
    let (_, hash_and_key) = cursor.split_once('.').unwrap();
    expect(
        get(
            &agent,
            &url(&format!("/v1/view?limit=1&cursor=12345.{hash_and_key}")),
        ),
        410,
    );
    expect(
        get(&agent, &url(&format!("/v1/view?limit=2&cursor={cursor}"))),
        400,
    );
    let (status, second) = get(&agent, &url(&format!("/v1/view?limit=1&cursor={cursor}")));
    assert_eq!(status, 200);
    assert_eq!(second["offset"], page["offset"]);
    let gone = expect(get(&agent, &url("/v1/view?as_of=0")), 410);
    assert!(gone["retained_from"].as_u64().unwrap() > 0, "{gone}");
    server.stop().unwrap();
}

/// Reads NDJSON lines of a `/v1/changes` response until `until` says stop.
fn read_changes(
    addr: std::net::SocketAddr,
    from: u64,
    mut until: impl FnMut(&Value) -> bool,
) -> Vec<Value> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /v1/changes?from_offset={from} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // Headers.
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut lines = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let text = line.trim();
        // Chunk sizes and blank lines of the chunked encoding.
        if text.is_empty() || !text.starts_with('{') {
            continue;
        }
        for json_line in text.split('\n') {
            let value: Value = serde_json::from_str(json_line).unwrap();
            let stop = until(&value);
            lines.push(value);
            if stop {
                return lines;
            }
        }
    }
    lines
}

#[test]
fn changes_add_up_to_the_view_and_a_subscriber_that_never_reads_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log, base) = start::<DailySales, Sale>(
        dir.path(),
        Architecture::Kappa,
        ServeOptions {
            subscriber_buffer: 4,
            ..ServeOptions::default()
        },
    );
    let agent = agent();
    let mut rng = Lcg(7);
    let (body, _) = sales_body(&mut rng, 30);
    post(
        &agent,
        &format!("{base}/v1/events"),
        "application/x-ndjson",
        &body,
    );
    // A subscriber that never reads.
    let mut idle = TcpStream::connect(server.local_addr()).unwrap();
    write!(
        idle,
        "GET /v1/changes?from_offset=0 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let reader = std::thread::spawn({
        let addr = server.local_addr();
        move || {
            read_changes(addr, 0, |line| {
                line["progress"]["offset"].as_u64() >= Some(330)
            })
        }
    });
    // Posts go on and are served at once although one subscriber does not read.
    for i in 0..30 {
        let body: String = (0..10)
            .map(|j| format!("{{\"product\":\"p{i}-{j}-{}\",\"quantity\":1,\"price\":1.5,\"date\":\"2026-11-01\"}}\n", "x".repeat(50_000)))
            .collect();
        let (status, posted) = post(
            &agent,
            &format!("{base}/v1/events"),
            "application/x-ndjson",
            &body,
        );
        assert_eq!(status, 200);
        let to = posted["to"].as_u64().unwrap();
        let started = Instant::now();
        let (status, _) = get(
            &agent,
            &format!("{base}/v1/view?min_offset={to}&timeout_ms=10000&limit=1"),
        );
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    let lines = reader.join().unwrap();
    // The changes, summed, are the view.
    let mut sums: std::collections::BTreeMap<String, i64> = Default::default();
    for line in lines.iter().filter(|l| l.get("record").is_some()) {
        assert!(line["offset"].as_u64().unwrap() <= 330);
        *sums.entry(line["record"].to_string()).or_default() += line["diff"].as_i64().unwrap();
    }
    sums.retain(|_, n| *n != 0);
    let mut from_changes: Vec<String> = sums.keys().cloned().collect();
    from_changes.sort();
    let (_, view) = get(&agent, &format!("{base}/v1/view?as_of=330"));
    assert_eq!(view["offset"], 330);
    let from_view: Vec<String> = sorted_rows(&view).iter().map(Value::to_string).collect();
    let mut from_view = from_view;
    from_view.sort();
    assert_eq!(from_changes, from_view);
    let (_, health) = get(&agent, &format!("{base}/v1/health"));
    assert!(
        health["dropped_subscribers"].as_u64().unwrap() >= 1,
        "{health}"
    );
    let mut rest = Vec::new();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = idle.read_to_end(&mut rest);
    assert!(Log::head(&log) >= 330);
    // A subscriber that disconnects in the middle of its stream goes away; the server goes on.
    let before = get(&agent, &format!("{base}/v1/health")).1["subscribers"]
        .as_u64()
        .unwrap();
    let mut leaving = TcpStream::connect(server.local_addr()).unwrap();
    write!(
        leaving,
        "GET /v1/changes?from_offset=0 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 512];
    let _ = leaving.read(&mut first).unwrap();
    drop(leaving);
    let line = "{\"product\":\"tea\",\"quantity\":1,\"price\":2.0,\"date\":\"2026-11-03\"}\n";
    let (_, posted) = post(
        &agent,
        &format!("{base}/v1/events"),
        "application/x-ndjson",
        line,
    );
    let to = posted["to"].as_u64().unwrap();
    let (status, _) = get(&agent, &format!("{base}/v1/view?min_offset={to}&limit=1"));
    assert_eq!(status, 200);
    let (_, posted) = post(
        &agent,
        &format!("{base}/v1/events"),
        "application/x-ndjson",
        line,
    );
    let to = posted["to"].as_u64().unwrap();
    let (_, health) = get(&agent, &format!("{base}/v1/health?"));
    assert!(health["offset"].as_u64().unwrap() <= to);
    assert!(
        health["subscribers"].as_u64().unwrap() <= before,
        "{health}"
    );
    // Changes from an offset no longer kept would be 410; from a recent one, only later steps.
    let later = read_changes(server.local_addr(), 320, |line| {
        line.get("progress").is_some()
    });
    assert!(
        later
            .iter()
            .all(|l| l.get("record").is_none() || l["offset"].as_u64() > Some(320))
    );
    server.stop().unwrap();
}

/// Checks that every answer of `base` at its offset is the batch output over `[0, offset)`.
fn assert_is_batch<P, I>(agent: &ureq::Agent, base: &str, log: &EventLog, min_offset: u64) -> Value
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let (status, view) = get(
        agent,
        &format!("{base}/v1/view?min_offset={min_offset}&timeout_ms=20000"),
    );
    assert_eq!(status, 200, "{view}");
    let offset = view["offset"].as_u64().unwrap();
    assert_eq!(
        sorted_rows(&view),
        batch_rows::<P, I>(log, offset),
        "at offset {offset}: {view}"
    );
    view
}

fn lambda_equals_kappa_equals_batch<P, I>(posts: Vec<(String, bool)>)
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
{
    let dir = tempfile::tempdir().unwrap();
    let (kappa, log, kappa_base) = start::<P, I>(
        dir.path(),
        Architecture::Kappa,
        ServeOptions {
            step: 5,
            ..ServeOptions::default()
        },
    );
    let lambda_log = log.clone();
    let lambda = serve::<P, I, EventLog>(
        Runner::<P>::new()
            .max_delay(Duration::from_secs(86_400))
            .windows(WindowOverrides {
                emit: Some(Emit::Updating),
                ..WindowOverrides::default()
            }),
        lambda_log,
        ServeOptions {
            architecture: Architecture::Lambda,
            step: 3,
            ..ServeOptions::default()
        },
    )
    .unwrap();
    let lambda_base = format!("http://{}", lambda.local_addr());
    let agent = agent();
    let mut boundary = 0;
    for (body, batch_now) in posts {
        let (status, posted) = post(
            &agent,
            &format!("{kappa_base}/v1/events"),
            "application/x-ndjson",
            &body,
        );
        assert_eq!(status, 200, "{posted}");
        let to = posted["to"].as_u64().unwrap();
        if batch_now {
            let (status, _) = post(
                &agent,
                &format!("{lambda_base}/v1/batch"),
                "application/json",
                "",
            );
            assert_eq!(status, 202);
            let started = Instant::now();
            while boundary < to && started.elapsed() < Duration::from_secs(30) {
                let (_, health) = get(&agent, &format!("{lambda_base}/v1/health"));
                boundary = health["boundary"].as_u64().unwrap_or(0);
            }
            assert!(
                boundary >= to,
                "the batch layer moved the boundary to {boundary}"
            );
        }
        assert_is_batch::<P, I>(&agent, &kappa_base, &log, to);
        let view = assert_is_batch::<P, I>(&agent, &lambda_base, &log, to);
        assert_eq!(view["architecture"], "lambda");
        assert!(view["boundary"].as_u64().unwrap() <= view["offset"].as_u64().unwrap());
    }
    let head = Log::head(&log);
    let kappa_view = assert_is_batch::<P, I>(&agent, &kappa_base, &log, head);
    let lambda_view = assert_is_batch::<P, I>(&agent, &lambda_base, &log, head);
    assert_eq!(sorted_rows(&kappa_view), sorted_rows(&lambda_view));
    lambda.stop().unwrap();
    kappa.stop().unwrap();
}

fn timed_sales_body(seed: u64, n: usize) -> String {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| {
            json!({
                "product": PRODUCTS[rng.next(3) as usize],
                "quantity": rng.next(4) + 1,
                "price": format!("{}.{:02}", rng.next(4), rng.next(100)).parse::<f64>().unwrap(),
                "ts": 1_764_000_000_000u64 + rng.next(4 * 3_600_000),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    #[test]
    fn daily_sales_lambda_equals_kappa_equals_batch(
        posts in proptest::collection::vec((1u64..1000, 1usize..12, any::<bool>()), 3..7)
    ) {
        let posts = posts
            .into_iter()
            .map(|(seed, n, batch)| (sales_body(&mut Lcg(seed), n).0, batch))
            .collect();
        lambda_equals_kappa_equals_batch::<DailySales, Sale>(posts);
    }

    #[test]
    fn windowed_sales_lambda_equals_kappa_equals_batch(
        posts in proptest::collection::vec((1u64..1000, 1usize..12, any::<bool>()), 3..7)
    ) {
        let posts = posts
            .into_iter()
            .map(|(seed, n, batch)| (timed_sales_body(seed, n), batch))
            .collect();
        lambda_equals_kappa_equals_batch::<WindowedSales, TimedSale>(posts);
    }
}

#[test]
fn windowed_answers_mark_open_windows_and_select_by_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _log, base) =
        start::<WindowedSales, TimedSale>(dir.path(), Architecture::Kappa, ServeOptions::default());
    let agent = agent();
    let hour = 3_600_000u64;
    let t0 = 1_764_000_000_000u64 / hour * hour;
    // The watermark trails the greatest event time by a day (see `start`): post a record two days
    // later to close the first windows.
    let body: String = [
        (0, "tea"),
        (hour + 5, "tea"),
        (2 * hour + 1, "jam"),
        (50 * hour, "tea"),
    ]
    .iter()
    .map(|(t, p)| {
        format!(
            "{{\"product\":\"{p}\",\"quantity\":1,\"price\":2.5,\"ts\":{}}}\n",
            t0 + t
        )
    })
    .collect();
    let (_, posted) = post(
        &agent,
        &format!("{base}/v1/events"),
        "application/x-ndjson",
        &body,
    );
    let to = posted["to"].as_u64().unwrap();
    let (_, view) = get(&agent, &format!("{base}/v1/view?min_offset={to}"));
    let rows = view["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{view}");
    let open: Vec<u64> = view["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    let open_starts: Vec<u64> = open
        .iter()
        .map(|&i| rows[i as usize]["window_start"].as_u64().unwrap())
        .collect();
    assert_eq!(open_starts, vec![t0 + 50 * hour], "{view}");
    let (_, selected) = get(
        &agent,
        &format!(
            "{base}/v1/view?from_time={}&to_time={}",
            t0 + hour,
            t0 + 2 * hour
        ),
    );
    let selected = selected["rows"].as_array().unwrap();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0]["window_start"], t0 + hour);
    server.stop().unwrap();
}

#[test]
fn lambda_is_refused_for_a_scan_with_the_reason_and_kappa_named() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), LogOptions::default()).unwrap();
    let refused = serve::<FraudDetection, _, EventLog>(
        Runner::new(),
        log,
        ServeOptions {
            architecture: Architecture::Lambda,
            ..ServeOptions::default()
        },
    );
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("scan"), "{message}");
    assert!(message.contains("--architecture kappa"), "{message}");
}

mod common;

/// The `serve` subcommand of an example's command line, fed with the sample data over HTTP.
#[test]
fn the_command_line_serves_the_sample_sales_and_refuses_lambda_for_fraud_detection() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut child = std::process::Command::new(common::example("daily_sales"))
        .args([
            "serve",
            "--log",
            log.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--architecture", "lambda", "--batch-every", "1h"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        assert!(
            first.starts_with("serving daily_sales (version "),
            "{first}"
        );
        assert!(first.contains(", lambda) on http://127.0.0.1:"), "{first}");
        let base = first.trim().rsplit(' ').next().unwrap().to_string();
        let agent = agent();
        let csv = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/data/sales.csv"
        ))
        .unwrap();
        let (status, posted) = post(&agent, &format!("{base}/v1/events"), "text/csv", &csv);
        assert_eq!(status, 200, "{posted}");
        assert_eq!(
            (
                posted["appended"].as_u64(),
                posted["dead_lettered"].as_u64()
            ),
            (Some(40), Some(3))
        );
        assert_eq!(posted["errors"].as_array().unwrap().len(), 3);
        let (status, _) = post(&agent, &format!("{base}/v1/batch"), "application/json", "");
        assert_eq!(status, 202);
        let started = Instant::now();
        let view = loop {
            let (_, view) = get(&agent, &format!("{base}/v1/view?min_offset=40"));
            if view["boundary"] == 40 || started.elapsed() > Duration::from_secs(30) {
                break view;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(view["boundary"], 40, "{view}");
        assert_eq!(counts(view["rows"].as_array().unwrap()), 40);
        let batch = common::run("daily_sales", &["--input", "examples/data/sales.csv"]);
        let mut expected: Vec<Value> = common::stdout(&batch)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        expected.sort_by_key(Value::to_string);
        assert_eq!(sorted_rows(&view), expected);
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    let refused = std::process::Command::new(common::example("fraud_detection"))
        .args([
            "serve",
            "--log",
            log.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--architecture",
            "lambda",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("scan") && message.contains("--architecture kappa"),
        "{message}"
    );
}

#[test]
fn the_batch_layer_recomputes_every_batch_every_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (server, log, base) = start::<DailySales, Sale>(
        dir.path(),
        Architecture::Lambda,
        ServeOptions {
            batch_every: Some(Duration::from_millis(200)),
            ..ServeOptions::default()
        },
    );
    let agent = agent();
    for seed in 1..=3 {
        let (body, _) = sales_body(&mut Lcg(seed), 10);
        let (_, posted) = post(
            &agent,
            &format!("{base}/v1/events"),
            "application/x-ndjson",
            &body,
        );
        let to = posted["to"].as_u64().unwrap();
        let started = Instant::now();
        let view = loop {
            let (_, view) = get(&agent, &format!("{base}/v1/view?min_offset={to}"));
            if view["boundary"] == to || started.elapsed() > Duration::from_secs(30) {
                break view;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(view["boundary"], to, "{view}");
        assert_eq!(sorted_rows(&view), batch_rows::<DailySales, Sale>(&log, to));
    }
    server.stop().unwrap();
}
