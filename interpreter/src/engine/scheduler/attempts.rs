//! What the scheduler knows of each node's attempts: how many, the last error, when
//! the first started, and what a coding agent's attempts left (session, spending).

use rustc_hash::FxHashMap;

use crate::engine::job::JobKey;
use crate::store::usage::Usage;

/// One node's (or copy's) attempts so far. A run of 100,000 agents holds 100,000 of
/// these; what only coding agents have is boxed.
pub(super) struct Attempts {
    pub(super) count: u32,
    pub(super) no_retry: bool,
    pub(super) last_error: Box<str>,
    pub(super) first_started: Option<std::time::Instant>,
    agent: Option<Box<AgentAttempts>>,
}

/// What a coding agent's attempts leave.
#[derive(Default)]
pub(super) struct AgentAttempts {
    /// Its session, continued by the next attempt.
    pub(super) session: Option<String>,
    /// What it spent over its attempts.
    pub(super) usage: Option<Usage>,
    /// What its sandbox refused it.
    pub(super) blocked: Vec<String>,
    /// What the model gateway measured of its attempts.
    pub(super) metering: Option<crate::store::usage::Metering>,
    /// Replayed from the step cache: what producing it had spent.
    pub(super) cached: Option<Usage>,
    /// What each attempt's acceptance checks found.
    pub(super) checks: Vec<crate::engine::accept::Checks>,
    /// The last attempt's work that failed its checks: the retry goes on from it.
    pub(super) carry: Option<(String, String)>,
    /// A candidate's work, waiting for the others.
    pub(super) candidacy: Option<crate::engine::best_of::Candidacy>,
    /// A `best_of` node's candidates, and why the winner won (or why none did).
    pub(super) candidates: Vec<crate::engine::best_of::Candidate>,
    pub(super) chosen: Option<String>,
}

impl Attempts {
    pub(super) fn new(count: u32) -> Self {
        Attempts { count, last_error: Box::default(), first_started: None, no_retry: false, agent: None }
    }

    pub(super) fn session(&self) -> Option<&String> {
        self.agent.as_ref()?.session.as_ref()
    }

    pub(super) fn usage(&self) -> Option<Usage> {
        self.agent.as_ref()?.usage
    }

    pub(super) fn cached(&self) -> Option<Box<Usage>> {
        self.agent.as_ref()?.cached.map(Box::new)
    }

    pub(super) fn metering(&self) -> Option<crate::store::usage::Metering> {
        self.agent.as_ref()?.metering.clone()
    }

    /// What its sandbox refused it, over its attempts.
    pub(super) fn blocked(&self) -> Box<[String]> {
        self.agent.as_ref().map(|a| a.blocked.clone().into_boxed_slice()).unwrap_or_default()
    }

    /// Work the next attempt goes on from.
    pub(super) fn carry(&self) -> Option<(String, String)> {
        self.agent.as_ref()?.carry.clone()
    }

    /// Each attempt's checks so far.
    pub(super) fn checks(&self) -> &[crate::engine::accept::Checks] {
        self.agent.as_ref().map_or(&[], |a| &a.checks)
    }

    /// What its checks and candidates showed, for the report.
    pub(super) fn verified(&self) -> Option<Box<crate::store::state::Verified>> {
        let a = self.agent.as_ref()?;
        if a.checks.is_empty() && a.candidates.is_empty() {
            return None;
        }
        Some(Box::new(crate::store::state::Verified {
            checks: a.checks.clone(),
            candidates: a.candidates.clone(),
            chosen: a.chosen.clone(),
        }))
    }

    pub(super) fn agent_mut(&mut self) -> &mut AgentAttempts {
        self.agent.get_or_insert_with(Box::default)
    }
}

/// Attempts by node, in a vector (a run of 100,000 nodes has that many), and those of
/// run-time copies by key.
pub(super) struct AttemptBook {
    nodes: Vec<Option<Attempts>>,
    copies: FxHashMap<JobKey, Attempts>,
}

impl AttemptBook {
    pub(super) fn new(nodes: usize) -> Self {
        AttemptBook { nodes: (0..nodes).map(|_| None).collect(), copies: FxHashMap::default() }
    }

    /// The attempts of `key`, begun at `count` when there were none.
    pub(super) fn entry(&mut self, key: JobKey, count: u32) -> &mut Attempts {
        match key.copy {
            None => {
                let i = key.node.index();
                if i >= self.nodes.len() {
                    self.nodes.resize_with(i + 1, || None);
                }
                self.nodes[i].get_or_insert_with(|| Attempts::new(count))
            }
            Some(_) => self.copies.entry(key).or_insert_with(|| Attempts::new(count)),
        }
    }

    pub(super) fn get(&self, key: &JobKey) -> Option<&Attempts> {
        match key.copy {
            None => self.nodes.get(key.node.index())?.as_ref(),
            Some(_) => self.copies.get(key),
        }
    }

    pub(super) fn get_mut(&mut self, key: &JobKey) -> Option<&mut Attempts> {
        match key.copy {
            None => self.nodes.get_mut(key.node.index())?.as_mut(),
            Some(_) => self.copies.get_mut(key),
        }
    }
}
