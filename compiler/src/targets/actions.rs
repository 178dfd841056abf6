//! `plan compile --target github-actions`: a GitHub Actions workflow. One job per node
//! running `plan exec-node`; outputs travel as artifacts (`plan-output-*`) that later
//! jobs download; run-time maps are an items job and a matrix from `fromJSON`; saga
//! compensations are jobs with `if: failure()` on the later steps' results. Issue text
//! never appears in the workflow: `plan exec-node` reads it from the plan file.

use serde_json::{json, Map, Value};

use super::{steps, yaml_text, Step, StepKind, Target};
use crate::check::diagnostic::Diagnostic;

/// Text that GitHub must not read as an expression (`${{ ... }}`).
fn no_expressions(text: &str) -> String {
    text.replace("${{", "$ {{")
}

fn later_failed(steps: &[String]) -> String {
    match steps.split_first() {
        None => "false".into(),
        Some((first, [])) => format!("needs.{first}.result == 'failure'"),
        Some((first, rest)) => {
            format!(
                "needs.{first}.result == 'failure' || (needs.{first}.result == 'success' && ({}))",
                later_failed(rest)
            )
        }
    }
}

fn job(t: &Target, step: &Step, concurrency: Option<u32>) -> Value {
    let mut steps = vec![json!({ "uses": "actions/checkout@v5" })];
    if !step.inputs.is_empty() {
        steps.push(json!({
            "name": "Download the outputs of earlier agents",
            "uses": "actions/download-artifact@v7",
            "with": { "pattern": "plan-output-*", "path": "plan-inputs", "merge-multiple": true }
        }));
    }
    // Never a guess: the crates.io name `plan` belongs to another project.
    let baked = t.install.as_deref().map_or(String::new(), |cmd| no_expressions(cmd).replace('\'', "''"));
    steps.push(json!({
        "name": "Install plan",
        "run": "test -n \"$PLAN_INSTALL\" || { echo \"::error::set the repository variable PLAN_INSTALL to the command that installs plan, or compile with --install\"; exit 1; }\nsh -c \"$PLAN_INSTALL\"",
        "env": { "PLAN_INSTALL": format!("${{{{ vars.PLAN_INSTALL || '{baked}' }}}}") }
    }));
    let mut env = Map::new();
    env.insert("PLAN_NODE".into(), json!(step.node));
    env.insert("PLAN_ARTIFACT".into(), json!(step.name));
    let inputs = if step.inputs.is_empty() { "" } else { " --inputs plan-inputs" };
    let (run, upload) = match &step.kind {
        StepKind::Run => (format!("plan exec-node \"$PLAN_FILE\" --node \"$PLAN_NODE\"{inputs} --output \"plan-output/$PLAN_ARTIFACT.json\""), true),
        StepKind::Expand => (
            format!("plan exec-node \"$PLAN_FILE\" --node \"$PLAN_NODE\"{inputs} --expand --output items.json\necho \"items=$(cat items.json)\" >> \"$GITHUB_OUTPUT\""),
            false,
        ),
        StepKind::Copies { .. } => {
            env.insert("PLAN_COPY".into(), json!("${{ matrix.item.index }}"));
            (
                format!("plan exec-node \"$PLAN_FILE\" --node \"$PLAN_NODE\"{inputs} --copy \"$PLAN_COPY\" --output \"plan-output/$PLAN_ARTIFACT-$PLAN_COPY.json\""),
                true,
            )
        }
        StepKind::Compensate { .. } => (format!("plan exec-node \"$PLAN_FILE\" --node \"$PLAN_NODE\"{inputs} --compensate"), false),
    };
    steps.push(json!({ "name": format!("Run {}", step.node), "id": "run", "run": run, "env": env }));
    if upload {
        let name = if matches!(step.kind, StepKind::Copies { .. }) {
            format!("plan-output-{}-${{{{ matrix.item.index }}}}", step.name)
        } else {
            format!("plan-output-{}", step.name)
        };
        steps.push(json!({ "uses": "actions/upload-artifact@v6", "with": { "name": name, "path": "plan-output/" } }));
    }
    let mut job = json!({ "name": step.node, "runs-on": "ubuntu-latest" });
    let mut needs: Vec<String> = step.after.clone();
    for i in &step.inputs {
        if !needs.contains(i) && !matches!(step.kind, StepKind::Compensate { .. }) {
            needs.push(i.clone());
        }
    }
    if !needs.is_empty() {
        job["needs"] = json!(needs);
    }
    if let StepKind::Compensate { steps: chain, comps } = &step.kind {
        let mut cond =
            format!("failure() && needs.{}.result == 'success' && ({})", chain[0], later_failed(&chain[1..]));
        for c in comps {
            cond.push_str(&format!(" && needs.{c}.result != 'failure'"));
        }
        job["if"] = json!(format!("${{{{ {cond} }}}}"));
    }
    if let Some(d) = step.deadline {
        // GitHub stops any job after 5 days (self-hosted runners; 6 hours hosted).
        job["timeout-minutes"] = json!(d.div_ceil(60).min(5 * 24 * 60));
    }
    if let StepKind::Copies { expand } = &step.kind {
        let mut strategy = json!({ "fail-fast": true, "matrix": { "item": format!("${{{{ fromJSON(needs.{expand}.outputs.items) }}}}") } });
        if let Some(c) = concurrency {
            strategy["max-parallel"] = json!(c);
        }
        job["strategy"] = strategy;
    }
    if step.kind == StepKind::Expand {
        job["outputs"] = json!({ "items": "${{ steps.run.outputs.items }}" });
    }
    job["steps"] = json!(steps);
    let _ = t;
    job
}

/// The workflow as YAML, with the diagnostics of what maps only approximately.
pub fn to_github_actions(t: &Target) -> Result<(String, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (steps, mut diagnostics) = steps(t)?;
    if t.plan.concurrency.is_some() {
        diagnostics.push(t.diagnostic(
            "/concurrency",
            true,
            "unfaithful-concurrency",
            "GitHub Actions limits only the copies of a map (`max-parallel`); other jobs run as runners allow".into(),
            "expect more agents at once than `concurrency` says, or run with `plan run`",
        ));
    }
    let mut jobs = Map::new();
    for s in &steps {
        jobs.insert(s.name.clone(), job(t, s, t.plan.concurrency));
    }
    let doc = json!({
        "name": format!("plan: {}", no_expressions(&crate::draw::title(t.plan))),
        "on": { "workflow_dispatch": {} },
        "permissions": { "contents": "read" },
        "env": { "PLAN_FILE": no_expressions(&t.plan_path) },
        "jobs": jobs,
    });
    Ok((
        format!("# Compiled by `plan compile --target github-actions` from {}.\n{}", t.plan_path, yaml_text(&doc)),
        diagnostics,
    ))
}
