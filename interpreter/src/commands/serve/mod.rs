//! `plan serve`: a local web view of the runs under a runs directory — the list,
//! each run's DAG coloured live by node state, logs and outputs, Approve / Reject /
//! Stop — a JSON API under `/api/`, and GitHub webhook intake that queues runs.
//!
//! The server only reads run directories and writes decisions and stop signals the
//! way `plan approve` and `plan stop` do: runs are separate processes, so killing
//! the server loses nothing and a slow page never slows a run.

mod api;
mod events;
mod layout;
mod listener;
mod pages;
mod queue;
mod webhook;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::cli::ServeArgs;
use crate::error::Error;

/// Most connections open at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// Most live event streams at once (each polls its run directory).
const MAX_STREAMS: usize = 64;
/// The largest request body taken (GitHub caps webhook payloads at 25 MB; issue
/// events are a few kilobytes).
const MAX_BODY: usize = 1 << 20;

/// What every handler shares.
pub struct Server {
    pub runs_dir: PathBuf,
    pub queue: queue::Queue,
    /// `PLAN_WEBHOOK_SECRET`; webhooks are refused without it.
    pub webhook_secret: Option<Vec<u8>>,
    pub label: String,
    pub runner: crate::cli::RunnerArg,
    /// `plan new --planner` for labelled issues.
    pub planner: Option<String>,
    pub streams: Arc<tokio::sync::Semaphore>,
}

pub fn run(args: &ServeArgs) -> Result<(), Error> {
    let secret = std::env::var("PLAN_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes);
    let queue = queue::Queue::open(&args.queue_dir, &args.runs_dir, args.max_runs, args.run_concurrency)?;
    let server = Arc::new(Server {
        runs_dir: args.runs_dir.clone(),
        queue,
        webhook_secret: secret,
        label: args.label.clone(),
        runner: args.runner,
        planner: args.planner.clone(),
        streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
    });
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(Error::Runtime)?;
    runtime.block_on(async move {
        let tcp = tokio::net::TcpListener::bind((args.bind, args.port))
            .await
            .map_err(|e| Error::io("listen on", format!("{}:{}", args.bind, args.port), e))?;
        let addr = tcp.local_addr().map_err(|e| Error::io("read", "the listening address", e))?;
        eprintln!("plan serve: http://{addr}/ · runs {} · queue {}", args.runs_dir.display(), args.queue_dir.display());
        if server.webhook_secret.is_none() {
            eprintln!("webhooks are off: set PLAN_WEBHOOK_SECRET to take GitHub's at /webhooks/github");
        }
        tokio::spawn(queue::work(server.clone()));
        let app = router(server);
        let listener = listener::Limited::new(tcp, MAX_CONNECTIONS);
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| Error::io("serve on", addr.to_string(), e))
    })
}

fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/", get(pages::page))
        .route("/runs/{id}", get(pages::page))
        .route("/assets/app.js", get(pages::script))
        .route("/assets/style.css", get(pages::style))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/runs/{id}/events", get(events::stream))
        .route("/api/runs/{id}/stop", post(api::stop))
        .route("/api/runs/{id}/nodes/{node}", get(api::node))
        .route("/api/runs/{id}/nodes/{node}/{verdict}", post(api::decide))
        .route("/api/queue", get(api::queue))
        .route("/webhooks/github", post(webhook::receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(server)
}

/// Ctrl-C or SIGTERM: stop taking connections (runs go on: they are other processes).
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
}
