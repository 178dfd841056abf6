//! `plan approve` and `plan reject`: decide a waiting approval gate. The decision is
//! written where the run waits for it; a run whose process is gone is resumed in the
//! background, and its gate then reads the decision at once. `plan serve` decides
//! gates through [`decide_as`] too.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::Error;
use crate::store::approvals::{self, Decision};
use crate::store::rundir::RunDir;

pub fn decide(runs_dir: &Path, run_id: &str, node: &str, approved: bool, comment: Option<String>) -> Result<(), Error> {
    let decision = Decision::by_this_user(approved, comment);
    let resumed = decide_as(runs_dir, run_id, node, &decision)?;
    let what = if approved { "approved" } else { "rejected" };
    eprintln!("{what} `{node}` of run {run_id} (by {})", decision.by);
    if resumed {
        eprintln!("run {run_id} was not running: resumed it in the background");
    }
    Ok(())
}

/// Writes `decision` for gate `node` of run `run_id`, and resumes the run in the
/// background when no process runs it; whether it did.
pub fn decide_as(runs_dir: &Path, run_id: &str, node: &str, decision: &Decision) -> Result<bool, Error> {
    let dir = RunDir::find(runs_dir, Some(run_id))?;
    approvals::decide(&dir, node, decision)?;
    if dir.is_running() {
        return Ok(false);
    }
    resume_detached(runs_dir, run_id)?;
    Ok(true)
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
        return Err(Error::refused(format!(
            "the decision is kept, but resuming run {run_id} failed: {}",
            why.lines().last().unwrap_or("").trim()
        )));
    }
    Ok(())
}
