//! The one minijinja environment every template is checked and rendered with: strict
//! undefined, and the filters `slug` and `shell_quote`. Issue text is passed as data
//! and never compiled as a template.

use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

/// Names minijinja provides itself; never "undefined" in a template.
pub const BUILTIN_NAMES: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "true",
    "false",
    "none",
];

/// A fresh environment with plan's settings and filters (no templates, no loader).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env.add_filter("slug", slug_filter);
    env.add_filter("shell_quote", shell_quote_filter);
    env
}

fn slug_filter(value: Value) -> String {
    slug(&value_text(&value))
}

fn shell_quote_filter(value: Value) -> String {
    if value.kind() == minijinja::value::ValueKind::Seq {
        if let Ok(iter) = value.try_iter() {
            return iter.map(|v| shell_quote(&value_text(&v))).collect::<Vec<_>>().join(" ");
        }
    }
    shell_quote(&value_text(&value))
}

fn value_text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// Lowercase ASCII letters and digits joined by single dashes, at most 60 characters.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.trim_end_matches('-').chars().take(60).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Quotes `text` for a POSIX shell: one word, whatever it contains.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_and_quote() {
        assert_eq!(slug("Fix: the `plan` CLI — now!"), "fix-the-plan-cli-now");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's; rm -rf /"), r"'it'\''s; rm -rf /'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("plain-word"), "plain-word");
    }

    #[test]
    fn filters_work_in_templates() {
        let env = environment();
        let out = env
            .render_str("echo {{ t | shell_quote }} {{ t | slug }}", minijinja::context! { t => "$(reboot) now" })
            .unwrap();
        assert_eq!(out, "echo '$(reboot) now' reboot-now");
        assert!(env.render_str("{{ missing }}", minijinja::context! {}).is_err());
    }
}
