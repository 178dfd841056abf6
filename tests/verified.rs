//! Verified outcomes: `accept:` checks after each attempt (their evidence carried into
//! the retry), `touches` and `max_changed_lines`, a judge, and `best_of` candidates.
//! Commands stand in for agents where no model is needed; Claude Code runs against
//! the model stand-in where one is.

use std::path::Path;

use serde_json::Value;

use crate::model::{agent_env, installed, plan_run, tiny_repo, user_text, ModelServer};
use crate::support::run_in;

/// A repository with `calc.py` (whose `add` subtracts) and `README.md`, committed,
/// with the plan `plan.yaml` in it.
fn calc_repo(dir: &Path, plan: &str) -> std::path::PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    std::fs::write(work.join("README.md"), "# calc\n").unwrap();
    let check = "import calc\nr = calc.add(2, 3)\nassert r == 5, 'add(2, 3) gave %d, expected 5' % r\n";
    std::fs::write(work.join("check.py"), check).unwrap();
    std::fs::write(work.join("plan.yaml"), plan).unwrap();
    crate::support::git_repo(dir, &work);
    work
}

/// The check: `check.py`, committed beside `calc.py`.
const CHECK: &str = "python3 check.py";

fn report_of(work: &Path, run: &crate::support::Run) -> Value {
    let _ = work;
    run.json()
}

#[test]
fn a_failing_check_fails_the_attempt_and_its_output_reaches_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    // The first attempt multiplies; the second is told what failed and, going on from
    // its own work (it finds `a * b`, not the original), adds.
    let plan = format!(
        r#"version: 1
name: verified
complexity: atomic
agent:
  id: fix
  workspace: worktree
  run: |
    case {{{{ last_error | shell_quote }}}} in *"add(2, 3) gave 6"*) grep -qF "a * b" calc.py && sed -i 's/a [*] b/a + b/' calc.py;; *) sed -i 's/a - b/a * b/' calc.py;; esac
  retry: {{ attempts: 2, delay: 0s }}
  accept:
    command: '{CHECK}'
"#
    );
    let work = calc_repo(dir.path(), &plan);
    let run = run_in(&work, &["run", "plan.yaml", "--json"], &[]);
    run.code(0);
    let report = report_of(&work, &run);
    let fix = &report["agents"]["fix"];
    assert_eq!(fix["attempts"], 2, "{report}");
    let checks = fix["checks"].as_array().unwrap();
    // The attempt was made (the canary: its check's own output), and it failed.
    assert_eq!(checks[0]["passed"], false, "{report}");
    let first = &checks[0]["checks"][0];
    assert_eq!(first["check"], "command");
    assert!(first["output"].as_str().unwrap().contains("add(2, 3) gave 6, expected 5"), "{report}");
    assert!(fix["last_error"].as_str().unwrap().contains("add(2, 3) gave 6"), "{report}");
    assert_eq!(checks[1]["passed"], true, "{report}");
    assert_eq!(std::fs::read_to_string(work.join("calc.py")).unwrap(), "def add(a, b):\n    return a + b\n");
}

#[test]
fn a_change_outside_touches_or_too_large_fails_and_is_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let plan = r#"version: 1
name: touches
complexity: atomic
agent:
  id: fix
  workspace: worktree
  run: "sed -i 's/a - b/a + b/' calc.py && echo 'Now it adds.' >> README.md"
  accept:
    touches: ["*.py", "src/**"]
    max_changed_lines: 2
"#;
    let work = calc_repo(dir.path(), plan);
    let run = run_in(&work, &["run", "plan.yaml", "--json"], &[]);
    run.code(1);
    let report = report_of(&work, &run);
    let checks = &report["agents"]["fix"]["checks"][0]["checks"];
    // The change was made (3 lines over two files) and looked at.
    assert_eq!(checks[0]["check"], "touches", "{report}");
    assert_eq!(checks[0]["outside"], serde_json::json!(["README.md"]), "{report}");
    assert_eq!(checks[1]["check"], "max_changed_lines");
    assert_eq!((checks[1]["lines"].as_u64(), checks[1]["passed"].as_bool()), (Some(3), Some(false)), "{report}");
    let error = report["agents"]["fix"]["last_error"].as_str().unwrap();
    assert!(error.contains("outside what it may change (*.py, src/**): README.md"), "{error}");
    // Nothing of it reached the checkout.
    assert_eq!(std::fs::read_to_string(work.join("README.md")).unwrap(), "# calc\n");
    assert_eq!(std::fs::read_to_string(work.join("calc.py")).unwrap(), "def add(a, b):\n    return a - b\n");
}

#[test]
fn checks_hold_agents_in_the_shared_checkout_too() {
    let dir = tempfile::tempdir().unwrap();
    let plan = r#"version: 1
name: shared
complexity: atomic
agent:
  id: fix
  run: "echo 'Now it adds.' >> README.md"
  accept:
    touches: ["*.py"]
"#;
    let work = calc_repo(dir.path(), plan);
    let run = run_in(&work, &["run", "plan.yaml", "--json"], &[]);
    run.code(1);
    let report = report_of(&work, &run);
    assert_eq!(report["agents"]["fix"]["checks"][0]["checks"][0]["outside"], serde_json::json!(["README.md"]));
}

/// Candidates of a runner whose command edits by the candidate number in its prompt.
fn candidates_plan(extra: &str) -> String {
    format!(
        r#"version: 1
name: best
complexity: atomic
runners:
  fake:
    command: ["sh", "-c", "n=$(grep -o 'candidate [0-9]' | cut -c11); case $n in 1) sed -i 's/a - b/a * b/' calc.py;; 2) sed -i 's/a - b/a + b/' calc.py;; 3) sed -i 's/a - b/b + a/' calc.py; echo '# adds' >> calc.py;; esac; echo \"candidate $n\""]
agent:
  id: fix
  runner: fake
  prompt: "Make add add. You are candidate {{{{ candidate }}}}."
  best_of: 3
  accept:
    command: '{CHECK}'
{extra}"#
    )
}

#[test]
fn of_three_candidates_one_wrong_the_smallest_right_change_wins() {
    let dir = tempfile::tempdir().unwrap();
    let work = calc_repo(dir.path(), &candidates_plan(""));
    let run = run_in(&work, &["run", "plan.yaml", "--json"], &[]);
    run.code(0);
    let report = report_of(&work, &run);
    let fix = &report["agents"]["fix"];
    let candidates = fix["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 3, "{report}");
    // All three ran: the wrong one failed its check with the canary in its output.
    assert!(candidates[0]["error"].as_str().unwrap().contains("add(2, 3) gave 6"), "{report}");
    assert_eq!(candidates.iter().map(|c| c["passed"] == true).collect::<Vec<_>>(), [false, true, true]);
    assert_eq!(candidates.iter().map(|c| c["winner"] == true).collect::<Vec<_>>(), [false, true, false]);
    assert_eq!((candidates[1]["changed_lines"].as_u64(), candidates[2]["changed_lines"].as_u64()), (Some(2), Some(3)));
    assert!(fix["chosen"].as_str().unwrap().contains("smallest (2 lines; others 3)"), "{report}");
    // The winner's work, and only it, is in the checkout; its output is the node's.
    assert_eq!(std::fs::read_to_string(work.join("calc.py")).unwrap(), "def add(a, b):\n    return a + b\n");
    let out = work.join(".plan/runs").join(report["run_id"].as_str().unwrap()).join("outputs/fix.json");
    assert_eq!(std::fs::read_to_string(out).unwrap().trim(), "\"candidate 2\"");
    // Each candidate's checks are listed with it; the drawing says how the work is held.
    assert_eq!(candidates[0]["checks"][0]["passed"], false, "{report}");
    let dot = run_in(&work, &["graph", "plan.yaml", "--format", "dot"], &[]);
    assert!(dot.stdout.contains("best of 3 · accept"), "{}", dot.stdout);
    // The losers' branches were kept while the run ran, and went with its end.
    let branches = crate::support::git_out(&work, &["branch", "--list", "plan/*"]);
    assert!(branches.trim().is_empty(), "{branches}");
}

#[test]
fn when_no_candidate_passes_the_node_fails_naming_each() {
    let dir = tempfile::tempdir().unwrap();
    let plan = candidates_plan("").replace("best_of: 3", "best_of: 2").replace("a + b/' calc.py", "a / b/' calc.py");
    let work = calc_repo(dir.path(), &plan);
    let run = run_in(&work, &["run", "plan.yaml", "--json"], &[]);
    run.code(1);
    let report = report_of(&work, &run);
    let error = report["agents"]["fix"]["last_error"].as_str().unwrap();
    assert!(error.starts_with("no candidate passed its checks (candidate 1: "), "{error}");
    assert!(error.contains("candidate 2: "), "{error}");
    assert_eq!(std::fs::read_to_string(work.join("calc.py")).unwrap(), "def add(a, b):\n    return a - b\n");
}

#[test]
fn claude_is_told_the_failing_test_and_fixes_it_on_the_retry() {
    if !installed("claude") {
        return;
    }
    // A wrong edit first; the right one once the prompt carries the test's output.
    let server = ModelServer::start(serde_json::json!({
        "edits": [
            {"file": "greeting.txt", "old": "hello", "new": "hullo", "unless": "expected 'goodbye'"},
            {"file": "greeting.txt", "old": "hullo", "new": "goodbye", "when": "expected 'goodbye'"}
        ],
        "reply": "done", "usage": {"input": 30, "output": 15}
    }));
    // (The second edit finds `hullo`: the retry goes on from its own work.)
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::write(work.join("plan.yaml"), claude_plan("      retry: { attempts: 2, delay: 0s }\n", "")).unwrap();
    let env = agent_env(&server, &dir.path().join("home"));
    let run = plan_run(&work, &env, &["run", "plan.yaml", "--json"]);
    run.code(0);
    let report = run.json();
    let fix = &report["agents"]["fix"];
    assert_eq!(fix["attempts"], 2, "{report}");
    assert_eq!(fix["checks"][0]["checks"][0]["output"], "greeting.txt says 'hullo', expected 'goodbye'", "{report}");
    // The retry's prompt carried the failing command's output, in the same session.
    let requests = server.requests();
    let retry = requests.iter().find(|r| user_text(r).contains("expected 'goodbye'")).expect("a retry request");
    assert!(user_text(retry).contains("did not pass its acceptance checks"), "{}", user_text(retry));
    assert!(user_text(retry).matches("Fix the greeting").count() >= 2, "the session was continued");
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n");
}

#[test]
fn of_three_claude_candidates_one_right_two_wrong_the_right_one_wins() {
    if !installed("claude") {
        return;
    }
    let server = ModelServer::start(serde_json::json!({
        "edits": [
            {"file": "greeting.txt", "old": "hello", "new": "hullo", "when": "candidate 1"},
            {"file": "greeting.txt", "old": "hello", "new": "goodbye", "when": "candidate 2"},
            {"file": "greeting.txt", "old": "hello", "new": "good bye", "when": "candidate 3"}
        ],
        "reply": "done", "usage": {"input": 30, "output": 15}
    }));
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::write(work.join("plan.yaml"), claude_plan("      best_of: 3\n", "")).unwrap();
    let env = agent_env(&server, &dir.path().join("home"));
    let run = plan_run(&work, &env, &["run", "plan.yaml", "--json"]);
    run.code(0);
    let report = run.json();
    let candidates = report["agents"]["fix"]["candidates"].as_array().unwrap();
    // Each candidate asked the model with its own number, and made its own edit.
    for n in 1..=3 {
        assert!(server.requests().iter().any(|r| user_text(r).contains(&format!("candidate {n}."))), "{n}");
    }
    assert_eq!(candidates.iter().map(|c| c["passed"] == true).collect::<Vec<_>>(), [false, true, false]);
    assert!(candidates[0]["error"].as_str().unwrap().contains("says 'hullo'"), "{report}");
    assert!(candidates[2]["error"].as_str().unwrap().contains("says 'good bye'"), "{report}");
    assert_eq!(candidates[1]["winner"], true);
    assert!(report["agents"]["fix"]["chosen"].as_str().unwrap().contains("only one whose checks all passed"));
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n");
}

#[test]
fn claude_candidates_are_judged_and_the_higher_score_wins() {
    if !installed("claude") {
        return;
    }
    // Both candidates pass the test; the judge prefers the one that also says why.
    let server = ModelServer::start(serde_json::json!({
        "edits": [
            {"file": "greeting.txt", "old": "hello", "new": "goodbye", "when": "candidate 1", "unless": "You review"},
            {"file": "greeting.txt", "old": "hello", "new": "goodbye\n# said goodbye, as the issue asks",
             "when": "candidate 2", "unless": "You review"}
        ],
        "replies": [
            {"when": "+# said goodbye", "reply": "Clear.\n{\"score\": 0.9, \"reasons\": \"fixes it and says why\"}"},
            {"when": "You review", "reply": "{\"score\": 0.75, \"reasons\": \"fixes it, silently\"}"}
        ],
        "reply": "done", "usage": {"input": 30, "output": 15}
    }));
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    let judge =
        "        judge: { rubric: \"greeting.txt says goodbye, and the change explains itself\", min_score: 0.7 }\n";
    std::fs::write(work.join("plan.yaml"), claude_plan("      best_of: 2\n", judge)).unwrap();
    let env = agent_env(&server, &dir.path().join("home"));
    let run = plan_run(&work, &env, &["run", "plan.yaml", "--json"]);
    run.code(0);
    let report = run.json();
    let fix = &report["agents"]["fix"];
    let candidates = fix["candidates"].as_array().unwrap();
    assert_eq!(candidates.iter().map(|c| c["score"].as_f64()).collect::<Vec<_>>(), [Some(0.75), Some(0.9)]);
    assert_eq!(candidates[1]["winner"], true, "{report}");
    assert!(fix["chosen"].as_str().unwrap().contains("judge scored it highest (0.90; others 0.75)"), "{report}");
    let judged = &report["agents"]["fix[1]"]["checks"][0]["checks"];
    let judge = judged.as_array().unwrap().iter().find(|c| c["check"] == "judge").unwrap();
    assert_eq!(judge["reasons"], "fixes it and says why");
    // Each candidate's cost includes its judge's requests, metered by the gateway.
    assert!(candidates.iter().all(|c| c["cost_usd"].as_f64().unwrap_or(0.0) > 0.0), "{report}");
    assert!(std::fs::read_to_string(work.join("greeting.txt")).unwrap().contains("# said goodbye"));
}

/// A plan of one Claude Code agent held to `sh test.sh`, with `agent` lines added to
/// the agent and `accept` lines to its checks.
fn claude_plan(agent: &str, accept: &str) -> String {
    format!(
        r#"version: 1
name: greeting
issue: {{ number: 7, repo: org/tiny, title: "The greeting says hello", body: "It should say goodbye." }}
complexity: atomic
budget: {{ cost_usd: 1, turns: 20 }}
defaults: {{ runner: claude, timeout: 5m }}
agent:
  id: primary
  pattern: pipeline
  agents:
    - id: fix
      workspace: worktree
{agent}      prompt: "Fix the greeting (issue #{{{{ issue.number }}}}). You are candidate {{{{ candidate }}}}."
      accept:
        command: sh test.sh
{accept}"#
    )
}
