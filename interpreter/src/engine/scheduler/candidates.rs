//! `best_of`: a node's candidates are copies (`agent[0]`, `agent[1]`, ...) that each
//! take a slot; each retries under the agent's policy on its own. When the last ends,
//! the winner (`best_of::choose`) has its work merged and the node completes with its
//! output; when none passed, the node fails naming why each did not.

use std::time::Duration;

use petgraph::graph::NodeIndex;

use super::{Event, Scheduler};
use crate::engine::best_of::{self, Candidate};
use crate::engine::job::{JobKey, Outcome, Ran};
use crate::store::recorder::Recorder;
use crate::store::state::{NodeState, Record};

/// A node's candidates while they run.
pub(super) struct Pool {
    ended: Vec<Option<Candidate>>,
    remaining: usize,
    /// Each candidate's output, for the winner's.
    outputs: Vec<String>,
}

impl<R: Recorder> Scheduler<R> {
    /// Starts `n` candidates of `node`.
    pub(super) fn expand_candidates(&mut self, node: NodeIndex, n: u32) {
        let n = n as usize;
        self.state[node.index()] = NodeState::Running;
        self.candidates.insert(node, Pool { ended: vec![None; n], remaining: n, outputs: vec![String::new(); n] });
        for i in (0..n).rev() {
            self.ready.push_front(JobKey { node, copy: Some(i) });
        }
    }

    /// Whether `key` is a candidate of a `best_of` node.
    pub(super) fn is_candidate(&self, key: JobKey) -> bool {
        key.copy.is_some() && self.candidates.contains_key(&key.node)
    }

    /// A candidate ended for good: recorded; the last one decides the node.
    pub(super) fn candidate_ended(&mut self, key: JobKey, state: NodeState, output: String, error: String) {
        let Some(i) = key.copy else { return };
        let id = self.id(key);
        let a = self.attempts.get(&key);
        let attempts = a.map_or(1, |a| a.count.max(1));
        let all_checks = a.map(|a| a.checks().to_vec()).unwrap_or_default();
        let checks = all_checks.last().cloned();
        let usage = a.and_then(|a| a.usage());
        let duration = a.and_then(|a| a.first_started).map_or(Duration::ZERO, |t| t.elapsed());
        let work = self.attempts.entry(key, 1).agent_mut().candidacy.take().filter(|_| state == NodeState::Succeeded);
        let passed = state == NodeState::Succeeded && work.is_some();
        self.recorder.status(&id, state, attempts, &error);
        // One line: the node's own line says how the candidates ended.
        let said = if error.is_empty() { String::new() } else { format!("candidate: {}", first_line(&error, "")) };
        self.recorder.finished(&id, state, duration, &said);
        self.copies.push(Record {
            id: id.clone().into_boxed_str(),
            state,
            attempts,
            duration,
            last_error: error.clone().into_boxed_str(),
            usage: usage.map(Box::new),
            metering: None,
            cached: None,
            decision: None,
            blocked: Box::default(),
            verified: self.attempts.get(&key).and_then(|a| a.verified()),
        });
        let candidate = Candidate {
            id,
            candidate: i + 1,
            passed,
            attempts,
            score: checks.as_ref().and_then(|c| c.score),
            changed_lines: checks.as_ref().and_then(|c| c.changed_lines),
            cost_usd: usage.and_then(|u| u.cost_usd),
            branch: work.as_ref().map(|w| w.branch.clone()),
            error,
            checks: all_checks,
            winner: false,
            work,
        };
        let Some(pool) = self.candidates.get_mut(&key.node) else { return };
        pool.ended[i] = Some(candidate);
        pool.outputs[i] = output;
        pool.remaining -= 1;
        if pool.remaining == 0 {
            self.decide(key.node);
        }
    }

    /// Every candidate of `node` ended: the winner's work is merged (off the loop),
    /// and the node ends with it; or the node fails.
    fn decide(&mut self, node: NodeIndex) {
        let Some(pool) = self.candidates.get_mut(&node) else { return };
        let mut ended: Vec<Candidate> = pool.ended.iter_mut().filter_map(Option::take).collect();
        let chosen = best_of::choose(&ended);
        let output = chosen.as_ref().map(|(i, _)| std::mem::take(&mut pool.outputs[*i])).unwrap_or_default();
        let key = JobKey { node, copy: None };
        let why = match &chosen {
            Some((i, why)) => {
                ended[*i].winner = true;
                why.clone()
            }
            None => {
                let each: Vec<String> = ended
                    .iter()
                    .map(|c| format!("candidate {}: {}", c.candidate, first_line(&c.error, "changed nothing")))
                    .collect();
                format!("no candidate passed its checks ({})", each.join("; "))
            }
        };
        self.losers.extend(ended.iter().filter(|c| !c.winner).filter_map(|c| c.branch.clone()));
        let work = chosen.and_then(|(i, _)| ended[i].work.clone());
        let verified = self.attempts.entry(key, 1).agent_mut();
        verified.candidates = ended;
        verified.chosen = Some(why.clone());
        self.attempts.entry(key, 1).count = 1;
        let Some(work) = work else {
            self.attempts.entry(key, 1).no_retry = true;
            return self.finish_now(key, Outcome::Failed { error: why });
        };
        let Some(checkout) = self.checkout.clone() else {
            return self.finish_now(key, Outcome::Failed { error: "`best_of` needs a git repository".into() });
        };
        self.running += 1;
        let tx = self.tx.clone();
        let id = self.id(key);
        tokio::spawn(async move {
            let outcome = match checkout.adopt(&id, &work).await {
                Ok(()) => Outcome::Succeeded { stdout: output },
                Err(error) => Outcome::Failed { error },
            };
            let ran: Ran = outcome.into();
            let _ = tx.send(Event::Finished { key, ran: Box::new(ran), duration: Duration::ZERO });
        });
    }

    /// The run ended: the candidates that lost have their branches deleted.
    pub(super) fn drop_losers(&mut self) {
        if let Some(checkout) = &self.checkout {
            for branch in self.losers.drain(..) {
                crate::git::tree::delete_branch(&checkout.root(), &branch);
            }
        }
    }
}

/// The first line of a candidate's error that says what failed (a check's evidence
/// starts with `- `).
fn first_line<'a>(text: &'a str, empty: &'a str) -> &'a str {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("- ").map(|l| l.trim_end_matches("; its last lines:")))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("");
    if line.is_empty() {
        empty
    } else {
        line
    }
}
