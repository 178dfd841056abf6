//! `uses: approval`: the gate's branch waits for a person. The request goes to the
//! run directory and the agent's log (what `plan status` shows); `plan approve` or
//! `plan reject` writes the decision, which this reads. A rejection fails the node
//! (saga compensations run); a gate that times out is decided by its `on_timeout`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::engine::job::{Cancel, Outcome};
use crate::store::approvals::{self, Decision, Request};

/// A gate, ready to wait.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub run_root: PathBuf,
    pub node: String,
    pub run_id: String,
    pub message: String,
    pub timeout: Option<Duration>,
    /// What a timeout decides: approve (`true`) or reject.
    pub approve_on_timeout: bool,
}

/// Waits for the decision on `gate` (polling its file: a decision may come from
/// another process, or be there already when a run resumes).
pub async fn wait(gate: Gate, log: Option<PathBuf>, mut cancel: watch::Receiver<Cancel>) -> Outcome {
    if approvals::decision(&gate.run_root, &gate.node).is_none() {
        let request =
            Request { node: gate.node.clone(), message: gate.message.clone(), at: crate::store::clock::now() };
        if let Err(e) = approvals::write_request(&gate.run_root, &request) {
            return Outcome::Failed { error: format!("cannot write the approval request: {e}") };
        }
        if let Some(log) = log {
            let line = format!(
                "waiting for approval: {} · plan approve {id} {node} · plan reject {id} {node} --reason TEXT\n",
                gate.message.lines().next().unwrap_or(""),
                id = gate.run_id,
                node = gate.node
            );
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .and_then(|mut f| f.write_all(line.as_bytes()));
        }
    }
    let started = tokio::time::Instant::now();
    loop {
        if let Some(d) = approvals::decision(&gate.run_root, &gate.node) {
            return outcome(&d);
        }
        if gate.timeout.is_some_and(|t| started.elapsed() >= t) {
            let why = format!("no decision within {}", plan_schema::Duration(gate.timeout.unwrap_or_default()));
            let d = Decision {
                approved: gate.approve_on_timeout,
                by: "timeout".into(),
                at: crate::store::clock::now(),
                comment: Some(why),
            };
            // The decision is kept like a person's, or the gate fails saying why.
            if let Err(e) = approvals::write_decision(&gate.run_root, &gate.node, &d) {
                return Outcome::Failed { error: format!("cannot write the timeout's decision: {e}") };
            }
            return outcome(&d);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = cancel.wait_for(|c| *c != Cancel::None) => return Outcome::Cancelled,
        }
    }
}

fn outcome(d: &Decision) -> Outcome {
    if d.approved {
        Outcome::Succeeded { stdout: serde_json::to_string(d).unwrap_or_default() }
    } else {
        let reason = d.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
        Outcome::Failed { error: format!("rejected by {} at {}{reason}", d.by, d.at) }
    }
}
