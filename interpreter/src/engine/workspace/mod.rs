//! Where a job runs, set up off the scheduler's loop: its prompt file, and for an
//! agent with `workspace: worktree` a workspace of its own — copy-on-write (`cow`)
//! where the kernel allows, else a `git worktree` — that starts from everything
//! merged so far. When the agent succeeds, what it wrote becomes a commit on its
//! branch, merged at once into the run's merged result (`merge`); a conflict fails the
//! attempt (its retry starts on top of the merged work) and never reaches the
//! checkout. All git runs on tokio's blocking pool; merging is serialised by one lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{watch, Mutex};

use crate::engine::accept;
use crate::engine::best_of::Candidacy;
use crate::engine::cache;
use crate::engine::cow::{self, Overlay};

mod own;
use crate::engine::job::{Cancel, Executor, Job, Outcome, Ran, Work};
pub use crate::engine::merge::MergeConflict;
use crate::engine::merge::Merger;
use crate::git::worktree::Worktree;
use crate::git::{GitError, Repo};
use crate::store::rundir::RunDir;

/// What workspaces of their own are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Overlays of the checkout: no copy.
    CopyOnWrite,
    /// `git worktree`s: a full checkout each.
    Worktree,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CopyOnWrite => "copy-on-write",
            Kind::Worktree => "worktree",
        }
    }
}

/// The checkout of a run that uses git, and its merged result.
pub struct Checkout {
    repo: Repo,
    dir: RunDir,
    pub kind: Kind,
    on_conflict: plan_schema::OnConflict,
    merger: Mutex<Merger>,
}

/// How one job is placed: in the shared checkout or a workspace of its own, and where
/// its prompt is written.
pub struct Placement {
    pub isolated: bool,
    pub prompt_file: Option<PathBuf>,
}

/// A workspace of its own, made.
enum Made {
    Overlay(Overlay),
    Worktree(Worktree),
}

impl Checkout {
    /// The checkout of `repo` for run `dir`. Copy-on-write workspaces when the
    /// repository has a `.git` directory and the kernel mounts an overlay here
    /// (`PLAN_WORKSPACES=worktree` asks for worktrees).
    pub fn open(repo: Repo, dir: RunDir, on_conflict: plan_schema::OnConflict) -> Result<Self, GitError> {
        let wanted = std::env::var("PLAN_WORKSPACES").ok();
        let kind = if wanted.as_deref() != Some("worktree")
            && repo.root.join(".git").is_dir()
            && cow::available(&dir.workspaces().join(".probe"))
        {
            Kind::CopyOnWrite
        } else {
            Kind::Worktree
        };
        let merger = Merger::open(repo.clone(), &dir)?;
        Ok(Checkout { repo, dir, kind, on_conflict, merger: Mutex::new(merger) })
    }

    /// Runs `job` where `placement` says, with `executor`.
    pub async fn run(
        self: &Arc<Self>,
        mut job: Job,
        placement: Placement,
        executor: &dyn Executor,
        cancel: watch::Receiver<Cancel>,
    ) -> Ran {
        let placement_prompt = placement.prompt_file.clone();
        write_prompt_file(&mut job, placement.prompt_file).await;
        if !placement.isolated || !matches!(job.work, Work::Process(_)) {
            if let Err(conflict) = self.sync().await {
                let error = format!("the agents' work could not be merged: {conflict}");
                return Outcome::Failed { error }.into();
            }
            let process = matches!(job.work, Work::Process(_));
            let ran = self.run_shared(job, executor, cancel).await;
            if process {
                self.merger.lock().await.touch();
            }
            return ran;
        }
        let resolver = (self.on_conflict == plan_schema::OnConflict::Agent).then(|| job.clone());
        let (mut ran, conflict) = self.once(job, executor, cancel.clone()).await;
        // `on_conflict: agent`: the agent's own runner, in a workspace on the merged
        // work, resolves it — given both sides — within the same attempt.
        if let (Some(mut again), Some(conflict)) = (resolver, conflict) {
            resolve_prompt(&mut again, &conflict);
            write_prompt_file(&mut again, placement_prompt).await;
            let (resolved, _) = self.once(again, executor, cancel).await;
            let mut usage = ran.usage.unwrap_or_default();
            usage.add(&resolved.usage.unwrap_or_default());
            ran = Ran { usage: Some(usage).filter(|u| !u.is_empty()), ..resolved };
        }
        ran
    }

    /// Runs `job` in the shared checkout; with `expect: changes`, compares the tree
    /// before and after (a job the cache may replay: `cache::in_checkout`).
    async fn run_shared(&self, mut job: Job, executor: &dyn Executor, cancel: watch::Receiver<Cancel>) -> Ran {
        if let Work::Process(spec) = &mut job.work {
            confine_to(spec, &self.repo.root, self.repo.root.join(".git"));
        }
        if let Some(acc) = job.accept.take() {
            return accept::attempt::in_checkout(&self.repo.root, &self.dir.root, job, acc, executor, cancel).await;
        }
        // A step that must change files cannot be cached here (its change is not its own).
        if let Some(ticket) = job.cache.take().filter(|_| !job.expect_changes) {
            return cache::in_checkout(*ticket, &self.repo.root, job, executor, cancel).await;
        }
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

    /// Merges a `best_of` winner's work (kept on its branch) into the merged result;
    /// its branch goes.
    pub async fn adopt(self: &Arc<Self>, node: &str, work: &Candidacy) -> Result<(), String> {
        let me = self.clone();
        let (n, w) = (node.to_string(), work.clone());
        let taken = tokio::task::spawn_blocking(move || me.merger.blocking_lock().take(&n, &w.start, &w.work)).await;
        match taken {
            Ok(Ok(())) => {
                crate::git::tree::delete_branch(&self.repo.root, &work.branch);
                Ok(())
            }
            Ok(Err(conflict)) => Err(format!("{conflict} (the winner's work: branch {})", work.branch)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The repository's root.
    pub fn root(&self) -> std::path::PathBuf {
        self.repo.root.clone()
    }

    /// Brings the checkout's files to everything merged so far (also what ends a
    /// run); a conflict leaves them as they were.
    pub async fn sync(self: &Arc<Self>) -> Result<(), MergeConflict> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.merger.blocking_lock().sync())
            .await
            .unwrap_or_else(|e| Err(MergeConflict { node: "(checkout)".into(), error: e.to_string() }))
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
    if let (Work::Process(spec), Ok(here)) = (&mut job.work, std::env::current_dir()) {
        confine_to(spec, &here, here.join(".git"));
    }
    if let Some(acc) = job.accept.take() {
        // In a repository (whose checkout this run does not manage): as in a checkout.
        let here = std::env::current_dir().unwrap_or_default();
        if let Ok(top) = crate::git::git(&here, &["rev-parse", "--show-toplevel"]) {
            let scratch = job.log.as_ref().and_then(|l| l.parent()).map_or(here.clone(), |d| d.to_path_buf());
            return accept::attempt::in_checkout(Path::new(&top), &scratch, job, acc, executor, cancel).await;
        }
        return accept::attempt::without_repository(job, acc, executor, cancel).await;
    }
    let Some(ticket) = job.cache.take() else { return executor.execute(job, cancel).await };
    // In a repository (whose checkout this run does not manage): as in a checkout.
    if let Some(root) = ticket.root.clone() {
        return cache::in_checkout(*ticket, &root, job, executor, cancel).await;
    }
    // No git: the step asked for the cache (`cache: true`), on its work and inputs.
    let key = ticket.key("no repository");
    if let Some(hit) = ticket.look(&key, job.log.as_deref()) {
        return cache::replayed(hit);
    }
    let mut ran = executor.execute(job, cancel).await;
    ran.cache_key = Some(key.clone());
    cache::keep(&ticket, &key, &ran, None);
    ran
}

/// A sandboxed process writes in `workspace`; `git` there is read-only to it.
fn confine_to(spec: &mut crate::engine::job::ProcessSpec, workspace: &std::path::Path, git: PathBuf) {
    let Some(sandbox) = &mut spec.sandbox else { return };
    let Some(confine) = &mut sandbox.confine else { return };
    confine.rw.push(workspace.to_path_buf());
    sandbox.ro.push(git);
}

pub(crate) fn no_changes() -> Outcome {
    Outcome::Failed {
        error: "the agent changed no files, and `expect: changes` asks it to: the attempt counts as failed".into(),
    }
}

/// What a resolver is asked: the conflict with both sides, then the task as it was.
/// A command without a prompt gets the conflict in `PLAN_CONFLICT`.
fn resolve_prompt(job: &mut Job, conflict: &str) {
    let Work::Process(spec) = &mut job.work else { return };
    spec.env.insert("PLAN_CONFLICT".into(), conflict.to_string());
    if let Some(task) = &spec.stdin {
        spec.stdin = Some(format!(
            "Your work on the task below did not merge with the work merged since you started:\n\n{conflict}\n\
             The files in front of you now hold that merged work. Make your change again on top of them, \
             keeping what is there.\n\nThe task:\n\n{task}"
        ));
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
