//! Approval gates on disk: a waiting gate leaves a request in
//! `approvals/<node>.request.json`; `plan approve`/`plan reject` answer it with
//! `approvals/<node>.json` (who, when, why), which the waiting run — or a resumed
//! one — reads. Both are written atomically, so a reader never sees half of one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::store::rundir::{write_atomic, RunDir};
use crate::store::StoreError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub node: String,
    pub message: String,
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub approved: bool,
    pub by: String,
    pub at: String,
    /// The comment of an approval, the reason of a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Decision {
    /// Who is deciding: `$PLAN_APPROVER`, else the login name.
    pub fn by_this_user(approved: bool, comment: Option<String>) -> Decision {
        let by = ["PLAN_APPROVER", "USER", "LOGNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            // SAFETY: getuid(2) cannot fail and touches no memory.
            .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }));
        Decision { approved, by, at: crate::store::clock::now(), comment }
    }
}

pub fn request_path(run_root: &std::path::Path, node: &str) -> PathBuf {
    RunDir::at(run_root).approval_request(node)
}

pub fn decision_path(run_root: &std::path::Path, node: &str) -> PathBuf {
    RunDir::at(run_root).approval_decision(node)
}

/// The request of gate `node`, if it is waiting or was.
pub fn request(run: &RunDir, node: &str) -> Option<Request> {
    serde_json::from_slice(&std::fs::read(request_path(&run.root, node)).ok()?).ok()
}

/// The decision on gate `node`, if there is one.
pub fn decision(run_root: &std::path::Path, node: &str) -> Option<Decision> {
    serde_json::from_slice(&std::fs::read(decision_path(run_root, node)).ok()?).ok()
}

/// Writes a gate's request (by the run that waits on it).
pub fn write_request(run_root: &std::path::Path, request: &Request) -> std::io::Result<()> {
    std::fs::create_dir_all(RunDir::at(run_root).approvals())?;
    let bytes = serde_json::to_vec_pretty(request).unwrap_or_default();
    write_atomic(&request_path(run_root, &request.node), &bytes)
}

/// Writes decision `d` on gate `node` (atomically: a reader sees none or all of it).
pub fn write_decision(run_root: &std::path::Path, node: &str, d: &Decision) -> std::io::Result<()> {
    std::fs::create_dir_all(RunDir::at(run_root).approvals())?;
    write_atomic(&decision_path(run_root, node), &serde_json::to_vec_pretty(d).unwrap_or_default())
}

/// Decides gate `node` of `run`: refused unless it asks for a decision and has none.
pub fn decide(run: &RunDir, node: &str, answer: &Decision) -> Result<(), StoreError> {
    if request(run, node).is_none() {
        return Err(StoreError::NoGate { id: run.id.clone(), node: node.to_string() });
    }
    if let Some(d) = decision(&run.root, node) {
        let what = if d.approved { "approved" } else { "rejected" };
        return Err(StoreError::Decided { node: node.to_string(), what: format!("{what} by {} at {}", d.by, d.at) });
    }
    write_decision(&run.root, node, answer).map_err(|e| StoreError::io("write", decision_path(&run.root, node), e))
}
