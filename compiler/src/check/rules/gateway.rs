//! `unpriced-model`, `unmetered-budget`: spending the model gateway cannot count.
//!
//! Why: the gateway prices every model request from `plan`'s dated price table and
//! the plan's `prices:`; a request for a model found in neither is refused (no budget
//! could count it), so the agent would fail at its first request. An agent outside
//! the gateway (`gateway: false`, or a runner of its own command) is counted by what
//! its CLI reports — and Codex reports no cost, so a `cost_usd` budget cannot stop it.
//! Example: `runners: { fast: { cli: codex, model: gpt-9 } }`; `gateway: false` on a
//! Codex agent under `budget: { cost_usd: 5 }`.
//! Fix: price the model under `prices:` (US dollars per million tokens); keep the
//! gateway on, or budget Codex in `tokens`.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::resolve::{self, Work};
use plan_schema::AgentCli;

pub const RULE: Rule = Rule {
    codes: &[("unpriced-model", Severity::Warning), ("unmetered-budget", Severity::Warning)],
    summary: "a model the gateway has no price for, or a cost budget it cannot count",
    check,
};

/// Claude Code's model aliases: it sends the full name they stand for.
const CLAUDE_ALIASES: [&str; 6] = ["sonnet", "opus", "haiku", "opusplan", "default", "best"];

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let (_, mut models) = plan_schema::prices::table();
    models.extend(ctx.plan.prices.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (name, runner) in &ctx.plan.runners {
        let (Some(model), Some(cli)) = (runner.model.as_deref(), resolve::cli_of(name, Some(runner))) else { continue };
        if runner.command.is_some() || runner.gateway == Some(false) {
            continue;
        }
        if cli == AgentCli::Claude && CLAUDE_ALIASES.contains(&model) {
            continue;
        }
        // aider names models `provider/model`; the request names the model.
        let sent = model.rsplit_once('/').map_or(model, |(_, m)| m);
        if plan_schema::prices::lookup(&models, sent).is_none() {
            let message = format!(
                "runner `{name}`'s model `{sent}` has no price: the model gateway will refuse its requests, since no \
                 budget could count them"
            );
            out.push(
                ctx.warning("unpriced-model", ctx.value_span(&format!("/runners/{name}/model")), message)
                    .help(format!("add it under `prices:` (US dollars per million tokens), e.g. `prices: {{ {sent}: {{ input: 3, output: 15 }} }}`")),
            );
        }
    }
    let cost_budget = ctx.plan.budget.as_ref().is_some_and(|b| b.cost_usd.is_some());
    for a in ctx.agents.iter() {
        let Ok(step) = resolve::step(ctx.plan, a.agent) else { continue };
        let Work::Coding(coding) = &step.work else { continue };
        let own = step.budget.is_some_and(|b| b.cost_usd.is_some());
        if step.gateway || coding.cli != AgentCli::Codex || !(cost_budget || own) {
            continue;
        }
        let message = format!(
            "agent `{}` runs Codex outside the model gateway: Codex reports no cost, so `cost_usd` cannot stop it",
            a.agent.id
        );
        let at = match (a.agent.gateway, ctx.plan.defaults.as_ref().and_then(|d| d.gateway)) {
            (Some(_), _) => format!("{}/gateway", a.pointer),
            (None, Some(_)) => "/defaults/gateway".to_string(),
            (None, None) => format!("/runners/{}/gateway", coding.runner),
        };
        out.push(
            ctx.warning("unmetered-budget", ctx.value_span(&at), message)
                .help("remove `gateway: false` (the gateway meters Codex), or budget it in `tokens`"),
        );
    }
}
