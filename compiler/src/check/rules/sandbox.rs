//! `unsandboxed-issue-text`, `open-network-with-secrets`: an agent given more than a
//! sandbox allows, where that matters.
//!
//! Why: an agent with `sandbox: false` runs with `plan`'s own rights; if its prompt or
//! command carries issue text (written by anyone who can open an issue), that text
//! steers a process that can read every file and reach every host. An agent with
//! `network: any` that is passed secrets (`pass_env`) can send them anywhere.
//! Example: `sandbox: false` with `prompt: "Fix {{ issue.title }}"`; `network: any`
//! with `pass_env: [NPM_TOKEN]`.
//! Fix: keep the sandbox (list the hosts it needs in `network`), or keep issue text
//! and secrets away from the agent.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::resolve;

pub const RULE: Rule = Rule {
    codes: &[("unsandboxed-issue-text", Severity::Warning), ("open-network-with-secrets", Severity::Warning)],
    summary: "issue text steers an agent without a sandbox, or secrets go to an agent that may reach any host",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for field in ctx.templates() {
        let Some(a) = field.agent(ctx.agents) else { continue };
        let Ok(step) = resolve::step(ctx.plan, a.agent) else { continue };
        let Ok(text) = &field.text else { continue };
        if step.sandbox.on {
            continue;
        }
        if let Some(source) = super::unquoted_issue_text::tainted_source(text) {
            let message =
                format!("agent `{}` runs without a sandbox, and `{source}` (issue text) steers it", a.agent.id);
            out.push(
                ctx.warning("unsandboxed-issue-text", ctx.value_span(&field.pointer(ctx.agents)), message)
                    .help("remove `sandbox: false` (list the hosts it needs in `network`), or keep issue text out"),
            );
        }
    }
    let defaults_pass = ctx.plan.defaults.as_ref().is_some_and(|d| !d.pass_env.is_empty());
    for a in ctx.agents.iter() {
        let Ok(step) = resolve::step(ctx.plan, a.agent) else { continue };
        let passes = defaults_pass || !a.agent.pass_env.is_empty();
        if step.sandbox.on && step.sandbox.hosts.is_none() && passes {
            let at =
                if a.agent.network.is_some() { format!("{}/network", a.pointer) } else { "/defaults/network".into() };
            let message = format!("agent `{}` may reach any host and is passed secrets (`pass_env`)", a.agent.id);
            out.push(
                ctx.warning("open-network-with-secrets", ctx.value_span(&at), message)
                    .help("list the hosts it needs in `network` instead of `any`"),
            );
        }
    }
}
