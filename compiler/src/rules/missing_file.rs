//! `missing-file`: a `prompt_file`, `commit_file` or `body_file` cannot be read.
//!
//! Why: the agent (or the commit) would fail at run time, maybe an hour in.
//! Example: `prompt_file: prompts/fix.md.j2` that does not exist.
//! Fix: correct the path; it is relative to the plan file's directory.

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule =
    Rule { codes: &[("missing-file", Severity::Error)], summary: "a template file cannot be read", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for field in ctx.templates {
        if let (Some(file), Err(why)) = (&field.file, &field.text) {
            out.push(
                ctx.error(
                    "missing-file",
                    ctx.value_span(&field.pointer),
                    format!("cannot read template `{file}`: {why}"),
                )
                .help(format!("paths are relative to the plan file's directory ({})", ctx.base_dir.display())),
            );
        }
    }
}
