//! Deployments: a pipeline version on its own thread that replays the log into a private table,
//! switches the served view over to it once caught up, and then follows the tail (see the
//! [module docs](super)).

use crate::error::Error;
use crate::kappa::replay::{Control, Follow, Replay, ReplayHooks, ReplayStep, Replayed};
use crate::kappa::view::{ServedView, ViewTable};
use crate::log::{Log, Position, Schema};
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::runtime::{Change, Runner};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a deployment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Replaying the log into its own table while another version serves.
    CatchingUp,
    /// Its table is the one served; following the tail.
    Serving,
    /// Another version replaced its table; it stopped.
    Retired,
    /// Stopped by [`Deployment::stop`].
    Stopped,
    /// Stopped by an error, which [`Deployment::join`] returns.
    Failed,
}

/// The moment a deployment's table replaced the served one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch<Pos = u64> {
    /// The position its table covered at the switch.
    pub offset: Pos,
    /// The label of the table it replaced (empty if none was served).
    pub replaced: String,
    /// The time from the deployment's start to the switch: the catch-up time.
    pub after: Duration,
}

/// A deployment's progress, for timelines and for waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress<Pos = u64> {
    /// The deployment's label: the pipeline's name and version.
    pub label: String,
    /// Where it stands.
    pub phase: Phase,
    /// The position its pipeline covers.
    pub position: Pos,
    /// The log's head when it was deployed.
    pub head_at_start: Pos,
    /// When its table started being served.
    pub switch: Option<Switch<Pos>>,
    /// The position its pipeline covered when it noticed it was replaced.
    pub retired_at: Option<Pos>,
}

/// Options of a [`deploy`]ment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeployOptions {
    /// Records per step (default 1000).
    pub step: usize,
    /// How long a serving deployment waits for new records before it checks whether it was replaced
    /// or stopped (default 20 ms).
    pub poll: Duration,
    /// Event-time pipelines: after the log has been idle this long, move the watermark up to the
    /// greatest event time seen ([`Running::idle`](crate::Running::idle)). `None` (the default) never does.
    pub idle_timeout: Option<Duration>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            step: 1000,
            poll: Duration::from_millis(20),
            idle_timeout: None,
        }
    }
}

/// What a deployment did, returned when it ends.
#[derive(Clone, Debug, PartialEq)]
pub struct DeploymentReport<O, Pos = u64> {
    /// Its final progress.
    pub progress: Progress<Pos>,
    /// Its pipeline's consolidated output and the positions it covered.
    pub replayed: Replayed<O, Pos>,
}

struct Shared<Pos> {
    progress: Mutex<Progress<Pos>>,
    changed: Condvar,
    stop: AtomicBool,
}

impl<Pos> Shared<Pos> {
    fn update(&self, f: impl FnOnce(&mut Progress<Pos>)) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut progress);
        self.changed.notify_all();
    }
}

/// A pipeline version running on its own thread, catching up with the log and then serving a view.
/// See [`deploy`].
pub struct Deployment<O, Pos = u64> {
    shared: Arc<Shared<Pos>>,
    thread: Option<JoinHandle<Result<Replayed<O, Pos>, Error>>>,
}

impl<O, Pos: Position> Deployment<O, Pos> {
    /// The current progress.
    pub fn progress(&self) -> Progress<Pos> {
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `condition` holds for the progress, or the deployment ends, or `timeout` passes;
    /// returns the progress then. Fails if the condition does not hold by then.
    pub fn wait_until(
        &self,
        condition: impl Fn(&Progress<Pos>) -> bool,
        timeout: Duration,
    ) -> Result<Progress<Pos>, Error> {
        let deadline = Instant::now() + timeout;
        let mut progress = self
            .shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            if condition(&progress) {
                return Ok(progress.clone());
            }
            let now = Instant::now();
            let ended = matches!(
                progress.phase,
                Phase::Retired | Phase::Stopped | Phase::Failed
            );
            if ended || now >= deadline {
                return Err(Error::Source(format!(
                    "deployment {} did not reach the awaited state (it is {:?} at offset {})",
                    progress.label, progress.phase, progress.position
                )));
            }
            progress = self
                .shared
                .changed
                .wait_timeout(progress, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stops the deployment and returns its report.
    pub fn stop(mut self) -> Result<DeploymentReport<O, Pos>, Error> {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.join_thread()
    }

    /// Waits for the deployment to end by itself (retired, or failed) and returns its report.
    pub fn join(mut self) -> Result<DeploymentReport<O, Pos>, Error> {
        self.join_thread()
    }

    fn join_thread(&mut self) -> Result<DeploymentReport<O, Pos>, Error> {
        let thread = self
            .thread
            .take()
            .ok_or_else(|| Error::Usage("the deployment was already joined".into()))?;
        let replayed = thread
            .join()
            .map_err(|_| Error::WorkerPanicked("a deployment thread panicked".into()))??;
        Ok(DeploymentReport {
            progress: self.progress(),
            replayed,
        })
    }
}

impl<O, Pos> Drop for Deployment<O, Pos> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            let _ = thread.join();
        }
    }
}

/// Deploys `runner`'s pipeline to serve `view`, keyed by `key`.
///
/// A thread replays `log` from its start into a private table while the version currently serving
/// `view` (if any) keeps serving. When the replay has caught up with the head, its table replaces the
/// served one atomically ([`ServedView::switch`]); it then follows the tail and keeps the view up to
/// date, until [`Deployment::stop`] or until another deployment replaces its table (it then retires).
pub fn deploy<P, I, L, K, V, F>(
    runner: Runner<P>,
    log: &L,
    view: &ServedView<K, V, L::Position>,
    key: F,
    options: DeployOptions,
) -> Result<Deployment<P::Output, L::Position>, Error>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log,
    K: Ord + Clone + Send + Sync + 'static,
    V: PartialEq + Clone + Send + Sync + 'static,
    F: Fn(&P::Output) -> (K, V) + Send + 'static,
{
    let label = format!("{} {}", P::NAME, runner.version());
    let shared = Arc::new(Shared {
        progress: Mutex::new(Progress {
            label: label.clone(),
            phase: Phase::CatchingUp,
            position: L::Position::default(),
            head_at_start: log.head(),
            switch: None,
            retired_at: None,
        }),
        changed: Condvar::new(),
        stop: AtomicBool::new(false),
    });
    let mut replay = Replay::<P, I, L>::start(&runner, log, L::Position::default(), options.step)?;
    let thread_shared = Arc::clone(&shared);
    let view = view.clone();
    let thread = std::thread::Builder::new()
        .name(format!("deploy {}", P::NAME))
        .spawn(move || {
            let table = ViewTable::new(label);
            let mut serving = Serving {
                id: table.id(),
                table: Some(table),
                view,
                key,
                shared: &thread_shared,
                started: Instant::now(),
            };
            let follow = Follow {
                poll: options.poll,
                idle_timeout: options.idle_timeout,
                idle_when_quiet_at_head: false,
                end_when_idle: false,
            };
            let result = replay
                .drive(Some(follow), &mut serving)
                .and_then(|()| replay.finish());
            if result.is_err() {
                thread_shared.update(|p| p.phase = Phase::Failed);
            }
            result
        })
        .map_err(|e| Error::Timely(format!("cannot start a deployment thread: {e}")))?;
    Ok(Deployment {
        shared,
        thread: Some(thread),
    })
}

/// A deployment's hooks: catch up into a private table, switch it in, then keep the served table up
/// to date until replaced or stopped.
struct Serving<'a, K, V, F, Pos> {
    /// The private table while catching up; `None` once it is served.
    table: Option<ViewTable<K, V, Pos>>,
    id: u64,
    view: ServedView<K, V, Pos>,
    key: F,
    shared: &'a Shared<Pos>,
    started: Instant,
}

impl<K, V, F, Pos> Serving<'_, K, V, F, Pos> {
    /// Stopped by [`Deployment::stop`]: notes it.
    fn stopped(&self) -> bool {
        let stop = self.shared.stop.load(Ordering::SeqCst);
        if stop {
            self.shared.update(|p| p.phase = Phase::Stopped);
        }
        stop
    }
}

impl<P, I, L, K, V, F> ReplayHooks<P, I, L> for Serving<'_, K, V, F, L::Position>
where
    P: Pipeline<Inputs = (I,)>,
    I: Record + Schema,
    L: Log,
    K: Ord + Clone,
    V: PartialEq + Clone,
    F: Fn(&P::Output) -> (K, V),
{
    fn step(
        &mut self,
        _replay: &mut Replay<P, I, L>,
        step: ReplayStep<P::Output, L::Position>,
    ) -> Result<Control, Error> {
        match &mut self.table {
            // Catching up: into the private table.
            Some(table) => {
                table.apply(&step.changes, &self.key, step.to.clone());
                self.shared.update(|p| p.position = step.to);
                Ok(if self.stopped() {
                    Control::Stop
                } else {
                    Control::Continue
                })
            }
            // Serving: into the served table, unless another version replaced it.
            None => {
                if !self
                    .view
                    .update(self.id, &step.changes, &self.key, step.to.clone())
                {
                    self.shared.update(|p| {
                        p.phase = Phase::Retired;
                        p.retired_at = Some(step.to.clone());
                        p.position = step.to;
                    });
                    return Ok(Control::Stop);
                }
                self.shared.update(|p| p.position = step.to);
                Ok(if self.stopped() {
                    Control::Stop
                } else {
                    Control::Continue
                })
            }
        }
    }

    /// Caught up: swaps the private table in, or reads on if the served table is ahead of what this
    /// replay had seen committed.
    fn at_head(&mut self, replay: &mut Replay<P, I, L>) -> Result<Control, Error> {
        if self.stopped() {
            return Ok(Control::Stop);
        }
        let Some(table) = self.table.take() else {
            return Ok(Control::Continue);
        };
        match self.view.switch(table) {
            Ok(replaced) => {
                let offset = replay.position();
                let after = self.started.elapsed();
                self.shared.update(|p| {
                    p.phase = Phase::Serving;
                    p.switch = Some(Switch {
                        offset,
                        replaced,
                        after,
                    });
                });
                Ok(Control::Continue)
            }
            Err(back) => {
                self.table = Some(*back);
                Ok(Control::ReadOn)
            }
        }
    }

    fn idle(
        &mut self,
        replay: &mut Replay<P, I, L>,
        changes: Vec<Change<P::Output>>,
    ) -> Result<Control, Error> {
        self.view
            .update(self.id, &changes, &self.key, replay.position());
        Ok(Control::Continue)
    }

    /// Nothing new: retires if another version replaced the served table.
    fn waiting(&mut self, replay: &mut Replay<P, I, L>) -> Result<Control, Error> {
        if !self.view.is_served(self.id) {
            let at = replay.position();
            self.shared.update(|p| {
                p.phase = Phase::Retired;
                p.retired_at = Some(at);
            });
            return Ok(Control::Stop);
        }
        Ok(if self.stopped() {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}
