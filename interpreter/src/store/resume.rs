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
        };
        for e in entries {
            match e {
                Entry::RunStarted { plan, plan_hash, .. } if resumed.plan.is_none() => {
                    resumed.plan = Some(PathBuf::from(plan));
                    resumed.plan_hash = Some(plan_hash);
                }
                Entry::NodeSucceeded { node, output, attempts, duration_ms } => {
                    resumed.history.insert(node.clone(), (attempts, Duration::from_millis(duration_ms)));
                    resumed.outputs.insert(node, output);
                }
                Entry::Spent { node, usage, .. } => resumed.spent.push((node, usage)),
                _ => {}
            }
        }
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

    /// What the run was asked to publish (`--commit`, `--pr`, `--draft`).
    pub fn publishing(&self) -> Publishing {
        std::fs::read(self.dir.root.join(PUBLISHING))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Refuses a plan that changed since the run started, unless `force`.
    pub fn check_plan(&self, hash: &str, force: bool) -> Result<(), StoreError> {
        if self.plan_hash.as_deref().is_some_and(|h| h != hash) && !force {
            return Err(StoreError::PlanChanged(self.dir.id.clone()));
        }
        Ok(())
    }
}

const PUBLISHING: &str = "publish.json";

/// What a run publishes when its agents succeed, kept in `publish.json` so that a
/// resumed run (by `--resume` or `plan approve`) publishes too.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Publishing {
    pub commit: bool,
    pub pr: bool,
    pub draft: bool,
}

impl Publishing {
    /// Writes `publish.json` when the run publishes anything.
    pub fn record(&self, dir: &RunDir) -> Result<(), StoreError> {
        if !(self.commit || self.pr) {
            return Ok(());
        }
        let path = dir.root.join(PUBLISHING);
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        crate::store::rundir::write_atomic(&path, &bytes).map_err(|e| StoreError::io("write", path, e))
    }
}
