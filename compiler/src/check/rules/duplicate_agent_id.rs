//! `duplicate-agent-id`: two agents share an id.
//!
//! Why: ids name status, log and output files and `needs`/`outputs.<id>` references;
//! a duplicate makes all of them ambiguous.
//! Example: two children both `id: tests`. Fix: rename one.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule =
    Rule { codes: &[("duplicate-agent-id", Severity::Error)], summary: "two agents share an id", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    // The index keeps the first agent of each id: any other of that id is a duplicate.
    for a in ctx.agents.iter() {
        let id = a.agent.id.as_str();
        let Some(first) = ctx.agents.get(id).filter(|f| f.pointer != a.pointer) else { continue };
        out.push(
            ctx.error(
                "duplicate-agent-id",
                ctx.value_span(&format!("{}/id", a.pointer)),
                format!("duplicate agent id `{id}`"),
            )
            .label(ctx.value_span(&format!("{}/id", first.pointer)), format!("`{id}` is first used here"))
            .help("give every agent a unique id"),
        );
    }
}
