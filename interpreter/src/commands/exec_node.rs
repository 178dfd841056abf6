//! `plan exec-node`: runs one node of a plan — with its templates, retries, consensus
//! and outputs exactly as `plan run` would — given the outputs of the nodes before it.
//! This is what each step of a compiled Argo Workflow or GitHub Actions job runs.
//!
//! Inputs are `{"node": id, "output": value}` records: `*.json` files in `--inputs DIR`
//! and environment variables `PLAN_INPUT_*` (a record, a list of records, or a list of
//! record texts, as Argo aggregates a loop's outputs). The result is written to
//! `--output FILE` as such a record; `--expand` writes a run-time map's items as
//! `[{"index": 0, "item": ...}, ...]`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use plan_compiler::graph::UnitKind;
use plan_compiler::{check_file, compile};
use serde_json::Value;

use crate::cli::ExecNodeArgs;
use crate::commands::lint::print_human;
use crate::engine::context::RunContext;
use crate::engine::job::{Executor, JobKey, Outcome};
use crate::engine::prepare::Preparer;
use crate::engine::process::ProcessExecutor;
use crate::engine::render::Renderer;
use crate::engine::scheduler::{Options, Scheduler};
use crate::error::Error;
use crate::store::journal::Entry;
use crate::store::recorder::Recorder;
use crate::store::state::NodeState;
use crate::store::state::RunStatus;

/// Keeps the journal entries in memory: the node's output is read from them.
#[derive(Default)]
struct Memory(Vec<Entry>);

impl Recorder for Memory {
    fn journal(&mut self, entry: Entry) {
        self.0.push(entry);
    }
    fn sync(&mut self) {}
    fn status(&mut self, _: &str, _: NodeState, _: u32, _: &str) {}
    fn output(&mut self, _: &str, _: &Value) {}
}

/// Reads every input record.
fn inputs(dir: Option<&Path>) -> Result<Vec<(String, Value)>, Error> {
    let mut texts: Vec<String> = Vec::new();
    if let Some(dir) = dir {
        if dir.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|e| Error::io("read", dir, e))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for f in files {
                texts.push(std::fs::read_to_string(&f).map_err(|e| Error::io("read", &f, e))?);
            }
        }
    }
    let mut vars: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("PLAN_INPUT_")).collect();
    vars.sort();
    texts.extend(vars.into_iter().map(|(_, v)| v));
    let mut out = Vec::new();
    fn collect(v: Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(mut o) => {
                if let (Some(Value::String(node)), Some(output)) = (o.remove("node"), o.remove("output")) {
                    out.push((node, output));
                }
            }
            Value::Array(items) => items.into_iter().for_each(|i| collect(i, out)),
            Value::String(s) => {
                if let Ok(v) = serde_json::from_str(&s) {
                    collect(v, out);
                }
            }
            _ => {}
        }
    }
    for t in texts.iter().filter(|t| !t.trim().is_empty()) {
        let v: Value = serde_json::from_str(t)
            .map_err(|e| Error::input(format!("an input is not JSON ({e})"), t.chars().take(80).collect::<String>()))?;
        collect(v, &mut out);
    }
    Ok(out)
}

pub fn run(args: &ExecNodeArgs) -> Result<(), Error> {
    let checked = check_file(&args.file);
    print_human(&checked);
    let (Some(plan), Some(graph)) = (checked.plan().cloned(), compile(&checked)) else {
        return Err(Error::Diagnosed);
    };
    let records = inputs(args.inputs.as_deref())?;
    // Copies of run-time maps come as `m[3]`; the map's own output is their list.
    let mut restored: HashMap<String, Value> = HashMap::new();
    let mut copies: HashMap<String, Vec<(usize, Value)>> = HashMap::new();
    for (node, output) in records {
        if let Some((agent, index)) = node.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
            if let (Ok(i), Some(_)) = (index.parse::<usize>(), graph.node(&format!("{agent}[*]"))) {
                copies.entry(format!("{agent}[*]")).or_default().push((i, output.clone()));
            }
        }
        restored.insert(node, output);
    }
    for (node, mut list) in copies {
        list.sort_by_key(|(i, _)| *i);
        restored.entry(node).or_insert_with(|| Value::Array(list.into_iter().map(|(_, v)| v).collect()));
    }
    // The node to run is run, whatever an input says about it.
    restored.remove(&args.node);
    let run_dir = std::env::temp_dir().join(format!("plan-exec-{}", std::process::id()));
    let dir = crate::store::rundir::RunDir::create(&run_dir, "node")?;
    let vars = plan.vars.clone();
    let base_dir = checked.loaded.base_dir();
    let mut ctx = RunContext::new(
        plan,
        graph,
        base_dir,
        crate::store::rundir::RunDir { id: "exec".into(), root: dir.root.clone() },
        vars,
        false,
    );
    for (id, value) in &restored {
        ctx.set_output(id.clone(), value.clone());
    }
    // Git steps find the checkout they run in; nothing else needs one.
    ctx.repo = crate::git::preflight(Path::new("."), false, false, std::slice::from_ref(&args.file)).ok();
    let renderer = Arc::new(Renderer::new(Arc::new(ctx)));
    let code = run_node(args, &renderer, restored);
    let _ = std::fs::remove_dir_all(&run_dir);
    code
}

fn run_node(args: &ExecNodeArgs, renderer: &Arc<Renderer>, restored: HashMap<String, Value>) -> Result<(), Error> {
    let shared = &renderer.run;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let write = |value: &Value| -> Result<(), Error> {
        let text = format!("{}\n", value);
        match &args.output {
            Some(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(path, text))
                .map_err(|e| Error::io("write", path, e)),
            None => {
                crate::commands::stdout(&text);
                Ok(())
            }
        }
    };
    if args.compensate {
        let Some(meta) = shared.tree.get(&args.node) else {
            return Err(Error::refused(format!("no agent `{}` in this plan", args.node)));
        };
        let Some(work) = Preparer::new(renderer).compensation(meta)? else {
            return Err(Error::refused(format!("agent `{}` has no `compensate`", args.node)));
        };
        let job = crate::engine::job::Job {
            expect_changes: false,
            accept: None,
            carry: None,
            id: format!("{}.compensate", args.node),
            work,
            timeout: None,
            log: None,
            cache: None,
        };
        let (_tx, rx) = tokio::sync::watch::channel(crate::engine::job::Cancel::None);
        return match runtime.block_on(ProcessExecutor::default().execute(job, rx)).outcome {
            Outcome::Succeeded { .. } => Ok(()),
            other => Err(Error::refused(format!("compensating `{}` failed: {}", args.node, other.error_text()))),
        };
    }
    let Some(node) = shared.graph.node(&args.node) else {
        return Err(Error::refused(format!("no node `{}` in this plan (see `plan compile`)", args.node)));
    };
    let dynamic = shared.graph.unit(node).kind == UnitKind::DynamicMap;
    let mut scheduler = Scheduler::new(
        renderer.clone(),
        Arc::new(ProcessExecutor::default()),
        Memory::default(),
        Options { concurrency: 1, fail_fast: false, signals: true, replay: None },
    );
    scheduler.restore(restored, HashMap::new());
    if args.expand {
        if !dynamic {
            return Err(Error::refused(format!("`{}` is not a map whose items are known at run time", args.node)));
        }
        return match scheduler.items_of(node) {
            Ok(items) => write(&Value::Array(
                items.into_iter().enumerate().map(|(i, item)| serde_json::json!({"index": i, "item": item})).collect(),
            )),
            Err(e) => Err(Error::refused(e)),
        };
    }
    if args.copy.is_some() && !dynamic {
        return Err(Error::refused(format!(
            "--copy needs a map whose items are known at run time, not `{}`",
            args.node
        )));
    }
    let key = JobKey { node, copy: args.copy };
    let target = match args.copy {
        Some(i) => format!("{}[{i}]", shared.graph.unit(node).agent()),
        None => args.node.clone(),
    };
    scheduler.only(key);
    let (result, memory) = runtime.block_on(scheduler.run());
    if result.status != RunStatus::Succeeded {
        let (agent, error) = result.failure.unwrap_or((target.clone(), "did not finish".into()));
        return Err(Error::refused(format!("agent `{agent}` failed: {error}")));
    }
    let output = memory.0.into_iter().rev().find_map(|e| match e {
        Entry::NodeSucceeded { node, output, .. } if node == target => Some(output),
        _ => None,
    });
    write(&serde_json::json!({ "node": target, "output": output.unwrap_or(Value::Null) }))
}
