//! `plan run`: checks and compiles the plan, sets up (or resumes) the run directory,
//! runs the scheduler on tokio, and writes the report. Exit codes: 0 succeeded,
//! 1 failed, 2 usage, 130 interrupted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use plan_compiler::graph::UnitKind;
use plan_compiler::{check_file, compile};
use serde_json::Value;

use crate::cli::RunArgs;
use crate::journal::{self, Entry, Journal};
use crate::lint_cmd::print_human;
use crate::prepare::{describe, Prepared};
use crate::process::ProcessExecutor;
use crate::recorder::{Display, RunRecorder};
use crate::render::{NodeVars, Renderer, Shared};
use crate::rundir::{write_atomic, RunDir};
use crate::scheduler::{Options, RunStatus, Scheduler};

pub fn run(args: RunArgs) -> i32 {
    let checked = check_file(&args.file);
    print_human(&checked);
    let (Some(plan), Some(graph)) = (checked.plan().cloned(), compile(&checked)) else {
        return 1;
    };
    let mut vars = plan.vars.clone();
    for kv in &args.vars {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("error: --var expects KEY=VALUE, got `{kv}`");
            return 2;
        };
        vars.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    let concurrency = args
        .concurrency
        .or(plan.concurrency.map(|c| c as usize))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get()));
    let base_dir = checked.loaded.base_dir();
    if args.dry_run {
        let shared = Shared::new(plan, graph, base_dir, "dry-run".into(), Path::new(".plan/runs/dry-run"), vars, true);
        print_schedule(&Renderer::new(Arc::new(shared)));
        return 0;
    }
    // Git problems are found before anything runs or is written.
    let wants_git = args.commit || args.pr || uses_git(&plan);
    let repo = if wants_git {
        match crate::git::preflight(Path::new("."), args.commit || args.pr) {
            Ok(r) => Some(r),
            Err(msg) => {
                eprintln!("error: {msg}");
                return 1;
            }
        }
    } else {
        None
    };
    if args.background {
        return crate::background::start(&args);
    }
    let plan_bytes = std::fs::read(&args.file).unwrap_or_default();
    let hash = journal::fingerprint(&plan_bytes);
    let (dir, restored) = match &args.resume {
        Some(id) => match resume(&args.runs_dir, id, &hash, args.force) {
            Ok(x) => x,
            Err(msg) => {
                eprintln!("error: {msg}");
                return 1;
            }
        },
        None => match RunDir::create(&args.runs_dir, args.run_id.as_deref().unwrap_or(&crate::clock::new_run_id())) {
            Ok(dir) => (dir, HashMap::new()),
            Err(e) => {
                eprintln!("error: cannot create the run directory under {}: {e}", args.runs_dir.display());
                return 1;
            }
        },
    };
    let _lock = match dir.lock() {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            eprintln!("error: run `{}` is still running; `plan stop {}` stops it", dir.id, dir.id);
            return 1;
        }
        Err(e) => {
            eprintln!("error: cannot lock {}: {e}", dir.root.display());
            return 1;
        }
    };
    let mut journal = match Journal::open(&dir.journal()) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: cannot open {}: {e}", dir.journal().display());
            return 1;
        }
    };
    journal.push(&Entry::RunStarted {
        run_id: dir.id.clone(),
        plan: std::fs::canonicalize(&args.file).unwrap_or_else(|_| args.file.clone()).display().to_string(),
        plan_hash: hash,
        vars: vars.clone(),
        at: crate::clock::now(),
        nodes: graph.graph.node_count(),
        pid: std::process::id(),
    });
    if let Err(e) = journal.sync() {
        eprintln!("error: cannot write {}: {e}", dir.journal().display());
        return 1;
    }
    let issue = plan.issue.as_ref().and_then(|i| i.number);
    let display = Display::detect(args.quiet || args.json);
    if display != Display::Quiet {
        eprintln!(
            "run {} · {} agents · concurrency {concurrency} · {}",
            dir.id,
            graph.graph.node_count(),
            dir.root.display()
        );
    }
    let mut shared = Shared::new(plan, graph, base_dir, dir.id.clone(), &dir.root, vars, false);
    shared.repo = repo;
    let shared = Arc::new(shared);
    let renderer = Arc::new(Renderer::new(shared.clone()));
    let recorder = RunRecorder::new(dir.clone(), crate::journal::JournalWriter::spawn(journal), issue, display);
    let options = Options { concurrency, fail_fast: args.fail_fast, signals: true };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let mut scheduler = Scheduler::new(renderer.clone(), Arc::new(ProcessExecutor::default()), recorder, options);
    scheduler.restore(restored);
    let (result, mut recorder) = runtime.block_on(scheduler.run());
    let status = match result.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Interrupted => "interrupted",
    };
    recorder.journal.push(&Entry::RunFinished { status: status.into(), at: crate::clock::now() });
    if let Err(e) = recorder.journal.wait() {
        recorder.journal_error.get_or_insert(e);
    }
    recorder.finish();
    if let Some(e) = &recorder.journal_error {
        eprintln!("warning: {e}; this run may not resume");
    }
    let mut report = crate::report::build(&shared.plan, &shared.graph, &dir.id, &result);
    let mut publish_error = None;
    if result.status == RunStatus::Succeeded && (args.commit || args.pr) {
        if let Err(e) = publish(&renderer, &mut report, &args, &runtime) {
            publish_error = Some(e);
            report.status = "failed".into();
        }
    }
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Err(e) = write_atomic(&dir.report(), format!("{text}\n").as_bytes()) {
        eprintln!("warning: cannot write {}: {e}", dir.report().display());
    }
    if args.json {
        crate::stdout(&format!("{text}\n"));
    }
    runtime.shutdown_background();
    if let Some(e) = publish_error {
        eprintln!("error: {e}");
        return 1;
    }
    if let Some(url) = &report.implementation_summary.pr_url {
        if !args.json {
            crate::stdout(&format!("{url}\n"));
        }
        eprintln!("opened pull request {url}");
    }
    match result.status {
        RunStatus::Succeeded => {
            if display != Display::Quiet {
                let m = &report.performance_metrics;
                eprintln!(
                    "succeeded in {} (critical path {}, overhead {}) · report {}",
                    m.execution_time,
                    m.critical_path,
                    m.coordination_overhead,
                    dir.report().display()
                );
            }
            0
        }
        RunStatus::Failed => {
            if let Some((agent, error)) = &result.failure {
                eprintln!("error: agent `{agent}` failed: {error}");
            } else {
                eprintln!("error: the run did not finish");
            }
            for (step, ok) in &result.compensated {
                eprintln!("  compensated `{step}`{}", if *ok { "" } else { " (compensation FAILED)" });
            }
            eprintln!(
                "logs: {} · resume: plan run {} --resume {}",
                dir.root.join("logs").display(),
                args.file.display(),
                dir.id
            );
            1
        }
        RunStatus::Interrupted => {
            eprintln!("interrupted · resume: plan run {} --resume {}", args.file.display(), dir.id);
            130
        }
    }
}

/// Whether any agent works in a worktree or runs a git or GitHub action.
fn uses_git(plan: &plan_schema::Plan) -> bool {
    let default = plan.defaults.as_ref().and_then(|d| d.workspace) == Some(plan_schema::Workspace::Worktree);
    let index = plan_compiler::agents::AgentIndex::new(plan);
    let any = index.iter().any(|a| {
        a.agent.workspace == Some(plan_schema::Workspace::Worktree)
            || a.agent.uses.as_deref().is_some_and(|u| u.starts_with("git.") || u.starts_with("github."))
            || (default && a.agent.has_work())
    });
    any
}

/// `--commit`/`--pr`: the branch, the commit, the push and the pull request, from the
/// plan's `git` templates (which see `issue`, `report` and `agents`).
fn publish(
    renderer: &Renderer,
    report: &mut crate::report::Report,
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let shared = &renderer.shared;
    let Some(repo) = &shared.repo else { return Err("no git repository".into()) };
    let git = shared.plan.git.clone().unwrap_or_default();
    let ctx = renderer.git_context(report);
    let render = |inline: Option<&String>, file: Option<&String>, default: &str| -> Result<String, String> {
        match (inline, file) {
            (Some(t), _) => renderer.render_str(t, &ctx),
            (None, Some(f)) => renderer.render_file(f, &ctx),
            (None, None) => renderer.render_str(default, &ctx),
        }
    };
    if !crate::git::has_changes(&repo.root)? {
        eprintln!("warning: the agents changed nothing; no commit, no pull request");
        return Ok(());
    }
    let branch = render(git.branch.as_ref(), None, "plan/{{ run.id }}")?.trim().to_string();
    let message = render(git.commit.as_ref(), git.commit_file.as_ref(), "plan: {{ plan.name }}")?;
    let sha = crate::git::branch_and_commit(&repo.root, &branch, &message)?;
    report.implementation_summary.commit = Some(sha.clone());
    crate::git::push(&repo.root, &branch)?;
    eprintln!("committed {} on {branch} and pushed it to origin", &sha[..sha.len().min(12)]);
    if args.pr {
        let pr = git.pr.clone().unwrap_or_default();
        let ctx = renderer.git_context(report);
        let title = match &pr.title {
            Some(t) => renderer.render_str(t, &ctx)?,
            None => renderer.render_str("{{ plan.name }}", &ctx)?,
        };
        let body = match (&pr.body, &pr.body_file) {
            (Some(b), _) => renderer.render_str(b, &ctx)?,
            (None, Some(f)) => renderer.render_file(f, &ctx)?,
            (None, None) => String::new(),
        };
        let base = pr
            .base
            .clone()
            .or_else(|| repo.branch.clone())
            .ok_or("HEAD was detached when the run started: set `git.pr.base`")?;
        let gh_repo = shared.github_repo().ok_or("cannot tell the GitHub repository: set `issue.repo` (owner/name)")?;
        let url = runtime.block_on(crate::github::create_pr(
            &gh_repo,
            title.trim(),
            &body,
            &branch,
            &base,
            args.draft || pr.draft,
        ))?;
        report.implementation_summary.pr_url = Some(url);
    }
    Ok(())
}

/// Opens run `id` and returns the outputs of what already succeeded.
fn resume(runs_dir: &Path, id: &str, hash: &str, force: bool) -> Result<(RunDir, HashMap<String, Value>), String> {
    let dir = RunDir::open(runs_dir, id)
        .ok_or_else(|| format!("no run `{id}` under {} (see `ls {}`)", runs_dir.display(), runs_dir.display()))?;
    let entries =
        journal::replay(&dir.journal()).map_err(|e| format!("cannot read {}: {e}", dir.journal().display()))?;
    let first_hash = entries.iter().find_map(|e| match e {
        Entry::RunStarted { plan_hash, .. } => Some(plan_hash.clone()),
        _ => None,
    });
    if first_hash.as_deref().is_some_and(|h| h != hash) && !force {
        return Err(format!("the plan file changed since run `{id}` started; pass --force to resume anyway"));
    }
    let mut outputs = HashMap::new();
    for e in entries {
        if let Entry::NodeSucceeded { node, output, .. } = e {
            outputs.insert(node, output);
        }
    }
    Ok((dir, outputs))
}

/// `--dry-run`: the schedule level by level, each node's rendered command or prompt.
fn print_schedule(renderer: &Renderer) {
    use std::fmt::Write;
    let mut out = String::new();
    let shared = &renderer.shared;
    let graph = &shared.graph;
    let Ok(order) = graph.topo_order() else {
        return;
    };
    let levels = graph.levels(&order);
    let _ = writeln!(
        out,
        "plan {} · {} nodes · {} levels (dry run: nothing runs)",
        shared.plan.name,
        graph.graph.node_count(),
        levels.len()
    );
    for (i, level) in levels.iter().enumerate() {
        let _ = writeln!(out, "level {i}:");
        for &ix in level {
            let unit = &graph.graph[ix];
            let Some(meta) = shared.tree.get(&unit.agent) else {
                continue;
            };
            let text = match &unit.kind {
                UnitKind::DynamicMap => "map: one copy per item, known at run time".to_string(),
                UnitKind::Gather { consensus, has_agent: false } => format!("vote: {consensus}"),
                kind => {
                    let item = match kind {
                        UnitKind::MapCopy { item, .. } => Some(item.clone()),
                        _ => None,
                    };
                    let vote = matches!(kind, UnitKind::Gather { .. }).then(|| crate::consensus::Vote {
                        value: Value::String("<consensus>".into()),
                        votes: IndexMap::new(),
                        agreed: true,
                    });
                    let vars = NodeVars { attempt: 1, last_error: "", item: item.as_ref(), consensus: vote.as_ref() };
                    match renderer.prepare(unit, meta, &vars) {
                        Ok(Prepared::Done(_)) => {
                            format!("uses: {}", meta.agent.uses.as_deref().unwrap_or("noop"))
                        }
                        Ok(Prepared::Run(work)) => describe(&work),
                        Err(e) => format!("(rendered at run time, from earlier outputs: {e})"),
                    }
                }
            };
            let _ = writeln!(out, "  {}: {text}", unit.id);
        }
    }
    crate::stdout(&out);
}
