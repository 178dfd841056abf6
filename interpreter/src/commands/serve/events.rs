//! `GET /api/runs/{id}/events`: server-sent events, one `state` event with the
//! run's state each time it changes (polled from the run directory), until the run
//! has ended. The page closes the stream on the last event and reopens it after a
//! decision that resumes the run.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;

use super::api::{blocking, ApiError};
use super::Server;
use crate::store::run_state;
use crate::store::rundir::RunDir;

const POLL: Duration = Duration::from_millis(300);

struct Watch {
    dir: RunDir,
    last: Option<String>,
    ended: bool,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

pub async fn stream(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    // Past the cap, the answer closes its connection: a client that keeps asking
    // holds no connection open between tries.
    let slot = s.streams.clone().try_acquire_owned().map_err(|_| {
        let busy = ApiError(StatusCode::SERVICE_UNAVAILABLE, "too many live views; try again later".into());
        ([(header::CONNECTION, "close")], busy).into_response()
    })?;
    let runs_dir = s.runs_dir.clone();
    let dir = blocking(move || Ok(RunDir::find(&runs_dir, Some(&id))?)).await.map_err(IntoResponse::into_response)?;
    let watch = Watch { dir, last: None, ended: false, _slot: slot };
    let events = futures_util::stream::unfold(watch, |mut w| async move {
        if w.ended {
            return None;
        }
        loop {
            let dir = w.dir.clone();
            let state = blocking(move || Ok(run_state::read(&dir)?)).await.ok()?;
            let json = serde_json::to_string(&state).ok()?;
            let ended = state.state.is_final();
            if w.last.as_deref() != Some(json.as_str()) {
                let event = Event::default().event("state").data(json.clone());
                w.last = Some(json);
                w.ended = ended;
                return Some((Ok(event), w));
            }
            if ended {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
