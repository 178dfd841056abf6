//! `--format json`: `{"diagnostics": [{file, line, column, severity, code, message, help}]}`.

use serde::Serialize;

use crate::check::diagnostic::{Diagnostic, Severity};

#[derive(Serialize)]
struct Report<'a> {
    diagnostics: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_column: usize,
    severity: Severity,
    code: &'a str,
    message: &'a str,
    help: Option<&'a str>,
}

pub fn render_json(diags: &[Diagnostic]) -> String {
    let report = Report {
        diagnostics: diags
            .iter()
            .map(|d| Entry {
                file: &d.file,
                line: d.span.start.line,
                column: d.span.start.col,
                end_column: d.span.start.col + d.span.len,
                severity: d.severity,
                code: d.code,
                message: &d.message,
                help: d.help.as_deref(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{\"diagnostics\":[]}".into());
    text.push('\n');
    text
}
