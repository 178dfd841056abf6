//! Run-time maps (`map.over` a previous output or a template): the items are known
//! only when the map starts; each becomes a copy that takes a slot of its own.

use std::time::Duration;

use petgraph::graph::NodeIndex;
use plan_schema::Over;
use serde_json::Value;

use super::{Event, Expansion, Scheduler};
use crate::engine::job::{JobKey, Outcome};
use crate::engine::render::NodeVars;
use crate::store::recorder::Recorder;
use crate::store::state::NodeState;

impl<R: Recorder> Scheduler<R> {
    /// The items of a run-time map, from the output it maps over.
    pub(crate) fn items_of(&self, node: NodeIndex) -> Result<Vec<Value>, String> {
        let ctx = &self.ctx;
        let unit = ctx.unit(node);
        let meta = ctx.meta_of(node).ok_or_else(|| format!("unknown agent `{}`", unit.agent()))?;
        let parent = meta.parent();
        let over = parent.and_then(|p| p.place.map.as_deref()).map(|(_, over, _)| over.clone());
        match over {
            Some(Over::LinesOf { lines_of }) => match ctx.output_of(&lines_of) {
                Some(Value::Array(items)) => Ok(items),
                Some(Value::String(s)) => Ok(s
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect()),
                Some(other) => Ok(vec![other]),
                None => Err(format!("`lines_of: {lines_of}`: that agent has no output")),
            },
            Some(Over::Template(t)) => {
                let vars = self.renderer.context(meta, &NodeVars { attempt: 1, ..NodeVars::default() });
                let text = self.renderer.render_str(&t, &vars).map_err(|e| e.to_string())?;
                match serde_json::from_str::<Value>(text.trim()) {
                    Ok(Value::Array(items)) => Ok(items),
                    _ => Err(format!("`map.over` must render to a JSON list, got: {}", text.trim())),
                }
            }
            _ => Err("this map has no run-time items".to_string()),
        }
    }

    /// Expands a run-time map into its copies.
    pub(super) fn expand(&mut self, node: NodeIndex) {
        let ctx = self.ctx.clone();
        let unit = ctx.unit(node);
        let items = self.items_of(node);
        let items = match items {
            Ok(items) => items,
            Err(error) => return self.finish_now(JobKey { node, copy: None }, Outcome::Failed { error }),
        };
        let limit = plan_schema::Limits::copies(ctx.plan.limits.as_ref()) as usize;
        if items.len() > limit {
            let error = format!(
                "map `{}` has {} items, more than `limits.copies` ({limit}); nothing was started",
                unit.agent(),
                items.len()
            );
            return self.finish_now(JobKey { node, copy: None }, Outcome::Failed { error });
        }
        if items.is_empty() {
            return self.finish_now(JobKey { node, copy: None }, Outcome::Succeeded { stdout: "[]".into() });
        }
        self.state[node.index()] = NodeState::Running;
        let n = items.len();
        if let Some(JobKey { copy: Some(only), .. }) = self.only {
            // `plan exec-node --copy I`: this copy alone.
            if only >= n {
                return self.finish_now(
                    JobKey { node, copy: None },
                    Outcome::Failed { error: format!("copy {only} of {n}: no such item") },
                );
            }
            self.expansions.insert(
                node,
                Expansion { items, outputs: vec![Some(Value::Null); n], remaining: 1, longest: Duration::ZERO },
            );
            if let Some(e) = self.expansions.get_mut(&node) {
                e.outputs[only] = None;
            }
            self.ready.push_front(JobKey { node, copy: Some(only) });
            return;
        }
        self.expansions
            .insert(node, Expansion { items, outputs: vec![None; n], remaining: n, longest: Duration::ZERO });
        // The expansion takes no slot of its own: its copies do, and it completes with
        // the last of them.
        for i in (0..n).rev() {
            let copy_id = format!("{}[{i}]", unit.agent());
            if let Some(v) = self.restored.get(&copy_id).cloned() {
                let key = JobKey { node, copy: Some(i) };
                let duration = self.restored_history(key, &copy_id);
                self.running += 1;
                self.handle(Event::Finished {
                    key,
                    ran: Box::new(Outcome::Succeeded { stdout: v.to_string() }.into()),
                    duration,
                });
            } else {
                self.ready.push_front(JobKey { node, copy: Some(i) });
            }
        }
    }
}
