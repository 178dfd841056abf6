//! Starting a node: a vote or a map expansion is decided on the loop; everything
//! else is prepared (templates rendered) and handed to a worker task that places it
//! (worktree, prompt file) and runs it with the executor, off the loop.

use std::time::{Duration, Instant};

use plan_compiler::graph::UnitKind;

use super::{Event, Scheduler};
use crate::engine::consensus::Vote;
use crate::engine::job::{Job, JobKey, Outcome, Work};
use crate::engine::prepare::{Prepared, Preparer};
use crate::engine::render::NodeVars;
use crate::engine::workspace::{self, Placement};
use crate::store::journal::Entry;
use crate::store::recorder::Recorder;
use crate::store::state::NodeState;

impl<R: Recorder> Scheduler<R> {
    /// Starts a job, or finishes it at once when there is nothing to run.
    pub(super) fn dispatch(&mut self, key: JobKey) {
        let ctx = self.ctx.clone();
        let unit = ctx.unit(key.node);
        if key.copy.is_none() {
            self.timeline.dispatched(key.node.index());
        }
        if let UnitKind::Publish { step } = unit.kind {
            return self.dispatch_publish(key, step);
        }
        if unit.kind == UnitKind::Hold {
            return self.dispatch_hold(key, unit.id.clone());
        }
        let Some(meta) = ctx.meta_of(key.node) else {
            return self.finish_now(key, Outcome::Failed { error: format!("unknown agent `{}`", unit.agent()) });
        };
        if unit.kind == UnitKind::DynamicMap && key.copy.is_none() {
            return self.expand(key.node);
        }
        let step = match ctx.step(&meta) {
            Ok(step) => step,
            Err(error) => {
                self.attempts.entry(key, 0).no_retry = true;
                return self.finish_now(key, Outcome::Failed { error: error.to_string() });
            }
        };
        if step.best_of > 1 && key.copy.is_none() {
            return self.expand_candidates(key.node, step.best_of);
        }
        // Spent stays spent (also after a resume): nothing new starts.
        let spent = self.spent().exceeded(&meta.agent.id, step.budget);
        if let Some(message) = spent {
            self.attempts.entry(key, 0).no_retry = true;
            return self.finish_now(key, Outcome::Failed { error: message });
        }
        let vote = match &unit.kind {
            UnitKind::Gather { consensus, has_agent } => {
                let vote = self.vote(key.node, *consensus);
                if !*has_agent {
                    return self.finish_now(key, vote_outcome(&vote, *consensus));
                }
                self.votes.insert(key.node, vote.clone());
                Some(vote)
            }
            _ => None,
        };
        let item = match (&unit.kind, key.copy) {
            (UnitKind::MapCopy { item, .. }, _) => Some(serde_json::Value::clone(item)),
            (UnitKind::DynamicMap, Some(i)) => self.expansions.get(&key.node).and_then(|e| e.items.get(i).cloned()),
            _ => None,
        };
        let a = self.attempts.entry(key, 0);
        a.count += 1;
        let (attempt, last_error, session) = (a.count, a.last_error.clone(), a.session().cloned());
        let id = self.id(key);
        let candidate = key.copy.filter(|_| self.is_candidate(key));
        let pass = self.gateway_pass(&step, &id, &meta.agent.id, attempt);
        let vars = NodeVars {
            attempt,
            last_error: &last_error,
            item: item.as_ref(),
            consensus: vote.as_ref(),
            node_id: &id,
            session: session.as_deref(),
            cost_left: self.spent().cost_left(&meta.agent.id, step.budget),
            gateway: pass.as_ref(),
            candidate,
        };
        match Preparer::new(&self.renderer).prepare(&step, meta, &vars) {
            Err(error) => {
                if let Some(a) = self.attempts.get_mut(&key) {
                    a.no_retry = true;
                }
                self.finish_now(key, Outcome::Failed { error: error.to_string() });
            }
            Ok(Prepared::Done(stdout)) => self.finish_now(key, Outcome::Succeeded { stdout }),
            Ok(Prepared::Run(work, cache)) => {
                let accept = match crate::engine::accept::prepare(&self.renderer, &step, meta, &vars, candidate) {
                    Ok(a) => a,
                    Err(error) => {
                        self.attempts.entry(key, 1).no_retry = true;
                        return self.finish_now(key, Outcome::Failed { error: error.to_string() });
                    }
                };
                let placing = Placing {
                    timeout: step.timeout.map(|d| d.as_std()),
                    isolated: step.workspace == plan_schema::Workspace::Worktree,
                    expect_changes: step.expect_changes,
                    cache,
                    accept,
                };
                self.start(key, attempt, work, placing);
            }
        }
    }

    /// Starts a publishing step: after every agent, so its templates see the agents'
    /// report as it stands.
    fn dispatch_publish(&mut self, key: JobKey, step: plan_compiler::graph::PublishStep) {
        let a = self.attempts.entry(key, 0);
        a.count += 1;
        a.no_retry = true;
        let attempt = a.count;
        if self.publish_vars.is_none() {
            let mut snapshot = self.snapshot();
            let report = crate::engine::publish::report_of(&self.ctx, &mut snapshot);
            self.publish_vars = Some(self.renderer.git_context(&report));
        }
        let vars = self.publish_vars.clone().unwrap_or_default();
        match crate::engine::publish::prepare(&self.renderer, step, &vars, self.ctx.publish) {
            Err(error) => self.finish_now(key, Outcome::Failed { error: error.to_string() }),
            Ok(None) => self.finish_now(key, Outcome::Succeeded { stdout: String::new() }),
            Ok(Some(work)) => self.start(
                key,
                attempt,
                work,
                Placing { timeout: None, isolated: false, expect_changes: false, cache: None, accept: None },
            ),
        }
    }

    /// Starts the hold before every node (`plan run --hold`): a gate whose message is
    /// the one the run was given.
    fn dispatch_hold(&mut self, key: JobKey, node: String) {
        let a = self.attempts.entry(key, 0);
        a.count += 1;
        a.no_retry = true;
        let attempt = a.count;
        let gate = crate::engine::approval::Gate {
            run_root: self.ctx.dir.root.clone(),
            node,
            run_id: self.ctx.dir.id.clone(),
            message: self.ctx.hold.clone().unwrap_or_default(),
            timeout: None,
            approve_on_timeout: false,
        };
        self.start(
            key,
            attempt,
            Work::Approval(gate),
            Placing { timeout: None, isolated: false, expect_changes: false, cache: None, accept: None },
        );
    }

    /// Records the start and hands the job to a worker task.
    fn start(&mut self, key: JobKey, attempt: u32, work: Work, placing: Placing) {
        let Placing { timeout, isolated, expect_changes, cache, accept } = placing;
        let carry = self.attempts.get(&key).and_then(|a| a.carry());
        // Facts are on disk before work that depends on them starts. (The journal
        // thread writes everything else as it comes; steps with no work wait for no disk.)
        if self.needs_sync {
            self.recorder.sync();
            self.needs_sync = false;
        }
        let id = self.id(key);
        self.recorder.journal(Entry::NodeStarted { node: id.clone(), attempt, at: crate::store::clock::now() });
        let state = if work.is_gate() {
            self.gates.insert(key);
            NodeState::Waiting
        } else {
            NodeState::Running
        };
        self.recorder.status(&id, state, attempt, "");
        if key.copy.is_none() {
            self.state[key.node.index()] = state;
        }
        let dir = &self.ctx.dir;
        let prompt_file = Some(dir.prompt_file(&id));
        let log = Some(dir.log(&id));
        let job = Job { expect_changes, id, work, timeout, log, cache, accept, carry };
        let executor = self.executor.clone();
        let checkout = self.checkout.clone();
        let cancel = self.cancel.subscribe();
        let tx = self.tx.clone();
        self.running += 1;
        // An agent's duration is its process's life, start to exit; steps without a
        // process count from the moment they are handed to the worker. What lies
        // around it (preparing, spawning, reading its output) is coordination.
        let t = Instant::now();
        tokio::spawn(async move {
            let ran = match checkout {
                Some(checkout) => {
                    checkout.run(job, Placement { isolated, prompt_file }, executor.as_ref(), cancel).await
                }
                None => workspace::run_plain(job, prompt_file, executor.as_ref(), cancel).await,
            };
            let duration = ran.lifetime.unwrap_or_else(|| t.elapsed());
            let _ = tx.send(Event::Finished { key, ran: Box::new(ran), duration });
        });
    }

    /// Finishes a job that needs no worker (nothing to run, or it failed to prepare).
    pub(super) fn finish_now(&mut self, key: JobKey, outcome: Outcome) {
        self.running += 1;
        self.handle(Event::Finished { key, ran: Box::new(outcome.into()), duration: Duration::ZERO });
    }
}

/// How a prepared job runs.
struct Placing {
    timeout: Option<Duration>,
    isolated: bool,
    expect_changes: bool,
    cache: Option<Box<crate::engine::cache::Ticket>>,
    accept: Option<Box<crate::engine::accept::Acceptance>>,
}

/// A gather without an agent of its own succeeds with the agreed value.
fn vote_outcome(vote: &Vote, consensus: plan_schema::Consensus) -> Outcome {
    if vote.agreed {
        return Outcome::Succeeded { stdout: vote.value.to_string() };
    }
    Outcome::Failed {
        error: format!(
            "no consensus ({consensus}) among {} answers; votes: {}",
            vote.votes.values().sum::<usize>(),
            serde_json::to_string(&vote.votes).unwrap_or_default()
        ),
    }
}
