//! Where a job runs, set up off the scheduler's loop: its prompt file, and for an
//! agent with `workspace: worktree` a git worktree of its own, committed when it
//! succeeds and merged back into the checkout before the next agent that works in
//! the shared checkout starts (and at the end of the run). All git runs on tokio's
//! blocking pool; merges are serialised by one lock.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{watch, Mutex};

use crate::engine::job::{Cancel, Executor, Job, Outcome, Ran, Work};
use crate::git::{GitError, Repo, Worktree};
use crate::store::rundir::RunDir;

/// The main checkout of a run that uses git, and the finished worktrees not yet
/// merged back into it, in the order they finished.
pub struct Checkout {
    repo: Repo,
    dir: RunDir,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    worktrees: Vec<(String, Worktree)>,
    /// A merge that conflicted: the checkout is left for a person to look at, and
    /// nothing else is merged or started in it.
    conflict: Option<MergeConflict>,
}

/// The work of agent `node` could not be merged back.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{error}")]
pub struct MergeConflict {
    pub node: String,
    pub error: String,
}

/// How one job is placed: in the shared checkout or a worktree of its own, and where
/// its prompt is written.
pub struct Placement {
    pub isolated: bool,
    pub prompt_file: Option<PathBuf>,
}

impl Checkout {
    pub fn new(repo: Repo, dir: RunDir) -> Self {
        Checkout { repo, dir, pending: Mutex::new(Pending::default()) }
    }

    /// Runs `job` where `placement` says, with `executor`.
    pub async fn run(
        self: &Arc<Self>,
        mut job: Job,
        placement: Placement,
        executor: &dyn Executor,
        cancel: watch::Receiver<Cancel>,
    ) -> Ran {
        write_prompt_file(&mut job, placement.prompt_file).await;
        if !placement.isolated || !matches!(job.work, Work::Process(_)) {
            if let Err(conflict) = self.merge_pending().await {
                let error = format!("the work of `{}` could not be merged back: {conflict}", conflict.node);
                return Outcome::Failed { error }.into();
            }
            return self.run_shared(job, executor, cancel).await;
        }
        let id = job.id.clone();
        // Git on the main checkout (its index) runs one operation at a time.
        let guard = self.pending.lock().await;
        let wt = match self
            .blocking({
                let (repo, run_dir, run_id, id) =
                    (self.repo.clone(), self.dir.worktrees(), self.dir.id.clone(), id.clone());
                move || crate::git::add_worktree(&repo, &run_dir, &run_id, &id)
            })
            .await
        {
            Ok(wt) => wt,
            Err(error) => return Outcome::Failed { error: error.to_string() }.into(),
        };
        drop(guard);
        if let Work::Process(spec) = &mut job.work {
            spec.workdir = Some(match &spec.workdir {
                Some(d) if d.is_relative() => wt.path.join(d),
                _ => wt.path.clone(),
            });
        }
        let expect_changes = job.expect_changes;
        let mut ran = executor.execute(job, cancel).await;
        if !matches!(ran.outcome, Outcome::Succeeded { .. }) {
            return ran;
        }
        let committed = self
            .blocking({
                let (wt, id) = (wt.clone(), id.clone());
                move || crate::git::commit_worktree(&wt, &id)
            })
            .await;
        match committed {
            Ok(false) if expect_changes => ran.outcome = no_changes(),
            Ok(_) => self.pending.lock().await.worktrees.push((id, wt)),
            Err(error) => ran.outcome = Outcome::Failed { error: error.to_string() },
        }
        ran
    }

    /// Runs `job` in the shared checkout; with `expect: changes`, compares the tree
    /// before and after.
    async fn run_shared(&self, job: Job, executor: &dyn Executor, cancel: watch::Receiver<Cancel>) -> Ran {
        if !job.expect_changes {
            return executor.execute(job, cancel).await;
        }
        let state = |root: PathBuf| self.blocking(move || crate::git::tree_state(&root));
        let before = match state(self.repo.root.clone()).await {
            Ok(s) => s,
            Err(error) => return Outcome::Failed { error: error.to_string() }.into(),
        };
        let mut ran = executor.execute(job, cancel).await;
        if matches!(ran.outcome, Outcome::Succeeded { .. }) {
            match state(self.repo.root.clone()).await {
                Ok(after) if after == before => ran.outcome = no_changes(),
                Ok(_) => {}
                Err(error) => ran.outcome = Outcome::Failed { error: error.to_string() },
            }
        }
        ran
    }

    /// Merges every finished worktree back into the checkout, in the order they
    /// finished, and removes it. A conflict names the files and keeps the worktree;
    /// after one, every later call reports it again.
    pub async fn merge_pending(&self) -> Result<(), MergeConflict> {
        let mut pending = self.pending.lock().await;
        if let Some(conflict) = &pending.conflict {
            return Err(conflict.clone());
        }
        while !pending.worktrees.is_empty() {
            let (node, wt) = pending.worktrees.remove(0);
            let repo = self.repo.clone();
            let merged = self
                .blocking(move || {
                    crate::git::merge_back(&repo, &wt)?;
                    crate::git::remove_worktree(&repo, &wt);
                    Ok(())
                })
                .await;
            if let Err(error) = merged {
                let conflict = MergeConflict { node, error: error.to_string() };
                pending.conflict = Some(conflict.clone());
                return Err(conflict);
            }
        }
        Ok(())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, GitError> + Send + 'static,
    ) -> Result<T, GitError> {
        tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(GitError::Task(e.to_string())))
    }
}

/// Runs `job` with no checkout to manage (no git in this run).
pub async fn run_plain(
    mut job: Job,
    prompt_file: Option<PathBuf>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) -> Ran {
    if job.expect_changes {
        return Outcome::Failed { error: "`expect: changes` needs a git repository to compare against".into() }.into();
    }
    write_prompt_file(&mut job, prompt_file).await;
    executor.execute(job, cancel).await
}

fn no_changes() -> Outcome {
    Outcome::Failed {
        error: "the agent changed no files, and `expect: changes` asks it to: the attempt counts as failed".into(),
    }
}

/// The prompt also goes to a file of its own (one per copy of a map), named to the
/// agent in `PLAN_PROMPT_FILE`.
async fn write_prompt_file(job: &mut Job, path: Option<PathBuf>) {
    let (Work::Process(spec), Some(path)) = (&mut job.work, path) else {
        return;
    };
    let Some(stdin) = &spec.stdin else {
        return;
    };
    let (file, text) = (path.clone(), stdin.clone());
    let _ = tokio::task::spawn_blocking(move || crate::store::rundir::write_atomic(&file, text.as_bytes())).await;
    spec.env.insert("PLAN_PROMPT_FILE".into(), path.display().to_string());
}
