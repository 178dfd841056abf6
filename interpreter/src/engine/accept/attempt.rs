//! Holding one attempt to its checks, where it ran: in a workspace of its own (the
//! change is its collected work), in the shared checkout (the change is the
//! checkout's files after against before), or with no repository (commands only).

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use super::{Acceptance, Change, Place};
use crate::engine::job::{Cancel, Executor, Job, Outcome, ProcessSpec, Ran, Work};

/// Runs the checks of `acc` after `ran` ended well, and fails it when one fails: its
/// error is their evidence. What a judge spent outside the gateway is the attempt's.
pub async fn hold(
    ran: &mut Ran,
    acc: &Acceptance,
    change: Option<&Change>,
    place: Place<'_>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) {
    if !matches!(ran.outcome, Outcome::Succeeded { .. }) {
        return;
    }
    let (checks, spent) = super::run(acc, change, place, executor, cancel).await;
    if let Some(spent) = spent.filter(|u| !u.is_empty()) {
        ran.usage.get_or_insert_with(Default::default).add(&spent);
    }
    if !checks.passed {
        ran.outcome = Outcome::Failed { error: checks.evidence() };
    }
    ran.checks = Some(Box::new(checks));
}

/// The process a job runs, kept for its checks (they run as it ran).
pub fn spec_of(job: &Job) -> Option<ProcessSpec> {
    match &job.work {
        Work::Process(spec) if job.accept.is_some() => Some(spec.clone()),
        _ => None,
    }
}

/// Runs `job` in the shared checkout at `root` and holds it to `acc`: its change is
/// the checkout's files after it against before (`expect: changes` is checked on the
/// same change).
pub async fn in_checkout(
    root: &Path,
    scratch: &Path,
    mut job: Job,
    acc: Box<Acceptance>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) -> Ran {
    let spec = spec_of(&job);
    job.accept = None;
    job.cache = None;
    let (log, expect_changes) = (job.log.clone(), job.expect_changes);
    let index = scratch.join(format!("accept-{}.index", job.id.replace(['/', '[', ']'], "-")));
    let snapshot = |index: PathBuf| {
        let root = root.to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                let tree = crate::git::tree::snapshot(&root, &index);
                let _ = std::fs::remove_file(&index);
                tree
            })
            .await
            .map_err(|e| crate::git::GitError::Task(e.to_string()))?
        }
    };
    let wants_change = acc.needs_change() || expect_changes;
    let before = match wants_change {
        true => match snapshot(index.clone()).await {
            Ok(tree) => Some(tree),
            Err(error) => return Outcome::Failed { error: error.to_string() }.into(),
        },
        false => None,
    };
    let mut ran = executor.execute(job, cancel.clone()).await;
    let mut change = None;
    if let (Some(before), Outcome::Succeeded { .. }) = (&before, &ran.outcome) {
        let after = snapshot(index).await;
        let (root, before) = (root.to_path_buf(), before.clone());
        let between = match after {
            Ok(after) if after == before && expect_changes => {
                ran.outcome = crate::engine::workspace::no_changes();
                return ran;
            }
            Ok(after) => tokio::task::spawn_blocking(move || Change::between(&root, &before, &after))
                .await
                .map_err(|e| crate::git::GitError::Task(e.to_string()))
                .and_then(|r| r),
            Err(e) => Err(e),
        };
        match between {
            Ok(c) => change = Some(c),
            Err(error) => ran.outcome = Outcome::Failed { error: error.to_string() },
        }
    }
    hold(&mut ran, &acc, change.as_ref(), Place { spec: spec.as_ref(), log }, executor, cancel).await;
    ran
}

/// Runs `job` with no repository and holds it to `acc`: its commands only (a check
/// of the change needs a repository to tell it).
pub async fn without_repository(
    mut job: Job,
    acc: Box<Acceptance>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) -> Ran {
    if acc.needs_change() {
        let error = "`accept` checks of the change (`touches`, `max_changed_lines`, `judge`, `best_of`) need a git \
                     repository to tell the change";
        return Outcome::Failed { error: error.into() }.into();
    }
    let spec = spec_of(&job);
    job.accept = None;
    let log = job.log.clone();
    let mut ran = executor.execute(job, cancel.clone()).await;
    hold(&mut ran, &acc, None, Place { spec: spec.as_ref(), log }, executor, cancel).await;
    ran
}
