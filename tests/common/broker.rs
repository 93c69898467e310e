//! A Kafka-protocol broker for the tests: tansu, installed by `scripts/install-kafka.sh`, started on
//! a loopback port chosen now, with in-memory storage, and killed when dropped.
//!
//! The binary is `$DATAFLOW_KAFKA_BROKER` when set, else the install script's cache path. Where it
//! is missing, [`Broker::start`] returns `None` after saying so loudly, unless `CI` is set: then it
//! fails the test, since CI installs the broker.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
    binary: PathBuf,
    port: u16,
}

/// Where the broker's binary is, if anywhere.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DATAFLOW_KAFKA_BROKER") {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let path = cache.join("dataflow/bin/tansu");
    path.exists().then_some(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn launch(binary: &PathBuf, port: u16) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    Command::new(binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the broker {}: {e}", binary.display()))
}

fn wait_until_listening(port: u16, child: &mut Child) {
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the broker exited at start: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the broker does not listen on port {port} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Broker {
    /// Starts a broker, or `None` (said loudly) where none is installed outside CI.
    pub fn start(test: &str) -> Option<Broker> {
        let Some(binary) = binary() else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: no Kafka-protocol broker: CI runs scripts/install-kafka.sh before the tests"
                );
            }
            eprintln!(
                "\n*** SKIPPED {test}: no Kafka-protocol broker installed. Run scripts/install-kafka.sh \
                 (or set DATAFLOW_KAFKA_BROKER=PATH) to run the Kafka tests. ***\n"
            );
            return None;
        };
        let port = free_port();
        let mut child = launch(&binary, port);
        wait_until_listening(port, &mut child);
        Some(Broker {
            child,
            address: format!("127.0.0.1:{port}"),
            binary,
            port,
        })
    }

    /// `kafka://ADDRESS/TOPIC`.
    pub fn topic(&self, topic: &str) -> String {
        format!("kafka://{}/{topic}", self.address)
    }

    /// Stops the broker (SIGKILL).
    pub fn stop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }

    /// Starts the broker again on the same port (its memory storage starts empty).
    pub fn restart(&mut self) {
        self.stop();
        self.child = launch(&self.binary, self.port);
        wait_until_listening(self.port, &mut self.child);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
