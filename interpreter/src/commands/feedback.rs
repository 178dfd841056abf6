//! `plan run --resume RUN --feedback FILE`: a finished run's step re-entered with
//! feedback on what it published — a failed CI check, a reviewer's request. The step
//! that owns the work (the file's `agent`, else the coding agent that succeeded last)
//! and everything after it (its checks, the commit, the push, the pull request) run
//! again; the step's attempts go on in its session, told the feedback as the attempt
//! before's error. Its fix lands on the same branch and pull request. A step is
//! re-entered at most as often as its retry policy allows attempts (once without
//! one); the plan's budget holds across rounds, as across any resume.

use std::path::Path;

use plan_compiler::graph::PlanGraph;
use plan_compiler::resolve::{self, Work};
use plan_schema::{Agent, Plan};
use serde::Deserialize;

use crate::error::Error;
use crate::store::journal::Entry;
use crate::store::resume::{Reentry, Resumed};

/// What a round of feedback says.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// `check_run`, `check_suite`, `review`, `review_comment` or `manual`.
    pub kind: String,
    /// What failed, or what was asked: a check's output, a review's comments.
    pub text: String,
    /// The check's name, the review's summary.
    #[serde(default)]
    pub title: String,
    /// Where it came from (an address).
    #[serde(default)]
    pub source: String,
    /// Who said it.
    #[serde(default)]
    pub by: String,
    /// The step to re-enter (default: the coding agent that succeeded last).
    #[serde(default)]
    pub agent: Option<String>,
}

impl Feedback {
    pub fn read(path: &Path) -> Result<Feedback, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: not feedback ({e}): write {{\"kind\": \"manual\", \"text\": \"...\"}}",
                path.display()
            ))
        })
    }

    /// What the step is told: the headline, then the text as data.
    fn prompt(&self) -> String {
        let by = if self.by.is_empty() { String::new() } else { format!(" ({})", self.by) };
        let head = match self.kind.as_str() {
            "check_run" | "check_suite" => format!(
                "Your change was published as a pull request, and its check `{}` failed{by}. Its output:",
                self.title
            ),
            "review" | "review_comment" => format!("A reviewer{by} asked for changes on your pull request:"),
            _ => format!("Feedback on your published change{by}:"),
        };
        format!(
            "{head}\n\n{}\n\nChange the code so that this is resolved; keep the rest of your work.",
            self.text.trim()
        )
    }
}

/// The re-entry of this run, if any: the feedback file's (its journal entry to
/// record), or the one a killed feedback round left.
pub fn of_run(
    file: Option<&Path>,
    resumed: Option<&mut Resumed>,
    plan: &Plan,
    graph: &PlanGraph,
) -> Result<(Option<Entry>, Option<Reentry>), Error> {
    match (file, resumed) {
        (Some(f), Some(r)) => {
            let (entry, reentry) = reenter(&Feedback::read(f)?, r, plan, graph)?;
            Ok((Some(entry), Some(reentry)))
        }
        (None, Some(r)) => Ok((None, r.reentry.clone())),
        _ => Ok((None, None)),
    }
}

/// Re-enters the step `feedback` is for: `resumed` forgets it and what follows it;
/// the journal entry to record and the re-entry for the scheduler.
pub fn reenter(
    feedback: &Feedback,
    resumed: &mut Resumed,
    plan: &Plan,
    graph: &PlanGraph,
) -> Result<(Entry, Reentry), Error> {
    let node = match &feedback.agent {
        Some(a) => a.clone(),
        None => owner(resumed, plan).ok_or_else(|| {
            Error::refused(format!("run {} has no coding agent that succeeded: nothing to re-enter", resumed.dir.id))
        })?,
    };
    let ix = graph.node(&node).ok_or_else(|| Error::refused(format!("no step `{node}` in this run's plan")))?;
    let agent = find(plan, &node).ok_or_else(|| Error::refused(format!("no agent `{node}` in this run's plan")))?;
    let allowed = resolve::step(plan, agent).ok().and_then(|s| s.retry.map(|r| r.attempts)).unwrap_or(1).max(1);
    let round = resumed.rounds.get(&node).copied().unwrap_or(0) + 1;
    if round > allowed {
        return Err(Error::refused(format!(
            "agent `{node}` had its {allowed} round(s) of feedback (its `retry.attempts`): nothing re-entered"
        )));
    }
    let mut reopened = Vec::new();
    let mut dfs = petgraph::visit::Dfs::new(&graph.graph, ix);
    while let Some(n) = dfs.next(&graph.graph) {
        reopened.push(graph.unit(n).id.clone());
    }
    // Copies of a run-time map that follows it go with it.
    let copies: Vec<String> = resumed
        .outputs
        .keys()
        .filter(|k| k.split_once('[').is_some_and(|(base, _)| reopened.iter().any(|r| r == base)))
        .cloned()
        .collect();
    reopened.extend(copies);
    let attempts = resumed.history.get(&node).map_or(0, |h| h.0);
    for n in &reopened {
        resumed.outputs.remove(n);
        resumed.history.remove(n);
    }
    let text = feedback.prompt();
    let entry = Entry::Reentered {
        node: node.clone(),
        round,
        kind: feedback.kind.clone(),
        source: feedback.source.clone(),
        feedback: text.clone(),
        reopened,
        at: crate::store::clock::now(),
    };
    let session = resumed.sessions.get(&node).cloned();
    Ok((entry, Reentry { node, round, feedback: text, attempts, session }))
}

/// The step that owns a run's work: the coding agent (or runner) that succeeded last.
fn owner(resumed: &Resumed, plan: &Plan) -> Option<String> {
    resumed.succeeded.iter().rev().filter(|n| !n.contains('[')).find_map(|n| {
        let agent = find(plan, n)?;
        let coding = matches!(resolve::step(plan, agent).ok()?.work, Work::Coding(_) | Work::Runner { .. });
        coding.then(|| n.clone())
    })
}

fn find<'p>(plan: &'p Plan, id: &str) -> Option<&'p Agent> {
    plan.agent.all().find(|a| a.id == id)
}
