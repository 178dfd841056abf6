//! `unknown-need`: `needs` (or `map.over.lines_of`) names an agent that does not exist.
//!
//! Why: the agent would wait forever, or the reference is a typo.
//! Example: `needs: [buidl]`. Fix: name an existing agent id.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::check::suggest::suggest;

pub const RULE: Rule = Rule {
    codes: &[("unknown-need", Severity::Error)],
    summary: "`needs` or `lines_of` names an unknown agent",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut report = |pointer: String, name: &str| {
        if ctx.agents.get(name).is_some() {
            return;
        }
        let help = match suggest(name, ctx.agents.iter().map(|a| a.agent.id.as_str())) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "name the id of an agent in this plan".to_string(),
        };
        out.push(ctx.error("unknown-need", ctx.value_span(&pointer), format!("unknown agent `{name}`")).help(help));
    };
    for a in ctx.agents.iter() {
        for (i, need) in a.agent.needs.iter().enumerate() {
            report(format!("{}/needs/{i}", a.pointer), need);
        }
        if let Some(plan_schema::Over::LinesOf { lines_of }) = a.agent.map.as_ref().map(|m| &m.over) {
            report(format!("{}/map/over/lines_of", a.pointer), lines_of);
        }
    }
}
