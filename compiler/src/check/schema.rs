//! Schema check: validates the plan's JSON value against the schema generated from
//! the plan types, and maps every error's instance path back to the YAML node — the
//! key for an unknown field, the value for a bad value, the parent for a missing one.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::check::diagnostic::Diagnostic;
use crate::check::suggest::suggest;
use crate::load::source::Span;
use crate::load::yaml::{pointer_segments, Node};

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(plan_schema::json_schema)
}

fn validator() -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    VALIDATOR.get_or_init(|| jsonschema::draft7::new(schema()).ok()).as_ref()
}

/// The schema of one agent: the plan's, entered at `Agent`.
fn agent_validator() -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema = serde_json::json!({
                "$ref": "#/definitions/Agent",
                "definitions": schema().get("definitions").cloned().unwrap_or_default(),
            });
            jsonschema::draft7::new(&schema).ok()
        })
        .as_ref()
}

/// Whether `value` is a plan the schema accepts (no diagnostics: see `check`).
pub fn plan_is_valid(value: &Value) -> bool {
    validator().is_some_and(|v| v.is_valid(value))
}

/// Whether `value` is an agent the schema accepts.
pub fn agent_is_valid(value: &Value) -> bool {
    agent_validator().is_some_and(|v| v.is_valid(value))
}

/// Schema diagnostics for `value`; `tree` gives its YAML tree, asked for only when
/// there is an error to place.
pub fn check<'t>(file: &str, tree: impl FnOnce() -> Option<&'t Node>, value: &Value) -> Vec<Diagnostic> {
    let Some(validator) = validator() else {
        return vec![Diagnostic::error(
            "schema",
            file,
            Span::default(),
            "internal error: the plan schema does not compile",
        )];
    };
    if validator.is_valid(value) {
        return Vec::new();
    }
    let Some(root) = tree() else {
        return vec![Diagnostic::error("schema", file, Span::default(), "internal error: the plan has no YAML tree")];
    };
    let mut out = Vec::new();
    for error in validator.iter_errors(value) {
        report(file, root, &error, &mut out);
    }
    out
}

fn report(file: &str, root: &Node, error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().to_string();
    let segments = pointer_segments(&pointer);
    let (node, key) = root.lookup(&segments);
    let field = segments.last().map_or("plan", String::as_str);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = properties_at(&segments);
            for name in unexpected {
                let span = node.key(name).map_or(node.span, |k| k.span);
                let mut d = Diagnostic::error("unknown-field", file, span, format!("unknown field `{name}`"));
                d = match suggest(name, allowed.iter().map(String::as_str)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!("expected one of: {}", allowed.join(", "))),
                };
                out.push(d);
            }
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options.as_array().map_or_else(Vec::new, |a| a.iter().map(show).collect());
            let found = show(error.instance());
            let mut help = format!("expected one of: {}", options.join(", "));
            if let Some(s) = suggest(&found, options.iter().map(String::as_str)) {
                help = format!("did you mean `{s}`? {help}");
            }
            out.push(
                Diagnostic::error("invalid-value", file, node.span, format!("invalid {field} `{found}`")).help(help),
            );
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            let span = key.map_or(node.span, |k| k.span);
            let place = if segments.is_empty() { "the plan".to_string() } else { format!("`{field}`") };
            out.push(
                Diagnostic::error("missing-field", file, span, format!("missing field `{name}` in {place}"))
                    .help(format!("add `{name}:`; see `plan schema` for what it holds")),
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            let found = show(error.instance());
            let (what, help) = if pattern == plan_schema::DURATION_PATTERN {
                ("duration", "write a number and a unit: 500ms, 30s, 5m, 1h, 1m30s")
            } else if pattern == plan_schema::AGENT_ID_PATTERN {
                ("agent id", "ids start with a lowercase letter, then lowercase letters, digits, `_` or `-`")
            } else if pattern.starts_with("^quorum") {
                ("consensus", "expected majority, unanimous, quorum(N), first or all")
            } else {
                ("value", "see `plan schema` for the expected form")
            };
            out.push(
                Diagnostic::error("invalid-value", file, node.span, format!("invalid {what} `{found}`")).help(help),
            );
        }
        ValidationErrorKind::Type { .. } => {
            out.push(
                Diagnostic::error("invalid-type", file, node.span, format!("wrong type for `{field}`: {error}"))
                    .help(expected_help(&segments)),
            );
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Keep the branches that got past the type check; if exactly one did, its
            // errors are the real ones.
            let relevant: Vec<&Vec<ValidationError<'static>>> = context
                .iter()
                .filter(|branch| {
                    !branch.iter().all(|e| {
                        matches!(e.kind(), ValidationErrorKind::Type { .. }) && e.instance_path().to_string() == pointer
                    })
                })
                .collect();
            // A oneOf/anyOf of constants is an enum with documented variants.
            let constants: Option<Vec<String>> = context
                .iter()
                .map(|branch| match branch.as_slice() {
                    [e] => match e.kind() {
                        ValidationErrorKind::Constant { expected_value } => Some(show(expected_value)),
                        ValidationErrorKind::Enum { options } => {
                            options.as_array().map(|a| a.iter().map(show).collect::<Vec<_>>().join(", "))
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            if let Some(options) = constants.filter(|o| !o.is_empty()) {
                let found = show(error.instance());
                let mut help = format!("expected one of: {}", options.join(", "));
                if let Some(s) = suggest(&found, options.iter().map(String::as_str)) {
                    help = format!("did you mean `{s}`? {help}");
                }
                out.push(
                    Diagnostic::error("invalid-value", file, node.span, format!("invalid {field} `{found}`"))
                        .help(help),
                );
            } else if relevant.len() == 1 {
                for e in relevant[0] {
                    report(file, root, e, out);
                }
            } else {
                out.push(
                    Diagnostic::error("invalid-type", file, node.span, format!("invalid `{field}`"))
                        .help(expected_help(&segments)),
                );
            }
        }
        _ => {
            out.push(
                Diagnostic::error("invalid-value", file, node.span, format!("invalid `{field}`: {error}"))
                    .help(expected_help(&segments)),
            );
        }
    }
}

fn expected_help(segments: &[String]) -> String {
    let field = segments.last().map_or("the plan", String::as_str);
    match schema_at(segments).and_then(|s| s.get("description")).and_then(Value::as_str) {
        Some(desc) => format!("`{field}` is {}", lower_first(desc.trim_end_matches('.'))),
        None => "see `plan schema` for the expected form".into(),
    }
}

/// A schema description as one help line: first letter lowered, lines joined.
fn lower_first(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Follows `$ref` and single-element `allOf` to the schema that has the content.
fn resolve(mut node: &'static Value) -> &'static Value {
    for _ in 0..16 {
        if let Some(r) = node.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            match schema().get("definitions").and_then(|d| d.get(name)) {
                Some(target) => node = target,
                None => return node,
            }
        } else if let Some([only]) = node.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            node = only;
        } else {
            return node;
        }
    }
    node
}

/// The schema of the instance at `segments`, walking properties, items and anyOf branches.
fn schema_at(segments: &[String]) -> Option<&'static Value> {
    let mut node = resolve(schema());
    for seg in segments {
        node = step(node, seg)?;
    }
    Some(node)
}

fn step(node: &'static Value, seg: &str) -> Option<&'static Value> {
    let node = resolve(node);
    if let Some(p) = node.get("properties").and_then(|p| p.get(seg)) {
        return Some(resolve(p));
    }
    if seg.parse::<usize>().is_ok() {
        if let Some(items) = node.get("items").filter(|i| i.is_object()) {
            return Some(resolve(items));
        }
    }
    if let Some(extra) = node.get("additionalProperties").filter(|a| a.is_object()) {
        return Some(resolve(extra));
    }
    node.get("anyOf").and_then(Value::as_array)?.iter().find_map(|b| step(b, seg))
}

/// The property names allowed in the object at `segments`.
fn properties_at(segments: &[String]) -> Vec<String> {
    let Some(node) = schema_at(segments) else {
        return Vec::new();
    };
    let with_props = std::iter::once(node)
        .chain(node.get("anyOf").and_then(Value::as_array).into_iter().flatten().map(resolve))
        .find_map(|n| n.get("properties").and_then(Value::as_object));
    with_props.map_or_else(Vec::new, |p| p.keys().cloned().collect())
}
