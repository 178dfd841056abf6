//! `prompt-without-runner`: an agent has a prompt but nothing to send it to.
//!
//! Why: a prompt goes to a runner (or to `run`'s stdin); without either it is lost.
//! Example: `{id: fix, prompt: "..."}` with no `runner` and no `defaults.runner`.
//! Fix: set `runner:` on the agent or `defaults.runner`, or add `run`.

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule = Rule {
    codes: &[("prompt-without-runner", Severity::Error)],
    summary: "a prompt with no runner to receive it",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let default_runner = ctx.plan.defaults.as_ref().and_then(|d| d.runner.as_ref());
    for a in ctx.agents.iter() {
        let agent = a.agent;
        if agent.has_prompt()
            && agent.run.is_none()
            && agent.uses.is_none()
            && agent.runner.is_none()
            && default_runner.is_none()
        {
            let field = if agent.prompt.is_some() { "prompt" } else { "prompt_file" };
            let mut help = String::from("set `runner:` on this agent or `defaults.runner`");
            if let Some(name) = ctx.plan.runners.keys().next() {
                help.push_str(&format!(", e.g. `runner: {name}`"));
            }
            out.push(
                ctx.error(
                    "prompt-without-runner",
                    ctx.key_span(&format!("{}/{field}", a.pointer)),
                    format!("agent `{}` has a prompt but no runner", agent.id),
                )
                .help(help),
            );
        }
    }
}
