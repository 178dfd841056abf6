//! The one vocabulary of states: what the engine records, the journal and status
//! files hold, the report and `plan status` print, the JSON API serves, the page and
//! the drawings colour. Each name means one thing everywhere.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The state of one node (or run-time copy) of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NodeState {
    /// Not started yet: it waits for what it depends on.
    #[default]
    Pending,
    /// Ready to start, waiting for a resource: a concurrency slot.
    Queued,
    Running,
    /// Waiting for a person: an approval gate asked for a decision.
    Waiting,
    /// Failed, and will be tried again after its backoff.
    Retrying,
    Succeeded,
    Failed,
    /// Stopped before it finished (a failure elsewhere, `plan stop`, Ctrl-C).
    Cancelled,
    /// Never started: something it depends on failed.
    Skipped,
    /// A saga step whose work was undone.
    Compensated,
    /// It was running when the run's process ended without recording its end.
    Interrupted,
}

impl NodeState {
    pub const ALL: [NodeState; 11] = [
        NodeState::Pending,
        NodeState::Queued,
        NodeState::Running,
        NodeState::Waiting,
        NodeState::Retrying,
        NodeState::Succeeded,
        NodeState::Failed,
        NodeState::Cancelled,
        NodeState::Skipped,
        NodeState::Compensated,
        NodeState::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Pending => "pending",
            NodeState::Queued => "queued",
            NodeState::Running => "running",
            NodeState::Waiting => "waiting",
            NodeState::Retrying => "retrying",
            NodeState::Succeeded => "succeeded",
            NodeState::Failed => "failed",
            NodeState::Cancelled => "cancelled",
            NodeState::Skipped => "skipped",
            NodeState::Compensated => "compensated",
            NodeState::Interrupted => "interrupted",
        }
    }

    /// Whether the node will change no more in this run.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            NodeState::Succeeded
                | NodeState::Failed
                | NodeState::Cancelled
                | NodeState::Skipped
                | NodeState::Compensated
                | NodeState::Interrupted
        )
    }

    /// The colour a drawing or the page fills a node of this state with.
    pub fn colour(self) -> &'static str {
        match self {
            NodeState::Pending => "#ffffff",
            NodeState::Queued => "#eef1f5",
            NodeState::Running => "#ffe08a",
            NodeState::Waiting => "#9ecbff",
            NodeState::Retrying | NodeState::Interrupted => "#ffc48a",
            NodeState::Succeeded => "#b7e4c7",
            NodeState::Failed => "#f4a6a6",
            NodeState::Cancelled | NodeState::Skipped => "#dddddd",
            NodeState::Compensated => "#d0c4f0",
        }
    }
}

/// How a run stands: while it goes on, or how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    /// A gate waits for a person (also when the run's process is gone: a decision
    /// resumes it).
    Waiting,
    Succeeded,
    Failed,
    /// Stopped (`plan stop`, Ctrl-C) or killed: `--resume` continues it. Final for
    /// its gates: a decision does not resume a stopped run.
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] =
        [RunStatus::Running, RunStatus::Waiting, RunStatus::Succeeded, RunStatus::Failed, RunStatus::Interrupted];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Whether the run has ended (nothing runs it, nothing waits in it).
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Interrupted)
    }
}

macro_rules! text_enum {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$t>::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| format!("unknown {} `{s}`", $what))
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum!(NodeState, "node state");
text_enum!(RunStatus, "run state");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_written() {
        for s in NodeState::ALL {
            assert_eq!(s.as_str().parse::<NodeState>(), Ok(s));
            assert_eq!(serde_json::from_value::<NodeState>(serde_json::to_value(s).unwrap()).unwrap(), s);
        }
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
        }
        assert!("done".parse::<NodeState>().is_err());
    }
}
