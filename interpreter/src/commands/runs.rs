//! `plan status`, `plan runs`, `plan stop` and `plan logs`: looking at and steering
//! runs, from their run directories.

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use crate::cli::{LogsArgs, RunsArgs, StatusArgs, StopArgs};
use crate::error::Error;
use crate::store::run_state::{self, RunState};
use crate::store::rundir::RunDir;
use crate::store::StoreError;

fn render(run: &RunState) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let spent = if run.spent.is_empty() { String::new() } else { format!(" · {}", run.spent.describe()) };
    let _ = writeln!(
        out,
        "run {} · {} · {}/{} done · {} failed · {}{spent}",
        run.run_id, run.state, run.done, run.total, run.failed, run.elapsed
    );
    let _ = writeln!(out, "plan {}", run.plan);
    let width = run.nodes.keys().map(|k| k.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "{:<width$}  {:<11}  {:>7}  {:>9}", "agent", "state", "attempt", "duration");
    for (id, n) in &run.nodes {
        let duration = n.duration_ms.map(|ms| format!("{:.3}s", ms as f64 / 1000.0)).unwrap_or_default();
        let _ = write!(out, "{id:<width$}  {:<11}  {:>7}  {duration:>9}", n.state, n.attempt);
        if let Some(u) = &n.usage {
            let _ = write!(out, "  {}", u.describe());
        }
        if let Some(saved) = &n.cached {
            let _ = write!(out, "  cached (saved {})", saved.describe());
        }
        if let Some(step) = &n.step {
            let _ = write!(out, "  {step}");
        } else if let Some(e) = &n.error {
            let first = e.lines().last().unwrap_or("");
            let _ = write!(out, "  {}", first.chars().take(100).collect::<String>());
        }
        out.push('\n');
    }
    out
}

pub fn status(args: &StatusArgs) -> Result<(), Error> {
    let dir = RunDir::find(&args.runs_dir, args.run_id.as_deref())?;
    loop {
        let run = run_state::read(&dir)?;
        if args.json {
            crate::commands::stdout(&format!("{}\n", serde_json::to_string_pretty(&run).unwrap_or_default()));
        } else {
            let clear =
                if args.watch && std::io::IsTerminal::is_terminal(&std::io::stdout()) { "\x1b[2J\x1b[H" } else { "" };
            crate::commands::stdout(&format!("{clear}{}", render(&run)));
        }
        if !args.watch || run.state != plan_schema::RunStatus::Running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn runs(args: &RunsArgs) -> Result<(), Error> {
    let mut all = Vec::new();
    for id in run_state::list(&args.runs_dir) {
        if let Some(dir) = RunDir::open(&args.runs_dir, &id) {
            if let Ok(run) = run_state::read(&dir) {
                all.push(run);
            }
        }
    }
    if args.json {
        let brief: Vec<serde_json::Value> = all.iter().map(RunState::brief).collect();
        crate::commands::stdout(&format!("{}\n", serde_json::to_string_pretty(&brief).unwrap_or_default()));
    } else if all.is_empty() {
        eprintln!("no runs under {}", args.runs_dir.display());
    } else {
        let mut out = String::new();
        for r in &all {
            let spent = if r.spent.is_empty() { String::new() } else { format!("  {}", r.spent.describe()) };
            out.push_str(&format!("{}  {:<11}  {:>5}/{:<5}  {}{spent}\n", r.run_id, r.state, r.done, r.total, r.plan));
        }
        crate::commands::stdout(&out);
    }
    Ok(())
}

/// Asks the process running `dir` to stop (SIGTERM: agents are stopped, saga
/// compensations run); returns its pid.
pub fn signal_stop(dir: &RunDir) -> Result<u32, Error> {
    let run = run_state::read(dir)?;
    if !dir.is_running() || run.pid == 0 {
        return Err(StoreError::NotRunning { id: run.run_id, state: run.state.to_string() }.into());
    }
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(run.pid as i32, libc::SIGTERM) };
    if rc != 0 {
        return Err(Error::io("signal process", run.pid.to_string(), std::io::Error::last_os_error()));
    }
    Ok(run.pid)
}

pub fn stop(args: &StopArgs) -> Result<(), Error> {
    let dir = RunDir::find(&args.runs_dir, Some(&args.run_id))?;
    let pid = signal_stop(&dir)?;
    for _ in 0..600 {
        if !dir.is_running() {
            eprintln!("stopped run {}", dir.id);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(Error::input(format!("run `{}`", dir.id), format!("did not stop within 60s (pid {pid})")))
}

pub fn logs(args: &LogsArgs) -> Result<(), Error> {
    let dir = RunDir::find(&args.runs_dir, Some(&args.run_id))?;
    let logs_dir = dir.logs();
    if let Some(agent) = &args.agent {
        if !dir.log(agent).exists() && !args.follow {
            return Err(Error::input(
                format!("no log for `{agent}` in run {}", dir.id),
                "agents that never started or printed nothing have none",
            ));
        }
    }
    // Offsets of what was printed from each log.
    let mut offsets: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    loop {
        let running = dir.is_running();
        let mut names: Vec<String> = std::fs::read_dir(&logs_dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".log"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for name in names {
            let agent = name.trim_end_matches(".log");
            if args.agent.as_deref().is_some_and(|a| a != agent) {
                continue;
            }
            let offset = offsets.entry(agent.to_string()).or_insert(0);
            let Ok(mut f) = std::fs::File::open(logs_dir.join(&name)) else { continue };
            if f.seek(SeekFrom::Start(*offset)).is_err() {
                continue;
            }
            let mut text = String::new();
            let Ok(n) = f.read_to_string(&mut text) else { continue };
            *offset += n as u64;
            if text.is_empty() {
                continue;
            }
            if args.agent.is_some() {
                crate::commands::stdout(&text);
            } else {
                let prefixed: String = text.lines().map(|l| format!("[{agent}] {l}\n")).collect();
                crate::commands::stdout(&prefixed);
            }
        }
        if !args.follow || !running {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
