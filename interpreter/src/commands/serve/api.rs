//! The JSON API under `/api/`: runs, one run with its drawing, one node's log tail
//! and output, and the decisions and stop a person makes from the page. Reads go to
//! tokio's blocking pool: run directories are files.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Server;
use crate::error::Error;
use crate::store::approvals::{self, Decision};
use crate::store::run_state;
use crate::store::rundir::RunDir;
use crate::store::StoreError;

/// The most of a log the API returns: its end.
const LOG_TAIL: u64 = 64 * 1024;
/// The most of an output the API returns: its start, as text, past this.
const OUTPUT_CAP: u64 = 256 * 1024;

/// An error as the API answers it: a status and `{"error": "..."}`.
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match &e {
            Error::Store(StoreError::NoRun { .. } | StoreError::NoRuns(_) | StoreError::NoGate { .. }) => {
                StatusCode::NOT_FOUND
            }
            Error::Store(StoreError::BadId(_)) => StatusCode::BAD_REQUEST,
            Error::Store(
                StoreError::Decided { .. }
                | StoreError::NotRunning { .. }
                | StoreError::Ended { .. }
                | StoreError::Running(_),
            ) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        Error::from(e).into()
    }
}

/// Runs `f` on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())))
}

/// A node id as a file name: nothing that leaves the run directory.
fn node_name(node: &str) -> Result<&str, ApiError> {
    let bad = node.is_empty() || node.starts_with('.') || node.contains(['/', '\\', '\0']);
    if bad {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("`{node}` is not a node id")));
    }
    Ok(node)
}

/// `GET /api/runs`: every run, newest first.
pub async fn runs(State(s): State<Arc<Server>>) -> Result<Json<Value>, ApiError> {
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        let mut out = Vec::new();
        for id in run_state::list(&runs_dir).into_iter().rev() {
            if let Some(dir) = RunDir::open(&runs_dir, &id) {
                if let Ok(run) = run_state::read(&dir) {
                    out.push(run.brief());
                }
            }
        }
        Ok(Json(Value::Array(out)))
    })
    .await
}

/// `GET /api/runs/{id}`: the run's state and its drawing.
pub async fn run(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        let dir = RunDir::find(&runs_dir, Some(&id))?;
        let run = run_state::read(&dir)?;
        let drawing = super::layout::draw(std::path::Path::new(&run.plan), &run);
        Ok(Json(json!({ "run": run, "graph": drawing })))
    })
    .await
}

/// `GET /api/runs/{id}/nodes/{node}`: the end of its log, its output, and its
/// approval request and decision when it is a gate.
pub async fn node(
    State(s): State<Arc<Server>>,
    Path((id, node)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        let node = node_name(&node)?.to_string();
        let dir = RunDir::find(&runs_dir, Some(&id))?;
        let run = run_state::read(&dir)?;
        let summary = run.nodes.get(&node).cloned();
        let (output, output_bytes) = capped_output(&dir.output(&node));
        Ok(Json(json!({
            "id": node,
            "summary": summary,
            "log": tail(&dir.log(&node)),
            "output": output,
            "output_bytes": output_bytes,
            "request": approvals::request(&dir, &node),
            "decision": approvals::decision(&dir.root, &node),
        })))
    })
    .await
}

/// A node's output, whole up to [`OUTPUT_CAP`] bytes; past it, its first bytes as
/// text (a big output served whole to every viewer would hold that much memory per
/// request). `output_bytes` says how large it is.
fn capped_output(path: &std::path::Path) -> (Option<Value>, Option<u64>) {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else { return (None, None) };
    let size = file.metadata().map_or(0, |m| m.len());
    let mut buf = Vec::new();
    if file.take(OUTPUT_CAP).read_to_end(&mut buf).is_err() {
        return (None, Some(size));
    }
    if size <= OUTPUT_CAP {
        return (serde_json::from_slice::<Value>(&buf).ok(), Some(size));
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    text.push_str(&format!("\n… ({size} bytes in all: the whole output is in the run directory)"));
    (Some(Value::String(text)), Some(size))
}

fn tail(path: &std::path::Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// `GET /api/queue`: runs queued by webhooks, and what became of them.
pub async fn queue(State(s): State<Arc<Server>>) -> Result<Json<Value>, ApiError> {
    let s2 = s.clone();
    blocking(move || Ok(Json(serde_json::to_value(s2.queue.items()).unwrap_or_default()))).await
}

#[derive(Deserialize)]
pub struct Decide {
    /// The approver's comment, or the rejection's reason.
    #[serde(default)]
    text: Option<String>,
}

/// Page requests come from this server's own pages: a JSON body (which a foreign
/// page cannot send without CORS, which this server never grants), and an `Origin`
/// naming this host when the browser sends one.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_ok = match headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => origin.split_once("://").is_some_and(|(_, h)| h == host),
    };
    if json && origin_ok {
        Ok(())
    } else {
        Err(ApiError(StatusCode::FORBIDDEN, "send JSON from this server's own pages".into()))
    }
}

/// `POST /api/runs/{id}/nodes/{node}/approve` with `{"text": comment}`, and
/// `.../reject` with `{"text": reason}` (required): as `plan approve`/`plan reject`.
pub async fn decide(
    State(s): State<Arc<Server>>,
    Path((id, node, verdict)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Decide>,
) -> Result<Json<Value>, ApiError> {
    same_origin(&headers)?;
    let approved = match verdict.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError(StatusCode::NOT_FOUND, format!("no `{verdict}`: approve or reject"))),
    };
    let node = node_name(&node)?.to_string();
    if !approved && body.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "a rejection needs a reason (`text`)".into()));
    }
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        // Whoever reaches the page is the user running `plan serve` (it listens on
        // loopback unless told otherwise).
        let mut decision = Decision::by_this_user(approved, body.text.filter(|t| !t.trim().is_empty()));
        decision.by = format!("{} (web)", decision.by);
        // The decision is kept whatever became of the run: say what did.
        use crate::commands::approve::Decided;
        let decided = crate::commands::approve::decide_as(&runs_dir, &id, &node, &decision)?;
        let (resumed, resume_error) = match decided {
            Decided::Running => (false, None),
            Decided::Resumed => (true, None),
            Decided::ResumeFailed(why) => (false, Some(why)),
        };
        Ok(Json(json!({ "decision": decision, "resumed": resumed, "resume_error": resume_error })))
    })
    .await
}

/// `POST /api/runs/{id}/stop`: as `plan stop` (compensations run), without waiting.
pub async fn stop(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    same_origin(&headers)?;
    let runs_dir = s.runs_dir.clone();
    blocking(move || {
        let dir = RunDir::find(&runs_dir, Some(&id))?;
        let pid = crate::commands::runs::signal_stop(&dir)?;
        Ok(Json(json!({ "stopping": id, "pid": pid })))
    })
    .await
}
