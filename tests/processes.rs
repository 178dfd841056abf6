//! Agents' processes never outlive what `plan` promises: a `setsid` child that keeps
//! the output open does not stretch a timeout; a daemon that left its group does not
//! outlive the run; and after `plan` is killed at random points, `--resume` stops
//! what the killed run left behind before it starts anything, so nothing that
//! succeeded runs twice and nothing runs twice at once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{bin, Test};

/// Pids of live processes whose command line contains `marker`.
fn alive(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_setsid_child_holding_the_output_open_does_not_stretch_a_timeout() {
    let marker = format!("plan-escape-{}", std::process::id());
    let plan = format!(
        "version: 1\nname: escape\ncomplexity: simple\nagent: {{ id: hold, timeout: 1s, run: \"setsid sh -c 'sleep 30; echo {marker}' & sleep 30\" }}\n"
    );
    let t = Test::new().file("plan.yaml", &plan);
    let started = Instant::now();
    let run = t.run_with(&["run", "plan.yaml"]);
    run.code(1);
    assert!(started.elapsed() < Duration::from_secs(6), "timeout took {:?}", started.elapsed());
    assert!(run.stderr.contains("timed out after 1s"), "{}", run.stderr);
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(&marker).is_empty(), "the setsid child survived");
}

#[test]
fn plan_stop_ends_a_run_whose_agent_has_a_setsid_child_holding_its_output() {
    let marker = format!("plan-stop-{}", std::process::id());
    let plan = format!(
        "version: 1\nname: stop\ncomplexity: simple\nagent: {{ id: hold, run: \"setsid sh -c 'sleep 30; echo {marker}' & sleep 30\" }}\n"
    );
    let t = Test::new().file("plan.yaml", &plan);
    let started = t.run_with(&["run", "plan.yaml", "--background"]);
    started.code(0);
    let id = started.stdout.trim().to_string();
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    t.run_with(&["stop", &id]).code(0);
    assert!(stopping.elapsed() < Duration::from_secs(10), "stop took {:?}", stopping.elapsed());
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(&marker).is_empty(), "the setsid child outlived `plan stop`");
}

#[test]
fn a_daemon_that_left_its_group_does_not_outlive_the_run() {
    let marker = format!("plan-daemon-{}", std::process::id());
    let plan = format!(
        "version: 1\nname: daemon\ncomplexity: simple\nagent: {{ id: spawn, run: \"setsid sh -c 'while :; do sleep 1; done' {marker} </dev/null >/dev/null 2>&1 & echo started\" }}\n"
    );
    let t = Test::new().file("plan.yaml", &plan);
    t.run_with(&["run", "plan.yaml"]).code(0);
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(&marker).is_empty(), "the daemon outlived the run");
}

const PLAN: &str = r#"version: 1
name: kills
complexity: complex
concurrency: 4
agent:
  id: primary
  pattern: fork-join
  agents:
"#;

/// Each agent records the start and end of each attempt (by its shell's pid), and
/// takes a while in a child process marked `marker`.
fn plan(n: usize, marker: &str) -> String {
    let mut s = PLAN.to_string();
    for i in 0..n {
        s.push_str(&format!(
            "    - {{ id: a{i}, run: \"echo start $$ >> log/a{i}; sh -c 'sleep 0.2' {marker}; echo end $$ >> log/a{i}; echo a{i}\" }}\n"
        ));
    }
    s
}

#[test]
fn killed_at_random_points_and_resumed_nothing_runs_twice() {
    let n = 12;
    let marker = format!("plan-kill-{}", std::process::id());
    let t = Test::new().file("plan.yaml", &plan(n, &marker)).file("log/.keep", "");
    let dir = t.dir.path();
    let mut seed = u64::from(std::process::id()) | 1;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let started = Instant::now();
    let mut finished = false;
    for i in 0..20 {
        let mut cmd = Command::new(bin());
        cmd.current_dir(dir).args(["run", "plan.yaml", "-q"]).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.args(if i == 0 { ["--run-id", "r"] } else { ["--resume", "r"] });
        let mut child = cmd.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(50 + random() % 350));
        finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();
        if finished {
            break;
        }
    }
    if !finished {
        let out = Command::new(bin()).current_dir(dir).args(["run", "--resume", "r", "-q"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    check_logs(dir, n);
    assert!(alive(&marker).is_empty(), "agent processes outlived the run");
}

/// Every agent ran to its end, and no two attempts of an agent ran at once: once an
/// attempt started, no earlier attempt ends (an attempt killed with `plan` leaves a
/// start without an end, and must not live on beside the next one).
fn check_logs(dir: &Path, n: usize) {
    for i in 0..n {
        let log = std::fs::read_to_string(dir.join(format!("log/a{i}"))).unwrap_or_default();
        let lines: Vec<(&str, &str)> = log.lines().filter_map(|l| l.split_once(' ')).collect();
        assert!(lines.last().is_some_and(|(what, _)| *what == "end"), "a{i} did not finish: {lines:?}");
        let mut current = None;
        for (what, pid) in &lines {
            match *what {
                "start" => current = Some(*pid),
                _ => {
                    assert_eq!(current, Some(*pid), "a{i}: an older attempt ended after a newer one started: {lines:?}")
                }
            }
        }
    }
}

#[test]
fn a_cli_that_gave_its_final_result_and_stays_alive_is_stopped_and_its_result_kept() {
    let marker = format!("plan-linger-{}", std::process::id());
    // A runner read as Claude Code's output: it prints its final result, then lingers
    // (as a CLI waiting on a child it spawned does).
    let plan = format!(
        r#"version: 1
name: linger
complexity: simple
runners:
  lingering:
    cli: claude
    command: "echo '{{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"all done\",\"num_turns\":1}}'; exec sh -c 'sleep 300; true' {marker}"
agent: {{ id: fix, prompt: "fix it", runner: lingering, timeout: 60s }}
"#
    );
    let t = Test::new().file("plan.yaml", &plan);
    let started = Instant::now();
    let run = t.run_with(&["run", "plan.yaml", "--json"]);
    run.code(0);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "the lingering CLI held the run for {took:?}");
    assert!(took >= Duration::from_secs(2), "it was given its grace period first ({took:?})");
    let report = run.json();
    assert_eq!(report["agents"]["fix"]["status"], "succeeded", "{report}");
    let id = report["run_id"].as_str().unwrap();
    let output = std::fs::read_to_string(t.path(".plan/runs").join(id).join("outputs/fix.json")).unwrap();
    assert_eq!(output.trim(), "\"all done\"");
    std::thread::sleep(Duration::from_millis(100));
    assert!(alive(&marker).is_empty(), "the lingering CLI was stopped");
}
