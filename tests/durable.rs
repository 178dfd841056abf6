//! Durable runs: killed with SIGKILL at many points and resumed, nothing that
//! succeeded runs twice; status files are always whole; background runs can be
//! watched, logged, drawn and stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bin, Test};

const PLAN: &str = r#"version: 1
name: durable
complexity: enterprise
concurrency: 4
agent:
  id: primary
  pattern: pipeline
  agents:
    - id: stage_a
      pattern: fork-join
      agents:
        - { id: a1, run: "echo x >> counts/a1; sleep 0.05; echo a1" }
        - { id: a2, run: "echo x >> counts/a2; sleep 0.05; echo a2" }
        - { id: a3, run: "echo x >> counts/a3; sleep 0.05; echo a3" }
        - { id: a4, run: "echo x >> counts/a4; sleep 0.05; echo a4" }
        - { id: a5, run: "echo x >> counts/a5; sleep 0.05; echo a5" }
    - id: stage_b
      pattern: mapreduce
      map:
        over: [1, 2, 3, 4, 5, 6]
        as: n
        agent: { id: b, run: "echo x >> counts/b{{ n }}; sleep 0.05; echo {{ n }}" }
      reduce: { id: b_sum, run: "echo x >> counts/b_sum; echo {{ outputs.b | sum }}" }
    - id: stage_c
      pattern: fork-join
      agents:
        - { id: c1, run: "echo x >> counts/c1; sleep 0.05; echo {{ outputs.b_sum }}" }
        - { id: c2, run: "echo x >> counts/c2; sleep 0.05; echo c2" }
        - { id: c3, run: "echo x >> counts/c3; sleep 0.05; echo c3" }
        - { id: c4, run: "echo x >> counts/c4; sleep 0.05; echo c4" }
"#;

/// The counter file that each node appends to.
fn counter(node: &str) -> String {
    match node.strip_prefix("b[") {
        Some(rest) => format!("b{}", rest.trim_end_matches(']').parse::<usize>().unwrap() + 1),
        None => node.to_string(),
    }
}

fn counts(dir: &Path) -> BTreeMap<String, usize> {
    std::fs::read_dir(dir.join("counts"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let n = std::fs::read_to_string(e.path()).unwrap().lines().count();
            (e.file_name().to_string_lossy().into_owned(), n)
        })
        .collect()
}

fn succeeded(journal: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "node_succeeded")
        .map(|e| e["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn sigkill_at_many_points_then_resume() {
    let t = Test::new().file("plan.yaml", PLAN).file("counts/.keep", "");
    let dir = t.dir.path();
    let journal = dir.join(".plan/runs/kill-test/journal.jsonl");
    // Counts of nodes at the moment their success was on disk.
    let mut frozen: BTreeMap<String, usize> = BTreeMap::new();
    let mut kills = 0;
    let mut trace = Vec::new();
    for (i, delay_ms) in [15u64, 40, 70, 100, 130, 170, 220, 280, 350].into_iter().enumerate() {
        let mut cmd = Command::new(bin());
        cmd.current_dir(dir).args(["run", "plan.yaml", "--quiet"]).stdout(Stdio::null()).stderr(Stdio::null());
        // Killed before its journal began (a loaded machine), the run starts afresh.
        if i == 0 || !journal.exists() {
            cmd.args(["--run-id", "kill-test"]);
        } else {
            cmd.args(["--resume", "kill-test"]);
        }
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let exited = child.try_wait().unwrap();
        let finished = exited.is_some();
        trace.push((delay_ms, exited.map(|s| s.code())));
        child.kill().ok();
        child.wait().unwrap();
        kills += usize::from(!finished);
        let done = succeeded(&journal);
        let now = counts(dir);
        for node in done {
            let c = counter(&node);
            if c.ends_with(".gather") {
                continue;
            }
            let count = now.get(&c).copied().unwrap_or(0);
            let first = *frozen.entry(c.clone()).or_insert(count);
            assert_eq!(first, count, "`{node}` succeeded with {first} runs, and ran again later");
        }
        if finished {
            break;
        }
    }
    assert!(kills >= 3, "the plan finished before it could be killed enough: (delay ms, exit) {trace:?}");
    // Orphans of the last kill finish their work; then the run is completed.
    std::thread::sleep(Duration::from_millis(200));
    let out = Command::new(bin())
        .current_dir(dir)
        .args(["run", "plan.yaml", "--resume", "kill-test", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
    let after = counts(dir);
    for (node, count) in &frozen {
        assert_eq!(after.get(node), Some(count), "`{node}` ran again after it had succeeded");
    }
    assert_eq!(after.len(), 16, "{after:?}");
    assert!(after.values().all(|c| *c >= 1), "{after:?}");
    // Every journal line is whole JSON, apart from at most one torn line that resuming cut.
    let text = std::fs::read_to_string(&journal).unwrap();
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("corrupt journal line {line:?}: {e}"));
    }
    assert_eq!(report["agents"]["c1"]["status"], "succeeded");
    let c1: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".plan/runs/kill-test/outputs/c1.json")).unwrap())
            .unwrap();
    assert_eq!(c1, serde_json::json!(21));
}

#[test]
fn status_files_are_always_whole_json() {
    let mut plan = String::from("version: 1\nname: many\ncomplexity: enterprise\nconcurrency: 16\nagent:\n  id: primary\n  pattern: fork-join\n  agents:\n");
    for i in 0..1000 {
        plan.push_str(&format!("    - {{ id: a{i}, run: [\"true\"] }}\n"));
    }
    for i in 0..40 {
        plan.push_str(&format!("    - {{ id: slow{i}, run: [sleep, \"0.3\"] }}\n"));
    }
    let t = Test::new().file("plan.yaml", &plan);
    let dir = t.dir.path().to_path_buf();
    let mut child = Command::new(bin())
        .current_dir(&dir)
        .args(["run", "plan.yaml", "--quiet", "--run-id", "many"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_dir = dir.join(".plan/runs/many/status");
    let (mut reads, mut bad) = (0, Vec::new());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
        let Ok(entries) = std::fs::read_dir(&status_dir) else { continue };
        let board = dir.join(".plan/runs/many/status.json");
        for path in entries.filter_map(Result::ok).map(|e| e.path()).chain([board]) {
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            reads += 1;
            if serde_json::from_str::<serde_json::Value>(&text).is_err() {
                bad.push(text);
            }
        }
    }
    assert!(child.wait().unwrap().success());
    assert!(reads > 100, "only {reads} reads happened during the run");
    assert!(bad.is_empty(), "{} torn status files, e.g. {:?}", bad.len(), bad.first());
}

#[test]
fn background_run_status_logs_graph_and_stop() {
    let t = Test::new().file(
        "plan.yaml",
        r#"version: 1
name: bg
complexity: moderate
agent:
  id: primary
  pattern: saga
  agents:
    - { id: one, run: "echo step one; echo done1 >> log", compensate: "echo undo1 >> log" }
    - { id: two, run: "echo waiting; sleep 30", compensate: "echo undo2 >> log" }
"#,
    );
    let started = t.run_with(&["run", "plan.yaml", "--background"]);
    started.code(0);
    let id = started.stdout.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = t.run_with(&["status", &id, "--json"]);
        let s = if status.code == 0 { status.json() } else { serde_json::Value::Null };
        if s["nodes"]["two"]["state"] == "running" {
            assert_eq!(s["state"], "running");
            assert_eq!(s["nodes"]["one"]["state"], "succeeded");
            break;
        }
        assert!(Instant::now() < deadline, "the background run did not get going: {}", status.stdout);
        std::thread::sleep(Duration::from_millis(100));
    }
    let runs = t.run_with(&["runs"]);
    assert!(runs.stdout.contains(&id) && runs.stdout.contains("running"), "{}", runs.stdout);
    let logs = t.run_with(&["logs", &id]);
    assert!(logs.stdout.contains("[one] step one") && logs.stdout.contains("[two] waiting"), "{}", logs.stdout);
    assert_eq!(t.run_with(&["logs", &id, "one"]).stdout, "step one\n");
    let dot = t.run_with(&["graph", "plan.yaml", "--run", &id]);
    assert!(dot.stdout.contains(r#""one" [label="one\n[succeeded]""#), "{}", dot.stdout);
    let mermaid = t.run_with(&["graph", "plan.yaml", "--format", "mermaid", "--run", &id]);
    assert!(
        mermaid.stdout.contains("classDef succeeded") && mermaid.stdout.contains("class n0 succeeded"),
        "{}",
        mermaid.stdout
    );
    let mermaid = t.run_with(&["graph", "plan.yaml", "--format", "mermaid", "--run", &id]);
    assert!(
        mermaid.stdout.contains("classDef succeeded") && mermaid.stdout.contains("class n0 succeeded"),
        "{}",
        mermaid.stdout
    );
    t.run_with(&["stop", &id]).code(0);
    let s = t.run_with(&["status", &id, "--json"]).json();
    assert_eq!(s["state"], "interrupted");
    assert_eq!(std::fs::read_to_string(t.path("log")).unwrap(), "done1\nundo1\n");
    // The stopped run resumes: `one` is not run again.
    std::fs::write(
        t.path("plan.yaml"),
        std::fs::read_to_string(t.path("plan.yaml")).unwrap().replace("sleep 30", "true"),
    )
    .unwrap();
    let resumed = t.run_with(&["run", "plan.yaml", "--resume", &id, "--force"]);
    resumed.code(0);
    assert_eq!(std::fs::read_to_string(t.path("log")).unwrap(), "done1\nundo1\n");
}
