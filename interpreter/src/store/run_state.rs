//! A run as its journal tells it: each node's state, attempt and duration, and
//! whether the run finished, is running, or was interrupted. Read by `plan status`,
//! `plan runs`, `plan logs` and `plan graph --run`.

use std::path::Path;
use std::time::SystemTime;

use indexmap::IndexMap;
use serde::Serialize;

use crate::store::journal::{self, Entry};
use crate::store::rundir::RunDir;
use crate::store::state::{NodeState, RunStatus};
use crate::store::usage::Usage;
use crate::store::StoreError;

#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeSummary {
    pub state: NodeState,
    pub attempt: u32,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    /// What a coding agent is doing now: the last line of its log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Tokens and cost of a coding agent, over its attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Replayed from the step cache: what producing it had spent (saved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<Usage>,
    /// What each attempt's acceptance checks found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::engine::accept::Checks>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunState {
    pub run_id: String,
    pub plan: String,
    /// `running`, `waiting` (a gate asks a person), `succeeded`, `failed`,
    /// `interrupted` (stopped, or killed with no `run_finished` written).
    pub state: RunStatus,
    pub started_at: String,
    pub elapsed: String,
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub pid: u32,
    /// What coding agents spent in this run.
    pub spent: Usage,
    /// What the run publishes after its agents (its graph's trailing steps).
    #[serde(skip)]
    pub publish: plan_compiler::graph::Publish,
    /// Whether a person's review holds everything (`plan run --hold`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    pub nodes: IndexMap<String, NodeSummary>,
    /// Rounds of feedback on the run's pull request (a failed check, a review) that
    /// re-entered a step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<Round>,
}

/// One round of feedback: which step it re-entered, on what, when.
#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub node: String,
    pub round: u32,
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub at: String,
    /// What the step was told (its first lines).
    pub feedback: String,
}

impl RunState {
    /// The run in one line of JSON, as `plan runs --json` and the web view list it.
    pub fn brief(&self) -> serde_json::Value {
        let name = Path::new(&self.plan).file_stem().map(|s| s.to_string_lossy().into_owned());
        serde_json::json!({
            "run_id": self.run_id, "plan": self.plan, "name": name, "state": self.state,
            "started_at": self.started_at, "elapsed": self.elapsed, "done": self.done, "total": self.total,
            "failed": self.failed, "tokens": self.spent.tokens(), "cost_usd": self.spent.cost_usd,
        })
    }
}

/// Reads run `dir`.
pub fn read(dir: &RunDir) -> Result<RunState, StoreError> {
    let entries = journal::replay(&dir.journal()).map_err(|e| StoreError::io("read", dir.journal(), e))?;
    let mut run = RunState {
        run_id: dir.id.clone(),
        plan: String::new(),
        state: RunStatus::Interrupted,
        started_at: String::new(),
        elapsed: String::new(),
        total: 0,
        done: 0,
        failed: 0,
        pid: 0,
        spent: Usage::default(),
        publish: plan_compiler::graph::Publish::default(),
        held: false,
        nodes: IndexMap::new(),
        feedback: Vec::new(),
    };
    let mut finished = None;
    for e in entries {
        match e {
            Entry::RunStarted { plan, at, nodes, pid, publish, hold, .. } => {
                run.plan = plan;
                run.publish = publish;
                run.held = hold.is_some();
                if run.started_at.is_empty() {
                    run.started_at = at;
                }
                run.total = nodes;
                run.pid = pid;
                finished = None;
            }
            Entry::NodeStarted { node, attempt, .. } => {
                let n = run.nodes.entry(node).or_default();
                n.state = NodeState::Running;
                n.attempt = attempt;
            }
            Entry::NodeSucceeded { node, attempts, duration_ms, .. } => {
                let n = run.nodes.entry(node).or_default();
                n.state = NodeState::Succeeded;
                n.attempt = attempts;
                n.duration_ms = Some(duration_ms);
                n.error = None;
            }
            Entry::NodeFailed { node, attempt, error, will_retry } => {
                let n = run.nodes.entry(node).or_default();
                n.state = if will_retry { NodeState::Retrying } else { NodeState::Failed };
                n.attempt = attempt;
                n.error = Some(error);
            }
            Entry::Cached { node, saved, .. } => {
                run.nodes.entry(node).or_default().cached = Some(saved.unwrap_or_default());
            }
            Entry::Session { .. } => {}
            Entry::Reentered { node, round, kind, source, feedback, reopened, at } => {
                for n in &reopened {
                    if let Some(summary) = run.nodes.get_mut(n) {
                        summary.state = NodeState::Pending;
                    }
                }
                let feedback = feedback.lines().take(12).collect::<Vec<_>>().join("\n");
                run.feedback.push(Round { node, round, kind, source, at, feedback });
            }
            Entry::Checked { node, checks } => run.nodes.entry(node).or_default().checks.push(*checks),
            Entry::Compensated { agent, ok, error } => {
                let n = run.nodes.entry(format!("{agent}.compensate")).or_default();
                n.state = if ok { NodeState::Compensated } else { NodeState::Failed };
                n.error = error;
            }
            Entry::Spent { node, usage, .. } => {
                run.spent.add(&usage);
                run.nodes.entry(node).or_default().usage.get_or_insert_with(Usage::default).add(&usage);
            }
            Entry::RunFinished { status, at } => finished = Some((status, at)),
        }
    }
    let running = dir.is_running();
    run.state = match (&finished, running) {
        (_, true) => RunStatus::Running,
        (Some((status, _)), false) => *status,
        (None, false) => RunStatus::Interrupted,
    };
    if !running {
        for n in run.nodes.values_mut().filter(|n| n.state == NodeState::Running || n.state == NodeState::Retrying) {
            n.state = NodeState::Interrupted;
        }
    }
    let gates = dir.approvals().is_dir();
    // A run that recorded its end (it finished, or was stopped) is final: its gates
    // wait for no one. One whose process died without a word still waits: a decision
    // resumes it.
    let open = running || finished.is_none();
    for (id, n) in run.nodes.iter_mut() {
        // A gate asked for a decision and has none: it waits for a person.
        let open_gate = open
            && gates
            && crate::store::approvals::request(dir, id).is_some()
            && crate::store::approvals::decision(&dir.root, id).is_none();
        if open_gate && (n.state == NodeState::Running || n.state == NodeState::Interrupted) {
            n.state = NodeState::Waiting;
        }
        if n.state == NodeState::Running || n.state == NodeState::Waiting {
            n.step = last_line(&dir.log(id));
        }
    }
    if run.nodes.values().any(|n| n.state == NodeState::Waiting) {
        run.state = RunStatus::Waiting;
    }
    run.done = run.nodes.values().filter(|n| n.state == NodeState::Succeeded).count();
    run.failed = run.nodes.values().filter(|n| n.state == NodeState::Failed).count();
    run.total = run.total.max(run.nodes.keys().filter(|k| !k.ends_with(".compensate")).count());
    let started = std::fs::metadata(dir.journal()).and_then(|m| m.created().or_else(|_| m.modified())).ok();
    let end = if running {
        Some(SystemTime::now())
    } else {
        std::fs::metadata(dir.journal()).and_then(|m| m.modified()).ok()
    };
    if let (Some(s), Some(e)) = (started, end) {
        run.elapsed = crate::store::metrics::human_duration(e.duration_since(s).unwrap_or_default());
    }
    Ok(run)
}

/// The last line of a file (read from its end: logs can be long).
fn last_line(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(120).collect())
}

/// Run ids under `runs_dir`, oldest first (ids sort by start time).
pub fn list(runs_dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(runs_dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| RunDir::at(&e.path()).journal().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}
