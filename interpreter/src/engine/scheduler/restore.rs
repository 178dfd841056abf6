//! What a resumed run brings back: the outputs of nodes that succeeded before, what
//! agents spent, and a step re-entered with feedback.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::Scheduler;
use crate::engine::job::JobKey;
use crate::store::recorder::Recorder;
use crate::store::usage::Usage;

impl<R: Recorder> Scheduler<R> {
    /// Outputs of nodes (and run-time copies) that succeeded in an earlier attempt of
    /// this run (`--resume`); they are not run again.
    pub fn restore(&mut self, outputs: HashMap<String, Value>, history: HashMap<String, (u32, Duration)>) {
        self.restored = outputs;
        self.history = history;
    }

    /// A restored node's attempts and duration (kept for its record).
    pub(super) fn restored_history(&mut self, key: JobKey, id: &str) -> Duration {
        let Some(&(attempts, duration)) = self.history.get(id) else { return Duration::ZERO };
        self.attempts.entry(key, 0).count = attempts;
        duration
    }

    /// What coding agents spent before a `--resume`, by node: it counts against the
    /// budgets.
    pub fn restore_spent(&mut self, spent: Vec<(String, Usage)>) {
        for (node, usage) in spent {
            let agent = node.split_once('[').map_or(node.as_str(), |(a, _)| a);
            let agent =
                self.ctx.graph.node(agent).map_or(agent.to_string(), |ix| self.ctx.unit(ix).agent().to_string());
            self.spent().add(&agent, &usage);
        }
    }

    /// A step re-entered with feedback: its attempts go on, in its session, told the
    /// feedback as the attempt before's error.
    pub fn reenter(&mut self, r: &crate::store::resume::Reentry) {
        let Some(node) = self.ctx.graph.node(&r.node) else { return };
        let a = self.attempts.entry(JobKey { node, copy: None }, r.attempts);
        a.count = r.attempts;
        a.last_error = r.feedback.clone().into_boxed_str();
        if let Some(s) = &r.session {
            a.agent_mut().session = Some(s.clone());
        }
    }
}
