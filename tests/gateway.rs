//! The model gateway with the real CLIs against the model stand-in: every CLI's cost
//! is the price table applied to the API's own usage; the real key reaches the
//! stand-in and no agent; a budget stops the request that would cross it; agents
//! wait for rate limits instead of failing, and never exceed what the provider
//! announces; a recorded run replays without the stand-in.

use std::time::Duration;

use serde_json::{json, Value};

use crate::model::{agent_env, installed, plan_run, tiny_repo, ModelServer, REAL_KEY};
use crate::support::{bin, repo, run_in};

/// The fix-greeting script with prompt-cache figures, so that every kind of token
/// has its price.
fn script() -> Value {
    json!({
        "edits": [{"file": "greeting.txt", "old": "hello", "new": "goodbye"}],
        "reply": "done",
        "usage": {"input": 30, "output": 15, "cache_write": 100, "cache_read": 200}
    })
}

/// Model requests the stand-in answered.
fn answered(server: &ModelServer) -> Vec<Value> {
    server.requests().into_iter().filter(|r| r["status"] == 200 && is_model(r)).collect()
}

fn is_model(r: &Value) -> bool {
    let p = r["path"].as_str().unwrap_or_default();
    p.ends_with("/messages") || p.ends_with("/responses") || p.ends_with("/chat/completions")
}

/// US dollars per million tokens, as `prices.json` has them: (input, output, cache
/// write, cache read), and the tokens of one answer of `script()` as each API
/// reports them.
fn expected_cost(cli: &str, requests: usize) -> f64 {
    let per_answer = match cli {
        // Anthropic: 30 fresh, 100 written, 200 read, 15 out (claude-opus-4-8).
        "claude" => 30.0 * 5.0 + 100.0 * 6.25 + 200.0 * 0.50 + 15.0 * 25.0,
        // OpenAI Responses: 230 in of which 200 cached, 15 out (gpt-5.5).
        "codex" => 30.0 * 1.25 + 200.0 * 0.125 + 15.0 * 10.0,
        // Chat Completions: the same (gpt-4o-mini).
        _ => 30.0 * 0.15 + 200.0 * 0.075 + 15.0 * 0.60,
    };
    per_answer * requests as f64 / 1_000_000.0
}

#[test]
fn every_cli_costs_the_price_table_applied_to_the_apis_usage_and_never_holds_the_key() {
    for cli in ["claude", "codex", "aider"] {
        if !installed(cli) {
            continue;
        }
        let server = ModelServer::start(script());
        let dir = tempfile::tempdir().unwrap();
        let work = tiny_repo(dir.path());
        let env = agent_env(&server, &dir.path().join("home"));
        let plan = repo().join(format!("plans/coding-agents/fix-greeting-{cli}.yaml"));
        let run = plan_run(&work, &env, &["run", &plan.display().to_string(), "--json"]);
        run.code(0);
        let report = run.json();
        let usage = &report["agents"]["fix"]["usage"];
        assert_eq!(usage["metered_by"], "gateway", "{cli}: {report}");
        let answers = answered(&server);
        assert!(!answers.is_empty(), "{cli} asked the stand-in nothing");
        // Every request reached the stand-in with the real key: through the gateway,
        // which swapped the agent's placeholder for it.
        for r in &server.requests() {
            assert_eq!(r["auth"], REAL_KEY, "{cli}: a request without the real key: {}", r["path"]);
        }
        let cost = usage["cost_usd"].as_f64().unwrap();
        let want = expected_cost(cli, answers.len());
        assert!((cost - want).abs() < 1e-12, "{cli}: cost {cost}, the table says {want} for {} answers", answers.len());
        assert_eq!(usage["turns"], answers.len(), "{cli}");
        assert_eq!(usage["cache_read_tokens"], 200 * answers.len(), "{cli}");
        assert_eq!(report["performance_metrics"]["cost_usd"], usage["cost_usd"], "{cli}");
        match cli {
            // Claude Code prices the same usage itself: the same figure, no note.
            "claude" => {
                assert!((usage["cli_cost_usd"].as_f64().unwrap() - want).abs() < want * 0.01, "{report}");
                assert!(usage.get("notes").is_none(), "{report}");
            }
            // Codex reports no cost: the gateway's is the only one.
            "codex" => assert!(usage.get("cli_cost_usd").is_none(), "{report}"),
            // aider counts its own tokens: its figure is kept, and the difference noted.
            _ => assert!(usage["notes"][0].as_str().unwrap().contains("the CLI reported"), "{report}"),
        }
        let run_dir = work.join(".plan/runs").join(report["run_id"].as_str().unwrap());
        let recorded = std::fs::read_to_string(run_dir.join("gateway/exchanges.jsonl")).unwrap();
        assert_eq!(recorded.lines().count(), server.requests().len(), "{cli}: one record per exchange");
        assert!(!recorded.contains(REAL_KEY), "{cli}: the key is never recorded");
    }
}

/// A pipeline of two Claude agents under a budget that one answer uses up.
const BUDGETED: &str = r#"version: 1
name: budget
complexity: moderate
budget: { cost_usd: 0.001 }
defaults: { runner: claude }
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: first, prompt: "Change hello to goodbye in greeting.txt." }
    - { id: second, prompt: "Now check the greeting." }
"#;

#[test]
fn a_budget_stops_the_request_that_would_cross_it_and_stays_spent() {
    if !installed("claude") {
        return;
    }
    let server = ModelServer::start(script());
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::write(dir.path().join("budget.yaml"), BUDGETED).unwrap();
    let env = agent_env(&server, &dir.path().join("home"));
    let plan = dir.path().join("budget.yaml").display().to_string();
    let run = plan_run(&work, &env, &["run", &plan, "--json"]);
    run.code(1);
    // One answer costs $0.00125: the first request went, the second never did.
    assert_eq!(server.requests().len(), 1, "the stand-in saw the request past the budget");
    let report = run.json();
    let first = &report["agents"]["first"];
    assert_eq!(first["status"], "failed", "{report}");
    let error = first["last_error"].as_str().unwrap();
    assert!(error.contains("the run's budget is spent: cost_usd $0.0010") && error.contains("was not sent"), "{error}");
    assert_eq!(report["agents"]["second"]["status"], "skipped", "{report}");
    let id = report["run_id"].as_str().unwrap();
    let exchanges = std::fs::read_to_string(work.join(".plan/runs").join(id).join("gateway/exchanges.jsonl")).unwrap();
    assert!(exchanges.lines().any(|l| l.contains("\"refused\"")), "the refusal is recorded:\n{exchanges}");
    // Resumed, the money stays spent (the gateway's record counts again).
    let again = plan_run(&work, &env, &["run", "--resume", id]);
    again.code(1);
    assert!(again.stderr.contains("the run's budget is spent"), "{}", again.stderr);
    assert_eq!(server.requests().len(), 1, "no request after the resume");
    // `plan status` shows what was spent.
    let status = plan_run(&work, &env, &["status", id]);
    assert!(status.stdout.contains("tokens, $0.0013"), "{}", status.stdout);
}

/// `n` Claude agents side by side in a tiny repository, against a stand-in that
/// answers with `limits` (`delay`, `max_concurrent`, `rpm`) and edits nothing.
struct Fan {
    server: ModelServer,
    _dir: tempfile::TempDir,
    work: std::path::PathBuf,
    plan: String,
    env: Vec<(String, String)>,
}

impl Fan {
    fn new(n: usize, limits: Value) -> Fan {
        let mut s = script();
        s["edits"] = json!([]);
        for (k, v) in limits.as_object().unwrap() {
            s[k] = v.clone();
        }
        let server = ModelServer::start(s);
        let dir = tempfile::tempdir().unwrap();
        let work = tiny_repo(dir.path());
        let plan = dir.path().join("fan.yaml");
        std::fs::write(&plan, fan_out(n)).unwrap();
        let env = agent_env(&server, &dir.path().join("home"));
        Fan { server, work, plan: plan.display().to_string(), env, _dir: dir }
    }
}

fn fan_out(n: usize) -> String {
    let agents: String = (0..n).map(|i| format!("    - {{ id: a{i}, prompt: \"Say done ({i}).\" }}\n")).collect();
    format!(
        "version: 1\nname: fan\ncomplexity: moderate\nconcurrency: {n}\ndefaults: {{ runner: claude, timeout: 2m }}\n\
         agent:\n  id: primary\n  pattern: fork-join\n  agents:\n{agents}"
    )
}

#[test]
fn no_agent_process_holds_the_real_key_while_it_runs() {
    if !installed("claude") {
        return;
    }
    let fan = Fan::new(2, json!({"delay": 1.5}));
    let work = &fan.work;
    let mut child = std::process::Command::new(bin())
        .args(["run", &fan.plan, "--quiet"])
        .current_dir(work)
        .envs(fan.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (mut plan_has_it, mut agents_seen, mut leaks) = (false, 0, Vec::new());
    // This run's agents (tests beside it run agents too).
    let runs = std::fs::canonicalize(work).unwrap().join(".plan/runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
            let text = String::from_utf8_lossy(&environ);
            let has_key = text.contains(REAL_KEY);
            if entry.file_name().to_string_lossy() == child.id().to_string() {
                plan_has_it |= has_key;
            } else if text.contains(&format!("PLAN_RUN_DIR={}", runs.display())) {
                agents_seen += 1;
                assert!(text.contains("plan-gateway-"), "an agent without its placeholder key");
                if has_key {
                    leaks.push(entry.path());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(child.wait().unwrap().success());
    // The canary: the scan reads environments (plan's own holds the key)...
    assert!(plan_has_it, "the scan never saw the key in plan's own environment");
    assert!(agents_seen > 0, "the scan saw no agent process");
    // ... and no agent process held it.
    assert!(leaks.is_empty(), "the real key in agent processes: {leaks:?}");
}

#[test]
fn agents_wait_for_rate_limits_instead_of_failing() {
    if !installed("claude") {
        return;
    }
    let mut fan = Fan::new(6, json!({"delay": 0.3, "max_concurrent": 2}));
    // Without the gateway, a CLI that meets a 429 with no retries left fails.
    fan.env.push(("CLAUDE_CODE_MAX_RETRIES".into(), "0".into()));
    let (server, work, env) = (&fan.server, &fan.work, &fan.env);
    let run = plan_run(work, env, &["run", &fan.plan, "--json"]);
    run.code(0);
    let report = run.json();
    let requests = server.requests();
    let served: Vec<&Value> = requests.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(served.len(), 6, "{report}");
    assert!(
        served.iter().all(|r| r["in_flight"].as_u64().unwrap() < 2),
        "more than 2 at once were served: {:?}",
        requests
            .iter()
            .map(|r| (r["status"].clone(), r["in_flight"].clone(), r["arrived"].clone(), r["done"].clone()))
            .collect::<Vec<_>>()
    );
    let waited: u64 = (0..6)
        .map(|i| report["agents"][format!("a{i}")]["usage"]["rate_limit_wait"].as_str().unwrap().to_string())
        .map(|w| (w.trim_end_matches('s').parse::<f64>().unwrap() * 1000.0) as u64)
        .sum();
    assert!(waited > 300, "agents waited {waited} ms in all: {report}");
    let throttled = requests.iter().filter(|r| r["status"] == 429).count();
    assert_eq!(report["implementation_summary"]["gateway"]["throttled"], throttled, "every 429 is counted");
    // `plan status` (and the web view, from the same journal) shows the waits.
    let status = plan_run(work, env, &["status", report["run_id"].as_str().unwrap()]);
    assert!(status.stdout.contains("waiting for rate limits"), "{}", status.stdout);
    if throttled > 0 {
        let logs = work.join(".plan/runs").join(report["run_id"].as_str().unwrap()).join("logs");
        let told = (0..6).any(|i| {
            std::fs::read_to_string(logs.join(format!("a{i}.log")))
                .unwrap_or_default()
                .contains("is rate limited (429)")
        });
        assert!(told, "an agent's log tells of its 429");
    }
}

#[test]
fn what_the_provider_announces_is_never_exceeded() {
    if !installed("claude") {
        return;
    }
    let fan = Fan::new(4, json!({"rpm": {"limit": 2, "window": 1.5}}));
    let run = plan_run(&fan.work, &fan.env, &["run", &fan.plan, "--json"]);
    run.code(0);
    let requests = fan.server.requests();
    assert_eq!(requests.len(), 4 + requests.iter().filter(|r| r["status"] == 429).count());
    // The first request goes alone (slow start); its answer announces the limit, and
    // nothing beyond it is sent: the stand-in never had to say 429.
    let refused = requests.iter().filter(|r| r["status"] == 429).count();
    assert_eq!(refused, 0, "the gateway sent past the announced limit");
    let report = run.json();
    let waited: f64 = (0..4)
        .map(|i| {
            report["agents"][format!("a{i}")]["usage"]["rate_limit_wait"]
                .as_str()
                .unwrap()
                .trim_end_matches('s')
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert!(waited > 1.0, "4 requests at 2 per 1.5 s: someone waited for the reset ({waited} s)");
}

#[test]
fn a_recorded_run_replays_to_the_same_report_without_the_stand_in() {
    if !installed("claude") || !installed("codex") {
        return;
    }
    let plan = r#"version: 1
name: two-clis
complexity: moderate
budget: { cost_usd: 1 }
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: claude, runner: claude, prompt: "Change hello to goodbye in greeting.txt." }
    - { id: codex, runner: codex, prompt: "Check the greeting." }
"#;
    let dir = tempfile::tempdir().unwrap();
    let work = tiny_repo(dir.path());
    std::fs::write(dir.path().join("two.yaml"), plan).unwrap();
    let plan = dir.path().join("two.yaml").display().to_string();
    let server = ModelServer::start(script());
    let env = agent_env(&server, &dir.path().join("home"));
    let first = plan_run(&work, &env, &["run", &plan, "--json"]);
    first.code(0);
    let recorded = first.json();
    drop(server);
    let git = |args: &[&str]| std::process::Command::new("git").args(args).current_dir(&work).status().unwrap();
    assert!(git(&["checkout", "-q", "--", "greeting.txt"]).success());
    let id = recorded["run_id"].as_str().unwrap();
    // (Not from the step cache: a replay runs every agent, its model answered from the
    // recording.)
    let replay = plan_run(&work, &env, &["run", &plan, "--replay", id, "--json"]);
    replay.code(0);
    let replayed = replay.json();
    assert_eq!(std::fs::read_to_string(work.join("greeting.txt")).unwrap(), "goodbye\n", "the replayed edit");
    for agent in ["claude", "codex"] {
        let (a, b) = (&recorded["agents"][agent], &replayed["agents"][agent]);
        assert_eq!(a["status"], b["status"], "{agent}");
        for k in ["input_tokens", "output_tokens", "turns", "cost_usd"] {
            assert_eq!(a["usage"][k], b["usage"][k], "{agent} {k}");
        }
    }
    assert_eq!(replayed["implementation_summary"]["gateway"]["replayed_from"], id);
    assert_eq!(
        replayed["implementation_summary"]["files_changed"],
        recorded["implementation_summary"]["files_changed"]
    );
    assert_eq!(replayed["performance_metrics"]["cost_usd"], recorded["performance_metrics"]["cost_usd"]);
}

#[test]
fn a_cli_figure_that_cannot_be_a_cost_is_refused_never_added() {
    // A runner of its own command (outside the gateway) whose CLI output claims a
    // negative cost.
    let plan = r#"version: 1
name: liar
complexity: simple
budget: { cost_usd: 0.5 }
runners:
  liar:
    cli: claude
    command: [sh, -c, "cat >/dev/null; echo '{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"ok\",\"total_cost_usd\":-1000,\"num_turns\":1,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}'"]
agent: { id: a, runner: liar, prompt: "hi" }
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("liar.yaml"), plan).unwrap();
    let run = run_in(dir.path(), &["run", "liar.yaml", "--json"], &[]);
    run.code(1);
    let report = run.json();
    let error = report["agents"]["a"]["last_error"].as_str().unwrap();
    assert!(error.contains("claude reported a cost that cannot be one ($-1000 is negative): not counted"), "{error}");
    assert_eq!(report["agents"]["a"]["attempts"], 1, "no retry helps");
    // Nothing negative was added to what the run spent.
    assert!(report["performance_metrics"]["cost_usd"].as_f64().unwrap_or(0.0) >= 0.0, "{report}");
}
