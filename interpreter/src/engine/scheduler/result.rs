//! The record of a finished run: every node's and copy's state, attempts, duration
//! and spending, how the run ended, and its critical path.

use std::time::Duration;

use super::timeline::{Split, Timeline};
use super::Scheduler;

use crate::engine::job::JobKey;
use crate::store::recorder::Recorder;
use crate::store::state::{NodeState, Record, RunResult, RunStatus};

impl<R: Recorder> Scheduler<R> {
    /// The record of every node and copy, and how the run ended.
    pub(super) fn result(&mut self, wall: Duration, split: Split, compensated: Vec<(String, bool)>) -> RunResult {
        let ctx = self.ctx.clone();
        let status = if self.interrupted {
            RunStatus::Interrupted
        } else if self.failure.is_some() || self.state.iter().any(|s| *s != NodeState::Succeeded) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let mut records: Vec<Record> = Vec::with_capacity(ctx.node_count() + self.copies.len());
        for ix in ctx.nodes() {
            records.push(self.record(ix));
        }
        records.append(&mut self.copies);
        RunResult {
            status,
            records,
            failure: self.failure.take(),
            wall,
            critical_path: self.critical_path(),
            process_start: split.process_start,
            coordination: split.coordination,
            compensated,
            spent: self.spent().total(),
            workspaces: self.checkout.as_ref().map(|c| c.kind.as_str()),
            gateway: self.gateway_summary(),
        }
    }

    /// One node's record as it stands; one not started is skipped.
    fn record(&self, ix: petgraph::graph::NodeIndex) -> Record {
        let mut state = self.state[ix.index()];
        if matches!(state, NodeState::Pending | NodeState::Queued) {
            state = NodeState::Skipped;
        }
        let a = self.attempts.get(&JobKey { node: ix, copy: None });
        Record {
            id: self.ctx.unit(ix).id.as_str().into(),
            state,
            attempts: a.map_or(0, |a| a.count),
            duration: self.duration[ix.index()],
            last_error: a.map(|a| a.last_error.clone()).unwrap_or_default(),
            usage: a.and_then(|a| a.usage()).map(Box::new),
            metering: a.and_then(|a| a.metering()).map(Box::new),
            cached: a.and_then(|a| a.cached()),
            decision: None,
            blocked: a.map(|a| a.blocked()).unwrap_or_default(),
            verified: a.and_then(|a| a.verified()),
        }
    }

    /// The run of the agents so far, as a finished run's result would tell it (the
    /// scheduler goes on): what publishing templates see as `report`. Publishing
    /// steps are left out.
    pub(super) fn snapshot(&self) -> RunResult {
        let ctx = &self.ctx;
        let publishing = |ix: &petgraph::graph::NodeIndex| ctx.unit(*ix).kind.added();
        let mut records: Vec<Record> = ctx.nodes().filter(|ix| !publishing(ix)).map(|ix| self.record(ix)).collect();
        records.extend(self.copies.iter().cloned());
        let wall = self.timeline.origin().elapsed();
        let attempts = &self.attempts;
        let split = self.timeline.clone().split(wall, |n| {
            attempts.get(&JobKey { node: petgraph::graph::NodeIndex::new(n), copy: None }).and_then(|a| a.first_started)
        });
        // Publishing steps, not yet run, add nothing to it.
        let critical_path = longest_chain(ctx, &mut self.duration.clone());
        RunResult {
            status: RunStatus::Succeeded,
            records,
            failure: None,
            wall,
            critical_path,
            process_start: split.process_start,
            coordination: split.coordination,
            compensated: Vec::new(),
            spent: self.spent().total(),
            workspaces: self.checkout.as_ref().map(|c| c.kind.as_str()),
            gateway: self.gateway_summary(),
        }
    }

    /// Where the wall time went; the timeline (as long as the run is large) goes.
    pub(super) fn split(&mut self, wall: Duration) -> Split {
        let attempts = &self.attempts;
        std::mem::replace(&mut self.timeline, Timeline::new(0)).split(wall, |n| {
            attempts.get(&JobKey { node: petgraph::graph::NodeIndex::new(n), copy: None }).and_then(|a| a.first_started)
        })
    }

    /// The longest chain of agent durations through the graph. The records hold the
    /// durations by now: each node's becomes its finish time, in place.
    fn critical_path(&mut self) -> Duration {
        longest_chain(&self.ctx, &mut self.duration)
    }
}

/// The longest chain of `durations` (by node) through the graph; each becomes its
/// node's finish time, in place.
fn longest_chain(ctx: &crate::engine::context::RunContext, durations: &mut [Duration]) -> Duration {
    let mut best = Duration::ZERO;
    for ix in ctx.graph.topo_order().unwrap_or_default() {
        let start = ctx.predecessors(ix).map(|p| durations[p.index()]).max().unwrap_or(Duration::ZERO);
        durations[ix.index()] += start;
        best = best.max(durations[ix.index()]);
    }
    best
}
