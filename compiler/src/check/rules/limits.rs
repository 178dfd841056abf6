//! `zero-timeout`, `empty-command`, `too-many-copies`, `quorum-unreachable`: plans that
//! would race, do nothing, exhaust the machine, or never agree.
//!
//! Why: `timeout: 0s` kills an agent before it starts (or not, depending on timing);
//! `run: []` runs nothing; a map or `replicas` of a million copies takes the
//! machine's memory before the first agent finishes; `quorum(3)` among two voters can
//! never be met.
//! Example: `timeout: 0s`; `run: []`; `replicas: 1000000`; `quorum(3)` with two agents.
//! Fix: a positive timeout; a command; fewer copies (or raise `limits.copies`); a
//! quorum no larger than the number of voters.

use plan_schema::{Command, Consensus, Limits, Over};

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule = Rule {
    codes: &[
        ("zero-timeout", Severity::Error),
        ("empty-command", Severity::Error),
        ("too-many-copies", Severity::Error),
        ("quorum-unreachable", Severity::Error),
    ],
    summary: "a zero timeout, an empty command, too many copies, or a quorum that cannot be met",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    if ctx.plan.defaults.as_ref().and_then(|d| d.timeout).is_some_and(|t| t.as_std().is_zero()) {
        out.push(zero_timeout(ctx, "/defaults/timeout"));
    }
    let limit = Limits::copies(ctx.plan.limits.as_ref());
    for a in ctx.agents.iter() {
        let agent = a.agent;
        let p = a.pointer;
        if agent.timeout.is_some_and(|t| t.as_std().is_zero()) {
            out.push(zero_timeout(ctx, &format!("{p}/timeout")));
        }
        for (field, cmd) in [("run", agent.run.as_ref()), ("compensate", agent.compensate.as_deref())] {
            let empty = match cmd {
                Some(Command::Argv(words)) => words.first().is_none_or(|w| w.trim().is_empty()),
                Some(Command::Shell(s)) => s.trim().is_empty(),
                None => false,
            };
            if empty {
                out.push(
                    ctx.error(
                        "empty-command",
                        ctx.value_span(&format!("{p}/{field}")),
                        format!("`{field}` runs nothing"),
                    )
                    .help("give the command to run, e.g. `run: [cargo, test]`"),
                );
            }
        }
        let copies = match (agent.replicas, agent.map.as_ref().map(|m| &m.over)) {
            (Some(n), _) => Some(("replicas", u64::from(n))),
            (None, Some(Over::List(items))) => Some(("map/over", items.len() as u64)),
            _ => None,
        };
        if let Some((field, n)) = copies.filter(|(_, n)| *n > u64::from(limit)) {
            out.push(
                ctx.error(
                    "too-many-copies",
                    ctx.value_span(&format!("{p}/{field}")),
                    format!("{n} copies of one agent; the limit is {limit}"),
                )
                .help("split the work, or raise `limits.copies` if the machine can take it"),
            );
        }
        if let Some(Consensus::Quorum(q)) = agent.gather.as_ref().map(|g| g.consensus) {
            let voters = agent.replicas.map_or(agent.agents.len() as u64, u64::from);
            if u64::from(q) > voters {
                out.push(
                    ctx.error(
                        "quorum-unreachable",
                        ctx.value_span(&format!("{p}/gather/consensus")),
                        format!("quorum({q}) among {voters} voters can never be met"),
                    )
                    .help(format!("use quorum(N) with N <= {voters}, or add voters")),
                );
            }
        }
    }
}

fn zero_timeout(ctx: &Ctx, pointer: &str) -> Diagnostic {
    ctx.error("zero-timeout", ctx.value_span(pointer), "a timeout of zero stops the agent before it can start")
        .help("give it time, e.g. `timeout: 30s`, or leave `timeout` out")
}
