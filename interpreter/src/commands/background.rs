//! `plan run --background`: starts the same run detached — in its own session, with
//! no terminal, its output in the run directory — prints the run id and returns.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use std::path::Path;

use crate::cli::RunArgs;
use crate::error::Error;
use crate::store::rundir::RunDir;
use crate::store::StoreError;

pub fn start(args: &RunArgs, plan: &Path) -> Result<(), Error> {
    let id = args.resume.clone().or_else(|| args.run_id.clone()).unwrap_or_else(crate::store::clock::new_run_id);
    let dir = match &args.resume {
        Some(id) => {
            let dir = RunDir::find(&args.runs_dir, Some(id))?;
            if dir.is_running() {
                return Err(StoreError::Running(id.clone()).into());
            }
            dir
        }
        None => RunDir::create(&args.runs_dir, &id)?,
    };
    let log = dir.run_log();
    let out =
        std::fs::OpenOptions::new().create(true).append(true).open(&log).map_err(|e| Error::io("create", &log, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("find", "the plan executable", e))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg(plan).arg("--runs-dir").arg(&args.runs_dir).arg("--quiet");
    match &args.resume {
        Some(r) => {
            cmd.arg("--resume").arg(r);
        }
        None => {
            cmd.arg("--run-id").arg(&id);
        }
    }
    if let Some(hold) = &args.hold {
        cmd.arg("--hold").arg(hold);
    }
    if let Some(feedback) = &args.feedback {
        cmd.arg("--feedback").arg(std::fs::canonicalize(feedback).unwrap_or_else(|_| feedback.clone()));
    }
    if let Some(hash) = &args.plan_hash {
        cmd.arg("--plan-hash").arg(hash);
    }
    if let Some(c) = args.concurrency {
        cmd.arg("--concurrency").arg(c.to_string());
    }
    for v in &args.vars {
        cmd.arg("--var").arg(v);
    }
    // Secrets travel in the detached process's environment, never in its arguments.
    for (name, value) in super::inputs::secrets(&args.secrets)? {
        cmd.arg("--secret").arg(&name).env(&name, value);
    }
    for (flag, on) in [
        ("--fail-fast", args.fail_fast),
        ("--force", args.force),
        ("--json", args.json),
        ("--commit", args.commit),
        ("--pr", args.pr),
        ("--draft", args.draft),
        ("--require-sandbox", args.require_sandbox),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    let err = out.try_clone().map_err(|e| Error::io("open", &log, e))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe; the child gets its own session so that
    // closing the terminal does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let journal_len = || std::fs::metadata(dir.journal()).map_or(0, |m| m.len());
    let before = journal_len();
    let mut child = cmd.spawn().map_err(|e| Error::io("start", "the background run", e))?;
    // Return once the run has started (its journal exists), so that `plan status ID`
    // right after this finds it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(dir.journal().exists() && dir.is_running()) && std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            // A run that wrote to its journal ran (a resumed one may end at once: a
            // rejected gate fails it); one that did not never started.
            if !status.success() && journal_len() <= before {
                return Err(Error::refused(format!("the background run stopped at once; see {}", log.display())));
            }
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::commands::stdout(&format!("{id}\n"));
    eprintln!(
        "started run {id} in the background (pid {}); `plan status {id}`, `plan logs {id} --follow`, `plan stop {id}`",
        child.id()
    );
    Ok(())
}
