//! Running plans: timeouts, retries, failures and `--fail-fast`, runners and their
//! prompts, variables, the run directory and report, `--dry-run`, `--resume`,
//! `template.render` and composite outputs, and Ctrl-C.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run::{output_of, plan, run_plan};
use crate::support::Test;

#[test]
fn timeout_kills_the_whole_process_group() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: hang, sandbox: false, run: "sleep 30 & echo $! > grandchild.pid; wait", timeout: 500ms }
    - { id: ok, run: "true" }
"#,
        &[],
    );
    run.code(1);
    assert!(run.stderr.contains("agent `hang` failed: timed out after 500ms"), "{}", run.stderr);
    let pid = std::fs::read_to_string(t.path("grandchild.pid")).unwrap().trim().to_string();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z"),
        "grandchild {pid} survived"
    );
}

#[test]
fn a_sandboxed_agent_that_times_out_leaves_no_process() {
    // In its sandbox an agent's processes have PIDs of their own: what is left is
    // looked for by a command line no other test uses.
    let (_t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: hang, run: "sleep 3017 & sleep 3018 & wait", timeout: 500ms }
    - { id: ok, run: "true" }
"#,
        &[],
    );
    run.code(1);
    assert!(run.stderr.contains("agent `hang` failed: timed out after 500ms"), "{}", run.stderr);
    std::thread::sleep(Duration::from_millis(200));
    let left = std::process::Command::new("pgrep").args(["-f", "sleep 301[78]"]).output().unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", String::from_utf8_lossy(&left.stdout));
}

#[test]
fn retries_see_attempt_and_last_error() {
    let (t, run) = run_plan(
        r#"agent:
  id: primary
  pattern: fork-join
  agents:
    - id: flaky
      retry: { attempts: 3, delay: 10ms, backoff: exponential }
      run: "test {{ attempt }} -ge 3 || { echo boom{{ attempt }} >&2; exit 1; }; echo 'attempt {{ attempt }} after:' {{ last_error | shell_quote }}"
    - id: slow
      retry: { attempts: 2, delay: 10ms }
      timeout: 300ms
      run: "test {{ attempt }} -ge 2 || sleep 5; echo {{ last_error | shell_quote }}"
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "flaky"), Value::from("attempt 3 after: exited with status 1: boom2"));
    assert_eq!(output_of(&t, &report, "slow"), Value::from("timed out after 300ms"));
    assert_eq!(report["agents"]["flaky"]["attempts"], 3);
}

#[test]
fn a_failure_lets_running_agents_finish_and_starts_nothing_new() {
    let (t, run) = run_plan(
        r#"concurrency: 2
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: fails, run: "echo 'bad thing happened' >&2; exit 2" }
    - { id: running, run: "sleep 0.5; touch finished" }
    - { id: queued, run: "touch started" }
"#,
        &[],
    );
    run.code(1);
    assert!(run.stderr.contains("agent `fails` failed: exited with status 2: bad thing happened"), "{}", run.stderr);
    assert!(t.path("finished").exists());
    assert!(!t.path("started").exists());
    let report = run.json();
    assert_eq!(report["agents"]["queued"]["status"], "skipped");
    assert_eq!(report["failure"]["agent"], "fails");
}

#[test]
fn fail_fast_cancels_running_agents() {
    let start = Instant::now();
    let (t, run) = run_plan(
        r#"concurrency: 2
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: fails, run: "sleep 0.2; exit 1" }
    - { id: running, run: "sleep 10; touch finished" }
"#,
        &["--fail-fast"],
    );
    run.code(1);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert!(!t.path("finished").exists());
    assert_eq!(run.json()["agents"]["running"]["status"], "cancelled");
}

#[test]
fn runner_gets_the_prompt_on_stdin_and_in_a_file() {
    let (t, run) = run_plan(
        r#"issue: { number: 5, title: "It's broken; $(reboot)" }
runners:
  agent: { command: [sh, -c, 'cat > stdin.txt; cp "$PLAN_PROMPT_FILE" file.txt; echo "$PLAN_AGENT_ID $PLAN_ISSUE_TITLE"'] }
agent:
  id: fix
  runner: agent
  prompt: "Fix #{{ issue.number }}: {{ issue.title }}"
"#,
        &[],
    );
    run.code(0);
    assert_eq!(std::fs::read_to_string(t.path("stdin.txt")).unwrap(), "Fix #5: It's broken; $(reboot)");
    assert_eq!(std::fs::read_to_string(t.path("file.txt")).unwrap(), "Fix #5: It's broken; $(reboot)");
    assert_eq!(output_of(&t, &run.json(), "fix"), Value::from("fix It's broken; $(reboot)"));
}

#[test]
fn var_overrides_and_shell_quote() {
    let (t, run) = run_plan(
        r#"issue: { number: 1, title: "a'b $(echo pwned)" }
vars: { greeting: hello }
agent:
  id: say
  run: "echo {{ vars.greeting }} {{ issue.title | shell_quote }}"
"#,
        &["--var", "greeting=bonjour"],
    );
    run.code(0);
    assert_eq!(output_of(&t, &run.json(), "say"), Value::from("bonjour a'b $(echo pwned)"));
}

#[test]
fn run_directory_and_report() {
    let (t, run) = run_plan(
        r#"issue: { number: 42, title: t }
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: a, run: "echo a-out; echo a-err >&2" }
    - { id: b, uses: sleep, with: { duration: 300ms } }
  join: { id: check, uses: noop }
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    let dir = t.path(".plan/runs").join(report["run_id"].as_str().unwrap());
    assert_eq!(report["issue_number"], 42);
    assert_eq!(report["validation_results"]["check"], "passed");
    let m = &report["performance_metrics"];
    for key in ["execution_time", "critical_path", "coordination_overhead", "peak_memory", "agents_coordinated"] {
        assert!(!m[key].is_null(), "{key}");
    }
    assert_eq!(m["agents_coordinated"], 3);
    assert!(m["coordination_overhead"].as_str().unwrap().ends_with('%'));
    assert!(m["coordination_overhead_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{m}");
    // The scheduler's and the kernel's shares are parts of the wall time.
    let wall_ms = m["execution_time"].as_str().unwrap().trim_end_matches('s').parse::<f64>().unwrap() * 1000.0;
    let (ours, kernel) = (m["coordination_overhead_ms"].as_f64().unwrap(), m["process_start_ms"].as_f64().unwrap());
    assert!(kernel >= 0.0 && ours + kernel <= wall_ms + 1.0, "{m}");
    // A node still running after 200 ms has its own status file; every node is in
    // status.json.
    let status: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("status/b.json")).unwrap()).unwrap();
    for key in ["agent_id", "issue", "progress", "message", "data", "timestamp", "pid"] {
        assert!(status.get(key).is_some(), "{key}");
    }
    assert_eq!(status["data"]["state"], "succeeded");
    assert!(!dir.join("status/a.json").exists(), "a quick node has none");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap();
    for node in ["a", "b", "check"] {
        assert_eq!(all["nodes"][node]["state"], "succeeded", "{all}");
    }
    let log = std::fs::read_to_string(dir.join("logs/a.log")).unwrap();
    assert!(log.contains("a-out") && log.contains("a-err"), "{log}");
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk, report);
}

#[test]
fn dry_run_prints_the_schedule_and_writes_nothing() {
    let mut t = Test::new().file(
        "plan.yaml",
        &plan(
            r#"vars: { target: world }
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: first, run: "echo hello {{ vars.target }} > side-effect" }
    - { id: second, run: "echo {{ outputs.first }}" }
"#,
        ),
    );
    let run = t.args(&["run", "plan.yaml", "--dry-run"]).run();
    run.code(0);
    assert!(run.stdout.contains("level 0:\n  first: echo hello world > side-effect"), "{}", run.stdout);
    assert!(run.stdout.contains("level 1:\n  second: echo <outputs.first>"), "{}", run.stdout);
    assert!(!t.path("side-effect").exists());
    assert!(!t.path(".plan").exists());
}

#[test]
fn resume_skips_what_succeeded() {
    let body = r#"agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: a, run: "echo ran >> a-count; echo A" }
    - { id: b, run: "test -f go || exit 1; echo {{ outputs.a }}B" }
"#;
    let t = Test::new().file("plan.yaml", &plan(body));
    let first = t.run_with(&["run", "plan.yaml", "--json"]);
    first.code(1);
    let id = first.json()["run_id"].as_str().unwrap().to_string();
    assert!(first.stderr.contains(&format!("resume: plan run --resume {id}")), "{}", first.stderr);
    std::fs::write(t.path("go"), "").unwrap();
    // The run knows its plan: `--resume RUN_ID` alone continues it.
    let second = (t.run_with(&["run", "--json", "--resume", &id]), t);
    second.0.code(0);
    let t = second.1;
    assert_eq!(std::fs::read_to_string(t.path("a-count")).unwrap(), "ran\n");
    assert_eq!(output_of(&t, &second.0.json(), "b"), Value::from("AB"));
    // A changed plan is refused unless forced.
    std::fs::write(t.path("plan.yaml"), plan(&body.replace("echo A", "echo Z"))).unwrap();
    let refused = t.run_with(&["run", "plan.yaml", "--resume", &id]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("the plan file changed"), "{}", refused.stderr);
}

#[test]
fn template_render_and_composite_outputs() {
    let t = Test::new()
        .file(
            "prompts/note.md.j2",
            "Issue {{ issue.number }} by {{ agent.id }}: {{ outputs.pair.left }}+{{ outputs.pair.right }}\n",
        )
        .file(
            "plan.yaml",
            &plan(
                r#"issue: { number: 8, title: t }
agent:
  id: primary
  pattern: pipeline
  agents:
    - id: pair
      pattern: fork-join
      agents:
        - { id: left, run: "echo L" }
        - { id: right, run: "echo R" }
    - id: note
      uses: template.render
      with: { template: note.md.j2, output: "out/{{ agent.id }}.md" }
"#,
            ),
        );
    let run = t.run_with(&["run", "plan.yaml", "--json"]);
    run.code(0);
    assert_eq!(std::fs::read_to_string(t.path("out/note.md")).unwrap(), "Issue 8 by note: L+R\n");
}

#[test]
fn interrupt_cancels_and_exits_130() {
    let t = Test::new().file(
        "plan.yaml",
        &plan(
            r#"agent:
  id: primary
  pattern: saga
  agents:
    - { id: one, run: "echo done >> log", compensate: "echo undone >> log" }
    - { id: two, run: "sleep 30" }
"#,
        ),
    );
    let child = std::process::Command::new(crate::support::bin())
        .current_dir(t.dir.path())
        .args(["run", "plan.yaml", "--quiet"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !t.path("log").exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(std::fs::read_to_string(t.path("log")).unwrap(), "done\nundone\n");
}

#[test]
fn each_copy_of_a_run_time_map_gets_its_own_prompt_file() {
    let (t, run) = run_plan(
        r#"runners:
  reader: { command: [sh, -c, 'cat "$PLAN_PROMPT_FILE"'] }
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: list, run: "printf 'a\\nb\\n'" }
    - id: fan
      pattern: mapreduce
      map:
        over: { lines_of: list }
        agent: { id: ask, runner: reader, prompt: "about {{ item }}" }
"#,
        &[],
    );
    run.code(0);
    let report = run.json();
    assert_eq!(output_of(&t, &report, "ask[0]"), Value::from("about a"));
    assert_eq!(output_of(&t, &report, "ask[1]"), Value::from("about b"));
}

/// A program missing from `PATH` (a typo, a CLI not installed) is named before any
/// agent starts, not only when its agent's turn comes; the run still goes on, since an
/// earlier agent may install it.
#[test]
fn a_program_missing_from_path_is_named_before_anything_starts() {
    let body = "agent:\n  id: root\n  pattern: fork-join\n  agents:\n    - { id: fine, run: [\"true\"] }\n    - { id: typo, run: [no-such-tool-for-plan, --check] }\n";
    let (_t, run) = crate::run::run_plan(body, &[]);
    run.code(1);
    let warned = run.stderr.find("warning: `no-such-tool-for-plan` is not on PATH: agent `typo`");
    let failed = run.stderr.find("cannot start `no-such-tool-for-plan`");
    assert!(warned.is_some() && failed.is_some() && warned < failed, "{}", run.stderr);
}
