//! One go of a job in a workspace of its own: made where it starts (the merged work,
//! with its own earlier attempt's work carried over when its checks failed), run,
//! held to its checks, collected, and merged — or kept on its branch, for a
//! candidate of `best_of`.

use std::sync::Arc;

use tokio::sync::watch;

use super::{confine_to, no_changes, Checkout, Kind, Made};
use crate::engine::accept;
use crate::engine::best_of::Candidacy;
use crate::engine::cache;
use crate::engine::cow;
use crate::engine::job::{Cancel, Executor, Job, Outcome, Ran, Work};
use crate::git::worktree;

impl Checkout {
    /// One go of `job` in a workspace of its own: made at the merged result, run, its
    /// work collected and merged. The conflict, when its work did not merge.
    pub(super) async fn once(
        self: &Arc<Self>,
        mut job: Job,
        executor: &dyn Executor,
        cancel: watch::Receiver<Cancel>,
    ) -> (Ran, Option<String>) {
        let start = {
            let me = self.clone();
            let folded = tokio::task::spawn_blocking(move || me.merger.blocking_lock().fold()).await;
            match folded {
                Ok(Ok(start)) => start,
                Ok(Err(c)) => {
                    let error = format!("the agents' work could not be merged: {c}");
                    return (Outcome::Failed { error }.into(), None);
                }
                Err(e) => return (Outcome::Failed { error: e.to_string() }.into(), None),
            }
        };
        // A retry whose checks failed goes on from its own work (the merged work since
        // brought in), in the session that made it; where that does not merge, from
        // the merged work alone.
        let files_at = match job.carry.take() {
            Some((base, work)) => {
                let (root, ours) = (self.repo.root.clone(), start.clone());
                self.blocking(move || carried(&root, &base, &ours, &work)).await.ok().flatten().unwrap_or(start.clone())
            }
            None => start.clone(),
        };
        let node = job.id.clone();
        let safe: String =
            node.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        let acceptance = job.accept.take();
        let candidate = acceptance.as_ref().and_then(|a| a.candidate);
        // The step cache: the key names the files of where it starts. (Candidates are
        // tried anew: the winner is chosen among this run's.)
        let ticket = job.cache.take().filter(|_| candidate.is_none());
        let key = match &ticket {
            Some(t) => {
                let (root, reads, at) = (self.repo.root.clone(), t.reads.clone(), start.clone());
                self.blocking(move || cache::files_of(&root, &at, &reads)).await.ok().map(|files| t.key(&files))
            }
            None => None,
        };
        if let Some(hit) = ticket.as_ref().zip(key.as_ref()).and_then(|(t, k)| t.look(k, job.log.as_deref())) {
            return (self.replay(&node, &safe, &start, hit).await, None);
        }
        let branch = format!("plan/{}/{safe}", self.dir.id);
        let at = self.dir.workspaces().join(&safe);
        let made = {
            let (repo, kind, branch, files_at) = (self.repo.clone(), self.kind, branch.clone(), files_at.clone());
            self.blocking(move || match kind {
                Kind::CopyOnWrite => cow::prepare(&repo, &at, &branch, &files_at).map(Made::Overlay),
                Kind::Worktree => worktree::add(&repo, &at, &branch, &files_at).map(Made::Worktree),
            })
            .await
        };
        let made = Arc::new(match made {
            Ok(m) => m,
            Err(error) => return (Outcome::Failed { error: error.to_string() }.into(), None),
        });
        if let Work::Process(spec) = &mut job.work {
            match &*made {
                Made::Overlay(o) => o.wrap(&self.repo.root, spec),
                Made::Worktree(wt) => {
                    spec.workdir = Some(match &spec.workdir {
                        Some(d) if d.is_relative() => wt.path.join(d),
                        _ => wt.path.clone(),
                    });
                    // Its `.git` (a file naming the repository) is not the agent's to change.
                    confine_to(spec, &wt.path, wt.path.join(".git"));
                }
            }
        }
        let expect_changes = job.expect_changes || candidate.is_some();
        let check_spec = acceptance.as_ref().and_then(|_| match &job.work {
            Work::Process(spec) => Some(spec.clone()),
            _ => None,
        });
        let log = job.log.clone();
        let mut ran = executor.execute(job, cancel.clone()).await;
        ran.cache_key = key.clone();
        let collected = match ran.outcome {
            Outcome::Succeeded { .. } => {
                let (repo, node, made) = (self.repo.clone(), node.clone(), made.clone());
                self.blocking(move || match &*made {
                    Made::Overlay(o) => cow::collect(&repo, o, &node),
                    Made::Worktree(wt) => worktree::commit(wt, &node),
                })
                .await
            }
            _ => Ok(None),
        };
        // Held to its checks in its workspace, before the workspace goes.
        if let (Some(acc), Ok(work)) = (&acceptance, &collected) {
            let change = match work {
                Some(w) => {
                    let (root, from, to) = (self.repo.root.clone(), start.clone(), w.clone());
                    self.blocking(move || accept::Change::between(&root, &from, &to)).await.ok()
                }
                None => Some(accept::Change::default()),
            };
            let place = accept::Place { spec: check_spec.as_ref(), log };
            accept::attempt::hold(&mut ran, acc, change.as_ref(), place, executor, cancel).await;
            if let (Some(w), false) = (work, ran.checks.as_ref().is_none_or(|c| c.passed)) {
                ran.carry = Some(Box::new((start.clone(), w.clone())));
            }
        }
        {
            let (repo, made) = (self.repo.clone(), made.clone());
            let _ = self
                .blocking(move || {
                    match &*made {
                        Made::Overlay(o) => cow::remove(o),
                        Made::Worktree(wt) => worktree::remove(&repo, wt),
                    }
                    Ok(())
                })
                .await;
        }
        if !matches!(ran.outcome, Outcome::Succeeded { .. }) {
            crate::git::tree::delete_branch(&self.repo.root, &branch);
            return (ran, None);
        }
        let mut conflicted = None;
        match collected {
            Ok(None) => {
                crate::git::tree::delete_branch(&self.repo.root, &branch);
                if expect_changes {
                    ran.outcome = no_changes();
                } else if let (Some(t), Some(k)) = (&ticket, &key) {
                    cache::keep(t, k, &ran, None);
                }
            }
            // A candidate's work waits on its branch for the others.
            Ok(Some(work)) if candidate.is_some() => {
                match crate::git::tree::set_branch(&self.repo.root, &branch, &work) {
                    Ok(()) => ran.candidate = Some(Box::new(Candidacy { start: start.clone(), work, branch })),
                    Err(e) => ran.outcome = Outcome::Failed { error: e.to_string() },
                }
            }
            Ok(Some(work)) => {
                if let (Some(t), Some(k)) = (&ticket, &key) {
                    let (root, from, to) = (self.repo.root.clone(), start.clone(), work.clone());
                    if let Ok(patch) = self.blocking(move || crate::git::tree::patch(&root, &from, &to)).await {
                        cache::keep(t, k, &ran, Some(patch));
                    }
                }
                let me = self.clone();
                let (n, s) = (node.clone(), start.clone());
                let taken = tokio::task::spawn_blocking(move || me.merger.blocking_lock().take(&n, &s, &work)).await;
                match taken {
                    Ok(Ok(())) => crate::git::tree::delete_branch(&self.repo.root, &branch),
                    Ok(Err(conflict)) => {
                        // The branch stays, for a person to look at.
                        ran.outcome = Outcome::Failed { error: format!("{conflict} (its work: branch {branch})") };
                        ran.no_retry = self.on_conflict == plan_schema::OnConflict::Fail;
                        conflicted = Some(conflict.error);
                    }
                    Err(e) => ran.outcome = Outcome::Failed { error: e.to_string() },
                }
            }
            Err(error) => ran.outcome = Outcome::Failed { error: error.to_string() },
        }
        (ran, conflicted)
    }

    /// A job replayed from the cache in a workspace of its own: its stored change,
    /// applied to where it would have started, merged as its work would have been.
    async fn replay(self: &Arc<Self>, node: &str, safe: &str, start: &str, hit: cache::Replayed) -> Ran {
        let Some(patch) = hit.patch.clone() else { return cache::replayed(hit) };
        let (root, index, base) =
            (self.repo.root.clone(), self.dir.root.join(format!("cache-{safe}.index")), start.to_string());
        let message = format!("plan: {node} (replayed from the step cache)");
        let work = match self
            .blocking(move || crate::git::tree::apply_patch(&root, &index, &base, &patch, &message))
            .await
        {
            Ok(w) => w,
            Err(e) => return Outcome::Failed { error: format!("the step cache's change does not apply: {e}") }.into(),
        };
        let me = self.clone();
        let (n, s) = (node.to_string(), start.to_string());
        match tokio::task::spawn_blocking(move || me.merger.blocking_lock().take(&n, &s, &work)).await {
            Ok(Ok(())) => cache::replayed(hit),
            Ok(Err(conflict)) => Outcome::Failed { error: conflict.to_string() }.into(),
            Err(e) => Outcome::Failed { error: e.to_string() }.into(),
        }
    }
}

/// Where a retry starts: the merged work `ours` with its earlier attempt's `work` (a
/// commit on `base`) brought in, as a commit on `ours`; `None` when they conflict.
fn carried(root: &std::path::Path, base: &str, ours: &str, work: &str) -> Result<Option<String>, crate::git::GitError> {
    use crate::git::tree::{commit_tree, merge, Merged};
    if base == ours {
        return Ok(Some(work.to_string()));
    }
    match merge(root, base, ours, work)? {
        Merged::Clean(tree) => commit_tree(root, &tree, &[ours, work], "plan: the attempt before, carried").map(Some),
        Merged::Conflict(_) => Ok(None),
    }
}
