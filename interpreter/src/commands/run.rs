//! `plan run`: checks and compiles the plan — with --commit/--pr, publishing steps
//! after every agent —, sets up (or resumes) the run directory, runs the scheduler on
//! tokio and writes the report. Exit codes: 0 succeeded, 1 failed, 2 usage, 130
//! interrupted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plan_compiler::check_file;
use plan_compiler::graph::Publish;
use plan_schema::Plan;
use serde_json::Value;

use crate::cli::RunArgs;
use crate::commands::lint::print_human;
use crate::engine::context::RunContext;
use crate::engine::process::ProcessExecutor;
use crate::engine::render::Renderer;
use crate::engine::scheduler::{Options, Scheduler};
use crate::error::Error;
use crate::store::journal::{self, Entry, Journal, JournalWriter};
use crate::store::recorder::{Display, RunRecorder};
use crate::store::report::Report;
use crate::store::resume::Resumed;
use crate::store::rundir::{write_atomic_with, RunDir};
use crate::store::state::{RunResult, RunStatus};
use crate::store::StoreError;

pub fn run(mut args: RunArgs) -> Result<(), Error> {
    tune_allocator();
    let mut resumed = args.resume.as_deref().map(|id| Resumed::open(&args.runs_dir, id)).transpose()?;
    if let Some(r) = &resumed {
        // A resumed run publishes as the run it continues was asked to.
        let asked = r.publish;
        (args.commit, args.pr, args.draft) =
            (args.commit || asked.commit, args.pr || asked.pr, args.draft || asked.draft);
    }
    let publish = Publish { commit: args.commit, pr: args.pr, draft: args.draft };
    let hold = super::inputs::hold(args.hold.as_deref(), resumed.as_ref())?;
    let file = plan_file(&args, resumed.as_ref())?;
    let mut checked = check_file(&file);
    print_human(&checked);
    super::inputs::check_hash(&checked, args.plan_hash.as_deref())?;
    let graph = checked.take_graph();
    // The plan moves out of what lint kept (the source text and its spanned YAML
    // tree are dropped here: for a big plan they weigh more than the run).
    let base_dir = checked.loaded.base_dir();
    let (false, Some(plan), Some(mut graph)) = (checked.has_errors(), checked.loaded.plan.take(), graph) else {
        return Err(Error::Diagnosed);
    };
    graph.publish(&plan, publish);
    if hold.is_some() {
        graph.hold(plan_compiler::graph::hold_id(&plan.name));
    }
    drop(checked);
    let (reentered, reentry) = super::feedback::of_run(args.feedback.as_deref(), resumed.as_mut(), &plan, &graph)?;
    let vars = super::inputs::vars(&plan, &args.vars)?;
    let secrets = super::inputs::secrets(&args.secrets)?;
    // Checked before anything is written.
    let replay = super::inputs::replay(&args)?;
    let cache_cap = plan_schema::parse_memory(&args.cache_max_size).ok_or_else(|| {
        Error::Usage(format!("--cache-max-size: `{}` is not a size (e.g. 5GiB)", args.cache_max_size))
    })?;
    let concurrency = args
        .concurrency
        .or(plan.concurrency.map(|c| c as usize))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get()));
    // A program missing from PATH is named before anything starts; the run goes on
    // (an earlier agent may install it).
    for (program, agent) in crate::engine::program::missing(&plan) {
        eprintln!("warning: `{program}` is not on PATH: agent `{agent}` will fail to start unless something installs it first");
    }
    if args.dry_run {
        let mut ctx = RunContext::new(
            plan,
            graph,
            base_dir,
            RunDir { id: "dry-run".into(), root: ".plan/runs/dry-run".into() },
            vars,
            true,
        );
        ctx.publish = publish;
        ctx.hold = hold;
        super::dry_run::print_schedule(&Renderer::new(Arc::new(ctx)));
        return Ok(());
    }
    // Git problems are found before anything runs or is written.
    let mut repo = if args.commit || args.pr || uses_git(&plan) {
        let mut inputs: Vec<PathBuf> = vec![file.clone()];
        inputs.extend(plan_compiler::check::templates::template_files(&plan, &base_dir));
        Some(crate::git::preflight(Path::new("."), args.commit || args.pr, args.resume.is_some(), &inputs)?)
    } else {
        None
    };
    // A resumed run began where the run it continues began (not at a commit of its own).
    if let (Some(r), Some((base, branch))) = (&mut repo, resumed.as_ref().and_then(|r| r.base.clone())) {
        (r.base, r.branch) = (base, branch);
    }
    let sandbox = super::inputs::sandbox_status(&plan, args.require_sandbox)?;
    if args.background {
        return super::background::start(&args, &file);
    }
    let asked = Asked { publish, hold: hold.clone(), base: repo.as_ref().map(|r| (r.base.clone(), r.branch.clone())) };
    let mut opened = open_run(&args, resumed, &file, &vars, graph.graph.node_count(), &asked)?;
    if let Some(entry) = &reentered {
        opened.journal.push(entry);
    }
    let dir = opened.dir.clone();
    let display = Display::detect(args.quiet || args.json);
    if let Some(status) = sandbox.as_deref().filter(|s| s.starts_with("unavailable")) {
        eprintln!("warning: sandbox: {status}: agents run with plan's own rights");
    }
    if display != Display::Quiet {
        eprintln!(
            "run {} · {} agents · concurrency {concurrency} · {}",
            dir.id,
            graph.graph.node_count(),
            dir.root.display()
        );
    }
    let issue = plan.issue.as_ref().and_then(|i| i.number);
    // Agents see the run directory as an absolute path, which also tells their
    // processes apart from any other run's.
    let root = std::fs::canonicalize(&dir.root).unwrap_or_else(|_| dir.root.clone());
    if args.resume.is_some() {
        let stopped = crate::engine::strays::kill_and_wait(&root);
        if stopped > 0 {
            eprintln!("stopped {stopped} process(es) left running by the interrupted run");
        }
    }
    // What the plan passes to agents is a secret whatever its name (`STRIPE_CONN`).
    // (Read before the run context takes the agents out of the plan.)
    let passed = plan_compiler::resolve::secret::passed(&plan);
    crate::store::redact::add_secrets(passed.iter().filter_map(|name| std::env::var(name).ok()));
    let mut ctx =
        RunContext::new(plan, graph, base_dir, RunDir { id: dir.id.clone(), root: root.clone() }, vars, false);
    // The step cache lives in the repository's `.plan/` (a relative directory is the
    // repository's, when there is one); a run that does not use git hashes the files
    // of the repository it runs in, if any.
    // A replay repeats every agent (its model answered from the recording).
    let cached = !args.no_cache && args.replay.is_none();
    if cached && repo.is_none() {
        let mut inputs: Vec<PathBuf> = vec![file.clone()];
        inputs.extend(plan_compiler::check::templates::template_files(&ctx.plan, &ctx.base_dir));
        ctx.cache_root = crate::git::for_cache(Path::new("."), &inputs);
    }
    ctx.cache = cached.then(|| {
        let root = repo.as_ref().map(|r| r.root.clone()).or_else(|| ctx.cache_root.clone());
        let dir = match root {
            Some(r) if args.cache_dir.is_relative() => r.join(&args.cache_dir),
            _ => args.cache_dir.clone(),
        };
        Arc::new(crate::store::cache::Cache::at(&dir))
    });
    ctx.repo = repo;
    ctx.publish = publish;
    ctx.hold = hold;
    crate::store::redact::add_secrets(secrets.values().cloned());
    ctx.given_secrets = secrets;
    let renderer = Arc::new(Renderer::new(Arc::new(ctx)));
    let recorder = RunRecorder::new(dir.clone(), opened.journal, issue, renderer.run.node_count(), display);
    let options = Options { concurrency, fail_fast: args.fail_fast, signals: true, replay };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    let mut scheduler = Scheduler::new(renderer.clone(), Arc::new(ProcessExecutor::default()), recorder, options);
    scheduler.restore(opened.restored, opened.history);
    scheduler.restore_spent(opened.spent);
    if let Some(r) = &reentry {
        eprintln!("re-entering `{}` (round {} of feedback)", r.node, r.round);
        scheduler.reenter(r);
    }
    let (mut result, recorder) = runtime.block_on(scheduler.run());
    if let Some(cache) = &renderer.run.cache {
        cache.prune(None, Some(cache_cap));
    }
    // Nothing an agent started outlives the run (a daemon that left its group).
    crate::engine::strays::kill(&root, None);
    let journal_error = close_journal(recorder, result.status);
    let mut report = crate::engine::publish::report_of(&renderer.run, &mut result);
    report.implementation_summary.sandbox = sandbox;
    if args.resume.is_some() {
        report.feedback = crate::store::run_state::read(&dir).map(|r| r.feedback).unwrap_or_default();
    }
    runtime.shutdown_background();
    if publish.any() {
        super::outcome::published(&renderer.run, &mut report, result.status);
    }
    super::outcome::write_outcome(&dir, &mut report, args.json, journal_error)?;
    finish(&result, &report, &dir, display)
}

/// What the run was asked to add around its plan: publishing steps after it, a hold
/// before it. Recorded with the run, so that a resumed run builds the same graph.
struct Asked {
    publish: Publish,
    hold: Option<String>,
    base: Option<(String, Option<String>)>,
}

/// A run directory ready to record into: locked, with its journal started.
struct Opened {
    dir: RunDir,
    restored: HashMap<String, Value>,
    history: HashMap<String, (u32, std::time::Duration)>,
    spent: Vec<(String, crate::store::usage::Usage)>,
    journal: JournalWriter,
    /// Held while this process runs the run.
    _lock: std::fs::File,
}

/// Creates the run directory (or reopens the resumed one), locks it and starts its
/// journal.
fn open_run(
    args: &RunArgs,
    resumed: Option<Resumed>,
    file: &Path,
    vars: &indexmap::IndexMap<String, Value>,
    nodes: usize,
    asked: &Asked,
) -> Result<Opened, Error> {
    let plan_bytes = std::fs::read(file).map_err(|e| Error::io("read", file, e))?;
    let hash = journal::fingerprint(&plan_bytes);
    let (dir, restored, spent, history) = match resumed {
        Some(r) => {
            r.check_plan(&hash, args.force)?;
            r.rewrite_outputs();
            (r.dir, r.outputs, r.spent, r.history)
        }
        None => {
            let id = args.run_id.clone().unwrap_or_else(crate::store::clock::new_run_id);
            let dir = RunDir::create(&args.runs_dir, &id)?;
            (dir, HashMap::new(), Vec::new(), HashMap::new())
        }
    };
    let lock = match dir.lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => return Err(StoreError::Running(dir.id.clone()).into()),
        Err(e) => return Err(Error::io("lock", &dir.root, e)),
    };
    let journal = start_journal(&dir, file, hash, vars, nodes, asked)?;
    Ok(Opened { dir, restored, history, spent, journal, _lock: lock })
}

/// Records how the run ended and waits for the journal and status files; the first
/// journal write that failed, if one did.
fn close_journal(mut recorder: RunRecorder, status: RunStatus) -> Option<String> {
    recorder.journal.push(&Entry::RunFinished { status, at: crate::store::clock::now() });
    if let Err(e) = recorder.journal.wait() {
        recorder.journal_error.get_or_insert(e);
    }
    recorder.finish();
    recorder.journal_error.take()
}

/// The plan file: the one given, else the one the resumed run recorded.
fn plan_file(args: &RunArgs, resumed: Option<&Resumed>) -> Result<PathBuf, Error> {
    if let Some(file) = &args.file {
        return Ok(file.clone());
    }
    match resumed {
        Some(r) => r.plan.clone().ok_or_else(|| StoreError::NoPlan(r.dir.id.clone()).into()),
        None => Err(Error::Usage("give a plan file, or --resume RUN_ID".into())),
    }
}

/// Opens the journal, records the start durably and hands it to its writer thread.
fn start_journal(
    dir: &RunDir,
    file: &Path,
    plan_hash: String,
    vars: &indexmap::IndexMap<String, Value>,
    nodes: usize,
    asked: &Asked,
) -> Result<JournalWriter, Error> {
    let mut journal = Journal::open(&dir.journal()).map_err(|e| Error::io("open", dir.journal(), e))?;
    journal.push(&Entry::RunStarted {
        run_id: dir.id.clone(),
        plan: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()).display().to_string(),
        plan_hash,
        vars: vars.clone(),
        at: crate::store::clock::now(),
        nodes,
        pid: std::process::id(),
        publish: asked.publish,
        hold: asked.hold.clone(),
        base: asked.base.clone(),
    });
    journal.sync().map_err(|e| Error::io("write", dir.journal(), e))?;
    Ok(JournalWriter::spawn(journal))
}

/// glibc's allocator, told what a run of 100,000 agents needs (a twentieth less peak
/// memory; see bench/RESULTS.md): buffers from 64 KiB up (agent lists, node vectors)
/// come from and go back to the system, instead of staying in a heap that the run's
/// smaller allocations then fragment; and one arena, since the scheduler, its workers
/// and the status writer share most of what they allocate. Called before any thread
/// of the run starts.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Writes `report.json` (and prints it with `--json`); a report that cannot be
/// written fails the run.
pub(super) fn write_report(dir: &RunDir, report: &Report, json: bool) -> Result<(), Error> {
    if json {
        let text = serde_json::to_string_pretty(report).unwrap_or_default();
        crate::commands::stdout(&format!("{text}\n"));
    }
    write_atomic_with(&dir.report(), |out| {
        serde_json::to_writer_pretty(&mut *out, report)?;
        std::io::Write::write_all(out, b"\n")
    })
    .map_err(|e| Error::io("write", dir.report(), e))
}

/// The end-of-run lines, and how the command ends.
fn finish(result: &RunResult, report: &Report, dir: &RunDir, display: Display) -> Result<(), Error> {
    match result.status {
        RunStatus::Succeeded => {
            if display != Display::Quiet {
                let m = &report.performance_metrics;
                let spent =
                    if result.spent.is_empty() { String::new() } else { format!(" · {}", result.spent.describe()) };
                eprintln!(
                    "succeeded in {} (critical path {}, coordination {}){spent} · report {}",
                    m.execution_time,
                    m.critical_path,
                    crate::store::metrics::overhead_line(result.wall, result.coordination),
                    dir.report().display()
                );
            }
            Ok(())
        }
        RunStatus::Failed => {
            match &result.failure {
                Some((agent, error)) => eprintln!("error: agent `{agent}` failed: {error}"),
                None => eprintln!("error: the run did not finish"),
            }
            if !result.spent.is_empty() {
                eprintln!("  spent: {}", result.spent.describe());
            }
            for (step, ok) in &result.compensated {
                eprintln!("  compensated `{step}`{}", if *ok { "" } else { " (compensation FAILED)" });
            }
            eprintln!("logs: {} · resume: plan run --resume {}", dir.logs().display(), dir.id);
            Err(Error::RunFailed)
        }
        // A finished run is never running or waiting: those are how a run reads back.
        RunStatus::Interrupted | RunStatus::Running | RunStatus::Waiting => {
            eprintln!("interrupted · resume: plan run --resume {}", dir.id);
            Err(Error::Interrupted)
        }
    }
}

/// Whether any agent works in a worktree, expects changes, or runs a git or GitHub
/// action.
fn uses_git(plan: &Plan) -> bool {
    use plan_compiler::resolve::Work;
    let index = plan_compiler::load::agents::AgentIndex::new(plan);
    let any = index.iter().filter_map(|a| plan_compiler::resolve::step(plan, a.agent).ok()).any(|s| {
        (s.workspace == plan_schema::Workspace::Worktree && !matches!(s.work, Work::Nothing))
            || s.agent.expect.is_some()
            || matches!(&s.work, Work::Action(action) if action.needs_git())
    });
    any
}
