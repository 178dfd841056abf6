//! Resources and limits: templates that would loop without end, and maps over outputs
//! too large to fan out, fail their agent with a clear error instead of taking the
//! machine.

use std::time::{Duration, Instant};

use crate::support::Test;

#[test]
fn a_template_that_loops_without_end_runs_out_of_fuel() {
    let plan = r#"version: 1
name: fuel
complexity: simple
agent: { id: loop, run: "echo {% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}" }
"#;
    let t = Test::new().file("plan.yaml", plan);
    let started = Instant::now();
    let run = t.run_with(&["run", "plan.yaml", "--json"]);
    run.code(1);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let error = run.json()["agents"]["loop"]["last_error"].as_str().unwrap().to_string();
    assert!(error.contains("limits.template_fuel"), "{error}");
}

#[test]
fn a_map_over_a_huge_output_is_refused_before_it_starts_anything() {
    let plan = r#"version: 1
name: lines
complexity: complex
limits: { copies: 100 }
agent:
  id: top
  pattern: pipeline
  agents:
    - { id: list, run: "seq 1 1000" }
    - id: each
      pattern: mapreduce
      map: { over: { lines_of: list }, as: n, agent: { id: work, run: "echo {{ n }} >> ran" } }
"#;
    let t = Test::new().file("plan.yaml", plan);
    let run = t.run_with(&["run", "plan.yaml"]);
    run.code(1);
    assert!(run.stderr.contains("map `work` has 1000 items, more than `limits.copies` (100)"), "{}", run.stderr);
    assert!(!t.path("ran").exists(), "no copy started");
}
