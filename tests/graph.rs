//! `plan graph` and `plan compile`: snapshots for every example, Graphviz renders the
//! DOT, the JSON contract is checked with mirror structs, ids are escaped.

use std::process::Command;

use serde::Deserialize;

use crate::support::{example_plans, Test};

fn stem(plan: &str) -> String {
    plan.trim_start_matches("plans/").trim_end_matches(".yaml").to_string()
}

#[test]
fn dot_snapshots() {
    for plan in example_plans() {
        let run = Test::new().in_repo().args(&["graph", &plan, "--format", "dot"]).run();
        run.code(0);
        insta::assert_snapshot!(format!("dot-{}", stem(&plan)), run.stdout);
    }
}

#[test]
fn mermaid_snapshots() {
    for plan in example_plans() {
        let run = Test::new().in_repo().args(&["graph", &plan, "--format", "mermaid"]).run();
        run.code(0);
        assert!(run.stdout.contains("flowchart TD"));
        insta::assert_snapshot!(format!("mermaid-{}", stem(&plan)), run.stdout);
    }
}

#[test]
fn compile_json_snapshots() {
    for plan in example_plans() {
        let run = Test::new().in_repo().args(&["compile", &plan, "--format", "json"]).run();
        run.code(0);
        insta::assert_snapshot!(format!("compile-{}", stem(&plan)), run.stdout);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Compiled {
    format: u32,
    name: String,
    issue: Option<u64>,
    complexity: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    levels: Vec<Vec<String>>,
    width: usize,
    depth: usize,
    critical_path: usize,
    sagas: Vec<Saga>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Node {
    id: String,
    kind: String,
    agent: String,
    path: Vec<String>,
    runs: String,
    level: usize,
    consensus: Option<String>,
    has_agent: Option<bool>,
    index: Option<usize>,
    item: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edge {
    from: String,
    to: String,
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Saga {
    agent: String,
    steps: Vec<String>,
}

#[test]
fn compile_json_contract() {
    let run = Test::new().in_repo().args(&["compile", "plans/enterprise-migration.yaml"]).run();
    run.code(0);
    let c: Compiled = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(c.format, 1);
    assert_eq!(c.issue, Some(101));
    assert_eq!(c.nodes.len(), 20);
    assert_eq!(c.depth, c.levels.len());
    assert_eq!(c.critical_path, c.depth);
    assert_eq!(c.width, c.levels.iter().map(Vec::len).max().unwrap());
    // Every edge goes from a lower level to a higher one.
    let level = |id: &str| c.nodes.iter().find(|n| n.id == id).unwrap().level;
    for e in &c.edges {
        assert!(level(&e.from) < level(&e.to), "{} -> {} ({})", e.from, e.to, e.kind);
    }
    // Saga order is preserved.
    assert_eq!(c.sagas[0].steps, ["freeze_writes", "copy_data", "switch_traffic", "verify"]);
    let kinds: std::collections::BTreeSet<&str> = c.nodes.iter().map(|n| n.kind.as_str()).collect();
    assert!(
        kinds.contains("map-copy") && kinds.contains("gather") && kinds.contains("join") && kinds.contains("reduce"),
        "{kinds:?}"
    );
}

#[test]
fn ids_and_roles_are_escaped() {
    let mut t = Test::new().file(
        "odd.yaml",
        r#"version: 1
name: "quotes \" and ünïcødé"
complexity: moderate
agent:
  id: root-agent
  role: "say \"hi\" — 日本"
  pattern: fork-join
  agents:
    - { id: a-b, run: "echo \"x\"" }
    - { id: c_d, run: "echo <b>#1</b>" }
"#,
    );
    let odd = std::fs::read_to_string(t.path("odd.yaml")).unwrap();
    let dot = t.args(&["graph", "odd.yaml"]).run();
    dot.code(0);
    assert!(dot.stdout.contains(r#""a-b" [label="a-b""#), "{}", dot.stdout);
    assert!(dot.stdout.contains(r#"quotes \" and ünïcødé"#), "{}", dot.stdout);
    assert!(dot.stdout.contains(r#"tooltip="run: echo \"x\"""#), "{}", dot.stdout);
    if let Some(svg) = render_dot(&dot.stdout) {
        assert!(svg.contains("<svg"));
    }
    let mermaid = Test::new().file("odd.yaml", &odd).args(&["graph", "odd.yaml", "--format", "mermaid"]).run();
    mermaid.code(0);
    assert!(mermaid.stdout.contains("#quot;") || !mermaid.stdout.contains("\\\""), "{}", mermaid.stdout);
    assert!(mermaid.stdout.contains("title: \"moderate · quotes ' and ünïcødé\""), "{}", mermaid.stdout);
}

/// Renders DOT to SVG with Graphviz; `None` when `dot` is not installed (CI installs it
/// and then it must work).
fn render_dot(dot: &str) -> Option<String> {
    use std::io::Write;
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) if std::env::var_os("CI").is_none() => return None,
        Err(e) => panic!("graphviz `dot` is required in CI: {e}"),
    };
    child.stdin.take().unwrap().write_all(dot.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn every_example_renders_with_graphviz() {
    for plan in example_plans() {
        let run = Test::new().in_repo().args(&["graph", &plan]).run();
        run.code(0);
        if let Some(svg) = render_dot(&run.stdout) {
            assert!(svg.contains("<svg"), "{plan}");
        }
    }
}

#[test]
fn invalid_plans_are_refused_like_lint() {
    let run = Test::new().in_repo().args(&["graph", "tests/fixtures/lint/dependency-cycle.yaml"]).run();
    run.code(1);
    assert!(run.stderr.contains("error[dependency-cycle]: dependency cycle: c -> a -> b -> c"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn output_file() {
    let mut t = Test::new();
    let out = t.path("g.mmd");
    let plan = crate::support::repo().join("plans/moderate-saga.yaml");
    t.args(&["graph", plan.to_str().unwrap(), "--format", "mermaid", "--output", out.to_str().unwrap()]).run().code(0);
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.contains("-.->|compensate|"), "{text}");
}

#[test]
fn the_drawing_marks_agents_beyond_the_default_sandbox() {
    let plan = "version: 1\nname: b\ncomplexity: moderate\nagent:\n  id: p\n  pattern: fork-join\n  agents:\n\
                - { id: a, sandbox: false, run: \"true\" }\n    - { id: b, network: [api.github.com], run: \"true\" }\n\
                - { id: c, run: \"true\" }\n";
    let plan = plan.replace("\n- {", "\n    - {");
    let t = Test::new().file("p.yaml", &plan);
    let run = t.run_with(&["graph", "p.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"a\" [label=\"a\\n[no sandbox]\""), "{}", run.stdout);
    assert!(run.stdout.contains("\"b\" [label=\"b\\n[net: api.github.com]\""), "{}", run.stdout);
    assert!(run.stdout.contains("\"c\" [label=\"c\","), "the default is not marked: {}", run.stdout);
}
