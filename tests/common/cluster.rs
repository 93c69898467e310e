//! Runs of an example as the processes of a timely cluster on loopback ports (`-n N -p I -H hosts`).

use super::example;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Command-line arguments as owned strings, for [`spawn`].
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A host file for `n` processes on loopback ports free now.
pub fn hostfile(dir: &Path, n: usize) -> PathBuf {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        listeners
            .iter()
            .map(|l| format!("127.0.0.1:{}\n", l.local_addr().unwrap().port()))
            .collect::<String>(),
    )
    .unwrap();
    hosts
}

/// Starts example `name` with `args` as process `index` of the two named in `hosts`, its standard
/// error captured for [`wait`].
pub fn spawn(name: &str, args: &[String], index: usize, hosts: &Path) -> Child {
    Command::new(example(name))
        .args(args)
        .args(["-n", "2", "-p", &index.to_string(), "-H"])
        .arg(hosts)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` for at most `limit`; kills it and fails the test past that.
pub fn wait(mut child: Child, limit: Duration, what: &str) -> (std::process::ExitStatus, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            return (status, err);
        }
        if started.elapsed() > limit {
            child.kill().ok();
            panic!("{what} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
