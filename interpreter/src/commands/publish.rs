//! `plan run --commit/--pr`: after the agents succeed, the branch, the commit, the
//! push and the pull request, from the plan's `git` templates (which see `issue`,
//! `report` and `agents`). Git runs on tokio's blocking pool.

use crate::engine::render::Renderer;
use crate::error::Error;
use crate::git::GitError;
use crate::store::report::Report;

pub async fn publish(renderer: &Renderer, report: &mut Report, pr: bool, draft: bool) -> Result<(), Error> {
    let ctx = &renderer.run;
    let Some(repo) = ctx.repo.clone() else {
        return Err(GitError::NotARepository(std::path::PathBuf::from(".")).into());
    };
    let git = ctx.plan.git.clone().unwrap_or_default();
    let vars = renderer.git_context(report);
    let render = |inline: Option<&String>, file: Option<&String>, default: &str| -> Result<String, Error> {
        Ok(match (inline, file) {
            (Some(t), _) => renderer.render_str(t, &vars)?,
            (None, Some(f)) => renderer.render_file(f, &vars)?,
            (None, None) => renderer.render_str(default, &vars)?,
        })
    };
    let root = repo.root.clone();
    if !blocking(move || crate::git::has_changes(&root)).await? {
        eprintln!("warning: the agents changed nothing; no commit, no pull request");
        return Ok(());
    }
    let branch = render(git.branch.as_ref(), None, "plan/{{ run.id }}")?.trim().to_string();
    if git.approve {
        let decision = approve(ctx, &repo.root, &branch, pr).await?;
        report.implementation_summary.publish_decision = Some(decision);
    }
    let message = render(git.commit.as_ref(), git.commit_file.as_ref(), "plan: {{ plan.name }}")?;
    let (root, b) = (repo.root.clone(), branch.clone());
    let sha = blocking(move || {
        let sha = crate::git::branch_and_commit(&root, &b, &message)?;
        crate::git::push(&root, &b)?;
        Ok(sha)
    })
    .await?;
    report.implementation_summary.commit = Some(sha.clone());
    eprintln!("committed {} on {branch} and pushed it to origin", &sha[..sha.len().min(12)]);
    if !pr {
        return Ok(());
    }
    let settings = git.pr.clone().unwrap_or_default();
    let vars = renderer.git_context(report);
    let title = renderer.render_str(settings.title.as_deref().unwrap_or("{{ plan.name }}"), &vars)?;
    let body = match (&settings.body, &settings.body_file) {
        (Some(b), _) => renderer.render_str(b, &vars)?,
        (None, Some(f)) => renderer.render_file(f, &vars)?,
        (None, None) => String::new(),
    };
    let base = settings
        .base
        .clone()
        .or_else(|| repo.branch.clone())
        .ok_or_else(|| Error::input("HEAD was detached when the run started", "set `git.pr.base`"))?;
    let gh_repo = ctx
        .github_repo()
        .ok_or_else(|| Error::input("cannot tell the GitHub repository", "set `issue.repo` (owner/name)"))?;
    let url =
        crate::git::github::create_pr(&gh_repo, title.trim(), &body, &branch, &base, draft || settings.draft).await?;
    report.implementation_summary.pr_url = Some(url);
    Ok(())
}

/// `git.approve`: waits at the `publish` gate, whose message is the diff summary.
/// Killed while waiting, the run is resumable (`plan approve` resumes it); a
/// rejection ends the run with nothing committed or pushed.
async fn approve(
    ctx: &crate::engine::context::RunContext,
    root: &std::path::Path,
    branch: &str,
    pr: bool,
) -> Result<crate::store::approvals::Decision, Error> {
    use crate::engine::approval::{wait, Gate};
    use crate::engine::job::{Cancel, Outcome};
    let root = root.to_path_buf();
    let stat = blocking(move || crate::git::staged_summary(&root)).await?;
    let what = if pr { "push it and open a pull request" } else { "push it" };
    let message = format!("commit the agents' changes on `{branch}` and {what}?\n{stat}");
    let gate = Gate {
        run_root: ctx.run_dir.clone(),
        node: PUBLISH_GATE.into(),
        run_id: ctx.run_id.clone(),
        message,
        timeout: None,
        approve_on_timeout: false,
    };
    eprintln!("waiting for approval to publish: plan approve {} {PUBLISH_GATE}", ctx.run_id);
    let (cancel, cancelled) = tokio::sync::watch::channel(Cancel::None);
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        let _ = cancel.send(Cancel::Interrupt);
    });
    let outcome = wait(gate, Some(ctx.run_dir.join("logs").join("publish.log")), cancelled).await;
    signals.abort();
    match outcome {
        Outcome::Succeeded { .. } => crate::store::approvals::decision(&ctx.run_dir, PUBLISH_GATE)
            .ok_or_else(|| Error::refused("the publish decision could not be read back")),
        Outcome::Failed { error } => Err(Error::refused(format!("publishing was {error}; nothing was pushed"))),
        _ => Err(Error::Interrupted),
    }
}

/// The gate `git.approve` waits at.
pub const PUBLISH_GATE: &str = "publish";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, GitError> + Send + 'static) -> Result<T, Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(GitError::Task(e.to_string()).into()),
    }
}
