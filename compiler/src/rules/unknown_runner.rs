//! `unknown-runner`: `runner` (on an agent or in `defaults`) names no entry of `runners`.
//!
//! Why: the agent could not start. Example: `runner: cluade`.
//! Fix: name a key of `runners`, or add the runner there.

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};
use crate::suggest::suggest;

pub const RULE: Rule =
    Rule { codes: &[("unknown-runner", Severity::Error)], summary: "`runner` names no entry of `runners`", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mut uses: Vec<(String, &str)> = Vec::new();
    if let Some(r) = ctx.plan.defaults.as_ref().and_then(|d| d.runner.as_deref()) {
        uses.push(("/defaults/runner".into(), r));
    }
    for a in ctx.agents.iter() {
        if let Some(r) = a.agent.runner.as_deref() {
            uses.push((format!("{}/runner", a.pointer), r));
        }
    }
    for (pointer, name) in uses {
        if ctx.plan.runners.contains_key(name) {
            continue;
        }
        let known: Vec<&str> = ctx.plan.runners.keys().map(String::as_str).collect();
        let help = match suggest(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => {
                format!("declare it: `runners: {{ {name}: {{ command: [...] }} }}`")
            }
            None => format!("declared runners: {}", known.join(", ")),
        };
        out.push(ctx.error("unknown-runner", ctx.value_span(&pointer), format!("unknown runner `{name}`")).help(help));
    }
}
