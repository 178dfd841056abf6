//! Pattern shape: each pattern has the parts it needs and no parts of another.
//!
//! Codes: `pattern-without-children` (a pattern coordinates nobody),
//! `scatter-gather-too-few` (fewer than 2 answers to compare),
//! `mapreduce-without-map`, `misplaced-field` (`join`, `reduce`, `map`, `gather`,
//! `replicas` or `compensate` on the wrong pattern), `nested-copy` (a map, replica or
//! gather agent with children of its own), and `saga-step-without-compensate`
//! (warning: that step cannot be undone).
//! Why: these plans would silently do something else than they say.
//! Fix: the help line of each diagnostic.

use plan_schema::Pattern;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::load::agents::{pattern_of, Slot};

pub const RULE: Rule = Rule {
    codes: &[
        ("pattern-without-children", Severity::Error),
        ("scatter-gather-too-few", Severity::Error),
        ("mapreduce-without-map", Severity::Error),
        ("misplaced-field", Severity::Error),
        ("nested-copy", Severity::Error),
        ("saga-step-without-compensate", Severity::Warning),
    ],
    summary: "a pattern lacks its parts or carries another pattern's",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for a in ctx.agents.iter() {
        let agent = a.agent;
        let p = a.pointer;
        let pattern = pattern_of(agent);
        let declared = agent.pattern.is_some();
        if declared && agent.agents.is_empty() && agent.map.is_none() {
            out.push(
                ctx.error(
                    "pattern-without-children",
                    ctx.value_span(&format!("{p}/pattern")),
                    format!("pattern `{pattern}` has no agents to coordinate"),
                )
                .help(if pattern == Pattern::Mapreduce {
                    "add `map: {over, agent}`"
                } else {
                    "add children under `agents:`, or remove `pattern`"
                }),
            );
        }
        if pattern == Pattern::ScatterGather && !agent.agents.is_empty() {
            match (agent.agents.len(), agent.replicas) {
                (1, None) | (1, Some(1)) => out.push(
                    ctx.error(
                        "scatter-gather-too-few",
                        ctx.value_span(&format!("{p}/pattern")),
                        "scatter-gather needs at least 2 answers to compare",
                    )
                    .help("add another agent, or set `replicas: N` (N >= 2) to run copies of this one"),
                ),
                (n, Some(_)) if n > 1 => out.push(
                    ctx.error(
                        "misplaced-field",
                        ctx.key_span(&format!("{p}/replicas")),
                        "`replicas` copies a single agent, but this one has several",
                    )
                    .help("keep one agent under `agents`, or remove `replicas`"),
                ),
                _ => {}
            }
        }
        if pattern == Pattern::Mapreduce && agent.map.is_none() && declared {
            out.push(
                ctx.error("mapreduce-without-map", ctx.value_span(&format!("{p}/pattern")), "mapreduce without `map`")
                    .help("add `map: {over: [...], as: item, agent: {...}}`"),
            );
        }
        let misplaced: [(&str, bool, Pattern); 5] = [
            ("join", agent.join.is_some(), Pattern::ForkJoin),
            ("map", agent.map.is_some(), Pattern::Mapreduce),
            ("reduce", agent.reduce.is_some(), Pattern::Mapreduce),
            ("gather", agent.gather.is_some(), Pattern::ScatterGather),
            ("replicas", agent.replicas.is_some(), Pattern::ScatterGather),
        ];
        for (field, present, belongs) in misplaced {
            if present && pattern != belongs {
                out.push(
                    ctx.error(
                        "misplaced-field",
                        ctx.key_span(&format!("{p}/{field}")),
                        format!("`{field}` belongs to `{belongs}`, but this agent's pattern is `{pattern}`"),
                    )
                    .help(format!("set `pattern: {belongs}`, or remove `{field}`")),
                );
            }
        }
        if pattern == Pattern::Mapreduce && !agent.agents.is_empty() {
            out.push(
                ctx.error(
                    "misplaced-field",
                    ctx.key_span(&format!("{p}/agents")),
                    "mapreduce runs copies of `map.agent`, not `agents`",
                )
                .help("move the work into `map.agent`, or use `pattern: fork-join`"),
            );
        }
        let parent_is_saga = a.slot == Slot::Child && a.parent.and_then(|p| p.pattern) == Some(Pattern::Saga);
        if agent.compensate.is_some() && !parent_is_saga {
            out.push(
                ctx.error(
                    "misplaced-field",
                    ctx.key_span(&format!("{p}/compensate")),
                    "`compensate` only runs for the steps of a saga",
                )
                .help("make the parent `pattern: saga`, or remove `compensate`"),
            );
        }
        // A gate does nothing to undo.
        if parent_is_saga && agent.compensate.is_none() && agent.uses.as_deref() != Some("approval") {
            out.push(
                ctx.warning("saga-step-without-compensate", ctx.value_span(&format!("{p}/id")), format!("saga step `{}` has no `compensate`", agent.id))
                    .help("add `compensate:` with the command that undoes this step, or it stays done when a later step fails"),
            );
        }
        let is_copy = a.slot == Slot::Map
            || a.slot == Slot::Gather
            || (a.slot == Slot::Child && a.parent.is_some_and(|p| p.replicas.is_some() && p.agents.len() == 1));
        if is_copy && agent.has_children() {
            out.push(
                ctx.error(
                    "nested-copy",
                    ctx.key_span(&format!("{p}/agents")),
                    "a map, replica or gather agent runs as one unit and cannot have children",
                )
                .help("give it `run`, `uses` or a prompt, and move the children elsewhere"),
            );
        }
    }
}
