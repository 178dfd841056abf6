//! How a run ends on the terminal and on disk: what the publishing steps did, the
//! report written, where the pull request is.

use plan_compiler::graph::PublishStep;

use crate::engine::context::RunContext;
use crate::error::Error;
use crate::store::report::Report;
use crate::store::rundir::RunDir;
use crate::store::state::RunStatus;
use crate::store::StoreError;

/// What the publishing steps did, in the report's summary and on the terminal.
pub(super) fn published(ctx: &RunContext, report: &mut Report, status: RunStatus) {
    let summary = &mut report.implementation_summary;
    summary.publish_decision = crate::store::approvals::decision(&ctx.dir.root, PublishStep::Approve.id());
    summary.commit = crate::engine::publish::committed(ctx);
    summary.pr_url = ctx.node_output(PublishStep::PullRequest.id()).and_then(|v| v.as_str().map(str::to_string));
    match (&summary.commit, ctx.node_output(PublishStep::Push.id())) {
        (Some(sha), Some(pushed)) => {
            let pushed = pushed.as_str().unwrap_or_default().to_string();
            eprintln!("committed {} and pushed it to {pushed}", &sha[..sha.len().min(12)]);
        }
        (None, _) if status == RunStatus::Succeeded => {
            eprintln!("warning: the agents changed nothing; no commit, no pull request");
        }
        _ => {}
    }
}

/// Writes the report — failed when the journal could not be written — and says where
/// the pull request is; the first error ends the command.
pub(super) fn write_outcome(
    dir: &RunDir,
    report: &mut Report,
    json: bool,
    journal_error: Option<String>,
) -> Result<(), Error> {
    if journal_error.is_some() {
        report.status = RunStatus::Failed;
    }
    let written = super::run::write_report(dir, report, json);
    if let Some(e) = journal_error {
        return Err(StoreError::Journal(e).into());
    }
    written?;
    if let Some(url) = &report.implementation_summary.pr_url {
        if !json {
            crate::commands::stdout(&format!("{url}\n"));
        }
        eprintln!("opened pull request {url}");
    }
    Ok(())
}
