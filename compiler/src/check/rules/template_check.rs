//! `template-syntax`: a template does not parse; `undefined-variable`: a template uses
//! a name outside its context (e.g. `issue.titel`).
//!
//! Why: templates are rendered with strict undefined; these would fail at run time.
//! Example: `run: "echo {{ issue.titel }}"`. Fix: the "did you mean" in the help, or
//! declare the variable under `vars:` / the agent's `with:`.

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::check::suggest::suggest;
use crate::check::template_vars::simple_variables;
use crate::check::templates::Scope;

pub const RULE: Rule = Rule {
    codes: &[("template-syntax", Severity::Error), ("undefined-variable", Severity::Error)],
    summary: "a template does not parse or uses an undefined variable",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let env = crate::check::template_env::environment();
    for field in ctx.templates() {
        let Ok(text) = &field.text else { continue };
        if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
            continue;
        }
        let span = || ctx.value_span(&field.pointer(ctx.agents));
        let place = |line: Option<usize>| match (&field.file, line) {
            (Some(f), Some(l)) => format!(" (in {f}, line {l})"),
            (Some(f), None) => format!(" (in {f})"),
            (None, Some(l)) if text.lines().count() > 1 => format!(" (line {l} of the template)"),
            _ => String::new(),
        };
        // Most templates are plain `{{ name.field }}`s: read without compiling them.
        let names: Vec<String> = match simple_variables(text) {
            Some(names) => names.into_iter().map(str::to_string).collect(),
            None => match env.template_from_str(text) {
                Ok(template) => {
                    let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
                    names.sort();
                    names
                }
                Err(e) => {
                    let detail = e.detail().map_or_else(|| e.kind().to_string(), str::to_string);
                    out.push(
                        ctx.error(
                            "template-syntax",
                            span(),
                            format!("template syntax error: {detail}{}", place(e.line())),
                        )
                        .help("fix the minijinja syntax: `{{ expr }}`, `{% if %}...{% endif %}`"),
                    );
                    continue;
                }
            },
        };
        let scope = Scope::new(ctx.plan, ctx.agents, &field);
        for name in names {
            if let Err(undefined) = scope.check(&name) {
                let help = match suggest(&undefined.name, undefined.candidates.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if undefined.name.starts_with("vars.") => "declare it under `vars:`".to_string(),
                    None if undefined.name.starts_with("with.") => "declare it under this agent's `with:`".to_string(),
                    None => {
                        let shown: Vec<&str> = undefined.candidates.iter().take(12).map(String::as_str).collect();
                        let more = undefined.candidates.len().saturating_sub(shown.len());
                        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                        format!("available here: {}{more}", shown.join(", "))
                    }
                };
                out.push(
                    ctx.error(
                        "undefined-variable",
                        span(),
                        format!("undefined variable `{}`{}", undefined.name, place(None)),
                    )
                    .help(help),
                );
            }
        }
    }
}
