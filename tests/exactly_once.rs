//! Side effects happen exactly once: `plan run --pr` killed with SIGKILL at random
//! moments, then resumed, has pushed its branch once and opened one pull request —
//! found by the branch, or the pull request for the branch, after a kill that followed
//! them — and the branch on `origin` holds the same tree as an unkilled run's. A
//! `github.comment` step carries its idempotency key and is found by it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::Value;

use crate::support::{bin, repo, run_in};

/// `tests/github_server.py`, started; stopped when dropped.
pub(crate) struct Github {
    child: Child,
    pub(crate) port: u16,
    log: tempfile::NamedTempFile,
}

impl Github {
    pub(crate) fn start() -> Github {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("python3")
            .arg(repo().join("tests/github_server.py"))
            .arg("--log")
            .arg(log.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the GitHub stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).expect("its port");
        Github { child, port, log }
    }

    pub(crate) fn calls(&self) -> Vec<Value> {
        std::fs::read_to_string(self.log.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Pull requests created for `head`.
    pub(crate) fn created(&self, head: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| {
                c["method"] == "POST" && c["path"].as_str().unwrap().ends_with("/pulls") && c["body"]["head"] == head
            })
            .count()
    }
}

impl Drop for Github {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PLAN: &str = r#"version: 1
name: once
complexity: simple
issue: { number: 7, repo: org/tiny, title: Say goodbye, body: "" }
agent: { id: fix, run: "sed -i 's/hello/goodbye/' greeting.txt && sleep 0.05", workspace: worktree }
git:
  branch: "plan/{{ run.id }}"
  pr: { title: "Fix #7" }
"#;

/// A tiny repository whose `origin` keeps a log of every change of its refs (a push
/// that changed nothing leaves none).
fn repository(dir: &Path) -> std::path::PathBuf {
    let work = crate::model::tiny_repo(dir);
    let ok = Command::new("git")
        .args(["config", "core.logAllRefUpdates", "always"])
        .current_dir(dir.join("origin.git"))
        .status();
    assert!(ok.unwrap().success());
    std::fs::write(dir.join("once.yaml"), PLAN).unwrap();
    work
}

/// Changes of `branch` on origin: pushes that happened.
pub(crate) fn pushes(dir: &Path, branch: &str) -> usize {
    let log = dir.join("origin.git/logs/refs/heads").join(branch);
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

pub(crate) fn origin_file(dir: &Path, branch: &str) -> String {
    let out = Command::new("git")
        .args(["show", &format!("{branch}:greeting.txt")])
        .current_dir(dir.join("origin.git"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_run_killed_anywhere_and_resumed_pushes_once_and_opens_one_pull_request() {
    let github = Github::start();
    let api = format!("http://127.0.0.1:{}", github.port);
    let env = [("GITHUB_API_URL", api.as_str()), ("GITHUB_TOKEN", "ghp_test")];
    // An unkilled run: how long one takes, and what it leaves.
    let dir = tempfile::tempdir().unwrap();
    let work = repository(dir.path());
    let started = Instant::now();
    let run = run_in(&work, &["run", "../once.yaml", "--pr", "--json"], &env);
    run.code(0);
    let whole = started.elapsed();
    let id = run.json()["run_id"].as_str().unwrap().to_string();
    let branch = format!("plan/{id}");
    assert_eq!((pushes(dir.path(), &branch), github.created(&branch)), (1, 1));
    let want = origin_file(dir.path(), &branch);
    assert_eq!(want, "goodbye\n");
    let mut killed_after_effects = 0;
    for i in 0..50u64 {
        let dir = tempfile::tempdir().unwrap();
        let work = repository(dir.path());
        let mut child = Command::new(bin())
            .args(["run", "../once.yaml", "--pr", "--quiet"])
            .current_dir(&work)
            .envs(env)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Moments spread over the whole run, the publishing steps at its end included.
        let at = whole.mul_f64((i as f64 + fastrand_f64(i)) / 50.0 * 1.1);
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let runs: Vec<String> = std::fs::read_dir(work.join(".plan/runs"))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let id = match runs.as_slice() {
            [one] if work.join(".plan/runs").join(one).join("journal.jsonl").exists() => one.clone(),
            // Killed before the run began: a new run, as a person would start.
            _ => {
                let again = run_in(&work, &["run", "../once.yaml", "--pr", "--json"], &env);
                again.code(0);
                again.json()["run_id"].as_str().unwrap().to_string()
            }
        };
        let branch = format!("plan/{id}");
        if github.created(&branch) > 0 || pushes(dir.path(), &branch) > 0 {
            killed_after_effects += 1;
        }
        // With the plan named (a run killed before its journal's first line does not
        // say which plan it ran).
        let resumed = run_in(&work, &["run", "../once.yaml", "--resume", &id, "--pr", "--json"], &env);
        assert!(resumed.code == 0 || resumed.stderr.contains("already"), "kill {i} at {at:?}: {}", resumed.stderr);
        assert_eq!(
            pushes(dir.path(), &branch),
            1,
            "kill {i} at {at:?}: pushes of {branch}: {}\n{}",
            resumed.stdout,
            resumed.stderr
        );
        assert_eq!(github.created(&branch), 1, "kill {i} at {at:?}: pull requests for {branch}");
        assert_eq!(origin_file(dir.path(), &branch), want, "kill {i} at {at:?}: the tree on origin");
    }
    // The kills reached the effects: some came after a push or a pull request.
    assert!(killed_after_effects > 0, "no kill came after an effect");
}

/// A number in [0, 1) from `i` (the moments differ from run to run of the test only
/// through `i`: a failure can be found again).
fn fastrand_f64(i: u64) -> f64 {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
    (x % 1000) as f64 / 1000.0
}

#[test]
fn a_comment_is_found_by_its_key_and_not_made_twice() {
    let github = Github::start();
    let api = format!("http://127.0.0.1:{}", github.port);
    let env = [("GITHUB_API_URL", api.as_str()), ("GITHUB_TOKEN", "ghp_test")];
    let dir = tempfile::tempdir().unwrap();
    let work = crate::model::tiny_repo(dir.path());
    let plan = "version: 1\nname: c\ncomplexity: simple\nissue: { number: 7, repo: org/tiny, title: t, body: \"\" }\n\
                agent: { id: say, uses: github.comment, with: { body: \"Working on it\" } }\n";
    std::fs::write(dir.path().join("c.yaml"), plan).unwrap();
    let run = run_in(&work, &["run", "../c.yaml", "--json"], &env);
    run.code(0);
    let id = run.json()["run_id"].as_str().unwrap().to_string();
    let posted = |g: &Github| g.calls().iter().filter(|c| c["method"] == "POST").count();
    assert_eq!(posted(&github), 1);
    let body = github.calls().into_iter().find(|c| c["method"] == "POST").unwrap()["body"]["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(body.contains(&format!("<!-- plan:{id}/say -->")), "{body}");
    // As if killed after commenting, before its success was journaled: the run again
    // under the same id (its journal cut back) finds the comment by its key.
    let journal = work.join(".plan/runs").join(&id).join("journal.jsonl");
    let kept: String = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("node_succeeded") && !l.contains("run_finished"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal, kept).unwrap();
    run_in(&work, &["run", "--resume", &id, "--json"], &env).code(0);
    assert_eq!(posted(&github), 1, "the resumed run commented again");
}
