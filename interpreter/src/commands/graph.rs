//! `plan graph` and `plan compile`: draw or dump a plan's DAG without running it.
//! Invalid plans are refused with the same diagnostics as `plan lint`.

use std::collections::HashMap;
use std::path::Path;

use plan_compiler::draw::json::compiled;
use plan_compiler::draw::{dot, mermaid};
use plan_compiler::graph::PlanGraph;
use plan_compiler::{check_file, compile, Checked};
use plan_schema::Plan;

use crate::cli::{CompileArgs, GraphArgs, GraphFormat};
use crate::commands::lint::print_human;
use crate::error::Error;
use crate::store::run_state;
use crate::store::rundir::RunDir;

/// Checks and compiles a plan, printing diagnostics; refused when it has errors.
pub fn checked_graph(file: &Path) -> Result<(Checked, PlanGraph), Error> {
    let checked = check_file(file);
    print_human(&checked);
    match compile(&checked) {
        Some(graph) => Ok((checked, graph)),
        None => Err(Error::Diagnosed),
    }
}

fn write_out(output: Option<&Path>, text: &str) -> Result<(), Error> {
    match output {
        None => {
            crate::commands::stdout(text);
            Ok(())
        }
        Some(path) => std::fs::write(path, text).map_err(|e| Error::io("write", path, e)),
    }
}

/// Draws the graph; `states` colours nodes by their state in a run.
pub fn draw(
    plan: &Plan,
    graph: &PlanGraph,
    format: GraphFormat,
    states: Option<&HashMap<String, plan_schema::NodeState>>,
) -> String {
    match format {
        GraphFormat::Dot => dot::to_dot(plan, graph, states),
        GraphFormat::Mermaid => mermaid::to_mermaid(plan, graph, states),
    }
}

pub fn run_graph(args: &GraphArgs) -> Result<(), Error> {
    let (checked, mut graph) = checked_graph(&args.file)?;
    let Some(plan) = checked.plan() else { return Err(Error::Diagnosed) };
    let mut publish = plan_compiler::graph::Publish { commit: args.commit, pr: args.pr, draft: false };
    let mut held = false;
    let states = match &args.run {
        None => None,
        Some(id) => {
            let run = run_state::read(&RunDir::find(&args.runs_dir, Some(id))?)?;
            publish = run.publish;
            held = run.held;
            Some(run.nodes.into_iter().map(|(k, v)| (k, v.state)).collect::<HashMap<_, _>>())
        }
    };
    graph.publish(plan, publish);
    if held {
        graph.hold(plan_compiler::graph::hold_id(&plan.name));
    }
    write_out(args.output.as_deref(), &draw(plan, &graph, args.format, states.as_ref()))
}

pub fn run_compile(args: &CompileArgs) -> Result<(), Error> {
    let (checked, graph) = checked_graph(&args.file)?;
    let Some(plan) = checked.plan() else { return Err(Error::Diagnosed) };
    if let Some(target) = args.target {
        return compile_target(&checked, &graph, args, target);
    }
    let Ok(order) = graph.topo_order() else {
        return Err(Error::Diagnosed);
    };
    let doc = compiled(plan, &graph, &order);
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    write_out(args.output.as_deref(), &text)
}

/// `plan compile --target argo|github-actions`.
fn compile_target(
    checked: &Checked,
    graph: &PlanGraph,
    args: &CompileArgs,
    target: crate::cli::CompileTarget,
) -> Result<(), Error> {
    let plan_path = args.plan_path.clone().unwrap_or_else(|| args.file.display().to_string());
    let Some(t) =
        plan_compiler::targets::Target::new(checked, graph, plan_path, args.image.clone(), args.install.clone())
    else {
        return Err(Error::Diagnosed);
    };
    let result = match target {
        crate::cli::CompileTarget::Argo => plan_compiler::targets::to_argo(&t),
        crate::cli::CompileTarget::GithubActions => plan_compiler::targets::to_github_actions(&t),
    };
    let style = crate::commands::lint::stderr_style();
    let source = checked.loaded.source.as_ref();
    let (text, diagnostics) = match result {
        Ok((text, warnings)) => (Some(text), warnings),
        Err(errors) => (None, errors),
    };
    for d in &diagnostics {
        eprint!("{}", plan_compiler::check::render::render_human(d, source, style));
    }
    match text {
        Some(text) => write_out(args.output.as_deref(), &text),
        None => Err(Error::Diagnosed),
    }
}
