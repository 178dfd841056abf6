//! `plan approve` and `plan reject`: decide a waiting approval gate. The decision is
//! written where the run waits for it; a run whose process is gone is resumed in the
//! background, and its gate then reads the decision at once. `plan serve` decides
//! gates through [`decide_as`] too.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::Error;
use crate::store::approvals::{self, Decision};
use crate::store::rundir::RunDir;
use crate::store::StoreError;

pub fn decide(runs_dir: &Path, run_id: &str, node: &str, approved: bool, comment: Option<String>) -> Result<(), Error> {
    let decision = Decision::by_this_user(approved, comment);
    let decided = decide_as(runs_dir, run_id, node, &decision)?;
    let what = if approved { "approved" } else { "rejected" };
    eprintln!("{what} `{node}` of run {run_id} (by {})", decision.by);
    match decided {
        Decided::Running => Ok(()),
        Decided::Resumed => {
            eprintln!("run {run_id} was not running: resumed it in the background");
            Ok(())
        }
        Decided::ResumeFailed(why) => {
            Err(Error::refused(format!("the decision is kept, but resuming run {run_id} failed: {why}")))
        }
    }
}

/// What became of a decision: always kept; the run took it, or was resumed to take
/// it, or could not be resumed (and why).
#[derive(Clone, Debug, PartialEq)]
pub enum Decided {
    Running,
    Resumed,
    ResumeFailed(String),
}

/// Writes `decision` for gate `node` of run `run_id`, and resumes the run in the
/// background when no process runs it. A run that has ended (finished, or stopped
/// with `plan stop`) takes no decision: its gates were final when it ended.
pub fn decide_as(runs_dir: &Path, run_id: &str, node: &str, decision: &Decision) -> Result<Decided, Error> {
    let dir = RunDir::find(runs_dir, Some(run_id))?;
    let state = crate::store::run_state::read(&dir)?.state;
    // (A gate decided already says so, below.)
    if state.is_final() && approvals::decision(&dir.root, node).is_none() {
        return Err(StoreError::Ended { id: run_id.to_string(), state: state.to_string() }.into());
    }
    approvals::decide(&dir, node, decision)?;
    if dir.is_running() {
        return Ok(Decided::Running);
    }
    Ok(match resume_detached(runs_dir, run_id) {
        Ok(()) => Decided::Resumed,
        Err(e) => Decided::ResumeFailed(e.to_string()),
    })
}

/// `plan run --resume RUN_ID --background`.
pub fn resume_detached(runs_dir: &Path, run_id: &str) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find", "the plan executable", e))?;
    let out = Command::new(exe)
        .args(["run", "--resume", run_id, "--background", "--runs-dir"])
        .arg(runs_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("start", "the resumed run", e))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::refused(why.lines().last().unwrap_or("").trim().to_string()));
    }
    Ok(())
}
