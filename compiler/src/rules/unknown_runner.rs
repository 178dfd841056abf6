//! `unknown-runner`: `runner` (on an agent or in `defaults`) names no entry of
//! `runners` and no built-in coding agent (claude, codex, aider); and
//! `runner-without-command`: an entry of `runners` with neither `command` nor a
//! coding-agent CLI.
//!
//! Why: the agent could not start. Example: `runner: cluade`.
//! Fix: name a built-in runner or a key of `runners`, or add the runner there.

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};
use crate::suggest::suggest;
use plan_schema::AgentCli;

pub const RULE: Rule = Rule {
    codes: &[("unknown-runner", Severity::Error), ("runner-without-command", Severity::Error)],
    summary: "`runner` names no runner, or a runner has nothing to run",
    check,
};

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
    for (name, runner) in &ctx.plan.runners {
        if runner.command.is_none() && runner.cli.is_none() && AgentCli::named(name).is_none() {
            out.push(
                ctx.error(
                    "runner-without-command",
                    ctx.key_span(&format!("/runners/{name}")),
                    format!("runner `{name}` has no `command` and is no coding-agent CLI"),
                )
                .help("add `command: [...]`, or `cli: claude` (or codex, aider) to drive a coding agent"),
            );
        }
    }
    for (pointer, name) in uses {
        if ctx.plan.runners.contains_key(name) || AgentCli::named(name).is_some() {
            continue;
        }
        let builtin = AgentCli::ALL.map(AgentCli::as_str);
        let known: Vec<&str> = ctx.plan.runners.keys().map(String::as_str).chain(builtin).collect();
        let help = match suggest(name, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "runners: {} (built in), or declare it: `runners: {{ {name}: {{ command: [...] }} }}`",
                known.join(", ")
            ),
        };
        out.push(ctx.error("unknown-runner", ctx.value_span(&pointer), format!("unknown runner `{name}`")).help(help));
    }
}
