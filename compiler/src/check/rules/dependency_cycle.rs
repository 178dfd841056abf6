//! `dependency-cycle`: `needs` closes a circle, so no agent on it can ever start.
//!
//! Why: a plan must be a DAG. The message names every agent on the circle.
//! Example: `a` needs `b` and `b` needs `a`; or a child that needs its own parent.
//! Fix: remove one of the `needs`.

use std::collections::BTreeSet;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule =
    Rule { codes: &[("dependency-cycle", Severity::Error)], summary: "agents wait for each other in a circle", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for cycle in ctx.graph.cycles() {
        let path = ctx.graph.cycle_path(&cycle);
        let mut names: Vec<&str> = Vec::new();
        for &ix in &path {
            let agent = ctx.graph.unit(ix).agent();
            if names.last() != Some(&agent) {
                names.push(agent);
            }
        }
        if names.len() > 1 && names.first() == names.last() {
            names.pop();
        }
        let members: BTreeSet<&str> = names.iter().copied().collect();
        // Point at the first `needs` entry between two agents of the circle.
        let culprit = ctx.agents.iter().filter(|a| members.contains(a.agent.id.as_str())).find_map(|a| {
            a.agent.needs.iter().position(|n| members.contains(n.as_str())).map(|i| format!("{}/needs/{i}", a.pointer))
        });
        let span = ctx.value_span(culprit.as_deref().unwrap_or(""));
        names.push(names[0]);
        out.push(
            ctx.error("dependency-cycle", span, format!("dependency cycle: {}", names.join(" -> ")))
                .help("remove one of these `needs`; an agent already waits for what its pattern implies"),
        );
    }
}
