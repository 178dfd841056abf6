//! `git.approve`: `--pr` waits for a person before it commits and pushes, with the
//! diff summary in the request; a killed waiting run is resumed by `plan approve`
//! and still opens the pull request; a rejection pushes nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::git::{git, pr_server, repo, TOKEN};
use crate::support::{bin, run_in, Test};

const PLAN: &str = r#"version: 1
name: add-greeting
issue: { number: 42, repo: org/repo, title: "Add a greeting" }
complexity: simple
agent: { id: write, run: "echo hi > greeting.txt" }
git:
  branch: "feature/greeting-{{ issue.number }}"
  approve: true
"#;

fn plan_run(t: &Test, api: &str, args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .current_dir(t.path("work"))
        .args(args)
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", api)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Polls `plan status RUN --json` until `done` holds of it.
fn status_until(t: &Test, id: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run_in(&t.path("work"), &["status", id, "--json"], &[]);
        let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        if done(&status) || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn waiting(s: &serde_json::Value) -> bool {
    s["nodes"]["git.approve"]["state"] == "waiting"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_waits_for_approval_and_survives_a_kill() {
    let server = pr_server().await;
    let t = repo(PLAN);
    let mut child = plan_run(&t, &server.uri(), &["run", "plan.yaml", "--pr", "--run-id", "gated", "-q"]);
    let status = tokio::task::block_in_place(|| status_until(&t, "gated", waiting));
    assert_eq!(status["state"], "waiting", "{status}");
    let step = status["nodes"]["git.approve"]["step"].as_str().unwrap_or_default();
    assert!(step.contains("feature/greeting-42") && step.contains("open a pull request"), "{status}");
    let request = std::fs::read_to_string(t.path("work/.plan/runs/gated/approvals/git.approve.request.json")).unwrap();
    assert!(request.contains("greeting.txt | 1 +"), "the diff summary is in the request: {request}");
    // Nothing is pushed while it waits; killed, the run still waits.
    let origin = t.path("origin.git");
    assert!(!git(&origin, &["branch", "--list"]).contains("greeting"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(waiting(&status_until(&t, "gated", waiting)));
    // Approving resumes it, and the resumed run publishes as it was asked to.
    let env = [("PLAN_APPROVER", "carol"), ("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", &server.uri())];
    let ok = tokio::task::block_in_place(|| run_in(&t.path("work"), &["approve", "gated", "git.approve"], &env));
    ok.code(0);
    assert!(ok.stderr.contains("resumed it"), "{}", ok.stderr);
    let report_path = t.path("work/.plan/runs/gated/report.json");
    let report = tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let report: serde_json::Value =
                std::fs::read(&report_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
            if report["implementation_summary"]["pr_url"].is_string() || Instant::now() > deadline {
                return report;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    assert_eq!(report["implementation_summary"]["pr_url"], "https://github.com/org/repo/pull/7", "{report}");
    assert_eq!(report["implementation_summary"]["publish_decision"]["by"], "carol");
    let sha = report["implementation_summary"]["commit"].as_str().unwrap();
    assert_eq!(git(&origin, &["rev-parse", "feature/greeting-42"]), sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_push_pushes_nothing() {
    let server = pr_server().await;
    let t = repo(PLAN);
    let child = plan_run(&t, &server.uri(), &["run", "plan.yaml", "--pr", "--run-id", "nope", "-q"]);
    tokio::task::block_in_place(|| status_until(&t, "nope", waiting));
    run_in(&t.path("work"), &["reject", "nope", "git.approve", "--reason", "wrong file"], &[]).code(0);
    let out = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path("work/.plan/runs/nope/report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "failed", "{report}");
    assert!(report["implementation_summary"]["commit"].is_null(), "{report}");
    let origin = t.path("origin.git");
    let branches = git(&origin, &["branch", "--list"]);
    assert!(!branches.contains("feature/greeting-42"), "{branches}");
    assert!(server.received_requests().await.unwrap().is_empty(), "no pull request");
    assert!(t.path("work/greeting.txt").exists(), "the agents' work is kept");
}
