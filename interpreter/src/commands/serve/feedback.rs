//! CI and reviews sent back: for a run that opened a pull request, a failed check
//! (`check_run`, `check_suite`) or a request for changes (`pull_request_review` with
//! changes requested, `pull_request_review_comment`) on that pull request re-enters
//! the step that owns its branch (`plan run --resume RUN --feedback FILE`): its
//! session goes on with the failing output or the comments in its prompt, and its
//! fix is pushed to the same branch. Reviews count only from users with write access;
//! checks are GitHub's own word (the delivery is signed). Each round is bounded by the
//! step's retry policy and the plan's budget (`commands::feedback`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::api::{blocking, ApiError};
use super::queue::Item;
use super::Server;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// The events that carry feedback on a pull request.
pub const EVENTS: [&str; 4] = ["check_run", "check_suite", "pull_request_review", "pull_request_review_comment"];

/// Most of a check's output or a review a prompt carries.
const TEXT_CAP: usize = 20_000;

/// What an event says of a pull request: its numbers, and the feedback (`None`: the
/// event is no feedback, and why).
struct Said {
    prs: Vec<u64>,
    feedback: Value,
    /// A user whose write access must be checked (a reviewer).
    reviewer: Option<String>,
}

pub async fn event(s: Arc<Server>, event: &str, payload: Value, delivery: &str) -> Answer {
    let repo = payload["repository"]["full_name"].as_str().unwrap_or_default().to_string();
    if !s.serves(&repo) {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("{repo} is not a repository this server serves")));
    }
    let said = match read(event, &payload, &repo).await? {
        Ok(said) => said,
        Err(why) => return Ok((StatusCode::OK, Json(json!({ "ignored": why })))),
    };
    if let Some(user) = &said.reviewer {
        let writes = crate::git::github::can_write(&repo, user)
            .await
            .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("cannot ask GitHub about {user}'s access: {e}")))?;
        if !writes {
            return Err(ApiError(StatusCode::FORBIDDEN, format!("{user} has no write access to {repo}: ignored")));
        }
    }
    let (server, delivery) = (s.clone(), delivery.to_string());
    blocking(move || queue_round(&server, &repo, &said, &delivery)).await
}

/// What `event` says, or why it is no feedback.
async fn read(event: &str, p: &Value, repo: &str) -> Result<Result<Said, String>, ApiError> {
    let action = p["action"].as_str().unwrap_or_default();
    let numbers = |prs: &Value| -> Vec<u64> {
        prs.as_array().into_iter().flatten().filter_map(|pr| pr["number"].as_u64()).collect()
    };
    Ok(Ok(match event {
        "check_run" => {
            let run = &p["check_run"];
            if action != "completed" || !failed(&run["conclusion"]) {
                return Ok(Err(format!("check `{}` did not fail", run["name"].as_str().unwrap_or(""))));
            }
            let text = crate::git::github::check_output(&run["output"]);
            Said {
                prs: numbers(&run["pull_requests"]),
                feedback: json!({
                    "kind": "check_run", "title": run["name"], "by": run["app"]["name"].as_str().unwrap_or(""),
                    "source": run["html_url"].as_str().or(run["details_url"].as_str()).unwrap_or(""),
                    "text": cap(if text.is_empty() { "(the check gave no output)".into() } else { text }),
                }),
                reviewer: None,
            }
        }
        "check_suite" => {
            let suite = &p["check_suite"];
            if action != "completed" || !failed(&suite["conclusion"]) {
                return Ok(Err("the check suite did not fail".into()));
            }
            let id = suite["id"].as_u64().unwrap_or_default();
            let runs = crate::git::github::failed_checks(repo, id)
                .await
                .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("cannot read check suite {id}: {e}")))?;
            let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
            let text: Vec<String> = runs.iter().map(|(n, out)| format!("## {n}\n{out}")).collect();
            Said {
                prs: numbers(&suite["pull_requests"]),
                feedback: json!({
                    "kind": "check_suite", "title": names.join(", "), "by": suite["app"]["name"].as_str().unwrap_or(""),
                    "text": cap(if text.is_empty() { "(the checks gave no output)".into() } else { text.join("\n\n") }),
                }),
                reviewer: None,
            }
        }
        "pull_request_review" => {
            let review = &p["review"];
            let state = review["state"].as_str().unwrap_or_default().to_ascii_lowercase();
            if action != "submitted" || state != "changes_requested" {
                return Ok(Err("the review requests no changes".into()));
            }
            let pr = p["pull_request"]["number"].as_u64().unwrap_or_default();
            let id = review["id"].as_u64().unwrap_or_default();
            let comments = crate::git::github::review_comments(repo, pr, id).await.unwrap_or_default();
            let mut text = review["body"].as_str().unwrap_or_default().trim().to_string();
            for c in comments {
                text.push_str(&format!("\n- {c}"));
            }
            let user = review["user"]["login"].as_str().unwrap_or_default().to_string();
            Said {
                prs: vec![pr],
                feedback: json!({
                    "kind": "review", "by": user, "source": review["html_url"].as_str().unwrap_or(""),
                    "text": cap(text),
                }),
                reviewer: Some(user),
            }
        }
        _ => {
            let c = &p["comment"];
            if action != "created" {
                return Ok(Err("only new review comments are feedback".into()));
            }
            let line = c["line"].as_u64().or(c["original_line"].as_u64()).map_or(String::new(), |l| format!(":{l}"));
            let user = c["user"]["login"].as_str().unwrap_or_default().to_string();
            Said {
                prs: vec![p["pull_request"]["number"].as_u64().unwrap_or_default()],
                feedback: json!({
                    "kind": "review_comment", "by": user, "source": c["html_url"].as_str().unwrap_or(""),
                    "text": cap(format!("{}{line}: {}", c["path"].as_str().unwrap_or(""), c["body"].as_str().unwrap_or(""))),
                }),
                reviewer: Some(user),
            }
        }
    }))
}

fn failed(conclusion: &Value) -> bool {
    matches!(conclusion.as_str(), Some("failure" | "timed_out"))
}

/// `text`, cut to what a prompt carries (its end: where a log says what failed).
fn cap(text: String) -> String {
    if text.len() <= TEXT_CAP {
        return text;
    }
    let mut start = text.len() - TEXT_CAP;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[... the start is left out ...]\n{}", &text[start..])
}

/// Queues a round of feedback for the run that opened one of `said.prs`.
fn queue_round(s: &Server, repo: &str, said: &Said, delivery: &str) -> Answer {
    let Some((run_id, issue, plan)) = said.prs.iter().find_map(|n| run_of(&s.runs_dir, repo, *n)) else {
        return Ok((
            StatusCode::OK,
            Json(json!({ "ignored": format!("no run here opened pull request {:?} of {repo}", said.prs) })),
        ));
    };
    let existing = s.queue.items().into_iter().find(|i| i.run_id == run_id);
    let running = crate::store::rundir::RunDir::open(&s.runs_dir, &run_id).is_some_and(|d| d.is_running());
    if running || existing.as_ref().is_some_and(|i| i.state == "queued") {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("run {run_id} has not finished: send the feedback again when it has"),
        ));
    }
    let dir = s.queue.dir().join("feedback");
    let file = dir.join(format!("{run_id}-{delivery}.json"));
    let bytes = serde_json::to_vec_pretty(&said.feedback).unwrap_or_default();
    std::fs::create_dir_all(&dir)
        .and_then(|()| crate::store::rundir::write_atomic(&file, &bytes))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot keep the feedback: {e}")))?;
    let item = Item {
        state: "queued".into(),
        outcome: None,
        feedback: Some(file),
        queued_at: crate::store::clock::now(),
        ..existing.unwrap_or(Item {
            run_id: run_id.clone(),
            repo: repo.to_string(),
            issue,
            plan,
            provenance: "person".into(),
            plan_hash: None,
            hold: None,
            state: String::new(),
            outcome: None,
            queued_at: String::new(),
            feedback: None,
        })
    };
    s.queue.push(&item).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot queue: {e}")))?;
    eprintln!("run {run_id} re-enters with feedback ({})", said.feedback["kind"].as_str().unwrap_or(""));
    Ok((StatusCode::ACCEPTED, Json(json!({ "reentered": run_id, "feedback": said.feedback["kind"] }))))
}

/// The run under `runs_dir` that opened pull request `number` of `repo`: its id, its
/// issue and its plan.
fn run_of(runs_dir: &Path, repo: &str, number: u64) -> Option<(String, u64, PathBuf)> {
    let suffix = format!("/{}/pull/{number}", repo.to_ascii_lowercase());
    let mut found: Vec<(String, u64)> = std::fs::read_dir(runs_dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let report: Value = serde_json::from_slice(&std::fs::read(e.path().join("report.json")).ok()?).ok()?;
            let url = report["implementation_summary"]["pr_url"].as_str()?.to_ascii_lowercase();
            if !url.ends_with(&suffix) {
                return None;
            }
            Some((report["run_id"].as_str()?.to_string(), report["issue_number"].as_u64().unwrap_or(0)))
        })
        .collect();
    found.sort();
    let (run_id, issue) = found.pop()?;
    let resumed = crate::store::resume::Resumed::open(runs_dir, &run_id).ok()?;
    Some((run_id, issue, resumed.plan?))
}
