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

#[test]
fn templates_read_and_write_inside_the_repository_only() {
    // Names computed at run time, which lint cannot see.
    let agents = [
        ("include", "{ id: include, runner: cat, prompt: \"{% include vars.name ~ 'wd' %}\" }"),
        ("write", "{ id: write, uses: template.render, with: { template: note.md.j2, output: \"{{ vars.out }}\" } }"),
    ];
    for (id, agent) in agents {
        let plan = format!(
            "version: 1\nname: confined\ncomplexity: simple\nvars: {{ out: \"../escaped.txt\", name: \"/etc/pass\" }}\nrunners:\n  cat: {{ command: [cat] }}\nagent: {agent}\n"
        );
        let t = Test::new()
            .file("repo/.git/HEAD", "ref: refs/heads/main\n")
            .file("repo/plan.yaml", &plan)
            .file("repo/note.md.j2", "hi");
        let run = crate::support::run_in(&t.path("repo"), &["run", "plan.yaml", "--json"], &[]);
        run.code(1);
        let report = run.json();
        let error = report["agents"][id]["last_error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains("outside the repository"), "{id}: {error}");
        assert!(!t.path("escaped.txt").exists());
        assert!(!run.stdout.contains("root:") && !run.stderr.contains("root:"), "/etc/passwd was read");
    }
}
