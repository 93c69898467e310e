//! A process of a cluster whose peer died: timely has no failure recovery, and its network threads
//! panic when a connection to another process breaks ("timely communication error: ..."), which can
//! leave the workers waiting forever. This watch turns that into one clear error naming the lost
//! process and an exit with status 3 as soon as the connection breaks, so a supervisor can restart
//! every process (a checkpointed replay then resumes from its checkpoint).
//!
//! A peer that hangs, is stopped or sits behind a silent network partition breaks no connection;
//! the runtime's heartbeats ([`crate::runtime::heartbeat`]) notice its silence, and the watch ends
//! the process the same way once a peer was silent for the timeout (`--peer-timeout`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How often a thread that panicked after the first lost connection looks again (it never returns:
/// the process is exiting).
pub(crate) const GRACE: Duration = Duration::from_millis(200);

/// The exit status of a process whose peer died.
pub(crate) const LOST_PEER_STATUS: i32 = 3;

/// How long a peer may be silent before it is lost, unless `--peer-timeout` says otherwise: long
/// enough for a worker busy in one long step, short enough that nobody waits for a dead host.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the watch looks for a silent peer.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// The index of the first process whose connection broke, plus one (0: none).
static LOST: AtomicUsize = AtomicUsize::new(0);
static WATCHING: OnceLock<()> = OnceLock::new();

/// Which process a timely network thread talks to: `timely:recv-N` and `timely:send-N`.
fn peer_of(thread: &str) -> Option<usize> {
    thread
        .strip_prefix("timely:recv-")
        .or_else(|| thread.strip_prefix("timely:send-"))
        .and_then(|index| index.parse().ok())
}

/// Watches this process (`process` of `processes`) for a broken connection to a peer, and for a
/// peer silent for longer than `timeout`. Idempotent.
///
/// The first panic of a timely network thread names the peer: the process prints the error and
/// exits at once, from that thread, before the workers' own failures (which may abort the process
/// without a word) can follow.
pub(crate) fn watch(process: usize, processes: usize, timeout: Duration) {
    WATCHING.get_or_init(|| {
        std::thread::Builder::new()
            .name("peer-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(LOOK_EVERY);
                    if let Some((peer, silent)) =
                        crate::runtime::heartbeat::silent_peer(process, timeout)
                        && LOST
                            .compare_exchange(0, peer + 1, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    {
                        eprintln!(
                            "error: process {process} of {processes} has not heard from process \
                             {peer} for {:.1} s (it hangs, is stopped, or its host is unreachable; \
                             --peer-timeout is {:.1} s): a timely cluster cannot go on without it; \
                             restart every process (a replay with --checkpoint resumes from its \
                             checkpoint)",
                            silent.as_secs_f64(),
                            timeout.as_secs_f64()
                        );
                        std::process::exit(LOST_PEER_STATUS);
                    }
                }
            })
            .ok();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            match thread.name().and_then(peer_of) {
                Some(peer) => {
                    if LOST
                        .compare_exchange(0, peer + 1, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        eprintln!(
                            "error: process {process} of {processes} lost its connection to \
                             process {peer} (it exited or its host is unreachable): a timely \
                             cluster cannot go on without it; restart every process (a replay \
                             with --checkpoint resumes from its checkpoint)"
                        );
                        std::process::exit(LOST_PEER_STATUS);
                    }
                    // The echoes of the first broken connection wait for its exit.
                    loop {
                        std::thread::sleep(GRACE);
                    }
                }
                None if LOST.load(Ordering::SeqCst) > 0 => loop {
                    // Workers failing because a peer is gone: the process is exiting.
                    std::thread::sleep(GRACE);
                },
                None => previous(info),
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_threads_name_their_peer() {
        assert_eq!(peer_of("timely:recv-3"), Some(3));
        assert_eq!(peer_of("timely:send-0"), Some(0));
        assert_eq!(peer_of("timely:work-0"), None);
        assert_eq!(peer_of("main"), None);
    }
}
