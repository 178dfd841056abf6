//! `agent-without-work`: an agent with neither work of its own nor children;
//! `conflicting-work`: an agent with more than one kind of work.
//!
//! Why: the first would succeed having done nothing; the second is ambiguous.
//! Example: `{id: fix}` alone; `{id: x, run: make, uses: noop}`.
//! Fix: give it exactly one of `run`, `uses`, `prompt`/`prompt_file` (a prompt may
//! go with `run`: it becomes the command's stdin), or children.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule = Rule {
    codes: &[("agent-without-work", Severity::Error), ("conflicting-work", Severity::Error)],
    summary: "an agent does no work, or several kinds at once",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for a in ctx.agents.iter() {
        let agent = a.agent;
        if !agent.has_work() && !agent.has_children() {
            out.push(
                ctx.error(
                    "agent-without-work",
                    ctx.value_span(&format!("{}/id", a.pointer)),
                    format!("agent `{}` does no work", agent.id),
                )
                .help("give it `run`, `uses`, `prompt` or `prompt_file`, or children under `agents`"),
            );
        }
        let conflicts = [
            ("uses", agent.uses.is_some() && agent.run.is_some(), "`run` and `uses`"),
            ("uses", agent.uses.is_some() && agent.has_prompt(), "`uses` and a prompt"),
            ("prompt_file", agent.prompt.is_some() && agent.prompt_file.is_some(), "`prompt` and `prompt_file`"),
        ];
        for (field, clash, what) in conflicts {
            if clash {
                out.push(
                    ctx.error(
                        "conflicting-work",
                        ctx.key_span(&format!("{}/{field}", a.pointer)),
                        format!("agent `{}` has both {what}", agent.id),
                    )
                    .help("keep one; split the work into two agents if both are needed"),
                );
            }
        }
    }
}
