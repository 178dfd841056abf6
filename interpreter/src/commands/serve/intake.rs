//! The plan of an issue a webhook asks to run: `plans/issue-N.yaml` (for another
//! repository than the first served, `plans/OWNER/NAME/issue-N.yaml`) when there is
//! one, else written by `plan new` from the payload's issue (kept in the queue
//! directory) — by the rules, or by the planner `plan serve` has. Then judged
//! (`trust`): where it came from, and whether it waits for a person.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::api::ApiError;
use super::trust::{judge, Judged, Provenance};
use super::Server;

/// A plan ready to queue.
pub struct Prepared {
    pub plan: PathBuf,
    pub judged: Judged,
}

fn internal(what: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, what.to_string())
}

/// Finds or writes the plan of `repo`#`number` and judges it; a hold's message goes
/// beside the queued run `run_id`.
pub fn prepare(s: &Server, repo: &str, number: u64, issue: &Value, run_id: &str) -> Result<Prepared, ApiError> {
    let mut plan = PathBuf::from("plans");
    if s.repos.first().is_none_or(|first| !first.eq_ignore_ascii_case(repo)) {
        plan.push(repo.to_ascii_lowercase());
    }
    plan.push(format!("issue-{number}.yaml"));
    let issue_file = s.queue.dir().join(format!("{}-issue-{number}.json", repo.to_ascii_lowercase().replace('/', "-")));
    let mut issue = issue.clone();
    issue["repository_url"] = json!(format!("https://api.github.com/repos/{repo}"));
    std::fs::write(&issue_file, serde_json::to_vec_pretty(&issue).unwrap_or_default())
        .map_err(|e| internal(format!("cannot keep the issue: {e}")))?;
    let provenance = if plan.exists() {
        if crate::git::committed_on_default(Path::new("."), &plan) {
            Provenance::Person
        } else {
            Provenance::Checkout
        }
    } else {
        if let Some(dir) = plan.parent() {
            std::fs::create_dir_all(dir).map_err(|e| internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        plan_new(s, &issue_file, repo, &plan, false)?;
        if s.planner.is_some() {
            Provenance::Planner
        } else {
            Provenance::Rules
        }
    };
    let rules = || plan_new(s, &issue_file, repo, &plan, true).ok().flatten();
    let hold = s.queue.dir().join(format!("{run_id}.hold.md"));
    let judged = judge(s, &plan, provenance, rules, &hold)?;
    Ok(Prepared { plan, judged })
}

/// `plan new` for the issue in `issue_file`: with the server's planner it writes
/// `plan`; with `rules_only` it prints the plan the rules would write there (`Some`).
fn plan_new(
    s: &Server,
    issue_file: &Path,
    repo: &str,
    plan: &Path,
    rules_only: bool,
) -> Result<Option<String>, ApiError> {
    let exe = std::env::current_exe().map_err(internal)?;
    let runner = plan_schema::AgentCli::from(s.runner).as_str();
    let mut new = Command::new(exe);
    new.arg("new").arg("--from").arg(issue_file).args(["--repo", repo, "--runner", runner, "--output"]).arg(plan);
    // The server's planner, or none: not one its environment names.
    new.env_remove("PLAN_PLANNER");
    match (&s.planner, rules_only) {
        (_, true) => {
            new.arg("--print");
        }
        (Some(planner), false) => {
            new.args(["--planner", planner, "--planner-budget", &s.planner_budget.to_string()]);
            for name in &s.planner_pass {
                new.args(["--planner-pass", name]);
            }
        }
        (None, false) => {}
    }
    let out = new
        .stdin(Stdio::null())
        .stdout(if rules_only { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped())
        .output()
        .map_err(internal)?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").trim().to_string();
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("plan new failed: {why}")));
    }
    Ok(rules_only.then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
}
