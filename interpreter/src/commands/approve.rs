//! `plan approve` and `plan reject`: decide a waiting approval gate. The decision is
//! written where the run waits for it; a run whose process is gone is resumed in the
//! background, and its gate then reads the decision at once.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::Error;
use crate::store::approvals::{self, Decision};
use crate::store::rundir::RunDir;

pub fn decide(runs_dir: &Path, run_id: &str, node: &str, approved: bool, comment: Option<String>) -> Result<(), Error> {
    let dir = RunDir::find(runs_dir, Some(run_id))?;
    let decision = Decision::by_this_user(approved, comment);
    approvals::decide(&dir, node, &decision)?;
    let what = if approved { "approved" } else { "rejected" };
    eprintln!("{what} `{node}` of run {run_id} (by {})", decision.by);
    if !dir.is_running() {
        let exe = std::env::current_exe().map_err(|e| Error::io("find", "the plan executable", e))?;
        let status = Command::new(exe)
            .args(["run", "--resume", run_id, "--background", "--runs-dir"])
            .arg(runs_dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| Error::io("start", "the resumed run", e))?;
        if !status.success() {
            return Err(Error::refused(format!("the decision is kept, but resuming run {run_id} failed")));
        }
        eprintln!("run {run_id} was not running: resumed it in the background");
    }
    Ok(())
}
