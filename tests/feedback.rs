//! CI and reviews sent back: a run that opened a pull request gets a failed check
//! (a signed `check_run` webhook to `plan serve`) or a reviewer's request; the step
//! that owns the branch is re-entered in its session with the log in its prompt, and
//! its fix is pushed to the same branch and pull request. Claude Code runs against
//! the model stand-in; GitHub is its stand-in too.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::exactly_once::{origin_file, pushes, Github};
use crate::model::{agent_env, installed, plan_run, tiny_repo, user_text, ModelServer};
use crate::serve_support::Served;
use crate::webhooks::{hook, SECRET};

const PLAN: &str = r#"version: 1
name: greeting
issue: { number: 7, repo: org/tiny, title: "Say goodbye", body: "The greeting should say goodbye." }
complexity: atomic
budget: { cost_usd: 1, turns: 20 }
defaults: { runner: claude, timeout: 5m }
agent:
  id: fix
  workspace: worktree
  retry: { attempts: 2, delay: 0s }
  prompt: "Fix issue #{{ issue.number }}: make greeting.txt say goodbye."
  accept: { touches: [greeting.txt] }
git:
  branch: plan/issue-7
  pr: { title: "Fix #7" }
"#;

/// The CI log the stand-in's second edit answers.
const CI_LOG: &str = "lint: greeting.txt: a greeting needs a final '!' (found 'goodbye')";

fn check_run(conclusion: &str, pr: u64) -> String {
    serde_json::json!({
        "action": "completed",
        "check_run": {
            "name": "lint", "conclusion": conclusion, "html_url": "https://github.com/org/tiny/runs/1",
            "app": { "name": "GitHub Actions" },
            "output": { "title": "1 error", "summary": "lint failed", "text": CI_LOG },
            "pull_requests": [{ "number": pr, "head": { "ref": "plan/issue-7" } }]
        },
        "repository": { "full_name": "org/tiny" },
        "sender": { "login": "github-actions[bot]" }
    })
    .to_string()
}

fn review(user: &str, pr: u64) -> String {
    serde_json::json!({
        "action": "submitted",
        "review": { "id": 9, "state": "changes_requested", "body": "Please also capitalise: Goodbye!",
                    "user": { "login": user }, "html_url": "https://github.com/org/tiny/pull/1#review-9" },
        "pull_request": { "number": pr, "head": { "ref": "plan/issue-7" } },
        "repository": { "full_name": "org/tiny" },
        "sender": { "login": user }
    })
    .to_string()
}

/// The run's report once its round of feedback `round` has ended (or 90 s passed).
fn after_round(work: &Path, run_id: &str, round: usize) -> Value {
    let path = work.join(".plan/runs").join(run_id).join("report.json");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let report: Value = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        let rounds = report["feedback"].as_array().map_or(0, Vec::len);
        let running = work.join(".plan/runs").join(run_id).join("run.lock").exists() && rounds < round;
        if (rounds >= round && !running) || Instant::now() > deadline {
            return report;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_failed_check_reenters_the_step_and_its_fix_lands_on_the_same_branch() {
    if !installed("claude") {
        return;
    }
    let model = ModelServer::start(serde_json::json!({
        "edits": [
            {"file": "greeting.txt", "old": "hello", "new": "goodbye", "unless": "needs a final"},
            {"file": "greeting.txt", "old": "goodbye", "new": "goodbye!", "when": "needs a final", "unless": "capitalise"},
            {"file": "greeting.txt", "old": "goodbye!", "new": "Goodbye!", "when": "capitalise"}
        ],
        "reply": "done", "usage": {"input": 30, "output": 15}
    }));
    let github = Github::start();
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    crate::support::git_out(&dir.path().join("origin.git"), &["config", "core.logAllRefUpdates", "always"]);
    std::fs::write(dir.path().join("fb.yaml"), PLAN).unwrap();
    let api = format!("http://127.0.0.1:{}", github.port);
    let mut env = agent_env(&model, &dir.path().join("home"));
    env.extend([("GITHUB_API_URL".to_string(), api.clone()), ("GITHUB_TOKEN".to_string(), "ghp_test".to_string())]);
    let run = plan_run(&work, &env, &["run", "../fb.yaml", "--pr", "--json"]);
    run.code(0);
    let first = run.json();
    let run_id = first["run_id"].as_str().unwrap().to_string();
    assert_eq!(first["implementation_summary"]["pr_url"], "https://github.com/org/tiny/pull/1", "{first}");
    assert_eq!(origin_file(dir.path(), "plan/issue-7"), "goodbye\n");
    assert_eq!(pushes(dir.path(), "plan/issue-7"), 1);

    let mut serve_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    serve_env.push(("PLAN_WEBHOOK_SECRET", SECRET));
    let served = Served::start(&work, &["--repo", "org/tiny"], &serve_env);
    // A passing check, and a check on a pull request no run opened: nothing happens.
    let (status, body) = hook(&served, "check_run", &check_run("success", 1), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("did not fail"), "{body}");
    let (status, body) = hook(&served, "check_run", &check_run("failure", 99), None);
    assert!(status == 200 && body.contains("no run here opened"), "{status} {body}");

    // The failed check re-enters `fix`.
    let (status, body) = hook(&served, "check_run", &check_run("failure", 1), None);
    assert_eq!(status, 202, "{body}\n{}", served.said());
    let report = after_round(&work, &run_id, 1);
    assert_eq!(report["status"], "succeeded", "{report}\n{}", served.said());
    let rounds = report["feedback"].as_array().unwrap();
    assert_eq!((rounds[0]["node"].as_str(), rounds[0]["kind"].as_str()), (Some("fix"), Some("check_run")));
    // Its prompt carried the log, in the session of the first attempt.
    let requests = model.requests();
    let reentered = requests.iter().find(|r| user_text(r).contains(CI_LOG)).expect("a request with the CI log");
    let text = user_text(reentered);
    assert!(text.contains("its check `lint` failed"), "{text}");
    assert!(text.matches("Fix issue #7").count() >= 2, "the session went on: {text}");
    // The fix is on the same branch (one more push) and the same pull request.
    assert_eq!(origin_file(dir.path(), "plan/issue-7"), "goodbye!\n");
    assert_eq!(pushes(dir.path(), "plan/issue-7"), 2);
    assert_eq!(github.created("plan/issue-7"), 1, "no second pull request");
    assert_eq!(report["implementation_summary"]["pr_url"], "https://github.com/org/tiny/pull/1");

    // A reviewer without write access is not heard; one with it is — once more, as
    // the step's retry allows two rounds; a third is refused.
    let (status, body) = hook(&served, "pull_request_review", &review("mallory", 1), None);
    assert_eq!(status, 403, "{body}");
    let (status, body) = hook(&served, "pull_request_review", &review("alice", 1), None);
    assert_eq!(status, 202, "{body}");
    let report = after_round(&work, &run_id, 2);
    assert_eq!(report["feedback"].as_array().map(Vec::len), Some(2), "{report}");
    assert_eq!(origin_file(dir.path(), "plan/issue-7"), "Goodbye!\n");
    std::fs::write(dir.path().join("third.json"), r#"{"kind": "manual", "text": "once more"}"#).unwrap();
    let third = plan_run(&work, &env, &["run", "--resume", &run_id, "--feedback", "../third.json"]);
    assert_ne!(third.code, 0);
    assert!(third.stderr.contains("had its 2 round(s) of feedback"), "{}", third.stderr);
    // The web view's run shows the rounds.
    let shown = served.get_json(&format!("/api/runs/{run_id}"));
    assert_eq!(shown["run"]["feedback"].as_array().map(Vec::len), Some(2), "{shown}");
    // And the page, as a browser shows it.
    if std::process::Command::new("chromedriver").arg("--version").output().is_ok() {
        let out = std::process::Command::new("python3")
            .arg(crate::support::repo().join("tests/browser.py"))
            .args(["--read", &format!("http://{}", served.addr), &run_id, "fix"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let seen: Value = serde_json::from_str(&stdout).unwrap();
        let rounds = seen["feedback"].as_str().unwrap();
        assert!(rounds.contains("round 1") && rounds.contains("check_run") && rounds.contains(CI_LOG), "{rounds}");
        assert!(rounds.contains("round 2") && rounds.contains("capitalise"), "{rounds}");
        // The step's panel lists each attempt's checks: the first run's and each round's.
        let panel = seen["panel"].as_str().unwrap();
        assert!(panel.contains("attempt 3") && panel.contains("pass touches greeting.txt"), "{panel}");
    }
}
