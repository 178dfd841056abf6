//! `--commit`, `--pr`, git and GitHub steps, and worktree isolation: with real git
//! repositories (a bare `origin` in a temp dir) and a wiremock stand-in for GitHub.

use std::path::Path;
use std::process::Command;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{run_in, Run, Test};

pub(crate) const TOKEN: &str = "ghp_secretTOKEN1234567890";

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository `work/` with a pushed `main` and a bare `origin.git` beside it.
pub(crate) fn repo(plan: &str) -> Test {
    let t = Test::new().file("work/plan.yaml", plan).file("work/README.md", "hello\n");
    crate::support::git_repo(t.dir.path(), &t.path("work"));
    t
}

pub(crate) fn plan_in(t: &Test, args: &[&str], api: Option<&str>) -> Run {
    let mut env = vec![("GITHUB_TOKEN", TOKEN)];
    if let Some(api) = api {
        env.push(("GITHUB_API_URL", api));
    }
    run_in(&t.path("work"), args, &env)
}

const FEATURE: &str = r#"version: 1
name: add-greeting
issue: { number: 42, repo: org/repo, title: "Add a greeting" }
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: write, pass_env: [GITHUB_TOKEN], run: "echo hi > greeting.txt; echo \"token is $GITHUB_TOKEN\"; echo \"$GITHUB_TOKEN\" >&2" }
    - { id: docs, run: "echo '# greeting' >> README.md; echo \"token: [${GITHUB_TOKEN:-withheld}]\"" }
  join: { id: check, run: "test -f greeting.txt" }
git:
  branch: "feature/{{ issue.title | slug }}-{{ issue.number }}"
  commit: |
    feat: {{ issue.title }} (#{{ issue.number }})

    {% for a in agents %}- {{ a.id }}: {{ a.status }}
    {% endfor %}
  pr:
    title: "feat: {{ issue.title }} (#{{ issue.number }})"
    body: "Closes #{{ issue.number }}. {{ report.performance_metrics.agents_coordinated }} agents, overhead {{ report.performance_metrics.coordination_overhead }}."
"#;

pub(crate) async fn pr_server() -> MockServer {
    let server = MockServer::start().await;
    // No pull request for the branch yet (`plan` looks before it opens one).
    Mock::given(method("GET"))
        .and(path("/repos/org/repo/pulls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/org/repo/pulls"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "id": 1, "number": 7, "state": "open", "html_url": "https://github.com/org/repo/pull/7",
            "url": "https://api.github.com/repos/org/repo/pulls/7", "draft": false
        })))
        .mount(&server)
        .await;
    server
}

/// The requests that created something (GitHub's POSTs), in order.
pub(crate) async fn posted(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap().into_iter().filter(|r| r.method.as_str() == "POST").collect()
}

fn grep_dir(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).map(|b| String::from_utf8_lossy(&b).contains(needle)).unwrap_or(false) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_push_and_pull_request() {
    let server = pr_server().await;
    let t = repo(FEATURE);
    let run = tokio::task::block_in_place(|| plan_in(&t, &["run", "plan.yaml", "--pr", "--json"], Some(&server.uri())));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["implementation_summary"]["pr_url"], "https://github.com/org/repo/pull/7");
    let sha = report["implementation_summary"]["commit"].as_str().unwrap().to_string();
    // Publishing is steps of the DAG, after every agent: in the report, in `plan
    // status`, in `plan graph`; they count as no agent.
    for step in ["git.commit", "git.push", "github.pr"] {
        assert_eq!(report["agents"][step]["status"], "succeeded", "{step}: {report}");
    }
    assert_eq!(report["performance_metrics"]["agents_coordinated"], 3, "{report}");
    let id = report["run_id"].as_str().unwrap();
    let status = plan_in(&t, &["status", id], None).stdout;
    assert!(status.contains("github.pr") && status.contains("git.push"), "{status}");
    let drawn = plan_in(&t, &["graph", "plan.yaml", "--pr", "--format", "mermaid"], None).stdout;
    assert!(drawn.contains("git.commit") && drawn.contains("github.pr"), "{drawn}");
    let plain = plan_in(&t, &["graph", "plan.yaml", "--format", "mermaid"], None).stdout;
    assert!(!plain.contains("git.commit"), "without --commit/--pr there is nothing to publish: {plain}");
    let of_run = plan_in(&t, &["graph", "plan.yaml", "--run", id], None).stdout;
    assert!(of_run.contains("\"github.pr\"") && of_run.contains("[succeeded]"), "{of_run}");
    // The branch reached origin with the rendered message.
    let origin = t.path("origin.git");
    assert_eq!(git(&origin, &["rev-parse", "feature/add-a-greeting-42"]), sha);
    let message = git(&origin, &["log", "-1", "--format=%B", "feature/add-a-greeting-42"]);
    assert!(
        message.starts_with("feat: Add a greeting (#42)\n\n- write: succeeded\n- docs: succeeded\n- check: succeeded"),
        "{message}"
    );
    let files = git(&origin, &["show", "--name-only", "--format=", &sha]);
    assert_eq!(files, "README.md\ngreeting.txt", "the run directory is never committed");
    // The pull request request body.
    let requests = posted(&server).await;
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["title"], "feat: Add a greeting (#42)");
    assert_eq!(
        (body["head"].as_str(), body["base"].as_str(), body["draft"].as_bool()),
        (Some("feature/add-a-greeting-42"), Some("main"), Some(false))
    );
    assert!(body["body"].as_str().unwrap().starts_with("Closes #42. 3 agents, overhead "), "{body}");
    // The token reached no file: not the run directory, not the logs, not the report.
    assert!(grep_dir(&t.path("work"), TOKEN).is_empty(), "{:?}", grep_dir(&t.path("work"), TOKEN));
    let run_dir = t.path("work/.plan/runs").join(report["run_id"].as_str().unwrap());
    let log = std::fs::read_to_string(run_dir.join("logs/write.log")).unwrap();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort();
    assert_eq!(lines, ["***", "token is ***"]);
    // An agent that does not ask for the token by name does not get it.
    let docs = std::fs::read_to_string(run_dir.join("logs/docs.log")).unwrap();
    assert_eq!(docs, "token: [withheld]\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_pull_request() {
    let server = pr_server().await;
    let t = repo(FEATURE);
    let run =
        tokio::task::block_in_place(|| plan_in(&t, &["run", "plan.yaml", "--pr", "--draft"], Some(&server.uri())));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "https://github.com/org/repo/pull/7\n");
    let body: serde_json::Value = serde_json::from_slice(&posted(&server).await[0].body).unwrap();
    assert_eq!(body["draft"], true);
}

#[test]
fn a_failed_run_commits_nothing() {
    let t = repo(&FEATURE.replace("test -f greeting.txt", "exit 1"));
    let run = plan_in(&t, &["run", "plan.yaml", "--commit"], None);
    run.code(1);
    assert_eq!(git(&t.path("origin.git"), &["for-each-ref", "--format=%(refname:short)", "refs/heads"]), "main");
    assert_eq!(git(&t.path("work"), &["rev-parse", "--abbrev-ref", "HEAD"]), "main");
}

#[test]
fn preflight_errors_come_before_any_agent() {
    // Outside a repository.
    let t = Test::new().file("plan.yaml", &FEATURE.replace("echo hi", "touch ran; echo hi"));
    let run = t.run_with(&["run", "plan.yaml", "--commit"]);
    run.code(1);
    assert!(run.stderr.contains("is not inside a git repository"), "{}", run.stderr);
    assert!(!t.path("ran").exists() && !t.path(".plan").exists());
    // A dirty tree.
    let t = repo(FEATURE);
    std::fs::write(t.path("work/README.md"), "changed\n").unwrap();
    let run = plan_in(&t, &["run", "plan.yaml", "--commit"], None);
    run.code(1);
    assert!(run.stderr.contains("uncommitted changes (README.md)"), "{}", run.stderr);
    // No origin.
    let t = repo(FEATURE);
    git(&t.path("work"), &["remote", "remove", "origin"]);
    let run = plan_in(&t, &["run", "plan.yaml", "--pr"], None);
    run.code(1);
    assert!(run.stderr.contains("no `origin` remote"), "{}", run.stderr);
}

pub(crate) const ISOLATED: &str = r#"version: 1
name: isolated
complexity: moderate
defaults: { workspace: worktree }
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: left, run: "sleep 0.2; test ! -f right.txt; echo L > left.txt; echo L >> shared.txt" }
    - { id: right, run: "sleep 0.2; test ! -f left.txt; echo R > right.txt; echo R >> other.txt" }
  join: { id: both, workspace: shared, run: "cat left.txt right.txt" }
"#;

#[test]
fn worktrees_isolate_parallel_agents_and_merge_back() {
    let t = repo(ISOLATED);
    let run = plan_in(&t, &["run", "plan.yaml", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let run_dir = t.path("work/.plan/runs").join(report["run_id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(run_dir.join("outputs/both.json")).unwrap(), "\"L\\nR\"");
    // Merged into the checkout, worktrees and their branches removed.
    assert_eq!(std::fs::read_to_string(t.path("work/left.txt")).unwrap(), "L\n");
    assert_eq!(git(&t.path("work"), &["worktree", "list"]).lines().count(), 1);
    assert_eq!(git(&t.path("work"), &["branch", "--list", "plan/*"]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_and_github_steps() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/org/repo/issues/42/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/org/repo/issues/42/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"id": 3, "html_url": "https://github.com/org/repo/issues/42#issuecomment-3"}),
        ))
        .mount(&server)
        .await;
    let t = repo(
        r#"version: 1
name: steps
issue: { number: 42, repo: org/repo, title: "Steps" }
complexity: moderate
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: branch, uses: git.branch, with: { name: "work/{{ issue.number }}" } }
    - { id: change, run: "echo step > step.txt" }
    - { id: commit, uses: git.commit, with: { message: "chore: step for #{{ issue.number }}" } }
    - { id: tell, uses: github.comment, with: { body: "Committed {{ outputs.commit }}" } }
"#,
    );
    let run = tokio::task::block_in_place(|| plan_in(&t, &["run", "plan.yaml", "--json"], Some(&server.uri())));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let work = t.path("work");
    assert_eq!(git(&work, &["rev-parse", "--abbrev-ref", "HEAD"]), "work/42");
    assert_eq!(git(&work, &["log", "-1", "--format=%s"]), "chore: step for #42");
    let sha = git(&work, &["rev-parse", "HEAD"]);
    let body: serde_json::Value = serde_json::from_slice(&posted(&server).await[0].body).unwrap();
    // With its idempotency key, hidden.
    assert!(body["body"].as_str().unwrap().starts_with(&format!("Committed {sha}\n\n<!-- plan:")), "{body}");
}
