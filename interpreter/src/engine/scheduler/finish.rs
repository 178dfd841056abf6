//! A job's result: success stores the output and releases what waits for it; a
//! failure is retried with backoff while the policy allows, else it fails the node
//! and stops scheduling.

use std::time::Duration;

use petgraph::graph::NodeIndex;
use serde_json::Value;

use super::{parse_output, tail, Attempts, Event, Scheduler};
use crate::engine::job::{Cancel, JobKey, Outcome};
use crate::engine::retry::{backoff_delay, retry_of};
use crate::store::journal::Entry;
use crate::store::recorder::Recorder;
use crate::store::state::{NodeState, Record};

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
            Event::Finished { key, outcome, duration } => {
                self.running = self.running.saturating_sub(1);
                self.finished(key, outcome, duration);
            }
        }
    }

    fn finished(&mut self, key: JobKey, outcome: Outcome, duration: Duration) {
        let id = self.id(key);
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
                let ctx = self.ctx.clone();
                let retry = ctx.meta_of(key.node).and_then(|m| retry_of(m, ctx.plan.defaults.as_ref()));
                let a = self.attempts.entry(key).or_insert_with(|| Attempts::new(1));
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
    pub(super) fn complete(&mut self, node: NodeIndex, value: Value, duration: Duration, restored: bool) {
        let ctx = self.ctx.clone();
        let mut work = vec![(node, value, duration, restored)];
        while let Some((node, value, duration, restored)) = work.pop() {
            let id = ctx.unit(node).id.clone();
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
            ctx.set_output(id, value);
            for succ in ctx.successors(node) {
                let r = &mut self.remaining[succ.index()];
                *r = r.saturating_sub(1);
                if *r == 0 && self.state[succ.index()] == NodeState::Waiting {
                    match self.restored.get(&ctx.unit(succ).id).cloned() {
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
}
