//! `missing-file`: a `prompt_file`, `commit_file` or `body_file` cannot be read;
//! `outside-repository`: a template read (a `*_file`, an `{% include %}`, a
//! `template.render` template) or a file written (`template.render` output) lies
//! outside the plan's repository.
//!
//! Why: the agent (or the commit) would fail at run time, maybe an hour in; and a
//! plan must not read `/etc/passwd` into a prompt or write over files outside its
//! repository.
//! Example: `prompt_file: prompts/fix.md.j2` that does not exist;
//! `prompt_file: /etc/passwd`; `{% include '../../x' %}`; `output: ../../x`.
//! Fix: correct the path; it is relative to the plan file's directory and stays in the
//! repository.

use std::path::Path;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};

pub const RULE: Rule = Rule {
    codes: &[("missing-file", Severity::Error), ("outside-repository", Severity::Error)],
    summary: "a template file cannot be read, or a path leaves the repository",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let root = crate::check::confine::root(ctx.base_dir);
    let outside = |path: &str| !crate::check::confine::inside(&root, ctx.base_dir, Path::new(path));
    let refuse = |pointer: &str, what: String| {
        ctx.error("outside-repository", ctx.value_span(pointer), what)
            .help("keep templates and outputs inside the repository that holds the plan")
    };
    for field in ctx.templates() {
        if let Ok(text) = &field.text {
            for name in includes(text).into_iter().filter(|n| outside(n)) {
                out.push(refuse(&field.pointer(ctx.agents), format!("`{name}` (included) is outside the repository")));
            }
        }
        if let Some(file) = field.file.filter(|f| outside(f)) {
            out.push(refuse(&field.pointer(ctx.agents), format!("template `{file}` is outside the repository")));
            continue;
        }
        if let (Some(file), Err(why)) = (&field.file, &field.text) {
            out.push(
                ctx.error(
                    "missing-file",
                    ctx.value_span(&field.pointer(ctx.agents)),
                    format!("cannot read template `{file}`: {why}"),
                )
                .help(format!("paths are relative to the plan file's directory ({})", ctx.base_dir.display())),
            );
        }
    }
    for a in ctx.agents.iter().filter(|a| a.agent.uses.as_deref() == Some("template.render")) {
        for key in ["template", "output"] {
            let Some(path) = a.agent.with().get(key).and_then(|v| v.as_str()) else { continue };
            if !path.contains("{{") && outside(path) {
                out.push(refuse(&format!("{}/with/{key}", a.pointer), format!("`{path}` is outside the repository")));
            }
        }
    }
}

/// The literal names a template includes, imports or extends.
fn includes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let tag = after[..end].trim_start_matches(['-', '+']).trim();
        let word = tag.split_whitespace().next().unwrap_or("");
        if matches!(word, "include" | "import" | "from" | "extends") {
            let arg = tag[word.len()..].trim_start();
            if let Some(q) = arg.chars().next().filter(|c| *c == '"' || *c == '\'') {
                if let Some(close) = arg[1..].find(q) {
                    out.push(arg[1..1 + close].to_string());
                }
            }
        }
        rest = &after[end + 2..];
    }
    out
}
