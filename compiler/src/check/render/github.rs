//! `--format github`: GitHub Actions workflow commands that annotate the pull request.

use std::fmt::Write;

use crate::check::diagnostic::{Diagnostic, Severity};

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render_github(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},endColumn={},title={}::{}",
            escape_property(&d.file),
            d.span.start.line,
            d.span.start.col,
            d.span.start.col + d.span.len,
            escape_property(&format!("plan lint [{}]", d.code)),
            escape_data(&message)
        );
    }
    out
}
