//! A process of a cluster whose peer died: timely has no failure recovery, and its network threads
//! panic when a connection to another process breaks ("timely communication error: ..."), which can
//! leave the workers waiting forever. This watch turns that into one clear error naming the lost
//! process and an exit with status 3 within [`GRACE`], so a supervisor can restart every process
//! (a checkpointed replay then resumes from its checkpoint).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long after a lost connection the process exits, at most: time for the error to be printed.
pub(crate) const GRACE: Duration = Duration::from_millis(200);

/// The exit status of a process whose peer died.
pub(crate) const LOST_PEER_STATUS: i32 = 3;

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

/// Watches this process (`process` of `processes`) for a broken connection to a peer. Idempotent.
pub(crate) fn watch(process: usize, processes: usize) {
    WATCHING.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let peer = thread.name().and_then(peer_of);
            match peer {
                Some(peer) => {
                    // The first broken connection names the peer; the rest are its echoes.
                    let _ = LOST.compare_exchange(0, peer + 1, Ordering::SeqCst, Ordering::SeqCst);
                }
                None if LOST.load(Ordering::SeqCst) > 0 => {
                    // Workers failing because a peer is gone: already reported.
                }
                None => previous(info),
            }
        }));
        std::thread::Builder::new()
            .name("peer-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(20));
                    let lost = LOST.load(Ordering::SeqCst);
                    if lost > 0 {
                        std::thread::sleep(GRACE / 2);
                        eprintln!(
                            "error: process {process} of {processes} lost its connection to process \
                             {} (it exited or its host is unreachable): a timely cluster cannot go \
                             on without it; restart every process (a replay with --checkpoint \
                             resumes from its checkpoint)",
                            lost - 1
                        );
                        std::process::exit(LOST_PEER_STATUS);
                    }
                }
            })
            .ok();
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
