//! `plan compile --target argo`: an Argo Workflow. One DAG task per node, each a
//! container running `plan exec-node`; outputs travel as output parameters into the
//! environment of later tasks (`PLAN_INPUT_*`), never into a script; run-time maps are
//! an items task and a `withParam` fan-out; saga compensations are tasks whose
//! `depends` fire when a later step failed, in reverse order.

use serde_json::{json, Value};

use super::{steps, yaml_text, Step, StepKind, Target};
use crate::check::diagnostic::Diagnostic;

const OUT: &str = "/tmp/plan-output.json";

fn task_ref(name: &str) -> String {
    format!("{{{{tasks.{name}.outputs.parameters.output}}}}")
}

/// `later failed` for compensation: a step after this one failed, or succeeded and a
/// step after it failed.
fn later_failed(steps: &[String]) -> String {
    match steps.split_first() {
        None => "false".into(),
        Some((first, [])) => format!("({first}.Failed || {first}.Errored)"),
        Some((first, rest)) => {
            format!("({first}.Failed || {first}.Errored || ({first}.Succeeded && {}))", later_failed(rest))
        }
    }
}

fn template(t: &Target, step: &Step, image: &str) -> Value {
    let mut args =
        vec![json!("exec-node"), json!(t.plan_path), json!("--node"), json!(step.node), json!("--output"), json!(OUT)];
    match &step.kind {
        StepKind::Expand => args.push(json!("--expand")),
        StepKind::Copies { .. } => {
            args.push(json!("--copy"));
            args.push(json!("{{inputs.parameters.index}}"));
        }
        StepKind::Compensate { .. } => args.push(json!("--compensate")),
        StepKind::Run => {}
    }
    let mut params: Vec<Value> = (0..step.inputs.len()).map(|i| json!({ "name": format!("in-{i}") })).collect();
    if matches!(step.kind, StepKind::Copies { .. }) {
        params.push(json!({ "name": "index" }));
    }
    let env: Vec<Value> = (0..step.inputs.len())
        .map(|i| json!({ "name": format!("PLAN_INPUT_{i}"), "value": format!("{{{{inputs.parameters.in-{i}}}}}") }))
        .collect();
    let mut tpl = json!({
        "name": step.name,
        "inputs": { "parameters": params },
        "container": { "image": image, "command": ["plan"], "args": args, "env": env },
        "outputs": { "parameters": [ { "name": "output", "valueFrom": { "path": OUT } } ] },
        // Failed attempts are retried inside `plan exec-node` (which keeps `last_error`);
        // the engine retries only when the pod itself failed.
        "retryStrategy": { "limit": "2", "retryPolicy": "OnError", "backoff": { "duration": "10s", "factor": "2", "maxDuration": "5m" } }
    });
    if matches!(step.kind, StepKind::Compensate { .. }) {
        tpl["outputs"] = json!({});
    }
    if let Some(d) = step.deadline {
        // IntOrString, which Argo's schema types as a string.
        tpl["activeDeadlineSeconds"] = json!(d.to_string());
    }
    sandbox(t, step, &mut tpl);
    memoize(t, step, &mut tpl);
    tpl
}

/// The step cache as Argo can say it: a memoized template (results kept in the
/// ConfigMap `plan-step-cache`, 30 days) whose key is the step's definition — the
/// agent, its runner and the defaults it inherits, hashed here — and its inputs,
/// hashed by Argo as the task starts. What Argo cannot see before a step runs (the
/// files it reads, its CLI's version) is not in the key: clear the ConfigMap when
/// those change (docs/format.md).
fn memoize(t: &Target, step: &Step, tpl: &mut Value) {
    use sha2::{Digest, Sha256};
    if !matches!(step.kind, StepKind::Run | StepKind::Copies { .. }) {
        return;
    }
    let agent_id = step.node.split(['[', '.']).next().unwrap_or(&step.node);
    let agents = crate::load::agents::AgentIndex::new(t.plan);
    let Some(agent) = agents.get(agent_id) else { return };
    let Ok(resolved) = crate::resolve::step(t.plan, agent.agent) else { return };
    if !resolved.cache {
        return;
    }
    let runner = crate::resolve::runner_name(t.plan, agent.agent).and_then(|r| t.plan.runners.get(r));
    // The node names a static copy of a map (its item) too.
    let definition =
        json!({ "v": 1, "node": step.node, "agent": agent.agent, "runner": runner, "defaults": t.plan.defaults });
    let digest = Sha256::digest(definition.to_string().as_bytes());
    let fixed: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let mut given: Vec<String> = (0..step.inputs.len()).map(|i| format!("inputs.parameters['in-{i}']")).collect();
    if matches!(step.kind, StepKind::Copies { .. }) {
        given.push("inputs.parameters['index']".into());
    }
    let key = match given.is_empty() {
        true => format!("plan-{fixed}"),
        false => format!("plan-{fixed}-{{{{=sprig.sha256sum({})}}}}", given.join(" + '/' + ")),
    };
    tpl["memoize"] = json!({ "key": key, "maxAge": "720h", "cache": { "configMap": { "name": "plan-step-cache" } } });
}

/// The agent's sandbox as Kubernetes can say it: a container that is not root, gains
/// no privilege and has no capability, with the agent's memory limit. (Its root file
/// system stays writable: the image's checkout is its workspace.) The hosts it may
/// reach are recorded as an annotation: a `NetworkPolicy` names addresses, not host
/// names, so enforcing them needs an egress proxy or a policy engine that knows names
/// (docs/format.md).
fn sandbox(t: &Target, step: &Step, tpl: &mut Value) {
    let agent_id = step.node.split(['[', '.']).next().unwrap_or(&step.node);
    let agents = crate::load::agents::AgentIndex::new(t.plan);
    let Some(policy) = agents.get(agent_id).and_then(|a| crate::resolve::step(t.plan, a.agent).ok()).map(|s| s.sandbox)
    else {
        return;
    };
    if !policy.on {
        return;
    }
    tpl["container"]["securityContext"] = json!({
        "runAsNonRoot": true,
        "allowPrivilegeEscalation": false,
        "capabilities": { "drop": ["ALL"] },
    });
    tpl["container"]["resources"] = json!({ "limits": { "memory": format!("{}Mi", policy.memory >> 20) } });
    let hosts = match &policy.hosts {
        None => "any".to_string(),
        Some(h) => h.join(","),
    };
    tpl["metadata"] = json!({ "annotations": { "plan.dev/network": hosts } });
}

fn task(step: &Step) -> Value {
    let mut params: Vec<Value> = step
        .inputs
        .iter()
        .enumerate()
        .map(|(i, name)| json!({ "name": format!("in-{i}"), "value": task_ref(name) }))
        .collect();
    let mut task = json!({ "name": step.name, "template": step.name });
    match &step.kind {
        StepKind::Compensate { steps, comps } => {
            let own = &steps[0];
            let mut expr = format!("{own}.Succeeded && {}", later_failed(&steps[1..]));
            for c in comps {
                expr.push_str(&format!(" && ({c}.Succeeded || {c}.Skipped || {c}.Omitted)"));
            }
            task["depends"] = json!(expr);
            // Outputs of steps that may not have run are not handed over.
            params.retain(|p| p["value"].as_str().is_some_and(|v| v == task_ref(own)));
            params = params
                .into_iter()
                .enumerate()
                .map(|(i, mut p)| {
                    p["name"] = json!(format!("in-{i}"));
                    p
                })
                .collect();
        }
        _ => {
            // `depends` everywhere: Argo refuses a DAG that mixes it with `dependencies`.
            if !step.after.is_empty() {
                task["depends"] = json!(step.after.join(" && "));
            }
        }
    }
    if let StepKind::Copies { expand } = &step.kind {
        task["withParam"] = json!(task_ref(expand));
        params.push(json!({ "name": "index", "value": "{{item.index}}" }));
    }
    if !params.is_empty() {
        task["arguments"] = json!({ "parameters": params });
    }
    task
}

/// The workflow as YAML, with the diagnostics of what maps only approximately.
pub fn to_argo(t: &Target) -> Result<(String, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (mut steps, diagnostics) = steps(t)?;
    let image = t.image.clone().or_else(|| t.plan.defaults.as_ref().and_then(|d| d.image.clone()));
    let Some(image) = image else {
        return Err(vec![t.diagnostic(
            "/defaults",
            false,
            "missing-image",
            "Argo runs every step in a container: which image has `plan` and the agents' tools?".into(),
            "pass `--image IMAGE`, or set `defaults.image`",
        )]);
    };
    // A compensation hands over only its own step's output.
    for s in &mut steps {
        if let StepKind::Compensate { steps: chain, .. } = &s.kind {
            s.inputs = vec![chain[0].clone()];
        }
    }
    let mut templates = vec![json!({ "name": "plan", "dag": { "tasks": steps.iter().map(task).collect::<Vec<_>>() } })];
    templates.extend(steps.iter().map(|s| template(t, s, &image)));
    let mut spec = json!({ "entrypoint": "plan", "templates": templates });
    if let Some(c) = t.plan.concurrency {
        spec["parallelism"] = json!(c);
    }
    let name: String = t
        .plan
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(50)
        .collect();
    let mut labels = json!({ "plan.dev/name": name.trim_matches('-') });
    if let Some(n) = t.plan.issue.as_ref().and_then(|i| i.number) {
        labels["plan.dev/issue"] = json!(n.to_string());
    }
    let doc = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": { "generateName": format!("{}-", name.trim_matches('-')), "labels": labels },
        "spec": spec,
    });
    Ok((format!("# Compiled by `plan compile --target argo` from {}.\n{}", t.plan_path, yaml_text(&doc)), diagnostics))
}
