//! The vocabulary of recorded facts: the state of a node, and how a run ended, as
//! status files, the journal and the report name them, and the record of a finished
//! run that the engine hands to the report.

use std::time::Duration;

pub use plan_schema::{NodeState, RunStatus};

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
    /// How the model gateway measured it: by model, rate-limit waits, the CLI's own
    /// figure beside the gateway's.
    pub metering: Option<Box<crate::store::usage::Metering>>,
    /// An approval gate's decision: who, when, why (set for the report).
    pub decision: Option<Box<crate::store::approvals::Decision>>,
    /// What its sandbox refused it, over all attempts.
    pub blocked: Box<[String]>,
    /// Replayed from the step cache: what producing it had spent (saved this run).
    pub cached: Option<Box<crate::store::usage::Usage>>,
    /// Its acceptance checks, attempt by attempt, and its `best_of` candidates.
    pub verified: Option<Box<Verified>>,
}

/// What held an agent's work to the plan's word: each attempt's checks, and the
/// candidates it was chosen among (with why the winner won).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Verified {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::engine::accept::Checks>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<crate::engine::best_of::Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
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
    /// What agents' workspaces of their own were made of (`copy-on-write` or
    /// `worktree`), in a run in a repository.
    pub workspaces: Option<&'static str>,
    /// The model gateway, when agents went through it.
    pub gateway: Option<crate::store::usage::GatewaySummary>,
}
