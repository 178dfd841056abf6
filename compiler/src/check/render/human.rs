//! Human output in the style of rustc and ruff:
//! `path:line:col: error[code]: message`, the source line, a caret, a help line.

use std::fmt::Write;

use crate::check::diagnostic::{Diagnostic, Severity};
use crate::load::source::Source;

/// Whether to colour the output (only on a terminal, and never with `NO_COLOR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Color,
}

struct Paint(Style);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        match self.0 {
            Style::Plain => text.to_string(),
            Style::Color => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
}

/// Renders one diagnostic; `source` is the file it points into, when readable.
pub fn render_human(d: &Diagnostic, source: Option<&Source>, style: Style) -> String {
    let p = Paint(style);
    let (sev_color, caret_color) = match d.severity {
        Severity::Error => ("1;31", "1;31"),
        Severity::Warning => ("1;33", "1;33"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}: {}",
        p.wrap("1", &format!("{}:{}:{}", d.file, d.span.start.line, d.span.start.col)),
        p.wrap(sev_color, &format!("{}[{}]", d.severity, d.code)),
        p.wrap("1", &d.message)
    );
    if let Some(src) = source {
        let line = src.line(d.span.start.line);
        if !line.is_empty() || d.span.start.line <= src.line_count() {
            let num = d.span.start.line.to_string();
            let pad = " ".repeat(num.len());
            // Control characters are shown as their pictures (U+2400...), never sent raw.
            let line_shown: String = line
                .chars()
                .take(200)
                .map(|c| {
                    if c.is_control() && c != '\t' {
                        char::from_u32(0x2400 + u32::from(c).min(0x1f)).unwrap_or('?')
                    } else {
                        c
                    }
                })
                .collect();
            let _ = writeln!(out, "{pad} {}", p.wrap("1;34", "|"));
            let _ = writeln!(out, "{} {} {}", p.wrap("1;34", &num), p.wrap("1;34", "|"), line_shown);
            let indent: String = line
                .chars()
                .take(d.span.start.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let avail = line.chars().count().saturating_sub(d.span.start.col.saturating_sub(1)).max(1);
            let carets = "^".repeat(d.span.len.min(avail).max(1));
            let _ = writeln!(out, "{pad} {} {indent}{}", p.wrap("1;34", "|"), p.wrap(caret_color, &carets));
        }
    }
    for label in &d.labels {
        let _ = writeln!(
            out,
            "  {} {}:{}:{}: {}",
            p.wrap("1;34", "= note:"),
            d.file,
            label.span.start.line,
            label.span.start.col,
            label.message
        );
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  {} {help}", p.wrap("1;36", "= help:"));
    }
    out
}
