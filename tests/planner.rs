//! `plan new --planner`: a planner that first answers with a broken plan gets the
//! diagnostics (with their lines) and fixes it; only a clean plan is written; a
//! planner that never gets there writes nothing. With a command, and with the real
//! Claude Code and Codex against the model stand-in.

use crate::model::{agent_env, installed, user_text, ModelServer};
use crate::support::{run_in, Test};

const ISSUE: &str = "# Add a --verbose flag\n\nThe CLI should say what it does with --verbose.\n";

/// A plan with a misspelt field (`promt`), and the same plan fixed.
const BROKEN: &str = r#"version: 1
name: add-verbose
issue: { title: "Add a --verbose flag" }
complexity: moderate
defaults: { runner: claude }
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: flag, promt: "Add --verbose to the parser." }
    - { id: docs, prompt: "Document --verbose." }
"#;

fn fixed() -> String {
    BROKEN.replace("promt", "prompt")
}

/// A planner command that answers BROKEN, then the fixed plan once it is told the
/// problems. It keeps each request in `request-N.txt` where it works (a scratch copy
/// of the repository, the only place its sandbox lets it write) and says it on
/// stderr, which `plan` logs in `.plan/planner.log`.
fn planner_script(fixes: bool) -> String {
    let second = if fixes { fixed() } else { BROKEN.to_string() };
    format!(
        "n=$(ls request-*.txt 2>/dev/null | wc -l); cat > request-$n.txt; {{ echo \"=== request $n\"; cat request-$n.txt; }} >&2\n\
         if grep -q 'found these problems' request-$n.txt; then cat <<'EOF'\n```yaml\n{second}```\nEOF\n\
         else cat <<'EOF'\nHere is the plan:\n```yaml\n{BROKEN}```\nEOF\nfi\n"
    )
}

/// The first two requests the planner logged.
fn requests(t: &Test) -> (String, String) {
    let log = std::fs::read_to_string(t.path(".plan/planner.log")).unwrap();
    let first = log.split("=== request 0").nth(1).unwrap_or_default();
    let (first, second) = first.split_once("=== request 1").unwrap_or((first, ""));
    (first.to_string(), second.to_string())
}

/// `sh DIR/planner.sh` for the test's directory.
fn planner_in(t: &Test) -> String {
    format!("sh {}", t.path("planner.sh").display())
}

#[test]
fn a_planner_command_fixes_its_plan_from_the_diagnostics() {
    let t = Test::new().file("issue.md", ISSUE).file("planner.sh", &planner_script(true));
    let planner = planner_in(&t);
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--planner", &planner]);
    run.code(0);
    assert!(run.stderr.contains(&format!("planner `{planner}`: 2 round(s)")), "{}", run.stderr);
    let plan = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    assert!(plan.starts_with(&format!("# Written by the planner `{planner}` in 2 round(s)")), "{plan}");
    assert!(plan.contains("prompt: \"Add --verbose to the parser.\""), "{plan}");
    t.run_with(&["lint", "p.yaml", "--deny-warnings"]).code(0);
    // The first request has the issue as data; the second the diagnostic, at its line.
    let (first, second) = requests(&t);
    assert!(first.contains("\"title\": \"Add a --verbose flag\""), "{first}");
    assert!(second.contains("p.yaml:10:") && second.contains("promt"), "{second}");
    assert!(!t.path("request-0.txt").exists(), "the planner wrote only its scratch copy");
}

#[test]
fn a_planner_that_never_lints_clean_leaves_the_rules_plan() {
    let t = Test::new().file("issue.md", ISSUE).file("planner.sh", &planner_script(false));
    let planner = planner_in(&t);
    let run = t.run_with(&[
        "new",
        "--from",
        "issue.md",
        "--output",
        "p.yaml",
        "--planner",
        &planner,
        "--planner-rounds",
        "2",
    ]);
    run.code(0);
    assert!(
        run.stderr.contains("still has problems after 2 round(s); the rules' plan is written instead"),
        "{}",
        run.stderr
    );
    // The rules' plan, not the planner's broken one.
    let written = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    assert!(!written.contains("Written by the planner") && !written.contains("promt"), "{written}");
    let log = std::fs::read_to_string(t.path(".plan/planner.log")).unwrap();
    assert_eq!(log.matches("=== request ").count(), 2, "at most 2 rounds");
}

#[test]
fn a_planner_cli_that_fills_its_stderr_does_not_hang_plan_new() {
    // A `claude` first on PATH that writes 200 KiB to stderr (more than a pipe holds)
    // before its result: read one pipe at a time, it would block on stderr while
    // `plan new` waited for its stdout to end.
    let answer = serde_json::json!({
        "type": "result", "subtype": "success", "num_turns": 1,
        "result": format!("```yaml\n{}```\n", fixed()),
    });
    let script =
        format!("#!/bin/sh\ncat > /dev/null\nhead -c 204800 /dev/zero | tr '\\0' x >&2\ncat <<'EOF'\n{answer}\nEOF\n");
    let t = Test::new().file("issue.md", ISSUE).file("bin/claude", &script);
    let bin = t.path("bin");
    std::fs::set_permissions(bin.join("claude"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let started = std::time::Instant::now();
    let run = run_in(
        t.dir.path(),
        &["new", "--from", "issue.md", "--output", "p.yaml", "--planner", "claude"],
        &[("PATH", path.as_str())],
    );
    run.code(0);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(std::fs::read_to_string(t.path("p.yaml")).unwrap().contains("Add --verbose"));
    let log = std::fs::read_to_string(t.path(".plan/planner.log")).unwrap();
    assert!(log.len() >= 204_800, "the planner's output is logged ({} bytes)", log.len());
}

/// The stand-in answers the broken plan, then the fixed one once the prompt carries
/// the diagnostics.
fn planning_server() -> ModelServer {
    ModelServer::start(serde_json::json!({
        "reply": format!("```yaml\n{BROKEN}```"),
        "replies": [{ "when": "found these problems", "reply": format!("```yaml\n{}```", fixed()) }],
        "usage": { "input": 200, "output": 80 }
    }))
}

fn plan_with_cli(cli: &str) {
    if !installed(cli) {
        return;
    }
    let server = planning_server();
    let t = Test::new().file("issue.md", ISSUE).file("src/cli.rs", "fn main() {}\n");
    let env = agent_env(&server, &t.path("home"));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = run_in(t.dir.path(), &["new", "--from", "issue.md", "--output", "p.yaml", "--planner", cli], &env);
    run.code(0);
    assert!(run.stderr.contains(&format!("planner `{cli}`: 2 round(s)")), "{cli}: {}", run.stderr);
    t.run_with(&["lint", "p.yaml", "--deny-warnings"]).code(0);
    let requests = server.requests();
    assert!(requests.iter().any(|r| user_text(r).contains("found these problems")), "{cli}: the diagnostics went back");
    assert_eq!(std::fs::read_to_string(t.path("src/cli.rs")).unwrap(), "fn main() {}\n", "{cli} changed nothing");
}

#[test]
fn claude_plans_and_fixes_its_plan() {
    plan_with_cli("claude");
}

#[test]
fn codex_plans_and_fixes_its_plan() {
    plan_with_cli("codex");
}

#[test]
fn the_planner_sees_no_secret_but_its_key_works_in_a_scratch_copy_and_has_a_budget() {
    // A planner that obeys the issue: it dumps its environment, where it is and what
    // it sees, tries to plant a plan in the checkout, and answers.
    let t = Test::new().file("issue.md", ISSUE).file("README.md", "committed\n").committed();
    let t = t.file("plans/planted.yaml", "uncommitted\n");
    let out = t.dir.path().canonicalize().unwrap();
    let script = obedient_claude(&out, &fixed());
    let t = t.file("bin/claude", &script);
    std::fs::set_permissions(t.path("bin/claude"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", t.path("bin").display(), std::env::var("PATH").unwrap_or_default());
    let env = [
        ("PATH", path.as_str()),
        ("GITHUB_TOKEN", "ghp_canary_github"),
        ("PLAN_WEBHOOK_SECRET", "canary-webhook-secret"),
        ("AWS_SECRET_ACCESS_KEY", "canary-aws"),
        ("ANTHROPIC_API_KEY", "sk-ant-planner-key"),
    ];
    let args = ["new", "--from", "issue.md", "--output", "p.yaml", "--planner", "claude", "--planner-budget", "0.25"];
    run_in(t.dir.path(), &args, &env).code(0);
    let log = std::fs::read_to_string(t.path(".plan/planner.log")).unwrap();
    let part = |name: &str| -> String {
        let from = log.split(&format!("=== {name}\n")).nth(1).unwrap_or_default();
        from.split("=== ").next().unwrap_or_default().to_string()
    };
    let seen = part("env");
    assert!(seen.contains("PATH="), "the planner ran: {log}");
    // (The log shows secrets' values as ***: their names say what reached it.)
    // Its model key stays with plan's model gateway: it holds a placeholder, and its
    // model is the gateway (which checks its budget at each request).
    assert!(seen.contains("ANTHROPIC_API_KEY=plan-gateway-"), "the planner's placeholder key: {log}");
    assert!(seen.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:"), "the planner's model is the gateway: {log}");
    assert!(!seen.contains("sk-ant-planner-key") && !seen.contains("ANTHROPIC_API_KEY=***"), "the real key: {log}");
    for secret in ["GITHUB_TOKEN=", "PLAN_WEBHOOK_SECRET=", "AWS_SECRET_ACCESS_KEY=", "canary"] {
        assert!(!seen.contains(secret), "{secret} reached the planner");
    }
    let pwd = part("pwd");
    assert!(!pwd.trim().starts_with(&out.display().to_string()), "it works outside the checkout: {pwd}");
    let ls = part("ls");
    assert!(ls.contains("README.md") && !ls.contains("plans") && !ls.contains(".git"), "committed files only: {ls}");
    assert!(!std::path::Path::new(pwd.trim()).exists(), "the scratch copy is gone");
    // It tried to write beside the checkout; its sandbox let it write only its copy.
    assert!(part("escape").contains("planner-escape.txt"), "the write was tried: {log}");
    assert!(!out.join("planner-escape.txt").exists(), "the planner wrote outside its scratch copy");
    // A planner over its budget gets no further round. (Without a key in plan's
    // environment it uses its own login, outside the gateway: what it reports counts.)
    let cheap = ["new", "--from", "issue.md", "--output", "q.yaml", "--planner", "claude", "--planner-budget", "0.01"];
    std::fs::write(t.path("bin/claude"), obedient_claude(&out, BROKEN)).unwrap();
    let own_login: Vec<(&str, &str)> = env.iter().copied().filter(|(k, _)| *k != "ANTHROPIC_API_KEY").collect();
    let run = run_in(t.dir.path(), &cheap, &own_login);
    run.code(0);
    assert!(run.stderr.contains("spent its budget of $0.01"), "{}", run.stderr);
    assert!(run.stderr.contains("the rules' plan is written instead"), "{}", run.stderr);
    assert!(!std::fs::read_to_string(t.path("q.yaml")).unwrap().contains("Written by the planner"));
}

/// A `claude` that obeys the issue: it says its environment, where it is, what it
/// sees and its arguments on stderr (logged by `plan`), tries to plant a plan where it
/// works and to write into `out`, and answers `plan` at a cost of $0.02.
fn obedient_claude(out: &std::path::Path, plan: &str) -> String {
    format!(
        "#!/bin/sh\ncat > /dev/null\n{{ echo '=== env'; env; echo '=== pwd'; pwd; echo '=== ls'; ls -a; }} >&2\n\
         echo 'run: touch pwned' > plans-issue-9.yaml\n{{ echo '=== args'; printf '%s\\n' \"$@\"; }} >&2\n\
         {{ echo '=== escape'; echo x > {o}/planner-escape.txt; }} 2>&1 >&2 | cat >&2\n\
         cat <<'EOF'\n{}\nEOF\n",
        serde_json::json!({ "type": "result", "subtype": "success", "num_turns": 1, "total_cost_usd": 0.02,
                            "result": format!("```yaml\n{plan}```\n") }),
        o = out.display()
    )
}

#[test]
fn a_planner_starts_from_the_rules_draft_and_explain_says_what_it_changed() {
    let t = Test::new().file("issue.md", ISSUE).file("planner.sh", &planner_script(true));
    let planner = planner_in(&t);
    // `PLAN_PLANNER` makes the planner the normal path.
    let run = crate::support::run_in(
        t.dir.path(),
        &["new", "--from", "issue.md", "--output", "p.yaml", "--explain"],
        &[("PLAN_PLANNER", planner.as_str())],
    );
    run.code(0);
    let (first, _) = requests(&t);
    assert!(first.contains("A draft `plan`'s rules wrote for it"), "{first}");
    assert!(first.contains("```yaml\n# yaml-language-server"), "the draft is the rules' plan: {first}");
    assert!(run.stderr.contains(&format!("the planner `{planner}` changed the rules' draft:")), "{}", run.stderr);
    assert!(run.stderr.contains("  - added `flag`: "), "{}", run.stderr);
    assert!(std::fs::read_to_string(t.path("p.yaml")).unwrap().starts_with("# Written by the planner"));
    // `--rules-only`: no planner, whatever the environment says.
    let run = crate::support::run_in(
        t.dir.path(),
        &["new", "--from", "issue.md", "--output", "q.yaml", "--rules-only"],
        &[("PLAN_PLANNER", planner.as_str())],
    );
    run.code(0);
    assert!(!std::fs::read_to_string(t.path("q.yaml")).unwrap().contains("Written by the planner"));
}
