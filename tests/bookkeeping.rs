//! Run bookkeeping under stress: run ids that collide or escape, a resumed report that
//! keeps what the first attempt did, output files rewritten on resume, a full disk,
//! and `--background --resume` of a run that is still running.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Test;

const PIPELINE: &str = r#"version: 1
name: bookkeeping
complexity: moderate
agent:
  id: primary
  pattern: pipeline
  agents:
    - { id: a, run: "sleep 0.05; echo A" }
    - { id: b, run: "test -f go || exit 1; echo {{ outputs.a }}B" }
"#;

#[test]
fn run_ids_are_never_reused_and_never_leave_the_runs_directory() {
    let t = Test::new().file("plan.yaml", PIPELINE).file("go", "");
    t.run_with(&["run", "plan.yaml", "--run-id", "mine", "-q"]).code(0);
    let again = t.run_with(&["run", "plan.yaml", "--run-id", "mine", "-q"]);
    again.code(1);
    assert!(again.stderr.contains("run id `mine` is taken"), "{}", again.stderr);
    for bad in ["../../x", "/tmp/x", ".hidden", "a/b"] {
        let run = t.run_with(&["run", "plan.yaml", "--run-id", bad, "-q"]);
        run.code(1);
        assert!(run.stderr.contains("is not a run id"), "{bad}: {}", run.stderr);
        let resume = t.run_with(&["run", "--resume", bad]);
        resume.code(1);
    }
    assert!(!t.path("x").exists() && !t.dir.path().parent().unwrap().join("x").exists());
}

#[test]
fn a_resumed_report_keeps_attempts_and_durations_and_rewrites_lost_outputs() {
    let t = Test::new().file("plan.yaml", PIPELINE);
    let first = t.run_with(&["run", "plan.yaml", "--json"]);
    first.code(1);
    let id = first.json()["run_id"].as_str().unwrap().to_string();
    let run_dir = t.path(".plan/runs").join(&id);
    // A run killed before its writer thread wrote `a`'s output file.
    std::fs::remove_file(run_dir.join("outputs/a.json")).unwrap();
    std::fs::write(t.path("go"), "").unwrap();
    let second = t.run_with(&["run", "--resume", &id, "--json"]);
    second.code(0);
    let report = second.json();
    assert_eq!(report["agents"]["a"]["attempts"], 1, "{report}");
    let secs: f64 = report["agents"]["a"]["duration"].as_str().unwrap().trim_end_matches('s').parse().unwrap();
    assert!(secs >= 0.05, "the restored agent keeps its duration: {report}");
    assert_eq!(std::fs::read_to_string(run_dir.join("outputs/a.json")).unwrap().trim(), "\"A\"");
}

#[test]
fn background_resume_of_a_running_run_is_refused() {
    let plan = "version: 1\nname: slow\ncomplexity: simple\nagent: { id: slow, run: \"sleep 3\" }\n";
    let t = Test::new().file("plan.yaml", plan);
    let started = t.run_with(&["run", "plan.yaml", "--background"]);
    started.code(0);
    let id = started.stdout.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut again = t.run_with(&["run", "--resume", &id, "--background"]);
    while again.code == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        again = t.run_with(&["run", "--resume", &id, "--background"]);
    }
    again.code(1);
    assert!(again.stderr.contains("is still running"), "{}", again.stderr);
    t.run_with(&["stop", &id]);
}

/// Mounts a tiny tmpfs (root only); `None` where that is not allowed.
fn tiny_disk(dir: &std::path::Path) -> Option<TinyDisk> {
    std::fs::create_dir_all(dir).ok()?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| TinyDisk(dir.to_path_buf()))
}

struct TinyDisk(std::path::PathBuf);

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_instead_of_losing_its_journal() {
    // An agent whose output (it goes into the journal) does not fit on the disk.
    let plan = "version: 1\nname: big\ncomplexity: simple\nagent: { id: big, run: \"head -c 200000 /dev/zero | tr '\\\\0' a\" }\n";
    let t = Test::new().file("plan.yaml", plan);
    let Some(_disk) = tiny_disk(&t.path("runs")) else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let run = t.run_with(&["run", "plan.yaml", "--runs-dir", "runs", "--json"]);
    run.code(1);
    assert!(run.stderr.contains("cannot write the journal"), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["status"], "failed");
}
