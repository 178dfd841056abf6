//! The real executor: each job runs in its own process group, its output goes to its
//! log, and a timeout or cancellation kills the whole group — no grandchild
//! survives. Built-in sleeps and file writes run here too.

use std::io::Write as _;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::watch;

use crate::engine::actions;
use crate::engine::agents::{self, AgentParser, AgentResult};
use crate::engine::job::{AgentSpec, BoxFuture, Cancel, Executor, Job, Outcome, ProcessSpec, ProcessStart, Ran, Work};

/// How long a cancelled process group gets between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// How long a coding-agent CLI that has given its final result may take to exit
/// before its process group is stopped (its result is kept).
pub const RESULT_GRACE: Duration = Duration::from_secs(3);
/// How much of stderr a failure keeps (the tail).
const ERROR_TAIL: usize = 2000;

pub struct ProcessExecutor {
    pub grace: Duration,
}

impl Default for ProcessExecutor {
    fn default() -> Self {
        ProcessExecutor { grace: DEFAULT_GRACE }
    }
}

impl Executor for ProcessExecutor {
    fn execute(&self, job: Job, cancel: watch::Receiver<Cancel>) -> BoxFuture {
        let grace = self.grace;
        Box::pin(async move {
            match job.work {
                Work::Process(spec) => run_process(spec, job.timeout, job.log, cancel, grace).await,
                Work::Sleep(d) => sleep(d, job.timeout, cancel).await.into(),
                Work::WriteFile { path, contents } => actions::write_file(&path, &contents).into(),
                Work::Approval(gate) => crate::engine::approval::wait(gate, job.log, cancel).await.into(),
                Work::Action(action) => actions::run(action).await.into(),
                Work::Publish(step) => crate::engine::publish::run(step, job.log, cancel).await.into(),
            }
        })
    }
}

/// Runs one process to its end from code that is not async (`plan new`'s planner
/// and classifier): the same path as every agent — its own process group, `timeout`,
/// its output to `log`, both pipes read to their ends while it runs (a process that
/// fills its stderr never blocks), stray processes stopped.
pub fn run_blocking(spec: ProcessSpec, timeout: Option<Duration>, log: Option<std::path::PathBuf>) -> Ran {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Outcome::Failed { error: format!("cannot start a runtime: {e}") }.into(),
    };
    let (_keep, cancel) = watch::channel(Cancel::None);
    runtime.block_on(run_process(spec, timeout, log, cancel, DEFAULT_GRACE))
}

async fn sleep(d: Duration, timeout: Option<Duration>, mut cancel: watch::Receiver<Cancel>) -> Outcome {
    tokio::select! {
        () = tokio::time::sleep(d) => Outcome::Succeeded { stdout: String::new() },
        () = deadline(timeout) => Outcome::TimedOut { after: timeout.unwrap_or_default() },
        () = until(&mut cancel, |c| *c != Cancel::None) => Outcome::Cancelled,
    }
}

/// Completes when the timeout (if any) has passed.
async fn deadline(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// Completes when the cancel reason satisfies `pred` (never, if the sender is gone).
async fn until(rx: &mut watch::Receiver<Cancel>, pred: impl FnMut(&Cancel) -> bool) {
    if rx.wait_for(pred).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn signal_group(pgid: u32, signal: i32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals the process group; it has no
            // memory-safety preconditions.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }
}

async fn run_process(
    spec: ProcessSpec,
    timeout: Option<Duration>,
    log: Option<std::path::PathBuf>,
    mut cancel: watch::Receiver<Cancel>,
    grace: Duration,
) -> Ran {
    let mut spec = spec;
    let log_path = log.clone();
    // A sandboxed process starts through `plan __sandbox`, which becomes it.
    let sandboxed = match spec.sandbox.take() {
        Some(sandbox) => match crate::engine::sandbox::start(&sandbox, &mut spec.argv, &mut spec.env) {
            Ok(started) => Some(started),
            Err(error) => return Outcome::Failed { error: format!("cannot start the sandbox: {error}") }.into(),
        },
        None => None,
    };
    let Some((program, args)) = spec.argv.split_first() else {
        return Outcome::Failed { error: "empty command".into() }.into();
    };
    let stdin = spec.stdin.filter(|_| spec.agent.as_ref().is_none_or(|a| a.prompt_on_stdin));
    let mut cmd = Command::new(crate::engine::program::resolve(program, &spec.env));
    for name in &spec.withhold {
        cmd.env_remove(name);
    }
    cmd.args(args)
        .envs(&spec.env)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    let started = std::time::Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed { error: format!("cannot start `{program}`: {e}") }.into(),
    };
    let start = Some(ProcessStart { at: started, took: started.elapsed() });
    let pgid = child.id().unwrap_or(0);
    // Opened at the first byte: an agent that prints nothing costs no file.
    let log_file = log.map(|p| Arc::new(std::sync::Mutex::new(LazyLog { path: p, file: None })));
    if let (Some(mut stdin), Some(text)) = (child.stdin.take(), stdin) {
        tokio::spawn(async move {
            let _ = stdin.write_all(text.as_bytes()).await;
        });
    }
    let root = spec.workdir.clone().or_else(|| std::env::current_dir().ok());
    let parser = spec.agent.as_ref().map(|a| (agents::parser_for(a.cli, root.as_deref()), a.events.clone()));
    let out_log = log_file.clone();
    let (said_all, final_result) = tokio::sync::oneshot::channel();
    let stdout = child.stdout.take().map(|s| match parser {
        Some((parser, events)) => tokio::spawn(capture_agent(s, out_log, parser, events, said_all)),
        None => tokio::spawn(async move { (capture(s, out_log, None).await, None) }),
    });
    let stderr = child.stderr.take().map(|s| tokio::spawn(capture(s, log_file.clone(), Some(ERROR_TAIL))));
    let mut cancelled = cancel.clone();
    let strays = Strays::of(&spec.env);
    // A CLI that printed its final result and stays alive is stopped after a grace
    // period; it has said all it will, so that is its end, not a failure.
    let mut lingered = false;
    let lingering = async {
        match final_result.await {
            Ok(()) => tokio::time::sleep(RESULT_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    let status = tokio::select! {
        status = child.wait() => Some((status, started.elapsed())),
        () = lingering => {
            lingered = true;
            let lifetime = started.elapsed();
            signal_group(pgid, libc::SIGTERM);
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                signal_group(pgid, libc::SIGKILL);
            }
            Some((child.wait().await, lifetime))
        }
        () = deadline(timeout) => {
            signal_group(pgid, libc::SIGKILL);
            strays.kill().await;
            let _ = child.wait().await;
            None
        }
        () = until(&mut cancelled, |c| *c != Cancel::None) => {
            let hard = *cancel.borrow() == Cancel::Kill;
            signal_group(pgid, if hard { libc::SIGKILL } else { libc::SIGTERM });
            tokio::select! {
                _ = child.wait() => {}
                () = tokio::time::sleep(grace) => { signal_group(pgid, libc::SIGKILL); let _ = child.wait().await; }
                () = until(&mut cancel, |c| *c == Cancel::Kill) => { signal_group(pgid, libc::SIGKILL); let _ = child.wait().await; }
            }
            signal_group(pgid, libc::SIGKILL);
            strays.kill().await;
            return Outcome::Cancelled.into();
        }
    };
    // The agent is done when its process exits; whatever it left behind in its group goes.
    signal_group(pgid, libc::SIGKILL);
    let (out, agent) = match stdout {
        Some(h) => drain(h, &strays).await,
        None => (Vec::new(), None),
    };
    let err = match stderr {
        Some(h) => drain(h, &strays).await,
        None => Vec::new(),
    };
    let lifetime = status.as_ref().map(|(_, t)| *t);
    let outcome = match status.map(|(s, _)| s) {
        None => Outcome::TimedOut { after: timeout.unwrap_or_default() },
        Some(Ok(s)) if s.success() || lingered => match agent.as_ref().and_then(AgentResult::failure) {
            Some(error) => Outcome::Failed { error },
            None => Outcome::Succeeded {
                stdout: match &agent {
                    Some(a) => final_message(a, spec.agent.as_ref()),
                    None => String::from_utf8_lossy(&out).into_owned(),
                },
            },
        },
        Some(Ok(s)) => {
            let code =
                s.code().map_or_else(|| "was killed by a signal".to_string(), |c| format!("exited with status {c}"));
            // A coding agent says what went wrong in its output; anything else on stderr.
            let said = agent.as_ref().and_then(AgentResult::failure);
            let tail = said.unwrap_or_else(|| String::from_utf8_lossy(&err).trim().to_string());
            Outcome::Failed { error: if tail.is_empty() { code } else { format!("{code}: {tail}") } }
        }
        Some(Err(e)) => Outcome::Failed { error: format!("waiting for the process failed: {e}") },
    };
    let mut ran = match agent {
        Some(a) => Ran {
            usage: Some(a.usage),
            session: a.session,
            lifetime,
            start,
            cost_error: a.cost_error,
            ..outcome.into()
        },
        None => Ran { lifetime, start, ..outcome.into() },
    };
    if let Some(sandbox) = sandboxed {
        ran.blocked = sandbox.finish();
        if let (Some(path), false) = (log_path, ran.blocked.is_empty()) {
            use std::io::Write as _;
            let lines: String = ran.blocked.iter().map(|b| format!("sandbox: blocked {b}\n")).collect();
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(lines.as_bytes()));
        }
    }
    ran
}

/// A log file created when the first line comes.
struct LazyLog {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl LazyLog {
    fn write(&mut self, bytes: &[u8]) {
        if self.file.is_none() {
            self.file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path).ok();
        }
        if let Some(f) = self.file.as_mut() {
            let _ = f.write_all(bytes);
        }
    }
}

type Log = Option<Arc<std::sync::Mutex<LazyLog>>>;

/// An agent's processes outside its process group, known by the run and node ids in
/// their environment.
struct Strays(Option<(std::path::PathBuf, String)>);

impl Strays {
    fn of(env: &std::collections::BTreeMap<String, String>) -> Strays {
        Strays(match (env.get("PLAN_RUN_DIR"), env.get("PLAN_NODE_ID")) {
            (Some(dir), Some(node)) => Some((dir.into(), node.clone())),
            _ => None,
        })
    }

    async fn kill(&self) {
        if let Some((dir, node)) = self.0.clone() {
            let _ = tokio::task::spawn_blocking(move || crate::engine::strays::kill(&dir, Some(&node))).await;
        }
    }
}

/// Waits for a pipe's reader after the process exited. A process that left its group
/// (`setsid`) may keep the pipe open: then it is killed, and the wait ends anyway.
async fn drain<T: Default>(mut reader: tokio::task::JoinHandle<T>, strays: &Strays) -> T {
    if let Ok(done) = tokio::time::timeout(Duration::from_millis(250), &mut reader).await {
        return done.unwrap_or_default();
    }
    strays.kill().await;
    match tokio::time::timeout(Duration::from_secs(2), &mut reader).await {
        Ok(done) => done.unwrap_or_default(),
        Err(_) => {
            reader.abort();
            T::default()
        }
    }
}

/// The agent's final message: from its output, else the file its CLI wrote it to.
fn final_message(result: &AgentResult, spec: Option<&AgentSpec>) -> String {
    if !result.message.is_empty() {
        return result.message.clone();
    }
    spec.and_then(|s| s.last_message.as_ref())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|m| m.trim_end().to_string())
        .unwrap_or_default()
}

/// Reads a coding agent's stdout line by line: the raw lines go to its events file,
/// the readable lines the parser makes of them to its log, as they come.
async fn capture_agent<R: AsyncRead + Unpin>(
    stream: R,
    log: Log,
    mut parser: Box<dyn AgentParser>,
    events: std::path::PathBuf,
    said_all: tokio::sync::oneshot::Sender<()>,
) -> (Vec<u8>, Option<AgentResult>) {
    let mut said_all = Some(said_all);
    use tokio::io::AsyncBufReadExt;
    let mut raw = std::fs::OpenOptions::new().create(true).append(true).open(&events).ok();
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(f) = raw.as_mut() {
            let _ = f.write_all(&crate::store::redact::redact_bytes(format!("{line}\n").as_bytes()));
        }
        let readable = parser.line(&line);
        if parser.done() {
            if let Some(tx) = said_all.take() {
                let _ = tx.send(());
            }
        }
        if let (Some(log), false) = (&log, readable.is_empty()) {
            if let Ok(mut f) = log.lock() {
                let text: String = readable.iter().map(|l| format!("{l}\n")).collect();
                f.write(&crate::store::redact::redact_bytes(text.as_bytes()));
            }
        }
    }
    (Vec::new(), Some(parser.finish()))
}

/// Reads a stream to its end, copying it to the log line by line with secrets
/// redacted; keeps everything, or the last `tail` bytes.
async fn capture<R: AsyncRead + Unpin>(mut stream: R, log: Log, tail: Option<usize>) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 8192];
    let write_log = |bytes: &[u8]| {
        if let Some(log) = &log {
            if let Ok(mut f) = log.lock() {
                f.write(&crate::store::redact::redact_bytes(bytes));
            }
        }
    };
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                if let Some(end) = pending.iter().rposition(|b| *b == b'\n') {
                    write_log(&pending[..=end]);
                    pending.drain(..=end);
                }
                kept.extend_from_slice(&buf[..n]);
                // Keep twice the tail: a secret cut at the front of this window is
                // then cut away whole when the tail is taken.
                if let Some(t) = tail {
                    if kept.len() > 4 * t {
                        kept.drain(..kept.len() - 2 * t);
                    }
                }
            }
        }
    }
    if !pending.is_empty() {
        write_log(&pending);
    }
    match tail {
        // Redacted before it is cut, so that no end of a secret survives the cut.
        Some(t) => crate::store::redact::redacted_tail(&String::from_utf8_lossy(&kept), t).into_bytes(),
        None => crate::store::redact::redact_bytes(&kept),
    }
}
