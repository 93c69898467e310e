//! `architectures run`: the four deployments, one after the other, each a child process driven
//! through the same HTTP front door, measured from the run itself.
//!
//! Per deployment: (1) start over a history of H events; (2) a steady phase at the offered rate:
//! freshness, CPU and memory; (3) a ramp of offered rates: the highest one sustained with p99
//! freshness under the bound; (4) SIGKILL of the child mid-ingest, restart, and the events lost or
//! counted twice; (5) version 2 deployed while events keep arriving: time until its answers are
//! exact over all history, and what queries return meanwhile. A poller asks `/v1/view?limit=1`
//! all along (freshness), a sampler asks for the whole view every few hundred milliseconds and
//! compares it with the oracle at the offset it reports (correctness).

use crate::matrix::{
    Complexity, Correctness, Cost, Freshness, Machine, Matrix, Measured, RampStep, Reprocessing,
    Restart, Workload,
};
use crate::node::{Deployment, deployment_lines};
use crate::workload::{Event, Kind, Oracle, ViewMap, read_rows};
use dataflow_core::kappa::{EventLog, LogOptions};
use hdrhistogram::Histogram;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What `run` measures with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Deployments to run.
    pub deployments: Vec<Deployment>,
    /// Which view.
    pub workload: Kind,
    /// Histories: every phase at the first, reprocessing only at the others.
    pub histories: Vec<u64>,
    /// Offered rate of the steady phase, events/s.
    pub rate: u64,
    /// Batch and lambda recompute period.
    pub period: Duration,
    /// Length of the steady phase.
    pub duration: Duration,
    /// Freshness bound of the sustained-rate ramp.
    pub bound: Duration,
    /// Length of each ramp step.
    pub ramp_step: Duration,
    /// Ramp: each step offers this many times the previous one.
    pub ramp_factor: u64,
    /// Ramp: the highest rate offered.
    pub max_rate: u64,
    /// Length of the phase with the kill.
    pub kill_phase: Duration,
    /// Products (keys of the view: products × 28 days).
    pub products: u16,
    /// Records per pipeline step.
    pub step: usize,
    /// Scratch directory for the logs.
    pub work: PathBuf,
    /// The command line, for the record.
    pub command: String,
    /// Whether this is the `--quick` run.
    pub quick: bool,
}

/// The address queries and posts go to: which child, which version, and where its offsets start in
/// the run's sequence of events (the stream restarts its offsets with each process).
#[derive(Clone, Debug)]
struct Door {
    url: String,
    version: u8,
    base: u64,
    epoch: u64,
}

/// One post: sent at `sent`, acknowledged with the events up to global offset `to`.
#[derive(Clone, Copy, Debug)]
struct Post {
    sent: Instant,
    to: u64,
    phase: u32,
}

/// One answer of the poller: received at `at`, covering the events before global offset `offset`.
#[derive(Clone, Copy, Debug)]
struct Poll {
    at: Instant,
    offset: u64,
}

/// One whole-view answer compared with the oracle.
#[derive(Clone, Debug)]
struct Sample {
    version: u8,
    exact: Option<bool>,
    offset: u64,
    at: Instant,
}

/// The offered rate now and the phase it belongs to.
#[derive(Clone, Copy, Debug)]
struct Offer {
    rate: u64,
    phase: u32,
    started: Instant,
    sent: u64,
}

/// What the harness's threads share.
struct Shared {
    door: Mutex<Door>,
    events: Mutex<Vec<Event>>,
    posts: Mutex<Vec<Post>>,
    polls: Mutex<Vec<Poll>>,
    samples: Mutex<Vec<Sample>>,
    offer: Mutex<Offer>,
    stored_unacknowledged: Mutex<u64>,
    failure: Mutex<Option<String>>,
    stop: AtomicBool,
    in_flight: AtomicBool,
    products: u16,
    durable: bool,
    kind: Kind,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn door(&self) -> Door {
        lock(&self.door).clone()
    }

    fn acked(&self) -> u64 {
        lock(&self.events).len() as u64
    }

    /// The acknowledged events `[from, to)`.
    fn events(&self, from: u64, to: u64) -> Vec<Event> {
        lock(&self.events)[from as usize..to as usize].to_vec()
    }

    fn fail(&self, message: String) {
        lock(&self.failure).get_or_insert(message);
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Fallible<Value> {
    let text = agent.get(url).call()?.into_string()?;
    Ok(serde_json::from_str(&text)?)
}

/// A running child: the node process, its standard input and the `ready` lines it prints.
struct Node {
    child: Child,
    stdin: ChildStdin,
    ready: Receiver<(u8, String)>,
}

impl Node {
    fn spawn(
        settings: &Settings,
        deployment: Deployment,
        log: &Path,
        history: u64,
    ) -> Fallible<Node> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("node")
            .args(["--deployment", deployment.name()])
            .arg("--workload")
            .arg(match settings.workload {
                Kind::Daily => "daily",
                Kind::Windowed => "windowed",
            })
            .arg("--products")
            .arg(settings.products.to_string())
            .arg("--period-ms")
            .arg(settings.period.as_millis().to_string())
            .arg("--step")
            .arg(settings.step.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if deployment.durable() {
            command.arg("--log").arg(log);
        } else {
            command.arg("--history").arg(history.to_string());
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut words = line.split_whitespace();
                if let (Some("ready"), Some(version), Some(url)) =
                    (words.next(), words.next(), words.next())
                {
                    let version = version.parse().unwrap_or(0);
                    if tx.send((version, url.to_string())).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Node {
            child,
            stdin,
            ready,
        })
    }

    fn wait_ready(&self, limit: Duration) -> Fallible<(u8, String)> {
        match self.ready.recv_timeout(limit) {
            Ok(ready) => Ok(ready),
            Err(RecvTimeoutError::Timeout) => Err("the node did not start in time".into()),
            Err(RecvTimeoutError::Disconnected) => {
                Err("the node exited before it was ready".into())
            }
        }
    }

    fn command(&mut self, line: &str) -> Fallible<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()?;
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL.
    fn kill(mut self) -> Fallible<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Closes standard input: the node stops its servers and exits.
    fn stop(mut self) -> Fallible<()> {
        drop(self.stdin);
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                self.child.kill()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.wait()?;
        Ok(())
    }
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// A field of `/proc/PID/status` (`VmHWM`, `Threads`) as a number (kB for sizes).
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The machine, from `/proc`.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok());
    Machine {
        cpu,
        cores,
        memory_gib: (memory_kib as f64 / 1_048_576.0 * 10.0).round() / 10.0,
        load,
    }
}

/// Writes `history` generated events into a new log in `dir`.
fn write_history(dir: &Path, history: u64, products: u16, kind: Kind) -> Fallible<()> {
    let log = EventLog::open(dir, LogOptions::default())?;
    let mut batch = log.batch();
    for seq in 0..history {
        let event = Event::generate(seq, products);
        match kind {
            Kind::Daily => batch.push(event.event_time(), &event.sale())?,
            Kind::Windowed => batch.push(event.ts(), &event.timed_sale())?,
        }
        if batch.len() >= 20_000 {
            batch.commit()?;
            batch = log.batch();
        }
    }
    batch.commit()?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Fallible<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs every deployment and returns the matrix.
pub fn run(settings: &Settings) -> Fallible<Matrix> {
    let started = Instant::now();
    let ticks = clock_ticks();
    let mut templates = Vec::new();
    for &history in &settings.histories {
        let dir = settings
            .work
            .join(format!("history-{}-{history}", settings.workload.stem()));
        if !dir.exists() {
            let t = Instant::now();
            write_history(&dir, history, settings.products, settings.workload)?;
            eprintln!(
                "history of {history} events written in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
        templates.push((history, dir));
    }
    let mut measured = Vec::new();
    for &deployment in &settings.deployments {
        let mut result = None;
        for (i, (history, template)) in templates.iter().enumerate() {
            let log = settings
                .work
                .join(format!("{}-{history}", deployment.name()));
            if log.exists() {
                std::fs::remove_dir_all(&log)?;
            }
            if deployment.durable() {
                copy_dir(template, &log)?;
            }
            let t = Instant::now();
            if i == 0 {
                result = Some(measure(settings, deployment, &log, *history, ticks)?);
            } else if let Some(result) = result.as_mut().filter(|_| deployment.durable()) {
                // The stream has no history to replay at any size: measured at the first only.
                let reprocessing = reprocess_only(settings, deployment, &log, *history)?;
                result.reprocessing.push(reprocessing);
            }
            std::fs::remove_dir_all(&log).ok();
            eprintln!(
                "{} at history {history}: {:.1} s",
                deployment.name(),
                t.elapsed().as_secs_f64()
            );
        }
        measured.extend(result);
    }
    Ok(Matrix {
        date: today(),
        machine: machine(),
        command: settings.command.clone(),
        quick: settings.quick,
        seconds: started.elapsed().as_secs_f64(),
        workload: Workload {
            kind: settings.workload,
            pipeline: settings.workload.describe().into(),
            products: settings.products,
            keys: u64::from(settings.products) * crate::workload::DAYS,
            rate: settings.rate,
            period_s: settings.period.as_secs_f64(),
            duration_s: settings.duration.as_secs_f64(),
            bound_ms: settings.bound.as_secs_f64() * 1000.0,
            histories: settings.histories.clone(),
        },
        architectures: measured,
    })
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".into(), |s| s.trim().to_string())
}

/// The threads of one deployment's measurement: poster, poller, sampler.
struct Harness {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Harness {
    fn start(
        door: Door,
        history: u64,
        settings: &Settings,
        durable: bool,
        sample_every: Duration,
    ) -> Harness {
        let (products, kind) = (settings.products, settings.workload);
        let events: Vec<Event> = (0..history)
            .map(|seq| Event::generate(seq, products))
            .collect();
        let shared = Arc::new(Shared {
            door: Mutex::new(door),
            events: Mutex::new(events),
            posts: Mutex::new(Vec::new()),
            polls: Mutex::new(Vec::new()),
            samples: Mutex::new(Vec::new()),
            offer: Mutex::new(Offer {
                rate: 0,
                phase: 0,
                started: Instant::now(),
                sent: 0,
            }),
            stored_unacknowledged: Mutex::new(0),
            failure: Mutex::new(None),
            stop: AtomicBool::new(false),
            in_flight: AtomicBool::new(false),
            products,
            durable,
            kind,
        });
        let threads = vec![
            spawn_named("poster", Arc::clone(&shared), poster),
            spawn_named("poller", Arc::clone(&shared), poller),
            {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || sampler(&shared, sample_every))
            },
        ];
        Harness { shared, threads }
    }

    /// Offers `rate` events/s from now on, as phase `phase`.
    fn offer(&self, rate: u64, phase: u32) {
        *lock(&self.shared.offer) = Offer {
            rate,
            phase,
            started: Instant::now(),
            sent: 0,
        };
    }

    /// Stops offering and waits until no post is in flight.
    fn pause(&self) {
        self.offer(0, 0);
        let started = Instant::now();
        while self.shared.in_flight.load(Ordering::SeqCst)
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn check(&self) -> Fallible<()> {
        match lock(&self.shared.failure).clone() {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }

    /// Sleeps `duration`, failing early if a thread failed.
    fn sleep(&self, duration: Duration) -> Fallible<()> {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.check()?;
            std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
        }
        self.check()
    }

    /// The newest poll, if any arrived after `since`.
    fn last_poll_since(&self, since: Instant) -> Option<Poll> {
        lock(&self.shared.polls)
            .last()
            .copied()
            .filter(|p| p.at >= since)
    }

    /// Waits until the view covers global offset `offset`; the time it took, or `None` after `limit`.
    fn wait_covered(&self, offset: u64, limit: Duration) -> Fallible<Option<Duration>> {
        let started = Instant::now();
        while started.elapsed() < limit {
            self.check()?;
            if self
                .last_poll_since(started)
                .is_some_and(|p| p.offset >= offset)
            {
                return Ok(Some(started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(None)
    }

    fn finish(self) -> Fallible<()> {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads {
            let _ = thread.join();
        }
        match lock(&self.shared.failure).clone() {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }
}

fn spawn_named(
    name: &str,
    shared: Arc<Shared>,
    f: fn(&Shared) -> Fallible<()>,
) -> std::thread::JoinHandle<()> {
    let name = name.to_string();
    std::thread::spawn(move || {
        if let Err(e) = f(&shared) {
            shared.fail(format!("{name}: {e}"));
        }
    })
}

/// Posts events at the offered rate, in requests of at most a hundredth of a second's worth; a
/// post that fails (the child was killed) is retried on the next child, unless the log shows it was
/// stored before the kill.
fn poster(shared: &Shared) -> Fallible<()> {
    let agent = agent();
    let mut seq = shared.acked();
    while !shared.stop.load(Ordering::SeqCst) {
        let offer = *lock(&shared.offer);
        if offer.rate == 0 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let due = (offer.rate as f64 * offer.started.elapsed().as_secs_f64()) as u64;
        let per_post = (offer.rate / 100).max(1);
        if due <= offer.sent {
            let next = Duration::from_secs_f64((offer.sent + 1) as f64 / offer.rate as f64);
            if let Some(wait) = next.checked_sub(offer.started.elapsed()) {
                std::thread::sleep(wait.min(Duration::from_millis(5)));
            }
            continue;
        }
        shared.in_flight.store(true, Ordering::SeqCst);
        if lock(&shared.offer).rate == 0 {
            shared.in_flight.store(false, Ordering::SeqCst);
            continue;
        }
        let n = (due - offer.sent).min(per_post * 4);
        let events: Vec<Event> = (seq..seq + n)
            .map(|i| Event::generate(i, shared.products))
            .collect();
        let mut body = String::with_capacity(events.len() * 80);
        for event in &events {
            event.write_json(shared.kind, &mut body);
        }
        let sent = Instant::now();
        let mut door = shared.door();
        let to = loop {
            match post_once(&agent, &door.url, &body) {
                Ok((from, to)) => {
                    if to - from != n {
                        return Err(format!("posted {n} events, {} appended", to - from).into());
                    }
                    break door.base + to;
                }
                Err(PostError::Down(_)) if !shared.stop.load(Ordering::SeqCst) => {
                    // The child is down: wait for the next one.
                    let failed = door.epoch;
                    let waiting = Instant::now();
                    while shared.door().epoch == failed {
                        if waiting.elapsed() > Duration::from_secs(300)
                            || shared.stop.load(Ordering::SeqCst)
                        {
                            return Err("posts failed and no new node came".into());
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    door = shared.door();
                    if shared.durable {
                        let acked = shared.acked();
                        let head = get_json(&agent, &format!("{}/v1/health", door.url))?["head"]
                            .as_u64()
                            .ok_or("health without head")?;
                        if head == acked + n {
                            *lock(&shared.stored_unacknowledged) += n;
                            break head;
                        }
                        if head != acked {
                            return Err(format!(
                                "the log holds {head} events, {acked} acknowledged and {n} in flight"
                            )
                            .into());
                        }
                    }
                }
                Err(PostError::Down(e) | PostError::Refused(e)) => return Err(e.into()),
            }
        };
        {
            let mut acked = lock(&shared.events);
            if acked.len() as u64 + n != to {
                return Err(format!(
                    "a post acknowledged up to offset {to}, after {} acknowledged events and {n} posted",
                    acked.len()
                )
                .into());
            }
            acked.extend_from_slice(&events);
        }
        seq += n;
        lock(&shared.posts).push(Post {
            sent,
            to,
            phase: offer.phase,
        });
        let mut current = lock(&shared.offer);
        if current.phase == offer.phase && current.started == offer.started {
            current.sent += n;
        }
        drop(current);
        shared.in_flight.store(false, Ordering::SeqCst);
    }
    Ok(())
}

/// Why a post failed: the node is down (retry on the next one), or it refused the post.
enum PostError {
    Down(String),
    Refused(String),
}

fn post_once(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u64, u64), PostError> {
    let response = agent
        .post(&format!("{url}/v1/events"))
        .set("Content-Type", "application/x-ndjson")
        .send_string(body);
    let text = match response {
        Ok(response) => response
            .into_string()
            .map_err(|e| PostError::Down(e.to_string()))?,
        Err(ureq::Error::Status(status, response)) => {
            return Err(PostError::Refused(format!(
                "a post was refused with {status}: {}",
                response.into_string().unwrap_or_default()
            )));
        }
        Err(e) => return Err(PostError::Down(e.to_string())),
    };
    let answer: Value =
        serde_json::from_str(&text).map_err(|e| PostError::Refused(format!("{e}: {text}")))?;
    match (answer["from"].as_u64(), answer["to"].as_u64()) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(PostError::Refused(format!(
            "unexpected answer to a post: {text}"
        ))),
    }
}

/// Asks for the view's offset as often as it can (every millisecond at most).
fn poller(shared: &Shared) -> Fallible<()> {
    let agent = agent();
    while !shared.stop.load(Ordering::SeqCst) {
        let door = shared.door();
        match get_json(&agent, &format!("{}/v1/view?limit=1", door.url)) {
            Ok(answer) => {
                let at = Instant::now();
                if let Some(offset) = answer["offset"].as_u64() {
                    lock(&shared.polls).push(Poll {
                        at,
                        offset: door.base + offset,
                    });
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Every `every`, asks for the whole view and compares it with the oracle at its offset.
fn sampler(shared: &Shared, every: Duration) {
    let agent = agent();
    let mut oracle = Oracle::default();
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(every);
        let door = shared.door();
        let Ok(answer) = get_json(&agent, &format!("{}/v1/view", door.url)) else {
            continue;
        };
        if let Some(sample) = check_answer(shared, &mut oracle, &door, &answer) {
            lock(&shared.samples).push(sample);
        }
    }
}

/// Compares an answer with the oracle for its version at its offset.
fn check_answer(
    shared: &Shared,
    oracle: &mut Oracle,
    door: &Door,
    answer: &Value,
) -> Option<Sample> {
    let at = Instant::now();
    let offset = door.base + answer["offset"].as_u64()?;
    let rows = read_rows(shared.kind, answer["rows"].as_array()?).ok();
    // The events up to the offset are acknowledged a moment after the view covers them.
    let waited = Instant::now();
    while shared.acked() < offset && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let exact = if shared.acked() < offset {
        None
    } else {
        rows.map(|rows| rows == *oracle.view(door.version, offset, |a, b| shared.events(a, b)))
    };
    Some(Sample {
        version: door.version,
        exact,
        offset,
        at,
    })
}

/// Freshness of the posts of `phase`: time from a post's sending to the first poll answer that
/// includes it. Posts never seen are counted as lasting until the last poll.
fn freshness(shared: &Shared, phases: &[u32]) -> (Histogram<u64>, u64) {
    let posts: Vec<Post> = lock(&shared.posts)
        .iter()
        .filter(|p| phases.contains(&p.phase))
        .copied()
        .collect();
    let polls = lock(&shared.polls).clone();
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
    let mut unseen = 0;
    let mut j = 0;
    for post in &posts {
        while j < polls.len() && (polls[j].at < post.sent || polls[j].offset < post.to) {
            j += 1;
        }
        let micros = match polls.get(j) {
            Some(poll) => poll.at.duration_since(post.sent).as_micros() as u64,
            None => {
                unseen += 1;
                polls.last().map_or(0, |p| {
                    p.at.saturating_duration_since(post.sent).as_micros() as u64
                })
            }
        };
        histogram.saturating_record(micros.max(1));
    }
    (histogram, unseen)
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn events_in(shared: &Shared, phase: u32) -> u64 {
    let posts = lock(&shared.posts);
    let mut last = None;
    let mut first = None;
    for (i, post) in posts.iter().enumerate() {
        if post.phase == phase {
            first.get_or_insert(i);
            last = Some(i);
        }
    }
    match (first, last) {
        (Some(first), Some(last)) => {
            let before = if first == 0 { 0 } else { posts[first - 1].to };
            posts[last].to - before
        }
        _ => 0,
    }
}

const STEADY: u32 = 1;
const RAMP: u32 = 10;
const KILL: u32 = 2;
const REPROCESS: u32 = 3;

/// Every phase of one deployment at history `history`.
fn measure(
    settings: &Settings,
    deployment: Deployment,
    log: &Path,
    history: u64,
    ticks: f64,
) -> Fallible<Measured> {
    eprintln!("{}: starting over {history} events", deployment.name());
    let launched = Instant::now();
    let mut node = Node::spawn(settings, deployment, log, history)?;
    let (_, url) = node.wait_ready(Duration::from_secs(600))?;
    let door = Door {
        url,
        version: 1,
        base: 0,
        epoch: 0,
    };
    let sample_every = if settings.quick {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(250)
    };
    let harness = Harness::start(door, history, settings, deployment.durable(), sample_every);
    let catch_up_limit = Duration::from_secs(600);
    let startup = harness
        .wait_covered(history, catch_up_limit)?
        .map(|_| launched.elapsed());

    // 2. Steady phase.
    let cpu_before = cpu_seconds(node.pid(), ticks);
    harness.offer(settings.rate, STEADY);
    harness.sleep(settings.duration)?;
    harness.pause();
    let cpu_after = cpu_seconds(node.pid(), ticks);
    let threads = status_field(node.pid(), "Threads").unwrap_or(0);
    harness.wait_covered(
        harness.shared.acked(),
        settings.period * 3 + Duration::from_secs(30),
    )?;
    let (steady, unseen) = freshness(&harness.shared, &[STEADY]);
    let steady_events = events_in(&harness.shared, STEADY);
    eprintln!(
        "{}: steady {} events/s: freshness p50 {:.1} ms, p99 {:.1} ms",
        deployment.name(),
        settings.rate,
        ms(&steady, 0.5),
        ms(&steady, 0.99)
    );

    // 3. Ramp.
    let mut ramp = Vec::new();
    let mut rate = settings.rate;
    let mut phase = RAMP;
    loop {
        let acked = harness.shared.acked();
        let offered_at = Instant::now();
        harness.offer(rate, phase);
        harness.sleep(settings.ramp_step)?;
        harness.pause();
        let achieved =
            events_in(&harness.shared, phase) as f64 / offered_at.elapsed().as_secs_f64();
        let caught = harness.wait_covered(
            harness.shared.acked(),
            settings.period * 2 + settings.bound * 4 + Duration::from_secs(5),
        )?;
        let (h, unseen) = freshness(&harness.shared, &[phase]);
        let p99 = ms(&h, 0.99);
        let ok = unseen == 0
            && caught.is_some()
            && achieved >= 0.95 * rate as f64
            && p99 <= settings.bound.as_secs_f64() * 1000.0;
        eprintln!(
            "{}: ramp {rate} events/s offered, {achieved:.0} achieved, p99 {p99:.1} ms: {}{}{}",
            deployment.name(),
            if ok { "sustained" } else { "not sustained" },
            if unseen > 0 {
                format!(", {unseen} posts never seen")
            } else {
                String::new()
            },
            if caught.is_none() {
                ", the view did not catch up"
            } else {
                ""
            }
        );
        ramp.push(RampStep {
            offered: rate,
            achieved,
            p99_ms: p99,
            sustained: ok,
        });
        if caught.is_none() {
            // Let it drain before going on.
            harness.wait_covered(harness.shared.acked(), catch_up_limit)?;
        }
        let _ = acked;
        if !ok || rate.saturating_mul(settings.ramp_factor) > settings.max_rate {
            break;
        }
        rate = rate.saturating_mul(settings.ramp_factor);
        phase += 1;
    }
    let max_rate = ramp
        .iter()
        .filter(|s| s.sustained)
        .map(|s| s.achieved)
        .fold(None, |m: Option<f64>, a| Some(m.map_or(a, |m| m.max(a))));

    // 4. Kill -9 in the middle of a phase of steady ingest, restart at once.
    let peak_before_kill = status_field(node.pid(), "VmHWM").unwrap_or(0);
    harness.offer(settings.rate, KILL);
    harness.sleep(settings.kill_phase / 2)?;
    let killed_at = Instant::now();
    node.kill()?;
    // Whatever the killed process acknowledged, it acknowledged before this.
    let acked_at_kill = harness.shared.acked();
    let restarted = Node::spawn(settings, deployment, log, 0)?;
    let (_, url) = restarted.wait_ready(Duration::from_secs(600))?;
    node = restarted;
    {
        let mut door = lock(&harness.shared.door);
        door.url = url;
        door.epoch += 1;
        if !deployment.durable() {
            door.base = harness.shared.acked();
        }
    }
    let downtime = killed_at.elapsed();
    let answering = harness
        .wait_covered(0, Duration::from_secs(60))?
        .map(|_| killed_at.elapsed());
    let recovered = if deployment.durable() {
        harness
            .wait_covered(acked_at_kill, catch_up_limit)?
            .map(|_| killed_at.elapsed())
    } else {
        None
    };
    harness.sleep(settings.kill_phase.saturating_sub(killed_at.elapsed()))?;
    harness.pause();
    harness.wait_covered(
        harness.shared.acked(),
        settings.period * 3 + Duration::from_secs(60),
    )?;
    let (lost, double) = compare_final(&harness.shared, 1)?;
    eprintln!(
        "{}: kill -9 at {acked_at_kill} events: {lost} lost, {double} counted twice",
        deployment.name()
    );

    // 5. Version 2, deployed while events keep arriving.
    harness.offer(settings.rate, REPROCESS);
    let reprocessing = deploy_v2(
        settings,
        deployment,
        &mut node,
        &harness,
        history,
        catch_up_limit,
    )?;
    harness.pause();
    let peak_after = status_field(node.pid(), "VmHWM").unwrap_or(0);
    let restart = Restart {
        acknowledged_before_kill: acked_at_kill,
        downtime_s: downtime.as_secs_f64(),
        answering_s: answering.map(|d| d.as_secs_f64()),
        recovered_s: recovered.map(|d| d.as_secs_f64()),
        lost,
        double_counted: double,
        stored_unacknowledged: *lock(&harness.shared.stored_unacknowledged),
    };
    let samples = lock(&harness.shared.samples).clone();
    node.stop()?;
    harness.finish()?;

    let checked: Vec<&Sample> = samples.iter().filter(|s| s.exact.is_some()).collect();
    let exact = checked.iter().filter(|s| s.exact == Some(true)).count();
    let before_kill: Vec<&&Sample> = checked.iter().filter(|s| s.at < killed_at).collect();
    let correctness = Correctness {
        samples: checked.len(),
        exact,
        unverified: samples.len() - checked.len(),
        fraction: if checked.is_empty() {
            0.0
        } else {
            exact as f64 / checked.len() as f64
        },
        exact_before_kill: before_kill.iter().filter(|s| s.exact == Some(true)).count(),
        samples_before_kill: before_kill.len(),
        lowest_offset: samples.iter().map(|s| s.offset).min().unwrap_or(0),
    };
    let _ = samples.iter().map(|s| s.version).max();
    let cpu = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) if steady_events > 0 => Some((b - a) / steady_events as f64 * 1e6),
        _ => None,
    };
    Ok(Measured {
        architecture: deployment,
        startup_s: startup.map(|d| d.as_secs_f64()),
        freshness: Freshness {
            rate: settings.rate,
            events: steady_events,
            posts: steady.len(),
            unseen,
            p50_ms: ms(&steady, 0.5),
            p99_ms: ms(&steady, 0.99),
            max_ms: steady.max() as f64 / 1000.0,
        },
        max_rate,
        ramp,
        reprocessing: vec![reprocessing],
        correctness,
        restart,
        cost: Cost {
            cpu_s_per_million: cpu,
            peak_rss_mib: peak_before_kill.max(peak_after) as f64 / 1024.0,
        },
        complexity: complexity(deployment, threads),
    })
}

/// Compares the final view with the oracle over every acknowledged event: (lost, counted twice).
fn compare_final(shared: &Shared, version: u8) -> Fallible<(u64, u64)> {
    let door = shared.door();
    let answer = get_json(&agent(), &format!("{}/v1/view", door.url))?;
    let rows = read_rows(shared.kind, answer["rows"].as_array().ok_or("no rows")?)?;
    let mut oracle = Oracle::default();
    let truth = oracle.view(version, shared.acked(), |a, b| shared.events(a, b));
    Ok(count_difference(truth, &rows))
}

fn count_difference(truth: &ViewMap, served: &ViewMap) -> (u64, u64) {
    let (mut lost, mut double) = (0, 0);
    for (key, (_, count)) in truth {
        let served = served.get(key).map_or(0, |(_, n)| *n);
        lost += count.saturating_sub(served);
        double += served.saturating_sub(*count);
    }
    for (key, (_, n)) in served {
        if !truth.contains_key(key) {
            double += n;
        }
    }
    (lost, double)
}

/// Deploys version 2 next to version 1 and waits until its whole view equals the oracle's version
/// 2 answer over all history at the offset it reports (and covers every event acknowledged at the
/// deploy). Version 1 keeps answering the front door meanwhile; then the door switches to version 2
/// and version 1 retires. The stream, having no history, never gets there: it switches at once and
/// is watched for the reprocessing limit.
fn deploy_v2(
    settings: &Settings,
    deployment: Deployment,
    node: &mut Node,
    harness: &Harness,
    history: u64,
    limit: Duration,
) -> Fallible<Reprocessing> {
    let head_at_deploy = harness.shared.acked();
    let samples_before = lock(&harness.shared.samples).len();
    let deployed = Instant::now();
    node.command("deploy")?;
    let (_, url) = node.wait_ready(Duration::from_secs(600))?;
    if !deployment.durable() {
        // The stream's new version takes the posts at once: switch between two posts.
        harness.pause();
        let base = harness.shared.acked();
        let mut door = lock(&harness.shared.door);
        *door = Door {
            url: url.clone(),
            version: 2,
            base,
            epoch: door.epoch + 1,
        };
        drop(door);
        node.command("retire")?;
        harness.offer(settings.rate, REPROCESS);
    }
    let agent = agent();
    let mut oracle = Oracle::default();
    let watch = if deployment.durable() {
        limit
    } else {
        settings.duration.min(Duration::from_secs(5))
    };
    let mut exact_after = None;
    let mut last_offset = 0;
    let v2_door = harness.shared.door();
    let base = if deployment.durable() {
        0
    } else {
        v2_door.base
    };
    let v2_door = Door {
        url: url.clone(),
        version: 2,
        base,
        epoch: u64::MAX,
    };
    while deployed.elapsed() < watch {
        harness.check()?;
        std::thread::sleep(Duration::from_millis(20));
        let Ok(answer) = get_json(&agent, &format!("{url}/v1/view")) else {
            continue;
        };
        let Some(sample) = check_answer(&harness.shared, &mut oracle, &v2_door, &answer) else {
            continue;
        };
        last_offset = sample.offset;
        if sample.offset >= head_at_deploy && sample.exact == Some(true) {
            exact_after = Some(deployed.elapsed());
            break;
        }
    }
    if deployment.durable() {
        // Switch between two posts: a post in flight when version 1 stops could be stored after
        // its connection is dropped, and its retry would store it twice.
        harness.pause();
        let mut door = lock(&harness.shared.door);
        *door = Door {
            url,
            version: 2,
            base,
            epoch: door.epoch + 1,
        };
        drop(door);
        node.command("retire")?;
        harness.offer(settings.rate, REPROCESS);
    }
    let meanwhile: Vec<Sample> = lock(&harness.shared.samples)[samples_before..].to_vec();
    let v1_answers = meanwhile.iter().filter(|s| s.version == 1).count();
    let v1_exact = meanwhile
        .iter()
        .filter(|s| s.version == 1 && s.exact == Some(true))
        .count();
    let covered = if deployment.durable() {
        last_offset.min(head_at_deploy)
    } else {
        // The new stream process counts only what arrived after it started.
        last_offset.saturating_sub(base).min(head_at_deploy)
    };
    let _ = history;
    Ok(Reprocessing {
        history,
        head_at_deploy,
        seconds: exact_after.map(|d| d.as_secs_f64()),
        meanwhile_answers: meanwhile.len(),
        meanwhile_v1: v1_answers,
        meanwhile_v1_exact: v1_exact,
        history_covered: if exact_after.is_some() {
            head_at_deploy
        } else {
            covered
        },
    })
}

/// Reprocessing alone at a further history size: start, wait until caught up, deploy version 2
/// with events arriving, measure, stop.
fn reprocess_only(
    settings: &Settings,
    deployment: Deployment,
    log: &Path,
    history: u64,
) -> Fallible<Reprocessing> {
    eprintln!("{}: reprocessing over {history} events", deployment.name());
    let mut node = Node::spawn(settings, deployment, log, history)?;
    let (_, url) = node.wait_ready(Duration::from_secs(1200))?;
    let door = Door {
        url,
        version: 1,
        base: 0,
        epoch: 0,
    };
    let harness = Harness::start(
        door,
        history,
        settings,
        deployment.durable(),
        Duration::from_millis(500),
    );
    let limit = Duration::from_secs(1200);
    harness.wait_covered(history, limit)?;
    harness.offer(settings.rate, REPROCESS);
    let reprocessing = deploy_v2(settings, deployment, &mut node, &harness, history, limit)?;
    harness.pause();
    node.stop()?;
    harness.finish()?;
    Ok(reprocessing)
}

/// The running components and lines of code of a deployment here, and what the article says a
/// classic deployment needs.
fn complexity(deployment: Deployment, threads: u64) -> Complexity {
    let declaration = include_str!("../../src/sales.rs")
        .lines()
        .skip_while(|l| !l.starts_with("#[pipeline"))
        .position(|l| l == "}")
        .map_or(0, |last| last + 1);
    let (stores, classic) = match deployment {
        Deployment::Batch => (
            vec!["event log", "batch view"],
            "one batch job and a store it reads (the article: HDFS, a nightly job)",
        ),
        Deployment::Stream => (
            vec!["served view (in memory)"],
            "one stream job and its state store; no replayable input",
        ),
        Deployment::Lambda => (
            vec!["event log", "batch view", "speed-layer view"],
            "two codebases (batch and speed layer implement the same logic differently), two systems and a serving layer that merges them",
        ),
        Deployment::Kappa => (
            vec!["event log", "served view"],
            "one codebase; a retained log (Kafka) and a stream processor that replays it",
        ),
    };
    Complexity {
        declarations: 1,
        declaration_lines: declaration,
        deployment_lines: deployment_lines(deployment),
        processes: 1,
        threads,
        stores: stores.iter().map(|s| s.to_string()).collect(),
        classic: classic.to_string(),
        classic_codebases: if deployment == Deployment::Lambda {
            2
        } else {
            1
        },
    }
}

/// Sets up a scratch directory (under `dir` or a new temporary one).
pub fn scratch(dir: Option<PathBuf>) -> Fallible<(PathBuf, Option<tempfile::TempDir>)> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            Ok((dir, None))
        }
        None => {
            let temp = tempfile::tempdir()?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}
