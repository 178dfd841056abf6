//! Coding agents as runners, with the real CLIs (Claude Code, Codex, aider) against
//! the model stand-in on 127.0.0.1: edits through `plan run`, the final message as the
//! output, usage and cost in the report, budgets, denied edits, a model server that is
//! down, and a retry that is told the previous error.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::model::{agent_env, fix_greeting, installed, plan_run, tiny_repo, user_messages, user_text, ModelServer};
use crate::support::{repo, run_in};

fn example(cli: &str) -> String {
    repo().join(format!("plans/coding-agents/fix-greeting-{cli}.yaml")).display().to_string()
}

/// Runs the example plan of `cli` in a fresh tiny repository; returns the report.
fn fix_with(cli: &str) -> Option<(tempfile::TempDir, Value)> {
    if !installed(cli) {
        return None;
    }
    let server = ModelServer::start(fix_greeting());
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    let env = agent_env(&server, &dir.path().join("home"));
    let run = plan_run(&work, &env, &["run", &example(cli), "--json"]);
    run.code(0);
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n", "{cli} edited the file");
    let report = run.json();
    let run_dir = work.join(".plan/runs").join(report["run_id"].as_str().unwrap());
    // The output is the agent's final message, not the CLI's envelope.
    assert_eq!(std::fs::read_to_string(run_dir.join("outputs/fix.json")).unwrap().trim(), "\"done\"", "{cli}");
    // The log reads as steps; the machine-readable output is kept whole beside it.
    let log = std::fs::read_to_string(run_dir.join("logs/fix.log")).unwrap();
    assert!(log.lines().any(|l| l.starts_with("→ ") && l.contains("greeting.txt")), "{cli} log:\n{log}");
    assert!(run_dir.join("agents/fix.jsonl").is_file(), "{cli}");
    assert_eq!(report["implementation_summary"]["files_changed"], serde_json::json!(["greeting.txt"]), "{cli}");
    // The agents asked the stand-in, and only the stand-in.
    assert!(!server.requests().is_empty(), "{cli} made no model request");
    // GITHUB_TOKEN is not passed to agents: nothing they wrote contains it.
    for f in ["logs/fix.log", "agents/fix.jsonl"] {
        let text = std::fs::read_to_string(run_dir.join(f)).unwrap();
        assert!(!text.contains("ghp_agentsMustNotSeeThis123"), "{cli} {f}");
    }
    Some((dir, report))
}

#[test]
fn claude_edits_a_file_and_reports_tokens_and_cost() {
    let Some((_dir, report)) = fix_with("claude") else { return };
    let usage = &report["agents"]["fix"]["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() > 0, "{report}");
    assert!(usage["output_tokens"].as_u64().unwrap() > 0, "{report}");
    assert!(usage["cost_usd"].as_f64().unwrap() > 0.0, "Claude Code reports a cost: {report}");
    let m = &report["performance_metrics"];
    assert_eq!(m["tokens"], usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap());
    assert_eq!(m["cost_usd"], usage["cost_usd"]);
}

#[test]
fn codex_edits_a_file_and_the_gateway_prices_it() {
    let Some((_dir, report)) = fix_with("codex") else { return };
    let usage = &report["agents"]["fix"]["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() > 0, "{report}");
    // Codex reports no cost; the gateway metered one from the API's usage.
    assert!(usage["cost_usd"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(usage["cli_cost_usd"], Value::Null, "{report}");
    assert_eq!(report["performance_metrics"]["cost_usd"], usage["cost_usd"]);
}

#[test]
fn aider_edits_a_file() {
    let Some((_dir, report)) = fix_with("aider") else { return };
    assert!(report["agents"]["fix"]["usage"]["input_tokens"].as_u64().unwrap() > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_to_pull_request_with_claude() {
    if !installed("claude") {
        return;
    }
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/org/tiny/pulls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/org/tiny/pulls"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"html_url": "https://github.com/org/tiny/pull/8"})),
        )
        .mount(&github)
        .await;
    let server = ModelServer::start(fix_greeting());
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    let mut env = agent_env(&server, &dir.path().join("home"));
    env.push(("GITHUB_API_URL".into(), github.uri()));
    let run = tokio::task::block_in_place(|| plan_run(&work, &env, &["run", &example("claude"), "--pr", "--json"]));
    run.code(0);
    let report = run.json();
    assert_eq!(report["implementation_summary"]["pr_url"], "https://github.com/org/tiny/pull/8");
    assert_eq!(report["validation_results"]["test"], "passed", "{report}");
    let show = std::process::Command::new("git")
        .current_dir(dir.path().join("origin.git"))
        .args(["show", "plan/issue-7-claude:greeting.txt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&show.stdout), "goodbye\n", "the fix reached origin");
    let requests = crate::git::posted(&github).await;
    let pr: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(pr["title"], "Fix #7: The greeting says hello; it should say goodbye");
}

#[test]
fn an_agent_whose_edit_is_denied_fails() {
    if !installed("claude") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "hello\n").unwrap();
    let server = ModelServer::start(serde_json::json!({
        "edits": [{"file": outside.display().to_string(), "old": "hello", "new": "goodbye"}],
        "reply": "done"
    }));
    let work = tiny_repo(dir.path());
    let env = agent_env(&server, &dir.path().join("home"));
    let plan =
        "version: 1\nname: denied\ncomplexity: simple\nagent: { id: fix, runner: claude, prompt: \"Edit it.\" }\n";
    std::fs::write(dir.path().join("denied.yaml"), plan).unwrap();
    let run = plan_run(&work, &env, &["run", dir.path().join("denied.yaml").to_str().unwrap(), "--json"]);
    run.code(1);
    let report = run.json();
    let error = report["agents"]["fix"]["last_error"].as_str().unwrap();
    assert!(error.contains("permission denied"), "{error}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "hello\n", "nothing outside the checkout changed");
}

#[test]
fn a_model_server_that_is_down_fails_the_attempt_within_its_timeout() {
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    for cli in ["claude", "codex"] {
        if !installed(cli) {
            continue;
        }
        let server = ModelServer::start(fix_greeting());
        let dir = tempfile::tempdir().unwrap();
        let work = tiny_repo(dir.path());
        let mut env = agent_env(&server, &dir.path().join("home"));
        drop(server);
        for (k, v) in env.iter_mut() {
            if k == "ANTHROPIC_BASE_URL" {
                *v = format!("http://127.0.0.1:{port}");
            }
        }
        let config = dir.path().join("home/.codex/config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let base = text.lines().find(|l| l.starts_with("base_url")).unwrap().to_string();
        std::fs::write(&config, text.replace(&base, &format!("base_url = \"http://127.0.0.1:{port}/v1\""))).unwrap();
        let plan = format!(
            "version: 1\nname: down\ncomplexity: simple\nagent: {{ id: fix, runner: {cli}, timeout: 4s, prompt: \"Fix it.\" }}\n"
        );
        std::fs::write(dir.path().join("down.yaml"), plan).unwrap();
        let started = Instant::now();
        let run = plan_run(&work, &env, &["run", dir.path().join("down.yaml").to_str().unwrap(), "--json"]);
        run.code(1);
        assert!(started.elapsed() < Duration::from_secs(20), "{cli} took {:?}", started.elapsed());
        let error = run.json()["agents"]["fix"]["last_error"].as_str().unwrap().to_string();
        assert!(error.contains("timed out after 4s") || error.contains("connect"), "{cli}: {error}");
    }
}

#[test]
fn a_retry_is_told_why_the_attempt_before_failed() {
    for cli in ["claude", "codex", "aider"] {
        if !installed(cli) {
            continue;
        }
        let mut script = fix_greeting();
        script["edit_only_on_retry"] = Value::Bool(true);
        let server = ModelServer::start(script);
        let dir = tempfile::tempdir().unwrap();
        let work = tiny_repo(dir.path());
        let env = agent_env(&server, &dir.path().join("home"));
        let run = plan_run(&work, &env, &["run", &example(cli), "--json"]);
        run.code(0);
        let report = run.json();
        assert_eq!(report["agents"]["fix"]["attempts"], 2, "{cli}: {report}");
        assert!(report["agents"]["fix"]["last_error"].as_str().unwrap().contains("changed no files"), "{report}");
        let requests = server.requests();
        let retry = requests
            .iter()
            .find(|r| user_text(r).contains("The attempt before failed"))
            .unwrap_or_else(|| panic!("{cli}: no request of the second attempt"));
        let retried = user_text(retry);
        assert!(retried.contains("the agent changed no files"), "{cli}: {retried}");
        assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n", "{cli}");
        if cli != "aider" {
            // The retry continued the CLI's session: its first request carries the
            // conversation of the attempt before.
            let prompts = user_messages(retry).iter().filter(|m| m.contains("Fix issue #7")).count();
            assert!(prompts >= 2, "{cli}: the retry did not carry the first attempt's conversation");
        }
    }
}

#[test]
fn status_shows_what_a_running_agent_is_doing() {
    let dir = tempfile::tempdir().unwrap();
    let plan =
        "version: 1\nname: step\ncomplexity: simple\nagent: { id: slow, run: \"echo '→ Edit src/lib.rs'; sleep 3\" }\n";
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let started = run_in(dir.path(), &["run", "plan.yaml", "--background"], &[]);
    started.code(0);
    let id = started.stdout.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = run_in(dir.path(), &["status", &id], &[]).stdout;
        if seen.contains("→ Edit src/lib.rs") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen.contains("→ Edit src/lib.rs"), "{seen}");
    run_in(dir.path(), &["stop", &id], &[]);
}

/// The real CLIs in workspaces of their own (copy-on-write overlays in their own
/// mount namespaces): the edit is collected and merged into the checkout.
#[test]
fn coding_agents_edit_in_copy_on_write_workspaces() {
    for cli in ["claude", "codex"] {
        if !installed(cli) {
            continue;
        }
        let server = ModelServer::start(fix_greeting());
        let dir = tempfile::tempdir().unwrap();
        let work = tiny_repo(dir.path());
        let env = agent_env(&server, &dir.path().join("home"));
        let text = std::fs::read_to_string(example(cli)).unwrap();
        let isolated = text.replace("      expect: changes", "      workspace: worktree\n      expect: changes");
        assert_ne!(isolated, text);
        let plan = dir.path().join("isolated.yaml");
        std::fs::write(&plan, isolated).unwrap();
        let run = plan_run(&work, &env, &["run", plan.to_str().unwrap(), "--json"]);
        assert_eq!(run.code, 0, "{cli}: {}", run.stderr);
        let report = run.json();
        assert_eq!(report["implementation_summary"]["workspaces"], "copy-on-write", "{cli}");
        assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n", "{cli}");
        assert_eq!(report["implementation_summary"]["files_changed"], serde_json::json!(["greeting.txt"]), "{cli}");
    }
}
