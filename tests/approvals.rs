//! Approval gates: a branch waits for a person while the others go on; approval
//! continues it, rejection fails it (and compensates the saga); a waiting run that
//! was killed is resumed by `plan approve`; decisions are in the report.

use std::time::{Duration, Instant};

use crate::support::{run_in, Test};

const SAGA: &str = r#"version: 1
name: gate
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - id: release
      pattern: saga
      agents:
        - { id: build, run: "echo built", compensate: "echo undone > undone.txt" }
        - { id: ok, uses: approval, with: { message: "Ship {{ outputs.build }}?" } }
        - { id: deploy, run: "echo deployed > deployed.txt" }
    - { id: other, run: "echo other > other.txt" }
"#;

/// Polls `plan status RUN` until it shows `what`.
fn wait_for(t: &Test, id: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run_in(t.dir.path(), &["status", id], &[]).stdout;
        if out.contains(what) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_gate_waits_and_approval_continues_the_branch() {
    let t = Test::new().file("plan.yaml", SAGA);
    let started = t.run_with(&["run", "plan.yaml", "--background"]);
    started.code(0);
    let id = started.stdout.trim().to_string();
    let status = wait_for(&t, &id, "waiting for approval: Ship built?");
    assert!(status.contains(&format!("run {id} · waiting")), "{status}");
    assert!(t.path("other.txt").exists(), "the other branch goes on");
    assert!(!t.path("deployed.txt").exists());
    let runs = t.run_with(&["runs"]);
    assert!(runs.stdout.contains("waiting"), "{}", runs.stdout);
    let ok = run_in(t.dir.path(), &["approve", &id, "ok", "--comment", "ship it"], &[("PLAN_APPROVER", "alice")]);
    ok.code(0);
    let status = wait_for(&t, &id, "· succeeded ·");
    assert!(status.contains("succeeded"), "{status}");
    assert!(t.path("deployed.txt").exists());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path(".plan/runs").join(&id).join("report.json")).unwrap()).unwrap();
    let decision = &report["agents"]["ok"]["decision"];
    assert_eq!((decision["approved"].as_bool(), decision["by"].as_str()), (Some(true), Some("alice")), "{report}");
    assert_eq!(decision["comment"], "ship it");
    let again = run_in(t.dir.path(), &["approve", &id, "ok"], &[]);
    again.code(1);
    assert!(again.stderr.contains("decided already"), "{}", again.stderr);
}

#[test]
fn rejection_fails_the_gate_and_compensates_the_saga() {
    let t = Test::new().file("plan.yaml", SAGA);
    let id = t.run_with(&["run", "plan.yaml", "--background"]).stdout.trim().to_string();
    wait_for(&t, &id, "waiting for approval");
    run_in(t.dir.path(), &["reject", &id, "ok", "--reason", "not on a Friday"], &[("PLAN_APPROVER", "bob")]).code(0);
    let status = wait_for(&t, &id, "· failed ·");
    assert!(status.contains("rejected by bob"), "{status}");
    assert!(status.contains("not on a Friday"), "{status}");
    assert!(!t.path("deployed.txt").exists());
    assert!(t.path("undone.txt").exists(), "the saga was compensated");
}

#[test]
fn approving_a_killed_waiting_run_resumes_it() {
    let t = Test::new().file("plan.yaml", SAGA);
    let mut child = std::process::Command::new(crate::support::bin())
        .current_dir(t.dir.path())
        .args(["run", "plan.yaml", "--run-id", "killed", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_for(&t, "killed", "waiting for approval");
    assert!(status.contains("waiting"), "{status}");
    child.kill().unwrap();
    child.wait().unwrap();
    let status = run_in(t.dir.path(), &["status", "killed"], &[]).stdout;
    assert!(status.contains("· waiting ·"), "a killed run's gate still waits: {status}");
    let ok = run_in(t.dir.path(), &["approve", "killed", "ok"], &[]);
    ok.code(0);
    assert!(ok.stderr.contains("resumed it"), "{}", ok.stderr);
    let status = wait_for(&t, "killed", "· succeeded ·");
    assert!(status.contains("succeeded"), "{status}");
    assert!(t.path("deployed.txt").exists());
}

/// Runs SAGA as run `id` in the foreground until its gate waits; the child returned.
fn start_waiting(t: &Test, id: &str, plan: &str) -> std::process::Child {
    let child = std::process::Command::new(crate::support::bin())
        .current_dir(t.dir.path())
        .args(["run", plan, "--run-id", id, "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_for(t, id, "waiting for approval");
    assert!(status.contains("· waiting ·"), "{status}");
    child
}

#[test]
fn rejecting_a_killed_waiting_run_says_what_happened() {
    let t = Test::new().file("plan.yaml", SAGA);
    let mut child = start_waiting(&t, "killed", "plan.yaml");
    child.kill().unwrap();
    child.wait().unwrap();
    // The resumed run fails at once (the gate is rejected): that is what happened,
    // not a failure to resume.
    let no = run_in(t.dir.path(), &["reject", "killed", "ok", "--reason", "no"], &[]);
    no.code(0);
    assert!(no.stderr.contains("resumed it"), "{}", no.stderr);
    let status = wait_for(&t, "killed", "· failed ·");
    assert!(status.contains("rejected by"), "{status}");
    assert!(t.path("undone.txt").exists(), "the saga was compensated");
    assert!(!t.path("deployed.txt").exists());
}

#[test]
fn a_stopped_run_is_final_and_its_gate_takes_no_decision() {
    let t = Test::new().file("plan.yaml", SAGA);
    let mut child = start_waiting(&t, "stopped", "plan.yaml");
    run_in(t.dir.path(), &["stop", "stopped"], &[]).code(0);
    child.wait().unwrap();
    assert!(t.path("undone.txt").exists(), "stopping the saga rolled it back");
    let status = run_in(t.dir.path(), &["status", "stopped"], &[]).stdout;
    assert!(status.contains("· interrupted ·") && !status.contains("waiting"), "{status}");
    let late = run_in(t.dir.path(), &["approve", "stopped", "ok"], &[]);
    late.code(1);
    assert!(late.stderr.contains("has ended (interrupted)"), "{}", late.stderr);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.path("deployed.txt").exists(), "nothing deploys after the rollback");
}

#[test]
fn a_waiting_gate_holds_no_concurrency_slot() {
    let plan = r#"version: 1
name: slots
complexity: moderate
concurrency: 1
agent:
  id: primary
  pattern: fork-join
  agents:
    - id: gated
      pattern: pipeline
      agents:
        - { id: gate, uses: approval, with: { message: "go?" } }
        - { id: after, run: "echo after > after.txt" }
    - { id: other, run: "echo other > other.txt" }
"#;
    let t = Test::new().file("slots.yaml", plan);
    let mut child = start_waiting(&t, "slots", "slots.yaml");
    let status = wait_for(&t, "slots", "other  succeeded");
    assert!(status.contains("other  succeeded"), "the other branch ran beside the gate: {status}");
    run_in(t.dir.path(), &["approve", "slots", "gate"], &[]).code(0);
    assert!(child.wait().unwrap().success());
    assert!(t.path("after.txt").exists());
}
