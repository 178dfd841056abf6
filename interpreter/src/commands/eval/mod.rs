//! `plan eval SUITE`: runs a plan template over a suite of tasks and says how often
//! it succeeds. Each task gets a fresh git repository (a copy of its `repo/`), its
//! issue set into the template (`issue:`), and `plan run`; then its hidden check —
//! never in the repository while the agents work — runs in what they left, and its
//! exit status decides success. The table gives the success rate, cost, tokens and
//! time, per tier and pattern and in all; `eval.json` keeps every task's figures.

mod suite;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use suite::{Suite, Task};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The suite: a `suite.yaml`, or a directory holding one.
    pub suite: PathBuf,
    /// The plan template every task runs under (instead of the suite's).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Where the tasks' repositories and runs are kept (default `.plan/eval/<suite>`).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Where the results go, as JSON.
    #[arg(long, value_name = "FILE", default_value = "eval.json")]
    pub output: PathBuf,
    /// Tasks run at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Only the tasks with these ids (repeatable).
    #[arg(long = "task", value_name = "ID")]
    pub only: Vec<String>,
}

/// One task's result.
#[derive(Clone, Debug, Serialize)]
pub struct TaskResult {
    pub id: String,
    pub tier: String,
    pub pattern: String,
    /// How `plan run` ended (`succeeded`, `failed`, or why it did not run).
    pub run: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The hidden check passed.
    pub passed: bool,
    pub cost_usd: f64,
    pub tokens: u64,
    pub seconds: f64,
    /// The hidden check's last lines, when it failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub check_output: String,
}

/// Results over a group of tasks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub tasks: usize,
    pub passed: usize,
    pub rate: f64,
    pub cost_usd: f64,
    pub tokens: u64,
    pub seconds: f64,
}

impl Totals {
    fn of<'a>(results: impl Iterator<Item = &'a TaskResult>) -> Totals {
        let mut t = Totals::default();
        for r in results {
            t.tasks += 1;
            t.passed += usize::from(r.passed);
            t.cost_usd += r.cost_usd;
            t.tokens += r.tokens;
            t.seconds += r.seconds;
        }
        t.rate = if t.tasks == 0 { 0.0 } else { t.passed as f64 / t.tasks as f64 };
        t
    }
}

pub fn run(args: &EvalArgs) -> Result<(), Error> {
    let suite = Suite::read(&args.suite, args.plan.as_deref())?;
    let tasks: Vec<Task> =
        suite.tasks.iter().filter(|t| args.only.is_empty() || args.only.contains(&t.id)).cloned().collect();
    if tasks.is_empty() {
        return Err(Error::Usage(format!("no task of suite `{}` has the ids given with --task", suite.name)));
    }
    let work = args.work.clone().unwrap_or_else(|| PathBuf::from(".plan/eval").join(&suite.name));
    std::fs::create_dir_all(&work).map_err(|e| Error::io("create", &work, e))?;
    let work = std::fs::canonicalize(&work).map_err(|e| Error::io("find", &work, e))?;
    eprintln!("plan eval: suite `{}`, {} task(s), in {}", suite.name, tasks.len(), work.display());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..args.jobs.clamp(1, tasks.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                let result = run_task(task, i, &work.join(&task.id));
                eprintln!(
                    "  {} {} ({})",
                    if result.passed { "pass" } else { "FAIL" },
                    task.id,
                    if result.run == "succeeded" { format!("{:.1}s", result.seconds) } else { result.run.clone() }
                );
                results.lock().unwrap_or_else(|e| e.into_inner()).push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<TaskResult> = results.into_iter().map(|(_, r)| r).collect();
    let total = Totals::of(results.iter());
    let group = |key: fn(&TaskResult) -> &str| {
        let mut names: Vec<&str> = results.iter().map(key).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|n| (n.to_string(), Totals::of(results.iter().filter(|r| key(r) == n))))
            .collect::<indexmap::IndexMap<_, _>>()
    };
    let (by_tier, by_pattern) = (group(|r| &r.tier), group(|r| &r.pattern));
    crate::commands::stdout(&table(&results, &by_tier, &by_pattern, &total));
    let json = serde_json::json!({
        "suite": suite.name, "plan": args.plan, "tasks": results,
        "summary": { "total": total, "by_tier": by_tier, "by_pattern": by_pattern },
    });
    let bytes = serde_json::to_vec_pretty(&json).unwrap_or_default();
    crate::store::rundir::write_atomic(&args.output, &bytes).map_err(|e| Error::io("write", &args.output, e))?;
    eprintln!("results: {}", args.output.display());
    Ok(())
}

/// Runs one task in `dir`: its repository made, its plan written, `plan run`, its check.
fn run_task(task: &Task, index: usize, dir: &Path) -> TaskResult {
    let mut result = TaskResult {
        id: task.id.clone(),
        tier: String::new(),
        pattern: String::new(),
        run: String::new(),
        run_id: None,
        passed: false,
        cost_usd: 0.0,
        tokens: 0,
        seconds: 0.0,
        check_output: String::new(),
    };
    let prepared = prepare(task, index, dir);
    let (tier, pattern) = match prepared {
        Ok(tp) => tp,
        Err(e) => {
            result.run = format!("not run: {e}");
            return result;
        }
    };
    (result.tier, result.pattern) = (tier, pattern);
    let repo = dir.join("repo");
    let started = Instant::now();
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("plan"));
    let out = Command::new(exe)
        .args(["run", "../plan.yaml", "--json", "--quiet"])
        .current_dir(&repo)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(dir.join("run.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
        .output();
    result.seconds = started.elapsed().as_secs_f64();
    let report: Value = out.as_ref().ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()).unwrap_or_default();
    result.run = match (&out, report["status"].as_str()) {
        (_, Some(status)) => status.to_string(),
        (Ok(_), None) => format!("did not run (see {})", dir.join("run.log").display()),
        (Err(e), None) => format!("did not start: {e}"),
    };
    result.run_id = report["run_id"].as_str().map(str::to_string);
    result.cost_usd = report["performance_metrics"]["cost_usd"].as_f64().unwrap_or(0.0);
    result.tokens = report["performance_metrics"]["tokens"].as_u64().unwrap_or(0);
    // The hidden check, in what the agents left (it is not in the repository).
    let check = Command::new("sh")
        .arg(&task.check)
        .current_dir(&repo)
        .env("PLAN_EVAL_TASK", &task.id)
        .stdin(Stdio::null())
        .output();
    match check {
        Ok(o) if o.status.success() => result.passed = true,
        Ok(o) => {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let lines: Vec<&str> = text.lines().collect();
            result.check_output = match lines.len() {
                0 => format!("the check {} and printed nothing", o.status),
                n => lines[n.saturating_sub(10)..].join("\n"),
            };
        }
        Err(e) => result.check_output = format!("the check did not start: {e}"),
    }
    result
}

/// Makes the task's repository and plan in `dir`; the plan's tier and pattern.
fn prepare(task: &Task, index: usize, dir: &Path) -> Result<(String, String), String> {
    let _ = std::fs::remove_dir_all(dir);
    let repo = dir.join("repo");
    copy_dir(&task.repo, &repo).map_err(|e| format!("cannot copy {}: {e}", task.repo.display()))?;
    let git = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("git")
            .args(["-c", "user.name=plan eval", "-c", "user.email=eval@plan.invalid"])
            .args(args)
            .current_dir(&repo)
            .output()
            .map_err(|e| e.to_string())?;
        out.status.success().then_some(()).ok_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    git(&["init", "--quiet", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "--quiet", "--allow-empty", "-m", &format!("task {}", task.id)])?;
    let text = std::fs::read_to_string(&task.issue).map_err(|e| format!("{}: {e}", task.issue.display()))?;
    let issue = plan_compiler::intake::parse_issue(&text).map_err(|e| format!("{}: {e}", task.issue.display()))?;
    let template = std::fs::read_to_string(&task.plan).map_err(|e| format!("{}: {e}", task.plan.display()))?;
    let mut plan: serde_yaml::Value =
        serde_yaml::from_str(&template).map_err(|e| format!("{}: {e}", task.plan.display()))?;
    let Some(map) = plan.as_mapping_mut() else { return Err(format!("{}: not a plan", task.plan.display())) };
    let issue_value = serde_json::json!({
        "number": issue.number.unwrap_or(index as u64 + 1), "title": issue.title, "body": issue.body,
        "labels": issue.labels,
    });
    map.insert("issue".into(), serde_yaml::to_value(issue_value).map_err(|e| e.to_string())?);
    let tier = map.get("complexity").and_then(|v| v.as_str()).unwrap_or("unknown").to_string();
    let pattern =
        map.get("agent").and_then(|a| a.get("pattern")).and_then(|p| p.as_str()).unwrap_or("single agent").to_string();
    let yaml = serde_yaml::to_string(&plan).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("plan.yaml"), yaml).map_err(|e| e.to_string())?;
    // A template's own files (its `prompts/`) go beside it.
    if let Some(prompts) = task.plan.parent().map(|d| d.join("prompts")).filter(|p| p.is_dir()) {
        copy_dir(&prompts, &dir.join("prompts")).map_err(|e| e.to_string())?;
    }
    Ok((tier, pattern))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// The results as a table: every task, then per tier, per pattern and in all.
fn table(
    results: &[TaskResult],
    by_tier: &indexmap::IndexMap<String, Totals>,
    by_pattern: &indexmap::IndexMap<String, Totals>,
    total: &Totals,
) -> String {
    let labels = by_tier.keys().map(|k| k.len() + 5).chain(by_pattern.keys().map(|k| k.len() + 8));
    let width = results.iter().map(|r| r.id.len()).chain(labels).max().unwrap_or(4).max(16);
    let mut out = format!(
        "{:<width$}  {:<10} {:<14} {:<10} {:<6} {:>9} {:>8} {:>8}\n",
        "task", "tier", "pattern", "run", "check", "cost", "tokens", "time"
    );
    for r in results {
        out.push_str(&format!(
            "{:<width$}  {:<10} {:<14} {:<10} {:<6} {:>9} {:>8} {:>7.1}s\n",
            r.id,
            r.tier,
            r.pattern,
            r.run.split(':').next().unwrap_or(""),
            if r.passed { "pass" } else { "FAIL" },
            format!("${:.4}", r.cost_usd),
            r.tokens,
            r.seconds
        ));
    }
    let line = |name: &str, t: &Totals| {
        format!(
            "{:<width$}  {:>3}/{:<3} {:>5.1}% {:>12} {:>8} {:>7.1}s\n",
            name,
            t.passed,
            t.tasks,
            t.rate * 100.0,
            format!("${:.4}", t.cost_usd),
            t.tokens,
            t.seconds
        )
    };
    out.push_str(&format!(
        "\n{:<width$}  {:<9} {:>6} {:>12} {:>8} {:>8}\n",
        "", "passed", "rate", "cost", "tokens", "time"
    ));
    for (name, t) in by_tier {
        out.push_str(&line(&format!("tier {name}"), t));
    }
    for (name, t) in by_pattern {
        out.push_str(&line(&format!("pattern {name}"), t));
    }
    out.push_str(&line("all", total));
    out
}
