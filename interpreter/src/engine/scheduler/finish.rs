//! A job's result: success stores the output and releases what waits for it; a
//! failure is retried with backoff while the policy allows, else it fails the node
//! and stops scheduling.

use std::time::{Duration, Instant};

use petgraph::graph::NodeIndex;
use serde_json::Value;

use super::{parse_output, tail, Event, Scheduler};
use crate::engine::job::{Cancel, JobKey, Outcome, Ran};
use crate::engine::retry::backoff_delay;
use crate::store::journal::Entry;
use crate::store::recorder::Recorder;
use crate::store::state::{NodeState, Record};
use crate::store::usage::Usage;

impl<R: Recorder> Scheduler<R> {
    pub(super) fn handle(&mut self, event: Event) {
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
            Event::Finished { key, mut ran, duration } => {
                self.running = self.running.saturating_sub(1);
                self.gates.remove(&key);
                let now = Instant::now();
                if let Some(s) = ran.start {
                    self.timeline.process_started(s.at, s.took);
                }
                let began = ran.start.map_or_else(|| now.checked_sub(duration).unwrap_or(now), |s| s.at);
                self.began(key, began);
                if key.copy.is_none() {
                    self.timeline.finished(key.node.index(), now);
                }
                let metered = self.metered(key, &mut ran);
                let over = self.spend(key, &ran, metered);
                if let Some(k) = ran.cache_key.take() {
                    self.ctx.set_key(self.id(key), k);
                }
                if let Some((entry, saved)) = ran.cached.take() {
                    let node = self.id(key);
                    self.attempts.entry(key, 1).agent_mut().cached = Some(saved.unwrap_or_default());
                    self.recorder.journal(Entry::Cached { node, key: entry, saved });
                }
                if ran.no_retry {
                    self.attempts.entry(key, 1).no_retry = true;
                }
                if !ran.blocked.is_empty() {
                    self.attempts.entry(key, 1).agent_mut().blocked.extend(ran.blocked.iter().cloned());
                }
                if let Some(session) = ran.session {
                    let node = self.id(key);
                    self.recorder.journal(Entry::Session { node, session: session.clone() });
                    self.attempts.entry(key, 1).agent_mut().session = Some(session);
                }
                if let Some(checks) = ran.checks.take() {
                    let node = self.id(key);
                    self.recorder.journal(Entry::Checked { node, checks: checks.clone() });
                    self.attempts.entry(key, 1).agent_mut().checks.push(*checks);
                }
                if let Some(carry) = ran.carry.take() {
                    self.attempts.entry(key, 1).agent_mut().carry = Some(*carry);
                }
                if let Some(work) = ran.candidate.take() {
                    self.attempts.entry(key, 1).agent_mut().candidacy = Some(*work);
                }
                // A spent budget is the run's failure, whatever the attempt's outcome.
                if let Some(message) = over {
                    self.budget_spent(key, message);
                }
                self.finished(key, ran.outcome, duration);
            }
        }
    }

    /// An agent's time runs from its first attempt's start (its process's, not its
    /// dispatch) to the end of the last: preparing, spawning and handling its result
    /// are coordination. A run-time map's runs from its first copy's start.
    fn began(&mut self, key: JobKey, at: Instant) {
        self.attempts.entry(key, 1).first_started.get_or_insert(at);
        if key.copy.is_some() {
            let map = self.attempts.entry(JobKey { node: key.node, copy: None }, 0);
            map.first_started = Some(map.first_started.map_or(at, |t| t.min(at)));
        }
    }

    /// Counts what a coding agent spent (journaled, so it survives `--resume`; what
    /// the gateway metered it has counted already, request by request); the budget
    /// that this spent, if any.
    fn spend(&mut self, key: JobKey, ran: &Ran, metered: bool) -> Option<String> {
        let usage = ran.usage.filter(|u| !u.is_empty())?;
        let id = self.id(key);
        let meta = self.ctx.meta_of(key.node)?;
        let a = self.attempts.entry(key, 1);
        a.agent_mut().usage.get_or_insert_with(Usage::default).add(&usage);
        self.recorder.journal(Entry::Spent { node: id, attempt: a.count.max(1), usage, metered });
        if !metered {
            self.spending.lock().unwrap_or_else(|e| e.into_inner()).add(&meta.agent.id, &usage);
        }
        let over = self.spent().exceeded(&meta.agent.id, meta.agent.budget.as_deref());
        if over.is_some() {
            self.attempts.entry(key, 1).no_retry = true;
        }
        over
    }

    /// A budget is spent: nothing new starts, running agents are stopped, and the run
    /// fails naming the budget (saga compensations still run).
    fn budget_spent(&mut self, key: JobKey, message: String) {
        let id = self.id(key);
        self.recorder.finished(&id, NodeState::Failed, Duration::ZERO, &message);
        self.failure.get_or_insert((id, message));
        self.stop();
        let _ = self.cancel.send(Cancel::Failure);
    }

    fn finished(&mut self, key: JobKey, outcome: Outcome, duration: Duration) {
        let id = self.id(key);
        let attempts = self.attempts.get(&key).map_or(1, |a| a.count.max(1));
        match outcome {
            Outcome::Succeeded { stdout } => self.succeeded(key, id, &stdout, attempts, duration),
            failed @ (Outcome::Failed { .. } | Outcome::TimedOut { .. }) => {
                self.failed(key, id, failed.error_text(), attempts, duration);
            }
            Outcome::Cancelled if self.is_candidate(key) => {
                self.candidate_ended(key, NodeState::Cancelled, String::new(), "cancelled".into());
            }
            Outcome::Cancelled => {
                self.recorder.status(&id, NodeState::Cancelled, attempts, "cancelled");
                self.end_copy(key, id, NodeState::Cancelled, attempts, duration, String::new());
                self.state[key.node.index()] = NodeState::Cancelled;
            }
        }
    }

    /// A node completes; a copy of a run-time map adds its output to the map's list,
    /// and the last copy completes the map.
    fn succeeded(&mut self, key: JobKey, id: String, stdout: &str, attempts: u32, duration: Duration) {
        if self.is_candidate(key) {
            return self.candidate_ended(key, NodeState::Succeeded, stdout.to_string(), String::new());
        }
        let value = parse_output(stdout);
        let total =
            self.attempts.get(&key).and_then(|a| a.first_started).map_or(duration, |t| t.elapsed().max(duration));
        let Some(i) = key.copy else {
            return self.complete(key.node, value, total, false);
        };
        self.record_success(&id, &value, attempts, total);
        let usage = self.attempts.get(&key).and_then(|a| a.usage());
        let metering = self.attempts.get(&key).and_then(|a| a.metering());
        self.copies.push(Record {
            id: id.into_boxed_str(),
            state: NodeState::Succeeded,
            attempts,
            duration: total,
            last_error: Box::default(),
            usage: usage.map(Box::new),
            metering: metering.map(Box::new),
            cached: self.attempts.get(&key).and_then(|a| a.cached()),
            decision: None,
            blocked: Box::default(),
            verified: self.attempts.get(&key).and_then(|a| a.verified()),
        });
        let done = self.expansions.get_mut(&key.node).and_then(|e| {
            e.outputs[i] = Some(value);
            e.remaining -= 1;
            e.longest = e.longest.max(total);
            (e.remaining == 0).then(|| {
                let list = e.outputs.iter_mut().map(|o| o.take().unwrap_or(Value::Null)).collect();
                (Value::Array(list), e.longest)
            })
        });
        if let Some((list, longest)) = done {
            self.complete(key.node, list, longest, false);
        }
    }

    /// The journal entry, status, progress line and output file of a success.
    fn record_success(&mut self, id: &str, value: &Value, attempts: u32, duration: Duration) {
        self.recorder.journal(Entry::NodeSucceeded {
            node: id.to_string(),
            output: value.clone(),
            attempts,
            duration_ms: duration.as_millis() as u64,
        });
        self.recorder.status(id, NodeState::Succeeded, attempts, "");
        self.recorder.finished(id, NodeState::Succeeded, duration, "");
        if !(value.is_null() || *value == Value::String(String::new())) {
            self.recorder.output(id, value);
        }
    }

    /// Retries while the policy allows (after its backoff); else the node fails and
    /// scheduling stops.
    fn failed(&mut self, key: JobKey, id: String, error: String, attempts: u32, duration: Duration) {
        let ctx = self.ctx.clone();
        let retry = ctx.meta_of(key.node).and_then(|m| ctx.step(&m).ok()).and_then(|s| s.retry.cloned());
        let a = self.attempts.entry(key, 1);
        a.last_error = tail(&error, 2000).into_boxed_str();
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
        if self.is_candidate(key) {
            return self.candidate_ended(key, NodeState::Failed, String::new(), error);
        }
        self.recorder.status(&id, NodeState::Failed, attempts, &error);
        self.recorder.finished(&id, NodeState::Failed, duration, &error);
        self.end_copy(key, id.clone(), NodeState::Failed, attempts, duration, error.clone());
        self.state[key.node.index()] = NodeState::Failed;
        self.failure.get_or_insert((id, error));
        self.stop();
        if self.options.fail_fast {
            let _ = self.cancel.send(Cancel::Failure);
        }
    }

    /// A copy of a run-time map that will not succeed: recorded, and its map ends.
    fn end_copy(
        &mut self,
        key: JobKey,
        id: String,
        state: NodeState,
        attempts: u32,
        duration: Duration,
        error: String,
    ) {
        if key.copy.is_none() {
            return;
        }
        let usage = self.attempts.get(&key).and_then(|a| a.usage());
        let metering = self.attempts.get(&key).and_then(|a| a.metering());
        self.copies.push(Record {
            id: id.into_boxed_str(),
            state,
            attempts,
            duration,
            last_error: error.into_boxed_str(),
            usage: usage.map(Box::new),
            metering: metering.map(Box::new),
            cached: self.attempts.get(&key).and_then(|a| a.cached()),
            decision: None,
            blocked: Box::default(),
            verified: self.attempts.get(&key).and_then(|a| a.verified()),
        });
        self.expansions.remove(&key.node);
    }

    /// Marks a node succeeded, stores its output and releases what waits for it.
    /// Successors restored from the journal complete in turn (iteratively).
    pub(super) fn complete(&mut self, node: NodeIndex, value: Value, duration: Duration, restored: bool) {
        let ctx = self.ctx.clone();
        let mut work = vec![(node, value, duration, restored)];
        while let Some((node, value, duration, restored)) = work.pop() {
            let id = ctx.unit(node).id.clone();
            self.state[node.index()] = NodeState::Succeeded;
            self.duration[node.index()] = duration;
            self.timeline.finished(node.index(), Instant::now());
            self.seq += 1;
            self.finish_seq[node.index()] = self.seq;
            if !restored {
                let attempts = self.attempts.get(&JobKey { node, copy: None }).map_or(1, |a| a.count.max(1));
                self.record_success(&id, &value, attempts, duration);
            }
            ctx.set_output(id, value);
            for succ in ctx.successors(node) {
                let r = &mut self.remaining[succ.index()];
                *r = r.saturating_sub(1);
                if *r == 0 && self.state[succ.index()] == NodeState::Pending {
                    match self.restored.get(&ctx.unit(succ).id).cloned() {
                        Some(v) => {
                            let d = self.restored_history(JobKey { node: succ, copy: None }, &ctx.unit(succ).id);
                            work.push((succ, v, d, true))
                        }
                        None => {
                            self.state[succ.index()] = NodeState::Queued;
                            self.ready.push_back(JobKey { node: succ, copy: None });
                            self.needs_sync |= !restored;
                        }
                    }
                }
            }
        }
    }
}
