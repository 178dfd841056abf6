//! The documentation stays true: the field reference is generated from the schema's
//! doc comments, each pattern guide's picture is what `plan graph` draws for its
//! example, and every link in the README and docs/ stays inside the repository.
//! `PLAN_UPDATE_DOCS=1 cargo test docs` rewrites the generated parts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{repo, Test};

fn updating() -> bool {
    std::env::var_os("PLAN_UPDATE_DOCS").is_some()
}

/// Compares `path` with `expected`, or rewrites it when updating.
fn check_generated(path: &Path, expected: &str) {
    if updating() {
        std::fs::write(path, expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is out of date: run `PLAN_UPDATE_DOCS=1 cargo test docs` and commit it",
        path.display()
    );
}

/// The type of a schema property, in words.
fn type_of(p: &Value) -> String {
    if let Some(r) = p.get("$ref").or_else(|| p.pointer("/allOf/0/$ref")).and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(any) = p.get("anyOf").or_else(|| p.get("oneOf")).and_then(Value::as_array) {
        let parts: Vec<String> =
            any.iter().filter(|v| v.get("type") != Some(&Value::from("null"))).map(type_of).collect();
        return parts.join(" or ");
    }
    match p.get("type") {
        Some(Value::String(t)) if t == "array" => format!("list of {}", p.get("items").map_or("any".into(), type_of)),
        Some(Value::String(t)) if t == "object" => match p.get("additionalProperties") {
            Some(v @ Value::Object(_)) => format!("map of {}", type_of(v)),
            _ => "map".into(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => {
            ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" or ")
        }
        _ => match p.get("enum").and_then(Value::as_array) {
            Some(values) => {
                values.iter().map(|v| format!("`{}`", v.as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
            }
            None => "any".into(),
        },
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// Writes one table of fields, or the description of a type that has no fields.
fn section(out: &mut String, name: &str, def: &Value) {
    let _ = writeln!(out, "## {name}\n");
    if let Some(d) = def.get("description").and_then(Value::as_str) {
        let _ = writeln!(out, "{}\n", one_line(d));
    }
    let Some(props) = def.get("properties").and_then(Value::as_object) else {
        let alts = def.get("oneOf").or_else(|| def.get("anyOf")).and_then(Value::as_array);
        if let Some(alts) = alts {
            for alt in alts {
                let desc = alt.get("description").and_then(Value::as_str).map(one_line).unwrap_or_default();
                let _ = writeln!(out, "- {}{}{desc}", type_of(alt), if desc.is_empty() { "" } else { ": " });
            }
            out.push('\n');
        } else if def.get("type").is_some() || def.get("enum").is_some() {
            let _ = writeln!(out, "Type: {}\n", type_of(def));
        }
        return;
    };
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "| field | type | required | meaning |\n|---|---|---|---|");
    for (field, p) in props {
        let desc = p.get("description").and_then(Value::as_str).map(one_line).unwrap_or_default();
        let req = if required.contains(&field.as_str()) { "yes" } else { "" };
        let _ = writeln!(out, "| `{field}` | {} | {req} | {desc} |", type_of(p));
    }
    out.push('\n');
}

/// docs/reference.md from schema/plan.schema.json.
fn reference() -> String {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/plan.schema.json")).unwrap()).unwrap();
    let mut out = String::from(
        "# Plan file reference\n\n<!-- Generated from schema/plan.schema.json (the doc comments of the Rust types in\n\
         schema/src) by tests/docs.rs: edit those, then run `PLAN_UPDATE_DOCS=1 cargo test docs`. -->\n\n\
         How the pieces fit together, with examples: [format.md](format.md).\n\n",
    );
    section(&mut out, "Plan", &schema);
    if let Some(defs) = schema.get("definitions").and_then(Value::as_object) {
        for (name, def) in defs {
            section(&mut out, name, def);
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[test]
fn reference_is_generated_from_the_schema() {
    check_generated(&repo().join("docs/reference.md"), &reference());
}

/// The example each pattern guide draws.
const GUIDES: [(&str, &str); 5] = [
    ("pipeline", "plans/moderate-pipeline.yaml"),
    ("fork-join", "plans/moderate-fork-join.yaml"),
    ("mapreduce", "plans/complex-mapreduce.yaml"),
    ("scatter-gather", "plans/complex-scatter-gather.yaml"),
    ("saga", "plans/moderate-saga.yaml"),
];

/// Replaces the ```mermaid block of a guide with `picture`.
fn with_picture(text: &str, picture: &str) -> String {
    let start = text.find("```mermaid\n").expect("a guide has a ```mermaid block");
    let end = start + 11 + text[start + 11..].find("```").expect("the block is closed");
    format!("{}```mermaid\n{}{}", &text[..start], picture, &text[end..])
}

#[test]
fn pattern_guides_draw_their_examples() {
    for (pattern, plan) in GUIDES {
        let run = Test::new().in_repo().args(&["graph", plan, "--format", "mermaid"]).run();
        run.code(0);
        let path = repo().join(format!("docs/patterns/{pattern}.md"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.contains(plan), "{} should name its example {plan}", path.display());
        check_generated(&path, &with_picture(&text, &run.stdout));
    }
}

/// Markdown files a user reads: the README, ARCHITECTURE.md and docs/.
fn documents() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md"), repo().join("ARCHITECTURE.md")];
    let mut dirs = vec![repo().join("docs")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn links_stay_inside_the_repository_and_resolve() {
    let root = std::fs::canonicalize(repo()).unwrap();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(rest.len())];
            if target.starts_with("http") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap_or(target);
            let path = doc.parent().unwrap().join(file);
            let resolved = std::fs::canonicalize(&path)
                .unwrap_or_else(|_| panic!("{}: link `{target}` does not resolve", doc.display()));
            assert!(resolved.starts_with(&root), "{}: link `{target}` leaves the repository", doc.display());
        }
    }
}
