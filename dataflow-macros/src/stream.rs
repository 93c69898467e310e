//! What a name (an input or a `let` binding) stands for while a declaration is checked: its node in
//! the plan and the state of its stream, and how a stage changes that state.

use crate::stages::{Keyed, StageSpec, TimeRule};
use dataflow_plan::StageKind;
use std::collections::HashMap;

/// The inputs and bindings in scope, by name.
pub type Env = HashMap<String, Stream>;

/// A stream: its node in the plan and its state.
#[derive(Clone, Copy)]
pub struct Stream {
    /// Its node in the plan.
    pub node: usize,
    /// Whether its records are keyed.
    pub keyed: bool,
    /// An event-time stream (after `event_time`).
    pub timed: bool,
    /// Grouped into windows, waiting for an aggregate.
    pub windowed: bool,
    /// A pipeline input, with no stage applied yet.
    pub input: bool,
}

/// Making streams and following them through stages.
impl Stream {
    /// The pipeline input at `node`.
    pub fn input(node: usize) -> Self {
        Stream {
            node,
            keyed: false,
            timed: false,
            windowed: false,
            input: true,
        }
    }

    /// The stream a `spec` stage at `node` makes of this one; `other_keyed` is whether the other
    /// stream it takes, if any, is keyed.
    pub fn after(&self, spec: &StageSpec, node: usize, other_keyed: bool) -> Self {
        Stream {
            node,
            keyed: match spec.keyed_after {
                Keyed::Set => true,
                Keyed::Keep => self.keyed && (spec.kind != StageKind::Union || other_keyed),
                Keyed::Clear => false,
            },
            timed: match spec.time {
                TimeRule::Stamp | TimeRule::Window => true,
                TimeRule::Aggregate | TimeRule::Ordered => false,
                TimeRule::Stateless | TimeRule::Untimed => self.timed,
            },
            windowed: spec.time == TimeRule::Window,
            input: false,
        }
    }

    /// Whether the stream must not be left as it is: a `window` needs an aggregate after it.
    pub fn dangling(&self) -> bool {
        self.windowed
    }
}
