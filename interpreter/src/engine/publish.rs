//! Publishing steps (`plan run --commit/--pr`, `git.approve`): nodes of the DAG after
//! every agent, which the compiler adds (`PlanGraph::publish`). Each is prepared on
//! the loop like any node — its templates (`git.branch`, `git.commit`, `git.pr`) see
//! `issue`, `report` and `agents` as the agents left them — and runs in a worker:
//! the approval of the staged diff, the branch and commit, the push, the pull
//! request. The journal resumes them like any step.

use std::path::PathBuf;

use minijinja::Value as MjValue;
use plan_compiler::graph::{Publish, PublishStep};
use tokio::sync::watch;

use crate::engine::actions::blocking;
use crate::engine::approval::Gate;
use crate::engine::context::RunContext;
use crate::engine::job::{Cancel, Outcome, Work};
use crate::engine::prepare::PrepareError;
use crate::engine::render::Renderer;
use crate::store::report::{Changes, Report};
use crate::store::state::RunResult;

/// A publishing step, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub enum Publishing {
    /// Waits for a person to approve the staged diff (its summary is the gate's
    /// message); with nothing changed there is nothing to approve.
    Approve {
        gate: Gate,
        root: PathBuf,
        branch: String,
        pr: bool,
    },
    /// Creates `branch` and commits the agents' changes; nothing changed, no commit
    /// (unless a killed run committed them already: that commit).
    Commit {
        root: PathBuf,
        branch: String,
        message: String,
        base: String,
    },
    Push {
        root: PathBuf,
        branch: String,
    },
    PullRequest {
        repo: String,
        title: String,
        body: String,
        head: String,
        base: String,
        draft: bool,
    },
}

/// The report of what the agents did: records, gate decisions, and what they changed
/// in the repository (also once a commit holds it). The run's final report, and what
/// publishing templates see as `report`.
pub fn report_of(ctx: &RunContext, result: &mut RunResult) -> Report {
    let mut report = crate::store::report::build(&ctx.plan, &ctx.graph, &ctx.dir.id, result);
    if ctx.dir.approvals().is_dir() {
        for r in report.agents.0.iter_mut() {
            r.decision = crate::store::approvals::decision(&ctx.dir.root, &r.id).map(Box::new);
        }
    }
    if let Some(repo) = &ctx.repo {
        let changes = crate::git::changes_since(&repo.root, &repo.base);
        report.implementation_summary.changes = changes.ok().map(|c| Changes::from_status(&c));
    }
    report
}

/// Whether the commit step committed something (its output is the commit id).
pub fn committed(ctx: &RunContext) -> Option<String> {
    ctx.node_output(PublishStep::Commit.id()).and_then(|v| v.as_str().map(str::to_string)).filter(|s| !s.is_empty())
}

/// Prepares `step` for its attempt, its templates rendered with `vars` (the git
/// context of the agents' report). `None`: nothing to do (nothing was committed).
pub fn prepare(
    renderer: &Renderer,
    step: PublishStep,
    vars: &MjValue,
    publish: Publish,
) -> Result<Option<Work>, PrepareError> {
    let ctx = &renderer.run;
    let repo = ctx.repo.as_ref().ok_or(PrepareError::NoRepository(step.id()))?;
    let git = ctx.plan.git.clone().unwrap_or_default();
    let render = |inline: Option<&String>, file: Option<&String>, default: &str| -> Result<String, PrepareError> {
        Ok(match (inline, file) {
            (Some(t), _) => renderer.render_str(t, vars)?,
            (None, Some(f)) => renderer.render_file(f, vars)?,
            (None, None) => renderer.render_str(default, vars)?,
        })
    };
    let branch = render(git.branch.as_ref(), None, "plan/{{ run.id }}")?.trim().to_string();
    let root = repo.root.clone();
    let publishing = match step {
        PublishStep::Approve => Publishing::Approve {
            gate: Gate {
                run_root: ctx.dir.root.clone(),
                node: step.id().to_string(),
                run_id: ctx.dir.id.clone(),
                message: String::new(),
                timeout: None,
                approve_on_timeout: false,
            },
            root,
            branch,
            pr: publish.pr,
        },
        PublishStep::Commit => {
            let message = render(git.commit.as_ref(), git.commit_file.as_ref(), "plan: {{ plan.name }}")?;
            Publishing::Commit { root, branch, message, base: repo.base.clone() }
        }
        PublishStep::Push if committed(ctx).is_none() => return Ok(None),
        PublishStep::Push => Publishing::Push { root, branch },
        PublishStep::PullRequest if committed(ctx).is_none() => return Ok(None),
        PublishStep::PullRequest => {
            let settings = git.pr.clone().unwrap_or_default();
            let title = renderer.render_str(settings.title.as_deref().unwrap_or("{{ plan.name }}"), vars)?;
            let body = match (&settings.body, &settings.body_file) {
                (Some(b), _) => renderer.render_str(b, vars)?,
                (None, Some(f)) => renderer.render_file(f, vars)?,
                (None, None) => String::new(),
            };
            Publishing::PullRequest {
                repo: ctx.github_repo().ok_or(PrepareError::NoGithubRepo(step.id()))?,
                title: title.trim().to_string(),
                body,
                head: branch,
                base: settings.base.clone().or_else(|| repo.branch.clone()).ok_or(PrepareError::DetachedHead)?,
                draft: publish.draft || settings.draft,
            }
        }
    };
    Ok(Some(Work::Publish(publishing)))
}

/// Runs a publishing step (in a worker: git on the blocking pool).
pub async fn run(step: Publishing, log: Option<PathBuf>, cancel: watch::Receiver<Cancel>) -> Outcome {
    let result = match step {
        Publishing::Approve { mut gate, root, branch, pr } => {
            let summary = blocking(move || {
                if !crate::git::has_changes(&root)? {
                    return Ok(None);
                }
                crate::git::staged_summary(&root).map(Some)
            })
            .await;
            match summary {
                Ok(Some(stat)) => {
                    let what = if pr { "push it and open a pull request" } else { "push it" };
                    gate.message = format!("commit the agents' changes on `{branch}` and {what}?\n{stat}");
                    return crate::engine::approval::wait(gate, log, cancel).await;
                }
                Ok(None) => Ok(String::new()),
                Err(e) => Err(e),
            }
        }
        Publishing::Commit { root, branch, message, base } => {
            blocking(move || {
                if let Some(done) = crate::git::committed_on(&root, &branch, &base)? {
                    return Ok(done);
                }
                if !crate::git::has_changes(&root)? {
                    return Ok(String::new());
                }
                crate::git::branch_and_commit(&root, &branch, &message)
            })
            .await
        }
        Publishing::Push { root, branch } => {
            blocking(move || crate::git::push(&root, &branch).map(|_| format!("origin/{branch}"))).await
        }
        Publishing::PullRequest { repo, title, body, head, base, draft } => {
            crate::git::github::create_pr(&repo, &title, &body, &head, &base, draft).await.map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(stdout) => Outcome::Succeeded { stdout },
        Err(error) => Outcome::Failed { error },
    }
}

/// A one-line form of a publishing step, for `--dry-run`.
pub fn describe(step: &Publishing) -> String {
    match step {
        Publishing::Approve { branch, .. } => format!("wait for approval to publish `{branch}`"),
        Publishing::Commit { branch, message, .. } => {
            format!("commit on `{branch}`: {}", message.lines().next().unwrap_or(""))
        }
        Publishing::Push { branch, .. } => format!("push `{branch}` to origin"),
        Publishing::PullRequest { repo, head, base, title, .. } => {
            format!("open a pull request on {repo}: {head} -> {base}: {title}")
        }
    }
}
