//! `plan new`: against a wiremock stand-in for GitHub's REST API and against files in
//! every input format; every generated plan lints clean; every failure writes nothing.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{repo, run_in, Run, Test};

/// An issue as GitHub's REST API returns it (trimmed to the fields that matter, but
/// with the real shape).
fn rest_issue(number: u64) -> serde_json::Value {
    serde_json::json!({
        "url": format!("https://api.github.com/repos/org/repo/issues/{number}"),
        "repository_url": "https://api.github.com/repos/org/repo",
        "html_url": format!("https://github.com/org/repo/issues/{number}"),
        "id": 1_000_000 + number,
        "node_id": "I_kwDOAbc",
        "number": number,
        "title": "Comprehensive integration tests for the hierarchical orchestrator",
        "user": { "login": "octocat", "id": 1, "type": "User", "site_admin": false },
        "labels": [{ "id": 7, "node_id": "L", "url": "https://api.github.com/repos/org/repo/labels/testing",
                     "name": "testing", "color": "0e8a16", "default": false, "description": "" }],
        "state": "open",
        "locked": false,
        "assignees": [],
        "comments": 3,
        "created_at": "2026-11-01T10:00:00Z",
        "updated_at": "2026-11-02T10:00:00Z",
        "closed_at": null,
        "author_association": "MEMBER",
        "body": "Tests should cover the coordination patterns:\n\n- [ ] pipeline ordering\n- [ ] fork-join and its join\n- [ ] mapreduce over lines_of\n- [ ] saga compensation order\n"
    })
}

fn new_with_server(t: &Test, server: &MockServer, extra: &[&str]) -> Run {
    let uri = server.uri();
    let mut args = vec!["new", "--issue", "42", "--repo", "org/repo"];
    args.extend_from_slice(extra);
    run_in(t.dir.path(), &args, &[("GITHUB_API_URL", &uri), ("GITHUB_TOKEN", "test-token-123")])
}

fn lints_clean(t: &Test, plan: &str) {
    let run = t.run_with(&["lint", "--deny-warnings", plan]);
    assert_eq!(
        run.code,
        0,
        "{plan} does not lint clean:\n{}\n{}",
        run.stderr,
        std::fs::read_to_string(t.path(plan)).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_an_issue_from_the_rest_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/org/repo/issues/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(rest_issue(42)))
        .expect(1)
        .mount(&server)
        .await;
    let t = Test::new();
    let run = tokio::task::spawn_blocking({
        let server_uri = server.uri();
        let dir = t.dir.path().to_path_buf();
        move || {
            let out = std::process::Command::new(crate::support::bin())
                .current_dir(dir)
                .args(["new", "--issue", "42", "--repo", "org/repo", "--explain"])
                .env("GITHUB_API_URL", server_uri)
                .env("GITHUB_TOKEN", "test-token-123")
                .output()
                .unwrap();
            (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
        }
    })
    .await
    .unwrap();
    assert_eq!(run.0, Some(0), "{}", run.1);
    assert!(run.1.contains("tier: "), "--explain prints the reasoning: {}", run.1);
    let text = std::fs::read_to_string(t.path("plans/issue-42.yaml")).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=../.plan/plan.schema.json\n"), "{text}");
    assert!(text.contains("# Tier `"), "{text}");
    assert!(text.contains("number: 42") && text.contains("repo: org/repo") && text.contains("- testing"), "{text}");
    assert!(text.contains("task: pipeline ordering"), "{text}");
    lints_clean(&t, "plans/issue-42.yaml");
    let requests = server.received_requests().await.unwrap();
    let auth = requests[0].headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(auth.contains("test-token-123"), "{auth}");
    // The token never reaches the plan.
    assert!(!text.contains("test-token-123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_errors_are_one_clear_line_and_write_nothing() {
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
            "issue #42 not found in org/repo",
        ),
        (
            ResponseTemplate::new(401).set_body_json(serde_json::json!({"message": "Bad credentials"})),
            "check GITHUB_TOKEN",
        ),
        (
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "4102444800")
                .set_body_json(serde_json::json!({"message": "API rate limit exceeded"})),
            "rate limit reached (403); it resets at 00:00:00 UTC",
        ),
        (ResponseTemplate::new(429).insert_header("retry-after", "60"), "rate limit reached (429); it resets at"),
        (ResponseTemplate::new(200).set_body_string("<html>not json</html>"), "GitHub's answer is not an issue"),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("GET")).and(path("/repos/org/repo/issues/42")).respond_with(response).mount(&server).await;
        let t = Test::new();
        let run = {
            let server = &server;
            let t = &t;
            tokio::task::block_in_place(|| new_with_server(t, server, &[]))
        };
        assert_eq!(run.code, 1, "{expected}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "expected `{expected}` in:\n{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(!t.path("plans").exists(), "a file was written for `{expected}`");
    }
}

#[test]
fn no_network_is_a_clear_error() {
    let mut t = Test::new();
    let run =
        t.args(&["new", "--issue", "1", "--repo", "org/repo"]).env_var("GITHUB_API_URL", "http://127.0.0.1:9").run();
    run.code(1);
    assert!(run.stderr.starts_with("error: cannot reach GitHub at http://127.0.0.1:9"), "{}", run.stderr);
    assert!(!t.path("plans").exists());
}

#[test]
fn reads_every_file_format_and_stdin() {
    let gh = serde_json::json!({"number": 9, "title": "Add a --verbose flag", "body": "Print each request.",
        "labels": [{"id": "LA_1", "name": "enhancement", "description": "", "color": "a2eeef"}],
        "url": "https://github.com/org/repo/issues/9"});
    let t = Test::new()
        .file("rest.json", &rest_issue(7).to_string())
        .file("gh.json", &gh.to_string())
        .file("issue.md", "# Fix typo in README\n\nrecieve -> receive\n");
    t.run_with(&["new", "--from", "rest.json"]).code(0);
    lints_clean(&t, "plans/issue-7.yaml");
    t.run_with(&["new", "--from", "gh.json"]).code(0);
    let text = std::fs::read_to_string(t.path("plans/issue-9.yaml")).unwrap();
    assert!(text.contains("repo: org/repo") && text.contains("complexity: simple"), "{text}");
    lints_clean(&t, "plans/issue-9.yaml");
    t.run_with(&["new", "--from", "issue.md", "--output", "out/typo.yaml"]).code(0);
    let text = std::fs::read_to_string(t.path("out/typo.yaml")).unwrap();
    assert!(text.contains("complexity: atomic") && text.contains("prompt_file: ../prompts/task.md.j2"), "{text}");
    lints_clean(&t, "out/typo.yaml");
    // Standard input.
    let out = std::process::Command::new(crate::support::bin())
        .current_dir(t.dir.path())
        .args(["new", "--from", "-", "--output", "stdin.yaml"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"# Migrate to the new storage engine\n\nWith a rollback plan.\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(t.path("stdin.yaml")).unwrap();
    assert!(text.contains("complexity: enterprise") && text.contains("pattern: saga"), "{text}");
    lints_clean(&t, "stdin.yaml");
}

#[test]
fn malformed_input_and_existing_files_write_nothing() {
    let t = Test::new()
        .file("bad.json", "{\"title\": ")
        .file("nottitle.json", "{\"x\": 1}")
        .file("issue.md", "# Fix typo\n");
    for (file, expected) in [
        ("bad.json", "bad.json: not valid JSON"),
        ("nottitle.json", "has no `title`"),
        ("missing.md", "cannot read missing.md"),
    ] {
        let run = t.run_with(&["new", "--from", file, "--output", "x.yaml"]);
        run.code(1);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(!t.path("x.yaml").exists());
    }
    t.run_with(&["new", "--from", "issue.md", "--output", "x.yaml"]).code(0);
    let again = t.run_with(&["new", "--from", "issue.md", "--output", "x.yaml"]);
    again.code(1);
    assert!(again.stderr.contains("x.yaml exists; pass --force"), "{}", again.stderr);
    t.run_with(&["new", "--from", "issue.md", "--output", "x.yaml", "--force"]).code(0);
    t.run_with(&["new"]).code(2);
}

#[test]
fn classifier_command_answers_and_is_validated() {
    let t = Test::new().file("issue.md", "# Refactor the parser\n\nSplit it up.\n");
    let good = r#"cat > /dev/null; echo '{"complexity": "moderate", "pattern": "pipeline", "agents": ["split the lexer", "split the parser", "update the tests"]}'"#;
    t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--classifier", good]).code(0);
    let text = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    assert!(text.contains("pattern: pipeline") && text.contains("task: split the lexer"), "{text}");
    lints_clean(&t, "p.yaml");
    for (bad, expected) in [
        (r#"echo '{"complexity": "huge", "pattern": "pipeline"}'"#, "`complexity` must be one of"),
        (r#"echo '{"complexity": "simple", "pattern": "round-robin"}'"#, "`pattern` must be one of"),
        ("echo not json", "answer is not JSON"),
        ("exit 3", "exited with"),
    ] {
        let run = t.run_with(&["new", "--from", "issue.md", "--output", "q.yaml", "--classifier", bad]);
        run.code(1);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(!t.path("q.yaml").exists());
    }
}

#[test]
fn rules_file_is_the_users() {
    let rules = std::fs::read_to_string(repo().join("prompts/intake-rules.yaml"))
        .unwrap()
        .replace("[typo,", "[typo, readme, \"update the readme\",");
    let t = Test::new().file("rules.yaml", &rules).file("issue.md", "# Update the README\n\nMention the new flag.\n");
    t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--rules", "rules.yaml"]).code(0);
    assert!(std::fs::read_to_string(t.path("p.yaml")).unwrap().contains("complexity: atomic"));
    let bad = t.run_with(&["new", "--from", "issue.md", "--output", "q.yaml", "--rules", "issue.md"]);
    bad.code(1);
    assert!(bad.stderr.starts_with("error: issue.md: "), "{}", bad.stderr);
}

/// The README's table: a dozen real-world issue texts, the tier and pattern chosen and why.
#[test]
fn classification_table() {
    let mut table = String::from("| issue | tier | pattern | why |\n|---|---|---|---|\n");
    let dir = repo().join("tests/fixtures/issues");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let t = Test::new();
        let run = t.run_with(&["new", "--from", file.to_str().unwrap(), "--output", "p.yaml", "--explain"]);
        run.code(0);
        lints_clean(&t, "p.yaml");
        let title =
            std::fs::read_to_string(&file).unwrap().lines().next().unwrap().trim_start_matches("# ").to_string();
        let mut lines = run.stderr.lines();
        let head = lines.next().unwrap();
        let (tier, pattern) = head.trim_start_matches("tier: ").split_once(", pattern: ").unwrap();
        let why: Vec<&str> = lines.filter(|l| l.starts_with("  - ")).map(|l| l.trim_start_matches("  - ")).collect();
        table.push_str(&format!("| {title} | {tier} | {pattern} | {} |\n", why.join("; ").replace('|', "\\|")));
    }
    insta::assert_snapshot!(table);
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains(&table), "README.md's classification table is out of date; paste:\n{table}");
}

#[test]
fn generated_plans_use_a_built_in_coding_agent_with_a_visible_budget() {
    let issue = std::fs::read_to_string(crate::support::repo().join("tests/fixtures/issues/06-test-suite.md")).unwrap();
    let t = Test::new().file("issue.md", &issue);
    t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--runner", "codex"]).code(0);
    let text = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    let plan: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(plan["defaults"]["runner"], "codex", "{text}");
    assert!(plan.get("runners").is_none(), "the built-in runner needs no entry: {text}");
    assert_eq!(plan["budget"]["cost_usd"], 10.0, "{text}");
    assert_eq!(plan["budget"]["turns"], 50, "{text}");
    // Agents that write code side by side each get a worktree.
    let agents = plan["agent"]["agents"].as_array().unwrap();
    assert_eq!(plan["agent"]["pattern"], "fork-join", "{text}");
    assert!(agents.iter().all(|a| a["workspace"] == "worktree"), "{text}");
    lints_clean(&t, "p.yaml");
}

#[test]
fn done_items_and_template_answers_are_no_agents() {
    let t = Test::new().file(
        "issue.md",
        "# Speed up the exporter\n\n### Checklist\n- [x] I searched the existing issues\n- [X] Yes\n\n\
         ### Work\n- [ ] Stream rows instead of buffering them\n- [ ] Add a benchmark of the exporter\n- [ ] #4521\n",
    );
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml"]);
    run.code(0);
    let plan = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    // The agents, below the issue (whose body the plan quotes).
    let agents = &plan[plan.find("\nagent:").unwrap()..];
    assert!(agents.contains("Stream rows instead of buffering them") && agents.contains("Add a benchmark"), "{plan}");
    for junk in ["searched the existing", "Yes", "4521"] {
        assert!(!agents.contains(junk), "`{junk}` became an agent:\n{plan}");
    }
}

#[test]
fn a_plan_with_warnings_is_written_and_its_tier_fits_what_was_generated() {
    let items: String = (1..=20).map(|i| format!("- [ ] Port module number{i} to the new API\n")).collect();
    let t = Test::new().file("issue.md", &format!("# Port the modules\n\n{items}"));
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--explain"]);
    run.code(0);
    let plan = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    let tier = plan.lines().find_map(|l| l.strip_prefix("complexity: ")).unwrap();
    // The header and --explain say the tier that was written.
    assert!(plan.contains(&format!("# Tier `{tier}`")), "{plan}");
    assert!(run.stderr.contains(&format!("tier: {tier},")), "{}", run.stderr);
    let lint = t.run_with(&["lint", "p.yaml"]);
    assert_eq!(lint.code, 0, "only warnings, if any: {}", lint.stderr);

    // A classifier that says `moderate` for eight pieces of work: the plan is written
    // with the tier its eight agents fit, and says why.
    let parts: Vec<String> = (1..=8).map(|i| format!("\"Port part {i}\"")).collect();
    let answer = format!(r#"{{"complexity": "moderate", "pattern": "fork-join", "agents": [{}]}}"#, parts.join(", "));
    let t = t.file("classify.sh", &format!("cat > /dev/null\necho '{answer}'\n"));
    let run =
        t.run_with(&["new", "--from", "issue.md", "--output", "q.yaml", "--explain", "--classifier", "sh classify.sh"]);
    run.code(0);
    let plan = std::fs::read_to_string(t.path("q.yaml")).unwrap();
    assert!(plan.contains("complexity: complex\n") && plan.contains("# Tier `complex`"), "{plan}");
    assert!(run.stderr.contains("tier `complex`, not `moderate`"), "{}", run.stderr);
}

#[test]
fn failing_tests_in_a_code_block_become_map_items() {
    let t = Test::new().file(
        "issue.md",
        "# Tests fail on Python 3.13\n\nSince the upgrade:\n\n```\n\
         FAILED tests/test_io.py::test_read - AssertionError\n\
         FAILED tests/test_io.py::test_write - KeyError\n\
         FAILED tests/test_cli.py::test_help - SystemExit\n```\n",
    );
    let run = t.run_with(&["new", "--from", "issue.md", "--output", "p.yaml", "--explain"]);
    run.code(0);
    assert!(run.stderr.contains("pattern: mapreduce"), "{}", run.stderr);
    let plan = std::fs::read_to_string(t.path("p.yaml")).unwrap();
    let agents = &plan[plan.find("\nagent:").unwrap()..];
    for test in ["tests/test_io.py::test_read", "tests/test_io.py::test_write", "tests/test_cli.py::test_help"] {
        assert!(agents.contains(test), "{test} is a map item:\n{plan}");
    }
    assert!(agents.contains("map:"), "{plan}");
    t.run_with(&["lint", "p.yaml"]).code(0);
}

#[test]
fn a_plan_written_outside_the_project_takes_its_templates_along() {
    let t = Test::new()
        .file("repo/issue.md", "# Add a greeting\n\nAdd a hello command.\n")
        .file("repo/prompts/task.md.j2", "Our own task template: {{ issue.title }}\n");
    std::fs::create_dir_all(t.path("elsewhere")).unwrap();
    let ok = std::process::Command::new("git").args(["init", "-q"]).current_dir(t.path("repo")).status().unwrap();
    assert!(ok.success());
    let run = run_in(&t.path("repo"), &["new", "--from", "issue.md", "--output", "../elsewhere/x.yaml"], &[]);
    run.code(0);
    // Beside the plan, the project's own template (and the defaults it lacks).
    let own = std::fs::read_to_string(t.path("elsewhere/prompts/task.md.j2")).unwrap();
    assert_eq!(own, "Our own task template: {{ issue.title }}\n");
    assert!(t.path("elsewhere/prompts/commit.txt.j2").is_file());
    run_in(&t.path("elsewhere"), &["lint", "x.yaml", "--deny-warnings"], &[]).code(0);
}
