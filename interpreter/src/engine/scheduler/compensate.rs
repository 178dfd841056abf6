//! Sagas: when a run fails or is interrupted, the `compensate` of every finished
//! step of each unfinished saga runs, in reverse order of completion.

use std::time::Instant;

use tokio::sync::watch;

use super::Scheduler;
use crate::engine::job::{Cancel, Job, Outcome};
use crate::engine::prepare::Preparer;
use crate::store::journal::Entry;
use crate::store::recorder::Recorder;
use crate::store::state::NodeState;

impl<R: Recorder> Scheduler<R> {
    /// reverse order of completion.
    pub(super) async fn compensate(&mut self) -> Vec<(String, bool)> {
        let ctx = self.ctx.clone();
        let mut done = Vec::new();
        for saga in &ctx.graph.sagas {
            let mut finished: Vec<(usize, &String)> = Vec::new();
            let mut complete = true;
            for step in &saga.steps {
                let Some(block) = ctx.graph.block(step) else {
                    continue;
                };
                let ok = block.exits.iter().chain(block.entries).all(|n| self.state[n.index()] == NodeState::Succeeded)
                    && !block.exits.is_empty();
                if ok {
                    let seq = block.exits.iter().map(|n| self.finish_seq[n.index()] as usize).max().unwrap_or(0);
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
                let Some(meta) = ctx.tree.get(step) else {
                    continue;
                };
                let work = match Preparer::new(&self.renderer).compensation(meta) {
                    Ok(Some(w)) => w,
                    Ok(None) => continue,
                    Err(e) => {
                        let error = Some(e.to_string());
                        self.recorder.journal(Entry::Compensated { agent: step.clone(), ok: false, error });
                        done.push((step.clone(), false));
                        continue;
                    }
                };
                let log = Some(ctx.dir.compensate_log(step));
                let job = Job {
                    expect_changes: false,
                    accept: None,
                    carry: None,
                    id: format!("{step}.compensate"),
                    work,
                    timeout: meta.agent.timeout.map(|d| d.as_std()),
                    log,
                    cache: None,
                };
                // Compensation runs even when the run was cancelled: it gets a fresh signal.
                let (_keep, rx) = watch::channel(Cancel::None);
                let t = Instant::now();
                self.recorder.send();
                let outcome = self.executor.execute(job, rx).await.outcome;
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
