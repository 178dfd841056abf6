//! The vocabulary of recorded facts: the state of a node, and how a run ended, as
//! status files, the journal and the report name them, and the record of a finished
//! run that the engine hands to the report.

use std::time::Duration;

/// The state of a node as status files and the report name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    Waiting,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
    Skipped,
    Compensated,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Waiting => "waiting",
            NodeState::Running => "running",
            NodeState::Retrying => "retrying",
            NodeState::Succeeded => "succeeded",
            NodeState::Failed => "failed",
            NodeState::Cancelled => "cancelled",
            NodeState::Skipped => "skipped",
            NodeState::Compensated => "compensated",
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// One node's (or run-time copy's) record.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: Box<str>,
    pub state: NodeState,
    pub attempts: u32,
    pub duration: Duration,
    pub last_error: Box<str>,
    /// Tokens and cost over all attempts, for coding agents.
    pub usage: Option<Box<crate::store::usage::Usage>>,
    /// An approval gate's decision: who, when, why (set for the report).
    pub decision: Option<Box<crate::store::approvals::Decision>>,
}

/// What a finished run did.
pub struct RunResult {
    pub status: RunStatus,
    /// Nodes and run-time copies, in graph order.
    pub records: Vec<Record>,
    /// The first agent that failed, and why.
    pub failure: Option<(String, String)>,
    pub wall: Duration,
    pub critical_path: Duration,
    /// Of the wall time, what went to the kernel starting processes on the chain of
    /// nodes that decided when the run ended, and what went to coordination (see
    /// `engine::scheduler::timeline`).
    pub process_start: Duration,
    pub coordination: Duration,
    /// Saga steps compensated: (step, ok).
    pub compensated: Vec<(String, bool)>,
    /// What every coding agent spent, this run and before a resume.
    pub spent: crate::store::usage::Usage,
}
