//! `plan run --dry-run`: the schedule level by level, each node's rendered command
//! or prompt; nothing runs.

use indexmap::IndexMap;
use plan_compiler::graph::{PublishStep, UnitKind};
use serde_json::Value;

use crate::engine::prepare::{describe, Prepared, Preparer};
use crate::engine::render::{NodeVars, Renderer};

/// `--dry-run`: the schedule level by level, each node's rendered command or prompt.
pub fn print_schedule(renderer: &Renderer) {
    use std::fmt::Write;
    let mut out = String::new();
    let shared = &renderer.run;
    let graph = &shared.graph;
    let Ok(order) = graph.topo_order() else {
        return;
    };
    let levels = graph.levels(&order);
    let _ = writeln!(
        out,
        "plan {} · {} nodes · {} levels (dry run: nothing runs)",
        shared.plan.name,
        graph.graph.node_count(),
        levels.len()
    );
    for (i, level) in levels.iter().enumerate() {
        let _ = writeln!(out, "level {i}:");
        for &ix in level {
            let unit = &graph.graph[ix];
            if unit.kind == UnitKind::Hold {
                let _ =
                    writeln!(out, "  {}: wait for a person to approve the plan before anything runs (--hold)", unit.id);
                continue;
            }
            if let UnitKind::Publish { step } = unit.kind {
                let what = match step {
                    PublishStep::Approve => "wait for a person to approve the agents' diff (`git.approve`)",
                    PublishStep::Commit => "commit the agents' changes on the run's branch",
                    PublishStep::Push => "push the branch to origin",
                    PublishStep::PullRequest => "open a pull request",
                };
                let _ = writeln!(out, "  {}: {what}", unit.id);
                continue;
            }
            let Some(meta) = shared.tree.get(unit.agent()) else {
                continue;
            };
            let text = match &unit.kind {
                UnitKind::DynamicMap => "map: one copy per item, known at run time".to_string(),
                UnitKind::Gather { consensus, has_agent: false } => format!("vote: {consensus}"),
                kind => {
                    let item = match kind {
                        UnitKind::MapCopy { item, .. } => Some(serde_json::Value::clone(item)),
                        _ => None,
                    };
                    let vote = matches!(kind, UnitKind::Gather { .. }).then(|| crate::engine::consensus::Vote {
                        value: Value::String("<consensus>".into()),
                        votes: IndexMap::new(),
                        agreed: true,
                    });
                    let vars = NodeVars {
                        attempt: 1,
                        last_error: "",
                        candidate: None,
                        item: item.as_ref(),
                        consensus: vote.as_ref(),
                        node_id: &unit.id,
                        session: None,
                        cost_left: None,
                        gateway: None,
                    };
                    let prepared =
                        renderer.run.step(&meta).and_then(|step| Preparer::new(renderer).prepare(&step, meta, &vars));
                    match prepared {
                        Ok(Prepared::Done(_)) => {
                            format!("uses: {}", meta.agent.uses.as_deref().unwrap_or("noop"))
                        }
                        Ok(Prepared::Run(work, _)) => describe(&work),
                        Err(e) => format!("(rendered at run time, from earlier outputs: {e})"),
                    }
                }
            };
            let _ = writeln!(out, "  {}: {text}", unit.id);
        }
    }
    crate::commands::stdout(&out);
}
