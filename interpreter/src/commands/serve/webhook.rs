//! `POST /webhooks/github`: GitHub's webhooks, signed with `PLAN_WEBHOOK_SECRET`
//! (`X-Hub-Signature-256`, checked in constant time; anything unsigned or badly
//! signed is 401 and does nothing).
//!
//! - `issues` that adds the label (or opens an issue carrying it), sent by a user with
//!   write access: the issue's plan is found or written and judged (`intake`,
//!   `trust`) and the run is queued — waiting for a person first when the plan is
//!   untrusted and breaks the policy — unless the issue has a run that has not
//!   finished.
//! - `issue_comment` `/approve [comment]` or `/reject REASON` from a user with write
//!   access (asked of GitHub's API): decides the gates waiting in the issue's run.
//!
//! - `check_run` / `check_suite` failures and `pull_request_review` /
//!   `pull_request_review_comment` requests for changes on a pull request a run opened:
//!   a round of feedback for that run (`feedback`).
//!
//! Only the repositories the server serves (`--repo`, by default the checkout's
//! `origin`) are acted on. A delivery is acted on at most once: its
//! `X-GitHub-Delivery` id and its body are kept in the queue directory, so a
//! captured delivery sent again — as it was, or under another id — does nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::api::{blocking, ApiError};
use super::queue::Item;
use super::Server;
use crate::store::approvals::Decision;
use crate::store::run_state;
use crate::store::rundir::RunDir;

type Answer = Result<(StatusCode, Json<Value>), ApiError>;

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`.
pub fn verify(secret: &[u8], signature: Option<&str>, body: &[u8]) -> bool {
    let Some(sig) = signature.and_then(|s| s.strip_prefix("sha256=")).and_then(|h| hex::decode(h.trim()).ok()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

pub async fn receive(State(s): State<Arc<Server>>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some(secret) = &s.webhook_secret else {
        return Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, "webhooks are off: set PLAN_WEBHOOK_SECRET".into()));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !verify(secret, header("x-hub-signature-256"), &body) {
        return Err(ApiError(StatusCode::UNAUTHORIZED, "bad or missing X-Hub-Signature-256".into()));
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("the payload is not JSON: {e}")))?;
    let event = header("x-github-event").unwrap_or("");
    if event == "ping" {
        return Ok((StatusCode::OK, Json(json!({ "pong": true }))));
    }
    let feedback = super::feedback::EVENTS.contains(&event);
    if !matches!(event, "issues" | "issue_comment") && !feedback {
        return ignored(format!("event `{event}` is not one plan acts on"));
    }
    let repo = match feedback {
        true => payload["repository"]["full_name"].as_str().unwrap_or_default().to_string(),
        false => issue_of(&payload)?.0,
    };
    if !s.serves(&repo) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!("{repo} is not a repository this server serves (`plan serve --repo OWNER/NAME`)"),
        ));
    }
    let delivery = Delivery::of(header("x-github-delivery"), &body)?;
    // One delivery at a time: checking and recording it, and what it queues, are one step.
    let _one = s.intake.lock().await;
    if s.queue.delivered(&delivery) {
        return Ok((StatusCode::OK, Json(json!({ "duplicate": delivery.id }))));
    }
    let answer = match event {
        "issues" => issue_event(s.clone(), payload).await,
        "issue_comment" => comment_event(s.clone(), payload).await,
        _ => super::feedback::event(s.clone(), event, payload, &delivery.id).await,
    };
    // Acted on (or refused for good): a second delivery of it does nothing. A failure
    // on the way (GitHub's API down, say), or feedback for a run still running, leaves
    // it to be delivered again.
    let settled = match &answer {
        Ok(_) => true,
        Err(ApiError(status, _)) => status.is_client_error() && *status != StatusCode::CONFLICT,
    };
    if settled {
        s.queue.record_delivery(&delivery).map_err(|e| {
            ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot record delivery {}: {e}", delivery.id))
        })?;
    }
    answer
}

/// A delivery: GitHub's id for it, and the hash of its body (a body sent again under
/// another id is the same delivery: the signature covers the body, not the headers).
pub struct Delivery {
    pub id: String,
    pub body_hash: String,
}

impl Delivery {
    fn of(id: Option<&str>, body: &[u8]) -> Result<Delivery, ApiError> {
        use sha2::Digest;
        let id = id.unwrap_or_default();
        let valid = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(ApiError(StatusCode::BAD_REQUEST, "no valid X-GitHub-Delivery header".into()));
        }
        Ok(Delivery { id: id.to_string(), body_hash: hex::encode(Sha256::digest(body)) })
    }
}

/// Whether `user` may write to `repo`, as GitHub's API says.
async fn may_write(repo: &str, user: &str) -> Result<bool, ApiError> {
    let valid = !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '[' || c == ']');
    if !valid {
        return Err(ApiError(StatusCode::BAD_REQUEST, "the event names no user".into()));
    }
    crate::git::github::can_write(repo, user)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("cannot ask GitHub about {user}'s access: {e}")))
}

fn ignored(why: String) -> Answer {
    Ok((StatusCode::OK, Json(json!({ "ignored": why }))))
}

/// `owner/name` and the issue number of a payload.
fn issue_of(payload: &Value) -> Result<(String, u64), ApiError> {
    let repo = payload["repository"]["full_name"].as_str().unwrap_or_default();
    let valid = repo.split_once('/').is_some_and(|(o, n)| {
        let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        ok(o) && ok(n) && !n.starts_with('.')
    });
    let number = payload["issue"]["number"].as_u64();
    match (valid, number) {
        (true, Some(n)) => Ok((repo.to_string(), n)),
        _ => Err(ApiError(StatusCode::BAD_REQUEST, "the payload names no repository and issue".into())),
    }
}

async fn issue_event(s: Arc<Server>, payload: Value) -> Answer {
    let action = payload["action"].as_str().unwrap_or_default();
    let has_label = |v: &Value| v["name"].as_str() == Some(s.label.as_str());
    let wanted = match action {
        "labeled" => has_label(&payload["label"]),
        "opened" | "reopened" => payload["issue"]["labels"].as_array().is_some_and(|l| l.iter().any(has_label)),
        _ => false,
    };
    if !wanted {
        return ignored(format!("`{action}` does not add the label `{}`", s.label));
    }
    let (repo, number) = issue_of(&payload)?;
    // Who labelled, opened or reopened the issue must be able to write to the
    // repository: a label an issue template sets, or a reopen by its author, starts
    // nothing.
    let sender = payload["sender"]["login"].as_str().unwrap_or_default();
    if !may_write(&repo, sender).await? {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("{sender} has no write access to {repo}: no run")));
    }
    if let Some(item) = s.queue.latest_for(&repo, number).filter(|i| i.state != "finished") {
        return Ok((StatusCode::OK, Json(json!({ "already": item }))));
    }
    let run_id = crate::store::clock::new_run_id();
    let (server, r, id) = (s.clone(), repo.clone(), run_id.clone());
    let prepared = blocking(move || super::intake::prepare(&server, &r, number, &payload["issue"], &id)).await?;
    let judged = prepared.judged;
    let breaches = judged.breaches;
    let item = Item {
        run_id,
        repo,
        issue: number,
        plan: prepared.plan,
        provenance: judged.provenance.as_str().into(),
        plan_hash: Some(judged.hash),
        hold: judged.hold,
        state: "queued".into(),
        outcome: None,
        queued_at: crate::store::clock::now(),
        feedback: None,
    };
    s.queue.push(&item).map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot queue: {e}")))?;
    if let Some(hold) = &item.hold {
        eprintln!(
            "run {} of {}#{} waits for a person: its plan ({}) breaks the policy in {breaches} place(s); see {}",
            item.run_id,
            item.repo,
            item.issue,
            item.provenance,
            hold.display()
        );
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": item, "breaches": breaches }))))
}

/// `/approve [comment]` or `/reject REASON` on its own first line.
fn command_of(body: &str) -> Option<(bool, Option<String>)> {
    let first = body.trim_start().lines().next().unwrap_or("").trim();
    let (word, rest) = first.split_once(char::is_whitespace).unwrap_or((first, ""));
    let rest = Some(rest.trim().to_string()).filter(|r| !r.is_empty());
    match word {
        "/approve" => Some((true, rest)),
        "/reject" => Some((false, rest)),
        _ => None,
    }
}

async fn comment_event(s: Arc<Server>, payload: Value) -> Answer {
    if payload["action"].as_str() != Some("created") {
        return ignored("only new comments decide gates".into());
    }
    let Some((approved, text)) = command_of(payload["comment"]["body"].as_str().unwrap_or_default()) else {
        return ignored("the comment is no /approve or /reject".into());
    };
    if !approved && text.is_none() {
        return Err(ApiError(StatusCode::UNPROCESSABLE_ENTITY, "`/reject` needs a reason: `/reject REASON`".into()));
    }
    let (repo, number) = issue_of(&payload)?;
    let user = payload["comment"]["user"]["login"].as_str().unwrap_or_default().to_string();
    if !may_write(&repo, &user).await? {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("{user} has no write access to {repo}")));
    }
    let Some(item) = s.queue.latest_for(&repo, number) else {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("no run for {repo}#{number}")));
    };
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        let dir = RunDir::find(&runs_dir, Some(&item.run_id))?;
        let run = run_state::read(&dir)?;
        let waiting: Vec<String> = run
            .nodes
            .iter()
            .filter(|(_, n)| n.state == plan_schema::NodeState::Waiting)
            .map(|(k, _)| k.clone())
            .collect();
        if waiting.is_empty() {
            return Err(ApiError(StatusCode::CONFLICT, format!("nothing in run {} waits for a decision", item.run_id)));
        }
        let decision =
            Decision { approved, by: format!("{user} (GitHub)"), at: crate::store::clock::now(), comment: text };
        for node in &waiting {
            crate::commands::approve::decide_as(&runs_dir, &item.run_id, node, &decision)?;
        }
        Ok((StatusCode::OK, Json(json!({ "run_id": item.run_id, "decided": waiting, "decision": decision }))))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(verify(b"s3cret", Some(&good), body));
        assert!(!verify(b"other", Some(&good), body));
        assert!(!verify(b"s3cret", Some(&good), b"{}"));
        assert!(!verify(b"s3cret", None, body));
        assert!(!verify(b"s3cret", Some(good.trim_start_matches("sha256=")), body));
        assert!(!verify(b"s3cret", Some("sha256=zz"), body));
    }

    #[test]
    fn commands() {
        assert_eq!(command_of("/approve"), Some((true, None)));
        assert_eq!(command_of("  /approve ship it\nthanks"), Some((true, Some("ship it".into()))));
        assert_eq!(command_of("/reject not on a Friday"), Some((false, Some("not on a Friday".into()))));
        assert_eq!(command_of("I /approve of this"), None);
        assert_eq!(command_of("/approved"), None);
    }
}
