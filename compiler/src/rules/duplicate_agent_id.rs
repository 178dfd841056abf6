//! `duplicate-agent-id`: two agents share an id.
//!
//! Why: ids name status, log and output files and `needs`/`outputs.<id>` references;
//! a duplicate makes all of them ambiguous.
//! Example: two children both `id: tests`. Fix: rename one.

use std::collections::HashMap;

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule =
    Rule { codes: &[("duplicate-agent-id", Severity::Error)], summary: "two agents share an id", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for a in ctx.agents.iter() {
        let id = a.agent.id.as_str();
        match seen.get(id) {
            Some(first) => out.push(
                ctx.error(
                    "duplicate-agent-id",
                    ctx.value_span(&format!("{}/id", a.pointer)),
                    format!("duplicate agent id `{id}`"),
                )
                .label(ctx.value_span(&format!("{first}/id")), format!("`{id}` is first used here"))
                .help("give every agent a unique id"),
            ),
            None => {
                seen.insert(id, a.pointer);
            }
        }
    }
}
