//! `plan run --background`: starts the same run detached — in its own session, with
//! no terminal, its output in the run directory — prints the run id and returns.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::cli::RunArgs;
use crate::rundir::RunDir;

pub fn start(args: &RunArgs) -> i32 {
    let id = args.resume.clone().or_else(|| args.run_id.clone()).unwrap_or_else(crate::clock::new_run_id);
    let dir = match RunDir::create(&args.runs_dir, &id) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create the run directory under {}: {e}", args.runs_dir.display());
            return 1;
        }
    };
    let out = match std::fs::OpenOptions::new().create(true).append(true).open(dir.root.join("run.log")) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", dir.root.join("run.log").display());
            return 1;
        }
    };
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("error: cannot find the plan executable");
        return 1;
    };
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg(&args.file).arg("--runs-dir").arg(&args.runs_dir).arg("--quiet");
    match &args.resume {
        Some(r) => {
            cmd.arg("--resume").arg(r);
        }
        None => {
            cmd.arg("--run-id").arg(&id);
        }
    }
    if let Some(c) = args.concurrency {
        cmd.arg("--concurrency").arg(c.to_string());
    }
    for v in &args.vars {
        cmd.arg("--var").arg(v);
    }
    for (flag, on) in [
        ("--fail-fast", args.fail_fast),
        ("--force", args.force),
        ("--json", args.json),
        ("--commit", args.commit),
        ("--pr", args.pr),
        ("--draft", args.draft),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    let err = match out.try_clone() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe; the child gets its own session so that
    // closing the terminal does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => {
            crate::stdout(&format!("{id}\n"));
            eprintln!("started run {id} in the background (pid {}); `plan status {id}`, `plan logs {id} --follow`, `plan stop {id}`", child.id());
            0
        }
        Err(e) => {
            eprintln!("error: cannot start the background run: {e}");
            1
        }
    }
}
