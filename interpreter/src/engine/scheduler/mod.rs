//! The scheduler: one loop owns the run state and decides *when* each node runs;
//! workers run jobs off the loop and report `Event`s back. A node starts as soon as
//! everything it depends on has succeeded, at most `concurrency` at once. After the
//! first failure it stops scheduling and drains what runs (or cancels it with
//! `--fail-fast`), then compensates sagas.
//!
//! The loop is spread over files by what it does: `dispatch` (starting a node),
//! `finish` (a result: success, retry or failure), `expand` (run-time maps), `vote`
//! (scatter-gather), `compensate` (sagas) and `result` (the run's record).

mod attempts;
mod candidates;
mod compensate;
mod dispatch;
mod expand;
mod finish;
mod metering;
mod restore;
mod result;
mod timeline;
mod vote;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use petgraph::graph::NodeIndex;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::engine::budget::Spending;
use crate::engine::consensus::Vote;
use crate::engine::context::RunContext;
use crate::engine::job::{Cancel, Executor, JobKey, Ran};
use crate::engine::render::Renderer;
use crate::engine::workspace::Checkout;
use crate::store::recorder::Recorder;
use crate::store::state::{NodeState, Record, RunResult};
use attempts::AttemptBook;
use timeline::Timeline;

pub struct Options {
    pub concurrency: usize,
    pub fail_fast: bool,
    /// Listen for SIGINT/SIGTERM (off in unit tests).
    pub signals: bool,
    /// `plan run --replay`: the recorded exchanges to answer model requests from, and
    /// the recorded run's directory.
    pub replay: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

enum Event {
    Finished { key: JobKey, ran: Box<Ran>, duration: Duration },
    RetryDue { key: JobKey },
}

/// A run-time map being run: its items, and its copies' outputs as they come.
struct Expansion {
    items: Vec<Value>,
    outputs: Vec<Option<Value>>,
    remaining: usize,
    longest: Duration,
}

pub struct Scheduler<R: Recorder> {
    ctx: Arc<RunContext>,
    renderer: Arc<Renderer>,
    executor: Arc<dyn Executor>,
    /// The git checkout, when agents work in worktrees or run git steps.
    checkout: Option<Arc<Checkout>>,
    pub recorder: R,
    options: Options,
    spending: crate::engine::budget::Shared,
    /// The model gateway, started when the first agent that uses it starts (or why it
    /// could not start).
    gateway: Option<Result<Arc<crate::engine::gateway::Gateway>, String>>,
    // run state, owned by the loop
    remaining: Vec<u32>,
    state: Vec<NodeState>,
    duration: Vec<Duration>,
    /// What waited for what, and when processes started: where the wall time went.
    timeline: Timeline,
    finish_seq: Vec<u32>,
    seq: u32,
    ready: VecDeque<JobKey>,
    attempts: AttemptBook,
    expansions: HashMap<NodeIndex, Expansion>,
    /// `best_of` nodes' candidates while they run, and the branches of those that lost.
    candidates: HashMap<NodeIndex, candidates::Pool>,
    losers: Vec<String>,
    copies: Vec<Record>,
    votes: HashMap<NodeIndex, Vote>,
    retries: HashMap<JobKey, JoinHandle<()>>,
    running: usize,
    /// Of those running, the gates that wait for a person: they hold no slot.
    gates: std::collections::HashSet<JobKey>,
    /// What publishing templates see (`report`, `agents`), made once, when the first
    /// publishing step starts.
    publish_vars: Option<minijinja::Value>,
    /// A result released work that is not yet started: sync before starting it.
    needs_sync: bool,
    stopping: bool,
    interrupted: bool,
    failure: Option<(String, String)>,
    restored: HashMap<String, Value>,
    /// Attempts and duration of restored nodes, as the journal recorded them.
    history: HashMap<String, (u32, Duration)>,
    /// Run this one node (or run-time copy) alone: every other node counts as done
    /// with its restored output (`plan exec-node`).
    only: Option<JobKey>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    cancel: watch::Sender<Cancel>,
}

/// An agent's output: its stdout parsed as JSON when it is JSON, else the text
/// without its trailing newline.
pub fn parse_output(stdout: &str) -> Value {
    let trimmed = stdout.trim();
    if trimmed.is_empty() {
        return Value::String(String::new());
    }
    if matches!(trimmed.as_bytes()[0], b'{' | b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') {
        if let Ok(v) = serde_json::from_str(trimmed) {
            return v;
        }
    }
    Value::String(stdout.strip_suffix('\n').map_or(stdout, |s| s.strip_suffix('\r').unwrap_or(s)).to_string())
}

impl<R: Recorder> Scheduler<R> {
    pub fn new(renderer: Arc<Renderer>, executor: Arc<dyn Executor>, recorder: R, options: Options) -> Self {
        let ctx = renderer.run.clone();
        let n = ctx.node_count();
        let spending = Arc::new(std::sync::Mutex::new(Spending::new(&ctx.plan)));
        let on_conflict = ctx.plan.merge.as_ref().map(|m| m.on_conflict).unwrap_or_default();
        let mut failure = None;
        let checkout = ctx.repo.clone().and_then(|repo| match Checkout::open(repo, ctx.dir.clone(), on_conflict) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                failure = Some(("(checkout)".to_string(), format!("cannot prepare the checkout for merging: {e}")));
                None
            }
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let (cancel, _) = watch::channel(Cancel::None);
        Scheduler {
            ctx,
            renderer,
            executor,
            checkout,
            recorder,
            options,
            spending,
            gateway: None,
            remaining: vec![0; n],
            state: vec![NodeState::Pending; n],
            duration: vec![Duration::ZERO; n],
            timeline: Timeline::new(n),
            finish_seq: vec![u32::MAX; n],
            seq: 0,
            ready: VecDeque::new(),
            attempts: AttemptBook::new(n),
            expansions: HashMap::new(),
            candidates: HashMap::new(),
            losers: Vec::new(),
            copies: Vec::new(),
            votes: HashMap::new(),
            retries: HashMap::new(),
            running: 0,
            gates: std::collections::HashSet::new(),
            publish_vars: None,
            needs_sync: false,
            stopping: false,
            interrupted: false,
            failure,
            restored: HashMap::new(),
            history: HashMap::new(),
            only: None,
            tx,
            rx,
            cancel,
        }
    }

    /// Runs only `key` (see `plan exec-node`).
    pub fn only(&mut self, key: JobKey) {
        self.only = Some(key);
    }

    /// The id of a node or run-time copy: `agent`, `agent[3]`.
    fn id(&self, key: JobKey) -> String {
        let unit = self.ctx.unit(key.node);
        match key.copy {
            Some(i) => format!("{}[{i}]", unit.agent()),
            None => unit.id.clone(),
        }
    }

    pub async fn run(mut self) -> (RunResult, R) {
        let signals = signals(self.options.signals);
        let started = self.timeline.begin();
        let ctx = self.ctx.clone();
        for ix in ctx.nodes() {
            self.remaining[ix.index()] = u32::try_from(ctx.predecessors(ix).count()).unwrap_or(u32::MAX);
        }
        for ix in self.roots() {
            if self.state[ix.index()] != NodeState::Pending || self.failure.is_some() {
                continue;
            }
            match self.restored.get(&ctx.unit(ix).id).cloned() {
                Some(v) => {
                    let d = self.restored_history(JobKey { node: ix, copy: None }, &ctx.unit(ix).id);
                    self.complete(ix, v, d, true)
                }
                None => {
                    self.state[ix.index()] = NodeState::Queued;
                    self.ready.push_back(JobKey { node: ix, copy: None })
                }
            }
        }
        self.event_loop(signals).await;
        if self.failure.is_none() && !self.interrupted {
            self.merge_back().await;
        }
        let compensated = if self.failure.is_some() || self.interrupted {
            self.recorder.sync();
            self.compensate().await
        } else {
            Vec::new()
        };
        self.drop_losers();
        // Execution ends with the last result handled; the final sync follows.
        let wall = started.elapsed();
        self.recorder.sync();
        let split = self.split(wall);
        // What only scheduling needed goes before the records come (100,000 of each).
        self.ready = VecDeque::new();
        self.remaining = Vec::new();
        self.finish_seq = Vec::new();
        let result = self.result(wall, split, compensated);
        (result, self.recorder)
    }

    /// The nodes that start first, in declaration order. Under `only`, every other
    /// node counts as done with its restored output.
    fn roots(&mut self) -> Vec<NodeIndex> {
        let ctx = self.ctx.clone();
        let Some(key) = self.only else {
            return ctx.nodes().filter(|ix| self.remaining[ix.index()] == 0).collect();
        };
        for ix in ctx.nodes().filter(|ix| *ix != key.node) {
            self.state[ix.index()] = NodeState::Succeeded;
            self.seq += 1;
            self.finish_seq[ix.index()] = self.seq;
            let id = &ctx.unit(ix).id;
            if let Some(v) = self.restored.get(id) {
                ctx.set_output(id.clone(), v.clone());
            }
        }
        self.remaining[key.node.index()] = 0;
        vec![key.node]
    }

    /// Starts what is ready, waits for results and signals, until nothing runs and
    /// nothing more may start.
    async fn event_loop(&mut self, (mut sigint, mut sigterm): (Signal, Signal)) {
        let mut interrupts = 0;
        let slots = self.options.concurrency.max(1);
        loop {
            // A gate waiting for a person holds no slot: work beside it goes on.
            while !self.stopping && self.running.saturating_sub(self.gates.len()) < slots {
                let Some(key) = self.ready.pop_front() else {
                    break;
                };
                self.dispatch(key);
            }
            self.report_progress();
            if self.running == 0 && self.retries.is_empty() && (self.ready.is_empty() || self.stopping) {
                return;
            }
            self.recorder.send();
            tokio::select! {
                Some(ev) = self.rx.recv() => {
                    self.handle(ev);
                    while let Ok(ev) = self.rx.try_recv() {
                        self.handle(ev);
                    }
                }
                Some(()) = recv_signal(&mut sigint) => { interrupts += 1; self.interrupt(interrupts); }
                Some(()) = recv_signal(&mut sigterm) => { interrupts += 1; self.interrupt(interrupts); }
            }
        }
    }

    fn interrupt(&mut self, count: usize) {
        self.interrupted = true;
        self.stop();
        let _ = self.cancel.send(if count > 1 { Cancel::Kill } else { Cancel::Interrupt });
    }

    /// Stops scheduling; abandoned retries count as cancelled.
    fn stop(&mut self) {
        self.stopping = true;
        for (key, handle) in self.retries.drain() {
            handle.abort();
            if key.copy.is_none() {
                self.state[key.node.index()] = NodeState::Cancelled;
            }
        }
    }

    fn report_progress(&mut self) {
        if !self.recorder.wants_progress() {
            return;
        }
        let total = self.state.len();
        let done = self.state.iter().filter(|s| **s == NodeState::Succeeded).count();
        let failed = self.state.iter().filter(|s| **s == NodeState::Failed).count();
        self.recorder.progress(done, self.running, failed, total);
    }

    /// Brings the checkout to everything the agents merged. On a conflict the run
    /// fails, naming the files; the checkout is left as it was.
    async fn merge_back(&mut self) {
        let Some(checkout) = self.checkout.clone() else { return };
        self.recorder.send();
        if let Err(conflict) = checkout.sync().await {
            self.recorder.finished(&conflict.node, NodeState::Failed, Duration::ZERO, &conflict.error);
            self.failure.get_or_insert((conflict.node, conflict.error));
            self.stop();
        }
    }
}

/// The last `max` bytes of `text` (at a character boundary).
fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

type Signal = Option<tokio::signal::unix::Signal>;

fn signals(enabled: bool) -> (Signal, Signal) {
    if !enabled {
        return (None, None);
    }
    use tokio::signal::unix::{signal, SignalKind};
    (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
}

async fn recv_signal(s: &mut Signal) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
