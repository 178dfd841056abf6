//! `unknown-action`: `uses` names no built-in action, or misses a required argument.
//!
//! Why: the agent could not start. Example: `uses: slep`.
//! Fix: use one of the built-ins listed in the help.

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};
use crate::suggest::suggest;

/// Built-in actions and the `with` arguments each requires.
pub const ACTIONS: &[(&str, &[&str])] = &[
    ("noop", &[]),
    ("sleep", &["duration"]),
    ("template.render", &["template", "output"]),
    ("approval", &["message"]),
    ("git.branch", &["name"]),
    ("git.commit", &["message"]),
    ("github.pr", &["title"]),
    ("github.comment", &["body"]),
];

pub const RULE: Rule = Rule {
    codes: &[("unknown-action", Severity::Error), ("missing-argument", Severity::Error)],
    summary: "`uses` names no built-in action, or lacks its arguments",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for a in ctx.agents.iter() {
        let Some(uses) = a.agent.uses.as_deref() else {
            continue;
        };
        let pointer = format!("{}/uses", a.pointer);
        match ACTIONS.iter().find(|(name, _)| *name == uses) {
            None => {
                let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
                let help = match suggest(uses, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("built-in actions: {}", names.join(", ")),
                };
                out.push(
                    ctx.error("unknown-action", ctx.value_span(&pointer), format!("unknown action `{uses}`"))
                        .help(help),
                );
            }
            Some((_, required)) => {
                for arg in required.iter().filter(|arg| !a.agent.with().contains_key(**arg)) {
                    out.push(
                        ctx.error("missing-argument", ctx.value_span(&pointer), format!("`{uses}` needs `with.{arg}`"))
                            .help(format!("add `with: {{ {arg}: ... }}`")),
                    );
                }
                if uses == "sleep" {
                    let bad =
                        a.agent.with().get("duration").is_some_and(|d| {
                            d.as_str().and_then(|s| s.parse::<plan_schema::Duration>().ok()).is_none()
                        });
                    if bad {
                        out.push(
                            ctx.error(
                                "missing-argument",
                                ctx.value_span(&format!("{}/with/duration", a.pointer)),
                                "invalid duration",
                            )
                            .help("write a number and a unit: 500ms, 30s, 5m, 1h"),
                        );
                    }
                }
            }
        }
    }
}
