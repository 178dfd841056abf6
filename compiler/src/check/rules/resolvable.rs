//! Every agent resolves to a step (`crate::resolve`); what stops it is reported here,
//! at the field to fix. Because lint and the engine share `resolve::step`, a plan that
//! passes these checks runs without any of them being made again.
//!
//! - `unknown-runner`: `runner` (on an agent or in `defaults`) names no entry of
//!   `runners` and no built-in coding agent (claude, codex, aider). Example:
//!   `runner: cluade`. Fix: name a built-in runner or a key of `runners`.
//! - `runner-without-command`: an entry of `runners` with neither `command` nor a
//!   coding-agent CLI. Fix: add `command: [...]` or `cli: claude`.
//! - `prompt-without-runner`: a prompt with nothing to send it to (no `run`, no
//!   `runner`, no `defaults.runner`). Fix: set `runner:` or `defaults.runner`.
//!   Also `accept.judge.runner` (else the agent's runner), which must drive a
//!   coding-agent CLI.
//! - `unknown-action`: `uses` names no built-in action. Example: `uses: slep`.
//! - `missing-argument`: an action lacks a required `with` argument, or one does not
//!   parse (`sleep` with `duration: soon`).
//!
//! Why: the agent could not start.

use plan_schema::AgentCli;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::check::suggest::suggest;
use crate::resolve::{self, Problem, ACTIONS};

pub const RULE: Rule = Rule {
    codes: &[
        ("unknown-runner", Severity::Error),
        ("runner-without-command", Severity::Error),
        ("prompt-without-runner", Severity::Error),
        ("unknown-action", Severity::Error),
        ("missing-argument", Severity::Error),
    ],
    summary: "an agent does not resolve: an unknown runner or action, a prompt with no runner, a missing argument",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    runner_names(ctx, out);
    for a in ctx.agents.iter() {
        let Err(problem) = resolve::step(ctx.plan, a.agent) else {
            continue;
        };
        let uses = format!("{}/uses", a.pointer);
        match &problem {
            // Reported where the name is written, once (below, `runner_names`).
            Problem::UnknownRunner { .. } | Problem::RunnerWithoutCommand { .. } => {}
            Problem::NoRunner => {
                let field = if a.agent.prompt.is_some() { "prompt" } else { "prompt_file" };
                let mut help = String::from("set `runner:` on this agent or `defaults.runner`");
                if let Some(name) = ctx.plan.runners.keys().next() {
                    help.push_str(&format!(", e.g. `runner: {name}`"));
                }
                out.push(
                    ctx.error(
                        problem.code(),
                        ctx.key_span(&format!("{}/{field}", a.pointer)),
                        format!("agent `{}` has a prompt but no runner", a.agent.id),
                    )
                    .help(help),
                );
            }
            Problem::JudgeRunner { .. } => {
                let at = match a.agent.accept.as_ref().and_then(|x| x.judge.as_ref()) {
                    Some(j) if j.runner.is_some() => format!("{}/accept/judge/runner", a.pointer),
                    Some(_) => format!("{}/accept/judge", a.pointer),
                    None => "/defaults/accept/judge".to_string(),
                };
                out.push(
                    ctx.error(problem.code(), ctx.value_span(&at), problem.to_string())
                        .help("set `judge: { runner: claude }` (or codex, aider, or a `runners` entry with `cli`)"),
                );
            }
            Problem::UnknownAction { name } => {
                let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
                let help = match suggest(name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("built-in actions: {}", names.join(", ")),
                };
                out.push(ctx.error(problem.code(), ctx.value_span(&uses), problem.to_string()).help(help));
            }
            Problem::MissingArguments { action, args } => {
                for arg in args {
                    out.push(
                        ctx.error(problem.code(), ctx.value_span(&uses), format!("`{action}` needs `with.{arg}`"))
                            .help(format!("add `with: {{ {arg}: ... }}`")),
                    );
                }
            }
            Problem::InvalidArgument { arg, expected, .. } => {
                let at = ctx.value_span(&format!("{}/with/{arg}", a.pointer));
                out.push(ctx.error(problem.code(), at, problem.to_string()).help(format!("write {expected}")));
            }
        }
    }
}

/// Every `runner` written (on an agent or in `defaults`) names a runner, and every
/// `runners` entry can start something.
fn runner_names(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for (name, runner) in &ctx.plan.runners {
        if runner.command.is_none() && resolve::cli_of(name, Some(runner)).is_none() {
            let problem = Problem::RunnerWithoutCommand { name: name.clone() };
            out.push(
                ctx.error(problem.code(), ctx.key_span(&format!("/runners/{name}")), problem.to_string())
                    .help("add `command: [...]`, or `cli: claude` (or codex, aider) to drive a coding agent"),
            );
        }
    }
    let mut named: Vec<(String, &str)> = Vec::new();
    if let Some(r) = ctx.plan.defaults.as_ref().and_then(|d| d.runner.as_deref()) {
        named.push(("/defaults/runner".into(), r));
    }
    for a in ctx.agents.iter() {
        if let Some(r) = a.agent.runner.as_deref() {
            named.push((format!("{}/runner", a.pointer), r));
        }
    }
    for (pointer, name) in named {
        if resolve::runner_exists(ctx.plan, name) {
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
        let problem = Problem::UnknownRunner { name: name.to_string(), from_defaults: false };
        out.push(ctx.error(problem.code(), ctx.value_span(&pointer), problem.to_string()).help(help));
    }
}
