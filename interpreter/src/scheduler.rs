//! The scheduler: one loop owns the run state; workers only run jobs and report
//! `Event`s back. A node starts as soon as everything it depends on has succeeded, at
//! most `concurrency` at once. After the first failure it stops scheduling and drains
//! what runs (or cancels it with `--fail-fast`), then compensates sagas.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use plan_compiler::graph::UnitKind;
use plan_schema::{Consensus, Over};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::consensus::{decide, Vote};
use crate::git::Worktree;
use crate::job::{Cancel, Executor, Job, JobKey, Outcome, Work};
use crate::journal::Entry;
use crate::prepare::{backoff_delay, retry_of, Prepared};
use crate::recorder::{NodeState, Recorder};
use crate::render::{NodeVars, Renderer};

pub struct Options {
    pub concurrency: usize,
    pub fail_fast: bool,
    /// Listen for SIGINT/SIGTERM (off in unit tests).
    pub signals: bool,
}

/// How the run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Succeeded,
    Failed,
    Interrupted,
}

/// One node's (or run-time copy's) record.
#[derive(Clone, Debug)]
pub struct Record {
    pub id: String,
    pub state: NodeState,
    pub attempts: u32,
    pub duration: Duration,
    pub last_error: String,
}

pub struct RunResult {
    pub status: RunStatus,
    /// Nodes and run-time copies, in graph order.
    pub records: Vec<Record>,
    /// The first agent that failed, and why.
    pub failure: Option<(String, String)>,
    pub wall: Duration,
    pub critical_path: Duration,
    /// Saga steps compensated: (step, ok).
    pub compensated: Vec<(String, bool)>,
}

enum Event {
    Finished { key: JobKey, outcome: Outcome, duration: Duration },
    RetryDue { key: JobKey },
}

struct Expansion {
    items: Vec<Value>,
    outputs: Vec<Option<Value>>,
    remaining: usize,
    longest: Duration,
}

struct Attempts {
    count: u32,
    last_error: String,
    first_started: Option<Instant>,
    no_retry: bool,
}

pub struct Scheduler<R: Recorder> {
    renderer: Arc<Renderer>,
    executor: Arc<dyn Executor>,
    pub recorder: R,
    options: Options,
    // run state, owned by the loop
    remaining: Vec<usize>,
    state: Vec<NodeState>,
    duration: Vec<Duration>,
    finish_seq: Vec<usize>,
    seq: usize,
    ready: VecDeque<JobKey>,
    attempts: HashMap<JobKey, Attempts>,
    expansions: HashMap<NodeIndex, Expansion>,
    copies: Vec<Record>,
    votes: HashMap<NodeIndex, Vote>,
    retries: HashMap<JobKey, JoinHandle<()>>,
    /// Worktrees of isolated agents that run, and those done but not merged back yet.
    worktrees: HashMap<JobKey, Worktree>,
    to_merge: Vec<(String, Worktree)>,
    running: usize,
    /// A result released work that is not yet started: sync before starting it.
    needs_sync: bool,
    stopping: bool,
    interrupted: bool,
    failure: Option<(String, String)>,
    restored: HashMap<String, Value>,
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
        let n = renderer.shared.graph.graph.node_count();
        let (tx, rx) = mpsc::unbounded_channel();
        let (cancel, _) = watch::channel(Cancel::None);
        Scheduler {
            renderer,
            executor,
            recorder,
            options,
            remaining: vec![0; n],
            state: vec![NodeState::Waiting; n],
            duration: vec![Duration::ZERO; n],
            finish_seq: vec![usize::MAX; n],
            seq: 0,
            ready: VecDeque::new(),
            attempts: HashMap::new(),
            expansions: HashMap::new(),
            copies: Vec::new(),
            votes: HashMap::new(),
            retries: HashMap::new(),
            worktrees: HashMap::new(),
            to_merge: Vec::new(),
            running: 0,
            needs_sync: false,
            stopping: false,
            interrupted: false,
            failure: None,
            restored: HashMap::new(),
            only: None,
            tx,
            rx,
            cancel,
        }
    }

    /// Outputs of nodes (and run-time copies) that succeeded in an earlier attempt of
    /// this run (`--resume`); they are not run again.
    pub fn restore(&mut self, outputs: HashMap<String, Value>) {
        self.restored = outputs;
    }

    /// Runs only `key` (see `plan exec-node`).
    pub fn only(&mut self, key: JobKey) {
        self.only = Some(key);
    }

    fn id(&self, key: JobKey) -> String {
        let unit = &self.renderer.shared.graph.graph[key.node];
        match key.copy {
            Some(i) => format!("{}[{i}]", unit.agent),
            None => unit.id.clone(),
        }
    }

    pub async fn run(mut self) -> (RunResult, R) {
        let started = Instant::now();
        let shared = self.renderer.shared.clone();
        let graph = &shared.graph.graph;
        for ix in graph.node_indices() {
            self.remaining[ix.index()] = graph.edges_directed(ix, Direction::Incoming).count();
        }
        // Roots start in declaration order; nodes restored from the journal count as
        // done and release what waits for them.
        let order = shared.graph.topo_order().unwrap_or_default();
        let roots: Vec<NodeIndex> = match self.only {
            Some(key) => {
                for ix in graph.node_indices().filter(|ix| *ix != key.node) {
                    self.state[ix.index()] = NodeState::Succeeded;
                    self.seq += 1;
                    self.finish_seq[ix.index()] = self.seq;
                    if let (Some(v), Ok(mut outputs)) = (self.restored.get(&graph[ix].id), shared.outputs.write()) {
                        outputs.insert(graph[ix].id.clone(), v.clone());
                    }
                }
                self.remaining[key.node.index()] = 0;
                vec![key.node]
            }
            None => graph.node_indices().filter(|ix| self.remaining[ix.index()] == 0).collect(),
        };
        for ix in roots {
            if self.state[ix.index()] != NodeState::Waiting {
                continue;
            }
            match self.restored.get(&graph[ix].id).cloned() {
                Some(v) => self.complete(ix, v, Duration::ZERO, true),
                None => self.ready.push_back(JobKey { node: ix, copy: None }),
            }
        }
        let (mut sigint, mut sigterm) = signals(self.options.signals);
        let mut interrupts = 0;
        loop {
            // Facts are on disk before the run moves on: before work that depends on
            // a result starts. (The journal thread writes everything else as it comes.)
            if self.needs_sync
                && !self.stopping
                && !self.ready.is_empty()
                && self.running < self.options.concurrency.max(1)
            {
                self.recorder.sync();
                self.needs_sync = false;
            }
            while !self.stopping && self.running < self.options.concurrency.max(1) {
                let Some(key) = self.ready.pop_front() else {
                    break;
                };
                self.dispatch(key);
            }
            self.report_progress();
            if self.running == 0 && self.retries.is_empty() && (self.ready.is_empty() || self.stopping) {
                break;
            }
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
        if self.failure.is_none() && !self.interrupted {
            self.merge_back();
        }
        let compensated = if self.failure.is_some() || self.interrupted {
            self.recorder.sync();
            self.compensate().await
        } else {
            Vec::new()
        };
        // Execution ends with the last result handled; the final sync follows.
        let wall = started.elapsed();
        self.recorder.sync();
        let status = if self.interrupted {
            RunStatus::Interrupted
        } else if self.failure.is_some() || self.state.iter().any(|s| *s != NodeState::Succeeded) {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        let critical_path = self.critical_path(&order);
        let mut records: Vec<Record> = Vec::with_capacity(graph.node_count() + self.copies.len());
        for ix in graph.node_indices() {
            let key = JobKey { node: ix, copy: None };
            let mut state = self.state[ix.index()];
            if state == NodeState::Waiting {
                state = NodeState::Skipped;
            }
            let a = self.attempts.get(&key);
            records.push(Record {
                id: graph[ix].id.clone(),
                state,
                attempts: a.map_or(0, |a| a.count),
                duration: self.duration[ix.index()],
                last_error: a.map(|a| a.last_error.clone()).unwrap_or_default(),
            });
        }
        records.append(&mut self.copies);
        let result = RunResult { status, records, failure: self.failure.take(), wall, critical_path, compensated };
        (result, self.recorder)
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

    fn critical_path(&self, order: &[NodeIndex]) -> Duration {
        let graph = &self.renderer.shared.graph.graph;
        let mut finish = vec![Duration::ZERO; graph.node_count()];
        let mut best = Duration::ZERO;
        for &ix in order {
            let start = graph
                .edges_directed(ix, Direction::Incoming)
                .map(|e| finish[e.source().index()])
                .max()
                .unwrap_or(Duration::ZERO);
            finish[ix.index()] = start + self.duration[ix.index()];
            best = best.max(finish[ix.index()]);
        }
        best
    }

    /// Merges finished worktrees back into the checkout, in the order they finished.
    /// On a conflict the run fails, naming the files; the worktrees are kept.
    fn merge_back(&mut self) -> bool {
        let Some(repo) = self.renderer.shared.repo.clone() else { return true };
        while !self.to_merge.is_empty() {
            let (node, wt) = self.to_merge.remove(0);
            match crate::git::merge_back(&repo, &wt) {
                Ok(()) => crate::git::remove_worktree(&repo, &wt),
                Err(error) => {
                    self.recorder.finished(&node, NodeState::Failed, Duration::ZERO, &error);
                    self.failure.get_or_insert((node, error));
                    self.stop();
                    return false;
                }
            }
        }
        true
    }

    /// Starts a job, or finishes it at once when there is nothing to run.
    fn dispatch(&mut self, key: JobKey) {
        let shared = self.renderer.shared.clone();
        let unit = &shared.graph.graph[key.node];
        let Some(meta) = shared.tree.get(&unit.agent) else {
            return self.finish_now(key, Outcome::Failed { error: format!("unknown agent `{}`", unit.agent) });
        };
        if unit.kind == UnitKind::DynamicMap && key.copy.is_none() {
            return self.expand(key.node);
        }
        let vote = if let UnitKind::Gather { consensus, has_agent } = &unit.kind {
            let vote = self.vote(key.node, consensus);
            if !*has_agent {
                let outcome = if vote.agreed {
                    Outcome::Succeeded { stdout: vote.value.to_string() }
                } else {
                    Outcome::Failed {
                        error: format!(
                            "no consensus ({consensus}) among {} answers; votes: {}",
                            vote.votes.values().sum::<usize>(),
                            serde_json::to_string(&vote.votes).unwrap_or_default()
                        ),
                    }
                };
                return self.finish_now(key, outcome);
            }
            self.votes.insert(key.node, vote.clone());
            Some(vote)
        } else {
            None
        };
        let item = match (&unit.kind, key.copy) {
            (UnitKind::MapCopy { item, .. }, _) => Some(item.clone()),
            (UnitKind::DynamicMap, Some(i)) => self.expansions.get(&key.node).and_then(|e| e.items.get(i).cloned()),
            _ => None,
        };
        let attempt = {
            let a = self.attempts.entry(key).or_insert(Attempts {
                count: 0,
                last_error: String::new(),
                first_started: None,
                no_retry: false,
            });
            a.count += 1;
            a.first_started.get_or_insert_with(Instant::now);
            a.count
        };
        let last_error = self.attempts.get(&key).map(|a| a.last_error.clone()).unwrap_or_default();
        let vars = NodeVars { attempt, last_error: &last_error, item: item.as_ref(), consensus: vote.as_ref() };
        let id = self.id(key);
        match self.renderer.prepare(unit, meta, &vars) {
            Err(error) => {
                if let Some(a) = self.attempts.get_mut(&key) {
                    a.no_retry = true;
                }
                self.finish_now(key, Outcome::Failed { error });
            }
            Ok(Prepared::Done(stdout)) => self.finish_now(key, Outcome::Succeeded { stdout }),
            Ok(Prepared::Run(mut work)) => {
                let isolated = meta.agent.workspace.or(shared.plan.defaults.as_ref().and_then(|d| d.workspace))
                    == Some(plan_schema::Workspace::Worktree);
                if let (true, Some(repo), Work::Process(spec)) = (isolated, &shared.repo, &mut work) {
                    match crate::git::add_worktree(repo, &shared.run_dir, &shared.run_id, &id) {
                        Ok(wt) => {
                            spec.workdir = Some(match &spec.workdir {
                                Some(d) if d.is_relative() => wt.path.join(d),
                                _ => wt.path.clone(),
                            });
                            self.worktrees.insert(key, wt);
                        }
                        Err(error) => return self.finish_now(key, Outcome::Failed { error }),
                    }
                } else if !self.merge_back() {
                    // A conflict: this node waits for work that cannot be merged.
                    self.ready.push_front(key);
                    return;
                }
                // The prompt also goes to a file of its own (one per copy of a map).
                if let Work::Process(spec) = &mut work {
                    if let Some(stdin) = &spec.stdin {
                        let path = shared.run_dir.join("prompts").join(format!("{id}.md"));
                        let _ = std::fs::write(&path, stdin);
                        spec.env.insert("PLAN_PROMPT_FILE".into(), path.display().to_string());
                    }
                }
                let timeout =
                    meta.agent.timeout.or(shared.plan.defaults.as_ref().and_then(|d| d.timeout)).map(|d| d.as_std());
                self.recorder.journal(Entry::NodeStarted { node: id.clone(), attempt, at: crate::clock::now() });
                self.recorder.status(&id, NodeState::Running, attempt, "");
                if key.copy.is_none() {
                    self.state[key.node.index()] = NodeState::Running;
                }
                let log = Some(shared.run_dir.join("logs").join(format!("{id}.log")));
                let job = Job { key, id, work, timeout, log };
                let executor = self.executor.clone();
                let cancel = self.cancel.subscribe();
                let tx = self.tx.clone();
                self.running += 1;
                // An agent's duration runs from the moment it is handed to the executor.
                let t = Instant::now();
                tokio::spawn(async move {
                    let outcome = executor.execute(job, cancel).await;
                    let _ = tx.send(Event::Finished { key, outcome, duration: t.elapsed() });
                });
            }
        }
    }

    fn finish_now(&mut self, key: JobKey, outcome: Outcome) {
        self.running += 1;
        self.handle(Event::Finished { key, outcome, duration: Duration::ZERO });
    }

    /// The answers of a scatter-gather, one per child (or replica), in the order they
    /// finished, put to the vote.
    fn vote(&self, gather: NodeIndex, consensus: &str) -> Vote {
        let shared = &self.renderer.shared;
        let graph = &shared.graph.graph;
        let g = &graph[gather];
        let depth =
            if matches!(g.kind, UnitKind::Gather { has_agent: true, .. }) { g.path.len() - 1 } else { g.path.len() };
        let rule: Consensus = consensus.parse().unwrap_or_default();
        // (finish order, declaration order, answer) per child or replica.
        let mut answers: HashMap<String, (usize, usize, Value)> = HashMap::new();
        for e in graph.edges_directed(gather, Direction::Incoming) {
            let src = e.source();
            let unit = &graph[src];
            let seq = self.finish_seq[src.index()];
            let (key, value) = match &unit.kind {
                UnitKind::Replica { .. } => {
                    (unit.id.clone(), shared.outputs.read().ok().and_then(|o| o.get(&unit.id).cloned()))
                }
                _ => match unit.path.get(depth) {
                    Some(child) => (child.clone(), shared.output_of(child)),
                    None => (unit.id.clone(), None),
                },
            };
            let entry = answers.entry(key).or_insert((seq, src.index(), value.unwrap_or(Value::Null)));
            entry.0 = entry.0.max(seq);
            entry.1 = entry.1.min(src.index());
        }
        let mut ordered: Vec<(usize, usize, Value)> = answers.into_values().collect();
        // `first` is about time; every other rule lists answers in declaration order.
        if rule == Consensus::First {
            ordered.sort_by_key(|(seq, _, _)| *seq);
        } else {
            ordered.sort_by_key(|(_, decl, _)| *decl);
        }
        let rule: Consensus = consensus.parse().unwrap_or_default();
        decide(rule, &ordered.into_iter().map(|(_, _, v)| v).collect::<Vec<_>>())
    }

    /// The items of a run-time map, from the output it maps over.
    pub fn items_of(&self, node: NodeIndex) -> Result<Vec<Value>, String> {
        let shared = &self.renderer.shared;
        let unit = &shared.graph.graph[node];
        let meta = shared.tree.get(&unit.agent).ok_or_else(|| format!("unknown agent `{}`", unit.agent))?;
        let parent = meta.parent.as_deref().and_then(|p| shared.tree.get(p));
        let over = parent.and_then(|p| p.map.as_ref()).map(|(_, over, _)| over.clone());
        match over {
            Some(Over::LinesOf { lines_of }) => match shared.output_of(&lines_of) {
                Some(Value::Array(items)) => Ok(items),
                Some(Value::String(s)) => Ok(s
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect()),
                Some(other) => Ok(vec![other]),
                None => Err(format!("`lines_of: {lines_of}`: that agent has no output")),
            },
            Some(Over::Template(t)) => {
                let ctx = self.renderer.context(meta, &NodeVars { attempt: 1, ..NodeVars::default() });
                self.renderer.render_str(&t, &ctx).and_then(|text| match serde_json::from_str::<Value>(text.trim()) {
                    Ok(Value::Array(items)) => Ok(items),
                    _ => Err(format!("`map.over` must render to a JSON list, got: {}", text.trim())),
                })
            }
            _ => Err("this map has no run-time items".to_string()),
        }
    }

    /// Expands a run-time map into its copies.
    fn expand(&mut self, node: NodeIndex) {
        let shared = self.renderer.shared.clone();
        let unit = &shared.graph.graph[node];
        let items = self.items_of(node);
        let items = match items {
            Ok(items) => items,
            Err(error) => return self.finish_now(JobKey { node, copy: None }, Outcome::Failed { error }),
        };
        if items.is_empty() {
            return self.finish_now(JobKey { node, copy: None }, Outcome::Succeeded { stdout: "[]".into() });
        }
        self.state[node.index()] = NodeState::Running;
        let n = items.len();
        if let Some(JobKey { copy: Some(only), .. }) = self.only {
            // `plan exec-node --copy I`: this copy alone.
            if only >= n {
                return self.finish_now(
                    JobKey { node, copy: None },
                    Outcome::Failed { error: format!("copy {only} of {n}: no such item") },
                );
            }
            self.expansions.insert(
                node,
                Expansion { items, outputs: vec![Some(Value::Null); n], remaining: 1, longest: Duration::ZERO },
            );
            if let Some(e) = self.expansions.get_mut(&node) {
                e.outputs[only] = None;
            }
            self.ready.push_front(JobKey { node, copy: Some(only) });
            return;
        }
        self.expansions
            .insert(node, Expansion { items, outputs: vec![None; n], remaining: n, longest: Duration::ZERO });
        // The expansion takes no slot of its own: its copies do, and it completes with
        // the last of them.
        for i in (0..n).rev() {
            let copy_id = format!("{}[{i}]", unit.agent);
            if let Some(v) = self.restored.get(&copy_id).cloned() {
                self.running += 1;
                self.handle(Event::Finished {
                    key: JobKey { node, copy: Some(i) },
                    outcome: Outcome::Succeeded { stdout: v.to_string() },
                    duration: Duration::ZERO,
                });
            } else {
                self.ready.push_front(JobKey { node, copy: Some(i) });
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::RetryDue { key } => {
                self.retries.remove(&key);
                if self.stopping {
                    if key.copy.is_none() {
                        self.state[key.node.index()] = NodeState::Cancelled;
                    }
                } else {
                    self.ready.push_front(key);
                }
            }
            Event::Finished { key, outcome, duration } => {
                self.running = self.running.saturating_sub(1);
                self.finished(key, outcome, duration);
            }
        }
    }

    fn finished(&mut self, key: JobKey, mut outcome: Outcome, duration: Duration) {
        let id = self.id(key);
        if let Some(wt) = self.worktrees.remove(&key) {
            if matches!(outcome, Outcome::Succeeded { .. }) {
                match crate::git::commit_worktree(&wt, &id) {
                    Ok(()) => self.to_merge.push((id.clone(), wt)),
                    Err(error) => outcome = Outcome::Failed { error },
                }
            }
        }
        let attempts = self.attempts.get(&key).map_or(1, |a| a.count.max(1));
        match outcome {
            Outcome::Succeeded { stdout } => {
                let value = parse_output(&stdout);
                let total = self.attempts.get(&key).and_then(|a| a.first_started).map_or(duration, |t| t.elapsed());
                match key.copy {
                    Some(i) => {
                        self.recorder.journal(Entry::NodeSucceeded {
                            node: id.clone(),
                            output: value.clone(),
                            attempts,
                            duration_ms: total.as_millis() as u64,
                        });
                        self.recorder.status(&id, NodeState::Succeeded, attempts, "");
                        self.recorder.finished(&id, NodeState::Succeeded, total, "");
                        if !(value.is_null() || value == Value::String(String::new())) {
                            self.recorder.output(&id, &value);
                        }
                        self.copies.push(Record {
                            id,
                            state: NodeState::Succeeded,
                            attempts,
                            duration: total,
                            last_error: String::new(),
                        });
                        let done = self.expansions.get_mut(&key.node).and_then(|e| {
                            e.outputs[i] = Some(value);
                            e.remaining -= 1;
                            e.longest = e.longest.max(total);
                            (e.remaining == 0).then(|| {
                                (
                                    Value::Array(
                                        e.outputs.iter_mut().map(|o| o.take().unwrap_or(Value::Null)).collect(),
                                    ),
                                    e.longest,
                                )
                            })
                        });
                        if let Some((list, longest)) = done {
                            self.complete(key.node, list, longest, false);
                        }
                    }
                    None => self.complete(key.node, value, total, false),
                }
            }
            failed @ (Outcome::Failed { .. } | Outcome::TimedOut { .. }) => {
                let error = failed.error_text();
                let shared = self.renderer.shared.clone();
                let unit = &shared.graph.graph[key.node];
                let retry = shared.tree.get(&unit.agent).and_then(|m| retry_of(m, shared.plan.defaults.as_ref()));
                let a = self.attempts.entry(key).or_insert(Attempts {
                    count: 1,
                    last_error: String::new(),
                    first_started: None,
                    no_retry: false,
                });
                a.last_error = tail(&error, 2000);
                let can_retry = !a.no_retry && !self.stopping && retry.as_ref().is_some_and(|r| a.count < r.attempts);
                self.recorder.journal(Entry::NodeFailed {
                    node: id.clone(),
                    attempt: attempts,
                    error: error.clone(),
                    will_retry: can_retry,
                });
                if let (true, Some(r)) = (can_retry, retry) {
                    self.recorder.status(&id, NodeState::Retrying, attempts, &error);
                    let delay = backoff_delay(&r, attempts + 1);
                    let tx = self.tx.clone();
                    let handle = tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(Event::RetryDue { key });
                    });
                    self.retries.insert(key, handle);
                    return;
                }
                self.recorder.status(&id, NodeState::Failed, attempts, &error);
                self.recorder.finished(&id, NodeState::Failed, duration, &error);
                if key.copy.is_some() {
                    self.copies.push(Record {
                        id: id.clone(),
                        state: NodeState::Failed,
                        attempts,
                        duration,
                        last_error: error.clone(),
                    });
                    self.expansions.remove(&key.node);
                }
                self.state[key.node.index()] = NodeState::Failed;
                self.failure.get_or_insert((id, error));
                self.stop();
                if self.options.fail_fast {
                    let _ = self.cancel.send(Cancel::Failure);
                }
            }
            Outcome::Cancelled => {
                self.recorder.status(&id, NodeState::Cancelled, attempts, "cancelled");
                if key.copy.is_some() {
                    self.copies.push(Record {
                        id,
                        state: NodeState::Cancelled,
                        attempts,
                        duration,
                        last_error: String::new(),
                    });
                    self.expansions.remove(&key.node);
                }
                self.state[key.node.index()] = NodeState::Cancelled;
            }
        }
    }

    /// Marks a node succeeded, stores its output and releases what waits for it.
    /// Successors restored from the journal complete in turn (iteratively).
    fn complete(&mut self, node: NodeIndex, value: Value, duration: Duration, restored: bool) {
        let shared = self.renderer.shared.clone();
        let graph = &shared.graph.graph;
        let mut work = vec![(node, value, duration, restored)];
        while let Some((node, value, duration, restored)) = work.pop() {
            let id = graph[node].id.clone();
            self.state[node.index()] = NodeState::Succeeded;
            self.duration[node.index()] = duration;
            self.seq += 1;
            self.finish_seq[node.index()] = self.seq;
            if !restored {
                let attempts = self.attempts.get(&JobKey { node, copy: None }).map_or(1, |a| a.count.max(1));
                self.recorder.journal(Entry::NodeSucceeded {
                    node: id.clone(),
                    output: value.clone(),
                    attempts,
                    duration_ms: duration.as_millis() as u64,
                });
                self.recorder.status(&id, NodeState::Succeeded, attempts, "");
                self.recorder.finished(&id, NodeState::Succeeded, duration, "");
                if !(value.is_null() || value == Value::String(String::new())) {
                    self.recorder.output(&id, &value);
                }
            }
            if let Ok(mut outputs) = shared.outputs.write() {
                outputs.insert(id, value);
            }
            for succ in graph.neighbors_directed(node, Direction::Outgoing) {
                let r = &mut self.remaining[succ.index()];
                *r = r.saturating_sub(1);
                if *r == 0 && self.state[succ.index()] == NodeState::Waiting {
                    match self.restored.get(&graph[succ].id).cloned() {
                        Some(v) => work.push((succ, v, Duration::ZERO, true)),
                        None => {
                            self.ready.push_back(JobKey { node: succ, copy: None });
                            self.needs_sync |= !restored;
                        }
                    }
                }
            }
        }
    }

    /// Runs the `compensate` of every finished step of each interrupted saga, in
    /// reverse order of completion.
    async fn compensate(&mut self) -> Vec<(String, bool)> {
        let shared = self.renderer.shared.clone();
        let mut done = Vec::new();
        for saga in &shared.graph.sagas {
            let mut finished: Vec<(usize, &String)> = Vec::new();
            let mut complete = true;
            for step in &saga.steps {
                let Some(block) = shared.graph.blocks.get(step) else {
                    continue;
                };
                let ok =
                    block.exits.iter().chain(&block.entries).all(|n| self.state[n.index()] == NodeState::Succeeded)
                        && !block.exits.is_empty();
                if ok {
                    let seq = block.exits.iter().map(|n| self.finish_seq[n.index()]).max().unwrap_or(0);
                    finished.push((seq, step));
                } else {
                    complete = false;
                }
            }
            if complete || finished.is_empty() {
                continue;
            }
            finished.sort_by_key(|f| std::cmp::Reverse(f.0));
            for (_, step) in finished {
                let Some(meta) = shared.tree.get(step) else {
                    continue;
                };
                let work = match self.renderer.compensation(meta) {
                    Ok(Some(w)) => w,
                    Ok(None) => continue,
                    Err(e) => {
                        self.recorder.journal(Entry::Compensated { agent: step.clone(), ok: false, error: Some(e) });
                        done.push((step.clone(), false));
                        continue;
                    }
                };
                let log = Some(shared.run_dir.join("logs").join(format!("{step}.compensate.log")));
                let job = Job {
                    key: JobKey { node: NodeIndex::new(0), copy: None },
                    id: format!("{step}.compensate"),
                    work,
                    timeout: meta.agent.timeout.map(|d| d.as_std()),
                    log,
                };
                // Compensation runs even when the run was cancelled: it gets a fresh signal.
                let (_keep, rx) = watch::channel(Cancel::None);
                let t = Instant::now();
                let outcome = self.executor.execute(job, rx).await;
                let ok = matches!(outcome, Outcome::Succeeded { .. });
                let error = (!ok).then(|| outcome.error_text());
                self.recorder.journal(Entry::Compensated { agent: step.clone(), ok, error: error.clone() });
                self.recorder.sync();
                self.recorder.status(
                    &format!("{step}.compensate"),
                    if ok { NodeState::Compensated } else { NodeState::Failed },
                    1,
                    error.as_deref().unwrap_or(""),
                );
                self.recorder.finished(
                    &format!("{step}.compensate"),
                    if ok { NodeState::Compensated } else { NodeState::Failed },
                    t.elapsed(),
                    error.as_deref().unwrap_or(""),
                );
                done.push((step.clone(), ok));
            }
        }
        done
    }
}

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
#[path = "scheduler_tests.rs"]
mod tests;
