//! `plan serve`: a local web view of the runs under a runs directory — the list,
//! each run's DAG coloured live by node state, logs and outputs, Approve / Reject /
//! Stop — a JSON API under `/api/`, and GitHub webhook intake that queues runs.
//!
//! The server only reads run directories and writes decisions and stop signals the
//! way `plan approve` and `plan stop` do: runs are separate processes, so killing
//! the server loses nothing and a slow page never slows a run.

mod api;
mod events;
mod feedback;
mod intake;
mod layout;
mod listener;
mod pages;
mod queue;
mod trust;
mod webhook;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::cli::RunnerArg;
use crate::error::Error;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 7070)]
    pub port: u16,
    /// The address to bind. The view can approve and stop runs: keep it on loopback
    /// unless a proxy in front of it checks who is asking.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Where runs are kept.
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    /// Where queued runs are kept (durable across restarts).
    #[arg(long, default_value = ".plan/queue")]
    pub queue_dir: PathBuf,
    /// Most queued runs running at once.
    #[arg(long, default_value_t = 3)]
    pub max_runs: usize,
    /// Most agents at once within each queued run (`plan run --concurrency`).
    #[arg(long)]
    pub run_concurrency: Option<usize>,
    /// The issue label that queues a run (webhooks; needs PLAN_WEBHOOK_SECRET).
    #[arg(long, default_value = "plan")]
    pub label: String,
    /// The coding agent of plans written for labelled issues.
    #[arg(long, value_enum, default_value = "claude")]
    pub runner: RunnerArg,
    /// Have a coding agent write those plans (`plan new --planner`): claude, codex or
    /// a command; without it, the offline rules do.
    #[arg(long, value_name = "claude|codex|CMD")]
    pub planner: Option<String>,
    /// Most US dollars the planner may spend on one issue (`plan new --planner-budget`).
    #[arg(long, value_name = "USD", default_value_t = 1.0)]
    pub planner_budget: f64,
    /// A secret variable the planner may see: its model key (`plan new --planner-pass`).
    #[arg(long = "planner-pass", value_name = "NAME")]
    pub planner_pass: Vec<String>,
    /// The trust policy for plans no person wrote (`plan lint --policy`): one that
    /// breaks it waits for a person's approval. Default: the built-in policy.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A bearer token every API request must carry (`Authorization: Bearer ...`);
    /// needed to listen beyond loopback. Also read from PLAN_SERVE_TOKEN.
    #[arg(long, value_name = "TOKEN", env = "PLAN_SERVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A repository whose webhooks are acted on (repeat for more); default: the
    /// checkout's `origin` on GitHub. Any other repository's are refused.
    #[arg(long = "repo", value_name = "OWNER/NAME", value_parser = owner_name)]
    pub repos: Vec<String>,
    /// A host name this server answers to beyond loopback (repeat for more): the
    /// name a proxy or GitHub's webhooks reach it by. Requests naming any other host
    /// are refused (DNS rebinding).
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Publish each run's work as a pull request (`plan run --pr`); its failed checks
    /// and requested changes then come back as rounds of feedback.
    #[arg(long)]
    pub pr: bool,
}

fn owner_name(s: &str) -> Result<String, String> {
    let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match s.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) && !n.starts_with('.') => Ok(s.to_string()),
        _ => Err(format!("`{s}` is not OWNER/NAME")),
    }
}

/// Most connections open at once; more wait in the kernel's backlog. Many, so that
/// slow clients do not take every slot before their deadlines close them.
const MAX_CONNECTIONS: usize = 4096;
/// How long a client may take to send a request's headers (slowloris).
const HEADER_READ: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a connection may carry no byte either way before it is closed (an event
/// stream sends a keep-alive every 15 s).
const IDLE: std::time::Duration = std::time::Duration::from_secs(60);
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
    pub planner_budget: f64,
    pub planner_pass: Vec<String>,
    /// What a plan no person wrote may do without a person's approval.
    pub policy: plan_schema::Policy,
    pub streams: Arc<tokio::sync::Semaphore>,
    /// The repositories whose webhooks are acted on (`owner/name`); the first one's
    /// plans are `plans/issue-N.yaml`.
    pub repos: Vec<String>,
    /// One webhook delivery at a time is checked, acted on and recorded.
    pub intake: tokio::sync::Mutex<()>,
    /// Names this server answers to beyond loopback (`--allowed-host`), lower case.
    pub hosts: Vec<String>,
    /// The address it listens on, which a client may name too.
    pub bind: std::net::IpAddr,
    /// The SHA-256 of `--token`: every API request carries the token.
    pub token: Option<[u8; 32]>,
}

impl Server {
    /// Whether webhooks of `repo` are acted on.
    pub fn serves(&self, repo: &str) -> bool {
        self.repos.iter().any(|r| r.eq_ignore_ascii_case(repo))
    }
}

/// The fewest characters a `--token` has.
const TOKEN_MIN: usize = 16;

pub fn run(args: &ServeArgs) -> Result<(), Error> {
    let token = args.token.as_deref().filter(|t| !t.is_empty());
    if token.is_some_and(|t| t.len() < TOKEN_MIN) {
        return Err(Error::Usage(format!(
            "--token must have at least {TOKEN_MIN} characters (try `openssl rand -hex 24`)"
        )));
    }
    if !args.bind.is_loopback() && token.is_none() {
        return Err(Error::Usage(format!(
            "listening on {} lets the network read runs and decide gates: give --token TOKEN (or PLAN_SERVE_TOKEN), \
             or bind 127.0.0.1",
            args.bind
        )));
    }
    raise_open_files();
    let secret = std::env::var("PLAN_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes);
    let mut queue = queue::Queue::open(&args.queue_dir, &args.runs_dir, args.max_runs, args.run_concurrency)?;
    queue.pr = args.pr;
    let server = Arc::new(Server {
        runs_dir: args.runs_dir.clone(),
        queue,
        webhook_secret: secret,
        label: args.label.clone(),
        runner: args.runner,
        planner: args.planner.clone(),
        planner_budget: args.planner_budget,
        planner_pass: args.planner_pass.clone(),
        policy: match &args.policy {
            Some(file) => crate::commands::policy::load(file)?,
            None => plan_schema::Policy::default(),
        },
        streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
        repos: served_repos(args),
        intake: tokio::sync::Mutex::new(()),
        hosts: args.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        bind: args.bind,
        token: token.map(digest),
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
        } else if server.repos.is_empty() {
            eprintln!("webhooks act on no repository: the checkout has no GitHub `origin`; pass --repo OWNER/NAME");
        } else {
            eprintln!("webhooks act on {}", server.repos.join(", "));
        }
        tokio::spawn(queue::work(server.clone()));
        let app = router(server);
        let mut listener = listener::Limited::new(tcp, MAX_CONNECTIONS, IDLE);
        let stop = shutdown();
        tokio::pin!(stop);
        loop {
            let conn = tokio::select! {
                conn = listener.accept() => conn,
                () = &mut stop => return Ok(()),
            };
            let service = hyper_util::service::TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_READ);
                let _ = http.serve_connection(hyper_util::rt::TokioIo::new(conn), service).await;
            });
        }
    })
}

fn router(server: Arc<Server>) -> Router {
    // The pages hold no data (they ask the API): they are served to anyone who names
    // this server; the API wants the token when there is one; webhooks are signed.
    let pages = Router::new()
        .route("/", get(pages::page))
        .route("/runs/{id}", get(pages::page))
        .route("/assets/app.js", get(pages::script))
        .route("/assets/style.css", get(pages::style))
        .route("/webhooks/github", post(webhook::receive));
    Router::new()
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{id}", get(api::run))
        .route("/api/runs/{id}/events", get(events::stream))
        .route("/api/runs/{id}/stop", post(api::stop))
        .route("/api/runs/{id}/nodes/{node}", get(api::node))
        .route("/api/runs/{id}/nodes/{node}/{verdict}", post(api::decide))
        .route("/api/queue", get(api::queue))
        .route_layer(axum::middleware::from_fn_with_state(server.clone(), bearer))
        .merge(pages)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(server.clone(), known_host))
        .with_state(server)
}

/// Every request names this server in `Host`: a loopback name, the address it
/// listens on, or one given with `--allowed-host`. A page of another site whose name
/// was made to point here (DNS rebinding) names that site, and is refused.
async fn known_host(
    axum::extract::State(s): axum::extract::State<Arc<Server>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if host_allowed(host, &s.hosts, s.bind) {
        return next.run(request).await;
    }
    let name = host_name(host);
    let why = format!("this server does not answer to `{name}`: start it with `--allowed-host {name}` to allow it");
    api::ApiError(axum::http::StatusCode::MISDIRECTED_REQUEST, why).into_response()
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// With `--token`, an API request carries `Authorization: Bearer TOKEN` (compared in
/// constant time; never taken from the URL, where logs and history keep it).
async fn bearer(
    axum::extract::State(s): axum::extract::State<Arc<Server>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(expected) = s.token else { return next.run(request).await };
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| digest(t.trim()));
    let same = given.is_some_and(|g| g.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0);
    if same {
        return next.run(request).await;
    }
    let why = "this server wants its token: `Authorization: Bearer TOKEN` (the page asks for it)";
    let mut response = api::ApiError(axum::http::StatusCode::UNAUTHORIZED, why.into()).into_response();
    response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    response
}

/// `host` without its port (`[::1]:7070` -> `[::1]`, `example.com:80` -> `example.com`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Whether a `Host` header names this server.
fn host_allowed(host: &str, allowed: &[String], bind: std::net::IpAddr) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    let ip = name.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
    name == "localhost"
        || ip.is_some_and(|ip| ip.is_loopback() || (ip == bind && !bind.is_unspecified()))
        || allowed.contains(&name)
}

/// As many open files as the system lets this process have: each connection is one.
fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit read and write the struct passed; no other memory.
    unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// `--repo` as given, else the checkout's `origin` on GitHub.
fn served_repos(args: &ServeArgs) -> Vec<String> {
    if !args.repos.is_empty() {
        return args.repos.clone();
    }
    crate::git::origin_repo(std::path::Path::new(".")).into_iter().collect()
}

/// Ctrl-C or SIGTERM: stop taking connections (runs go on: they are other processes).
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn only_names_of_this_server_are_answered() {
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        for ok in ["localhost:7070", "127.0.0.1:7070", "127.8.9.1", "[::1]:7070", "LOCALHOST"] {
            assert!(host_allowed(ok, &[], lo), "{ok}");
        }
        for bad in ["evil.example:7070", "", "localhost.evil.example", "[::2]:7070", "0.0.0.0:7070"] {
            assert!(!host_allowed(bad, &[], lo), "{bad}");
        }
        let allowed = vec!["plan.acme.dev".to_string()];
        assert!(host_allowed("plan.acme.dev:443", &allowed, lo));
        let lan: std::net::IpAddr = "192.0.2.7".parse().unwrap();
        assert!(host_allowed("192.0.2.7:7070", &[], lan));
    }
}
