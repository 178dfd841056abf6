//! `tier-fit` (warning): the number of working agents or the tree's depth does not
//! fit the plan's complexity tier (docs/format.md, "Complexity tiers").
//!
//! Why: a tier sets expectations (cost, review effort); a mismatch usually means the
//! tier or the tree is wrong. Example: `complexity: atomic` with 4 agents.
//! Fix: change `complexity`, or reshape the tree.

use plan_schema::Complexity;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::graph::UnitKind;
use crate::load::agents::Slot;

pub const RULE: Rule =
    Rule { codes: &[("tier-fit", Severity::Warning)], summary: "agent count or depth outside the tier's range", check };

/// Working agents (min, max) and depth (min, max) of each tier. A tier is the issue's
/// size: it bounds how many agents and how deep, and never asks for more agents than
/// the issue has independent pieces of work (a moderate issue told in prose is one
/// agent's, with the tier's time).
pub fn tier_range(tier: Complexity) -> ((usize, usize), (usize, usize)) {
    match tier {
        Complexity::Atomic | Complexity::Simple => ((1, 1), (0, 0)),
        Complexity::Moderate => ((1, 5), (0, 1)),
        Complexity::Complex => ((1, 15), (0, 2)),
        Complexity::Enterprise => ((1, usize::MAX), (0, usize::MAX)),
    }
}

/// Leaves that do work: units of the DAG except joins, reduces, gathers and the
/// coordinating work of agents with children. A dynamic map counts once.
pub fn working_agents(ctx: &Ctx) -> usize {
    ctx.graph
        .graph
        .node_weights()
        .filter(|u| match u.kind {
            UnitKind::Work => {
                ctx.agents.get(u.agent()).is_some_and(|a| !a.agent.has_children() && a.slot != Slot::Gather)
            }
            UnitKind::MapCopy { .. } | UnitKind::Replica { .. } | UnitKind::DynamicMap => true,
            UnitKind::Join | UnitKind::Reduce | UnitKind::Gather { .. } | UnitKind::Publish { .. } | UnitKind::Hold => {
                false
            }
        })
        .count()
}

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let tier = ctx.plan.complexity;
    let ((min_n, max_n), (min_d, max_d)) = tier_range(tier);
    let count = working_agents(ctx);
    let depth = ctx
        .agents
        .iter()
        .filter(|a| matches!(a.slot, Slot::Root | Slot::Child | Slot::Map))
        .map(|a| a.depth)
        .max()
        .unwrap_or(0);
    // A map whose items are known only at run time may bring any number of agents.
    let dynamic = ctx.graph.graph.node_weights().any(|u| u.kind == UnitKind::DynamicMap);
    let span = || ctx.value_span("/complexity");
    let range = |min: usize, max: usize| match (min, max) {
        (a, b) if a == b => a.to_string(),
        (a, usize::MAX) => format!("{a}+"),
        (a, b) => format!("{a}-{b}"),
    };
    if (count < min_n && !dynamic) || count > max_n {
        out.push(
            ctx.warning(
                "tier-fit",
                span(),
                format!("{count} working agents do not fit tier `{tier}` ({} expected)", range(min_n, max_n)),
            )
            .help(suggest_tier(count)),
        );
    }
    if depth < min_d || depth > max_d {
        out.push(
            ctx.warning(
                "tier-fit",
                span(),
                format!("a tree of depth {depth} does not fit tier `{tier}` (depth {} expected)", range(min_d, max_d)),
            )
            .help("change `complexity`, or reshape the agent tree"),
        );
    }
}

fn suggest_tier(count: usize) -> String {
    let fits: Vec<&str> = Complexity::ALL
        .iter()
        .filter(|t| {
            let ((a, b), _) = tier_range(**t);
            count >= a && count <= b
        })
        .map(|t| t.as_str())
        .collect();
    format!("change `complexity` to one that fits {count}: {}", fits.join(", "))
}
