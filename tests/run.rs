//! `plan run`: the semantics of every pattern and the outputs each one passes on
//! (the rest of running is in `execution.rs`).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Run, Test};

pub(crate) fn plan(body: &str) -> String {
    format!("version: 1\nname: t\ncomplexity: moderate\n{body}")
}

pub(crate) fn run_plan(body: &str, extra: &[&str]) -> (Test, Run) {
    let mut t = Test::new().file("plan.yaml", &plan(body));
    let mut args = vec!["run", "plan.yaml", "--json"];
    args.extend_from_slice(extra);
    let run = t.args(&args).run();
    (t, run)
}

pub(crate) fn output_of(t: &Test, report: &Value, node: &str) -> Value {
    let dir = t.path(".plan/runs").join(report["run_id"].as_str().unwrap());
    let text = std::fs::read_to_string(dir.join("outputs").join(format!("{node}.json")))
        .unwrap_or_else(|_| panic!("no output for {node}"));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn pipeline_passes_outputs_in_order() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: a, run: "echo '{\"n\": 3}'" }
    - { id: b, run: "echo $(( {{ outputs.a.n }} + 1 ))" }
    - { id: c, run: "echo got {{ outputs.b }} after {{ outputs.a.n }}" }
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "b"), Value::from(4));
    assert_eq!(output_of(&t, &report, "c"), Value::from("got 4 after 3"));
}

#[test]
fn fork_join_runs_children_at_once_and_join_sees_them() {
    let start = Instant::now();
    let (t, run) = run_plan(
        r#"concurrency: 4
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: a, run: "sleep 0.4; echo A" }
    - { id: b, run: "sleep 0.4; echo B" }
    - { id: c, run: "sleep 0.4; echo C" }
  join: { id: j, run: "echo {{ outputs.a }}{{ outputs.b }}{{ outputs.c }}" }
"#,
        &[],
    );
    run.code(0);
    assert!(start.elapsed() < Duration::from_millis(1100), "{:?}", start.elapsed());
    assert_eq!(output_of(&t, &run.json(), "j"), Value::from("ABC"));
}

#[test]
fn concurrency_limit_is_respected() {
    let start = Instant::now();
    let (_, run) = run_plan(
        r#"agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: a, run: "sleep 0.3" }
    - { id: b, run: "sleep 0.3" }
    - { id: c, run: "sleep 0.3" }
"#,
        &["--concurrency", "1"],
    );
    run.code(0);
    assert!(start.elapsed() >= Duration::from_millis(900), "{:?}", start.elapsed());
}

#[test]
fn mapreduce_reduce_sees_outputs_in_item_order() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: mapreduce
  map:
    over: [3, 1, 2]
    as: n
    agent: { id: work, run: "sleep 0.{{ n }}; echo {{ n }}" }
  reduce: { id: total, run: "echo {{ outputs.work | join(',') }}" }
"#,
        &["--concurrency", "3"],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "total"), Value::from("3,1,2"));
    assert_eq!(output_of(&t, &report, "work[0]"), Value::from(3));
}

#[test]
fn mapreduce_over_lines_of_expands_at_run_time() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: list, run: "printf 'x\\ny\\n\\nz\\n'" }
    - id: fan
      pattern: mapreduce
      map:
        over: { lines_of: list }
        as: word
        agent: { id: up, run: "echo {{ word | upper }}" }
      reduce: { id: joined, run: "echo {{ outputs.up | join('') }}" }
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "joined"), Value::from("XYZ"));
    assert_eq!(report["agents"]["up[2]"]["status"], "succeeded");
}

#[test]
fn mapreduce_over_a_glob() {
    let mut t = Test::new().file("src/a.rs", "").file("src/b.rs", "").file("src/c.txt", "").file(
        "plan.yaml",
        &plan(
            r#"agent:
  id: primary
  pattern: mapreduce
  map:
    over: { glob: "src/*.rs" }
    as: file
    agent: { id: count, run: "echo {{ file }}" }
  reduce: { id: all, run: "echo {{ outputs.count | join(' ') }}" }
"#,
        ),
    );
    let run = t.args(&["run", "plan.yaml", "--json"]).run();
    run.code(0);
    assert_eq!(output_of(&t, &run.json(), "all"), Value::from("src/a.rs src/b.rs"));
}

fn vote_plan(consensus: &str, answers: [&str; 3]) -> String {
    format!(
        r#"agent:
  id: primary
  pattern: scatter-gather
  agents:
    - {{ id: r1, run: "echo {}" }}
    - {{ id: r2, run: "echo {}" }}
    - {{ id: r3, run: "echo {}" }}
  gather: {{ consensus: "{consensus}" }}
"#,
        answers[0], answers[1], answers[2]
    )
}

#[test]
fn scatter_gather_consensus_rules() {
    let (t, run) = run_plan(&vote_plan("majority", ["yes", "no", "yes"]), &[]);
    run.code(0);
    assert_eq!(output_of(&t, &run.json(), "primary.gather"), Value::from("yes"));

    let (_, run) = run_plan(&vote_plan("unanimous", ["yes", "no", "yes"]), &[]);
    run.code(1);
    assert!(
        run.stderr.contains("agent `primary.gather` failed: no consensus (unanimous) among 3 answers"),
        "{}",
        run.stderr
    );

    let (_, run) = run_plan(&vote_plan("quorum(2)", ["a", "b", "a"]), &[]);
    run.code(0);
    let (_, run) = run_plan(&vote_plan("quorum(3)", ["a", "b", "a"]), &[]);
    run.code(1);

    let (t, run) = run_plan(&vote_plan("all", ["1", "2", "3"]), &[]);
    run.code(0);
    assert_eq!(output_of(&t, &run.json(), "primary.gather"), serde_json::json!([1, 2, 3]));
}

#[test]
fn scatter_gather_first_takes_the_earliest_answer() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: scatter-gather
  agents:
    - { id: slow, run: "sleep 0.5; echo slow" }
    - { id: fast, run: "echo fast" }
  gather: { consensus: first }
"#,
        &["--concurrency", "2"],
    );
    run.code(0);
    assert_eq!(output_of(&t, &run.json(), "primary.gather"), Value::from("fast"));
}

#[test]
fn gather_agent_sees_the_consensus_and_replicas_run_copies() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: scatter-gather
  replicas: 3
  agents:
    - { id: voter, run: "echo approve" }
  gather:
    consensus: majority
    agent: { id: decide, run: "echo {{ consensus.value }} {{ consensus.votes.approve }}{% if consensus.agreed %} agreed{% endif %}" }
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "decide"), Value::from("approve 3 agreed"));
    assert_eq!(report["agents"]["voter[2]"]["status"], "succeeded");
}

#[test]
fn saga_compensates_finished_steps_in_reverse_order() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: saga
  agents:
    - { id: one, run: "echo do1 >> log", compensate: "echo undo1 >> log" }
    - { id: two, run: "echo do2 >> log", compensate: "echo undo2 >> log" }
    - { id: three, run: "echo broken >&2; exit 3", compensate: "echo undo3 >> log" }
    - { id: four, run: "echo do4 >> log", compensate: "echo undo4 >> log" }
"#,
        &[],
    );
    run.code(1);
    let log = std::fs::read_to_string(t.path("log")).unwrap();
    assert_eq!(log, "do1\ndo2\nundo2\nundo1\n");
    assert!(run.stderr.contains("agent `three` failed: exited with status 3: broken"), "{}", run.stderr);
    assert_eq!(run.json()["status"], "failed");
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let run = Test::new().run_with(&["completions", shell]);
        run.code(0);
        for word in ["run", "lint", "cache", "prices"] {
            assert!(run.stdout.contains(word), "{shell}: {word}");
        }
    }
    Test::new().run_with(&["completions", "tcsh"]).code(2);
}
