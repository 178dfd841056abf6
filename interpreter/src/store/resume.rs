//! Reading a run back for `--resume`: which plan it ran (so `--resume RUN_ID` needs
//! no plan file), the plan's fingerprint then, and the outputs of every node that
//! succeeded — those are not run again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::store::journal::{self, Entry};
use crate::store::rundir::RunDir;
use crate::store::usage::Usage;
use crate::store::StoreError;

pub struct Resumed {
    pub dir: RunDir,
    /// The plan file the run started from, as the journal recorded it.
    pub plan: Option<PathBuf>,
    pub plan_hash: Option<String>,
    /// Outputs of the nodes (and run-time copies) that succeeded, by id.
    pub outputs: HashMap<String, Value>,
    /// What coding agents spent, by node: it stays spent.
    pub spent: Vec<(String, Usage)>,
    /// Attempts and duration of each node that succeeded, for the report.
    pub history: HashMap<String, (u32, Duration)>,
    /// What the run was asked to publish (`--commit`, `--pr`, `--draft`): a resumed
    /// run builds the same graph.
    pub publish: plan_compiler::graph::Publish,
    /// The hold it was started with (`--hold`): a resumed run keeps it.
    pub hold: Option<String>,
    /// The commit and branch the run first started from.
    pub base: Option<(String, Option<String>)>,
    /// Each coding agent's last session.
    pub sessions: HashMap<String, String>,
    /// Nodes in the order they succeeded (last success last).
    pub succeeded: Vec<String>,
    /// Rounds of feedback each node was re-entered with.
    pub rounds: HashMap<String, u32>,
    /// A round of feedback whose step has not succeeded since: it goes on.
    pub reentry: Option<Reentry>,
}

/// A step re-entered with feedback: its attempts go on from `attempts`, in its
/// session, told `feedback` as the attempt before's error.
#[derive(Clone, Debug, PartialEq)]
pub struct Reentry {
    pub node: String,
    pub round: u32,
    pub feedback: String,
    pub attempts: u32,
    pub session: Option<String>,
}

impl Resumed {
    /// Opens run `id` under `runs_dir` and replays its journal.
    pub fn open(runs_dir: &Path, id: &str) -> Result<Resumed, StoreError> {
        let dir = RunDir::find(runs_dir, Some(id))?;
        let entries = journal::replay(&dir.journal()).map_err(|e| StoreError::io("read", dir.journal(), e))?;
        let mut resumed = Resumed {
            dir,
            plan: None,
            plan_hash: None,
            outputs: HashMap::new(),
            spent: Vec::new(),
            history: HashMap::new(),
            publish: plan_compiler::graph::Publish::default(),
            hold: None,
            base: None,
            sessions: HashMap::new(),
            succeeded: Vec::new(),
            rounds: HashMap::new(),
            reentry: None,
        };
        let mut journaled = std::collections::HashSet::new();
        for e in entries {
            match e {
                Entry::RunStarted { plan, plan_hash, publish, hold, base, .. } if resumed.plan.is_none() => {
                    resumed.base = base;
                    resumed.plan = Some(PathBuf::from(plan));
                    resumed.plan_hash = Some(plan_hash);
                    resumed.publish = publish;
                    resumed.hold = hold;
                }
                Entry::NodeSucceeded { node, output, attempts, duration_ms } => {
                    resumed.history.insert(node.clone(), (attempts, Duration::from_millis(duration_ms)));
                    if resumed.reentry.as_ref().is_some_and(|r| r.node == node) {
                        resumed.reentry = None;
                    }
                    resumed.succeeded.retain(|n| *n != node);
                    resumed.succeeded.push(node.clone());
                    resumed.outputs.insert(node, output);
                }
                Entry::Session { node, session } => {
                    resumed.sessions.insert(node, session);
                }
                Entry::Reentered { node, round, feedback, reopened, .. } => {
                    let attempts = resumed.history.get(&node).map_or(0, |h| h.0);
                    for n in &reopened {
                        resumed.outputs.remove(n);
                        resumed.history.remove(n);
                    }
                    resumed.rounds.insert(node.clone(), round);
                    let session = resumed.sessions.get(&node).cloned();
                    resumed.reentry = Some(Reentry { node, round, feedback, attempts, session });
                }
                Entry::Spent { node, attempt, usage, .. } => {
                    journaled.insert((node.clone(), attempt));
                    resumed.spent.push((node, usage));
                }
                _ => {}
            }
        }
        // What went through the model gateway in an attempt the kill cut short (before
        // its spending was journaled) is in the gateway's record, request by request.
        let cut_short = crate::store::exchanges::spent(&resumed.dir.exchanges())
            .into_iter()
            .filter(|((node, attempt), _)| !journaled.contains(&(node.clone(), *attempt)))
            .map(|((node, _), usage)| (node, usage));
        resumed.spent.extend(cut_short);
        Ok(resumed)
    }

    /// Writes the output files of restored nodes that a killed run did not write.
    pub fn rewrite_outputs(&self) {
        for (node, value) in &self.outputs {
            let path = self.dir.output(node);
            if !(path.exists() || value.is_null() || *value == Value::String(String::new())) {
                if let Ok(bytes) = serde_json::to_vec_pretty(value) {
                    let _ = crate::store::rundir::write_atomic(&path, &bytes);
                }
            }
        }
    }

    /// Refuses a plan that changed since the run started, unless `force`.
    pub fn check_plan(&self, hash: &str, force: bool) -> Result<(), StoreError> {
        if self.plan_hash.as_deref().is_some_and(|h| h != hash) && !force {
            return Err(StoreError::PlanChanged(self.dir.id.clone()));
        }
        Ok(())
    }
}
