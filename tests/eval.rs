//! `plan eval SUITE`: the shipped offline suite against the model stand-in reports the
//! success rate its scripts imply (8 of 10: two scripted edits are wrong, and the
//! hidden checks catch them); a template that does nothing passes nothing; a suite
//! file that cannot be read is named with its line.

use serde_json::Value;

use crate::model::{agent_env, installed, plan_run, ModelServer};
use crate::support::{repo, run_in};

fn suite() -> String {
    repo().join("eval/offline").display().to_string()
}

#[test]
fn the_shipped_suite_reports_the_rate_its_scripts_imply() {
    if !installed("claude") {
        return;
    }
    let script: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("eval/offline/model-script.json")).unwrap()).unwrap();
    let server = ModelServer::start(script);
    let dir = tempfile::tempdir().unwrap();
    let env = agent_env(&server, &dir.path().join("home"));
    let out = dir.path().join("eval.json");
    let work = dir.path().join("work");
    let run = plan_run(
        dir.path(),
        &env,
        &["eval", &suite(), "--jobs", "2", "--work", work.to_str().unwrap(), "--output", out.to_str().unwrap()],
    );
    run.code(0);
    let eval: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let total = &eval["summary"]["total"];
    assert_eq!((total["tasks"].as_u64(), total["passed"].as_u64()), (Some(10), Some(8)), "{eval}");
    assert_eq!(total["rate"], 0.8);
    let failed: Vec<&str> = eval["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["typo", "celsius"]);
    // Every task ran, through the stand-in, and was paid for.
    for t in eval["tasks"].as_array().unwrap() {
        assert_eq!(t["run"], "succeeded", "{t}");
        assert!(t["cost_usd"].as_f64().unwrap() > 0.0 && t["tokens"].as_u64().unwrap() > 0, "{t}");
    }
    let by = &eval["summary"]["by_pattern"];
    assert_eq!((by["fork-join"]["passed"].as_u64(), by["pipeline"]["passed"].as_u64()), (Some(2), Some(2)), "{by}");
    assert_eq!(eval["summary"]["by_tier"]["atomic"]["tasks"], 5);
    // The table says the same.
    assert!(
        run.stdout.lines().any(|l| l.starts_with("all") && l.contains("8/10") && l.contains("80.0%")),
        "{}",
        run.stdout
    );
    // The hidden check never was in the repository the agents worked in.
    assert!(!work.join("typo/repo/check.sh").exists());
    assert!(eval["tasks"][4]["check_output"].as_str().is_some(), "{eval}");
}

#[test]
fn a_template_that_does_nothing_passes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("nothing.yaml");
    std::fs::write(&plan, "version: 1\nname: nothing\ncomplexity: atomic\nagent: { id: idle, run: \"true\" }\n")
        .unwrap();
    let out = dir.path().join("eval.json");
    let args = ["eval", &suite(), "--plan", plan.to_str().unwrap(), "--output", out.to_str().unwrap(), "--jobs", "2"];
    let run = run_in(dir.path(), &args, &[]);
    run.code(0);
    let eval: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(eval["summary"]["total"]["passed"], 0, "{eval}");
    assert_eq!(eval["summary"]["total"]["tasks"], 10);
    assert!(eval["tasks"].as_array().unwrap().iter().all(|t| t["run"] == "succeeded"), "{eval}");
}

#[test]
fn a_suite_that_cannot_be_read_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("suite.yaml"), "name: broken\ntasks:\n  - id: a\n    colour: red\n").unwrap();
    let run = run_in(dir.path(), &["eval", "."], &[]);
    run.code(2);
    assert!(run.stderr.contains("suite.yaml:4:"), "{}", run.stderr);
    assert!(run.stderr.contains("colour"), "{}", run.stderr);
    std::fs::write(dir.path().join("suite.yaml"), "name: missing\ntasks:\n  - id: a\n").unwrap();
    let run = run_in(dir.path(), &["eval", ".", "--plan", "x.yaml"], &[]);
    run.code(2);
    assert!(run.stderr.contains("task `a`: its plan"), "{}", run.stderr);
}
