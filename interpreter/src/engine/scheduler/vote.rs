//! Scatter-gather: the answers of a gather's children (or replicas) put to the vote.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;
use plan_compiler::graph::UnitKind;
use plan_schema::Consensus;
use serde_json::Value;

use super::Scheduler;
use crate::engine::consensus::{decide, Vote};
use crate::store::recorder::Recorder;

impl<R: Recorder> Scheduler<R> {
    /// The answers of a scatter-gather, one per child (or replica), in the order they
    /// finished, put to the vote.
    pub(super) fn vote(&self, gather: NodeIndex, rule: Consensus) -> Vote {
        let ctx = &self.ctx;
        let g = ctx.unit(gather);
        let depth = if matches!(g.kind, UnitKind::Gather { has_agent: true, .. }) {
            g.path().len() - 1
        } else {
            g.path().len()
        };
        // (finish order, declaration order, answer) per child or replica.
        let mut answers: HashMap<String, (usize, usize, Value)> = HashMap::new();
        for src in ctx.predecessors(gather) {
            let unit = ctx.unit(src);
            let seq = self.finish_seq[src.index()] as usize;
            let (key, value) = match &unit.kind {
                UnitKind::Replica { .. } => (unit.id.clone(), ctx.node_output(&unit.id)),
                _ => match unit.path().get(depth) {
                    Some(&child) => (child.to_string(), ctx.output_of(child)),
                    None => (unit.id.clone(), None),
                },
            };
            let entry = answers.entry(key).or_insert((seq, src.index(), value.unwrap_or(Value::Null)));
            entry.0 = entry.0.max(seq);
            entry.1 = entry.1.min(src.index());
        }
        let mut ordered: Vec<(usize, usize, Value)> = answers.into_values().collect();
        // `first` is about time; every other rule lists answers in declaration order.
        if rule == Consensus::First {
            ordered.sort_by_key(|(seq, _, _)| *seq);
        } else {
            ordered.sort_by_key(|(_, decl, _)| *decl);
        }
        decide(rule, &ordered.into_iter().map(|(_, _, v)| v).collect::<Vec<_>>())
    }
}
