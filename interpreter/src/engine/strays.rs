//! Processes that escape an agent's process group (`setsid`, a daemon) or outlive a
//! killed `plan`: found by the run directory and node id that every agent process
//! inherits in its environment (`PLAN_RUN_DIR`, `PLAN_NODE_ID`), and killed. Used when
//! an agent times out or is stopped, when its output stays open after it exited, at
//! the end of a run, and before `--resume` starts anything.

use std::io::Read as _;
use std::path::Path;

/// Kills every process whose environment says it belongs to run `run_dir` (and to
/// node `node`, when given); how many there were. Never this process.
pub fn kill(run_dir: &Path, node: Option<&str>) -> usize {
    let run = format!("PLAN_RUN_DIR={}", run_dir.display());
    let node = node.map(|n| format!("PLAN_NODE_ID={n}"));
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
    let mut killed = 0;
    // One buffer for every process: an environment is read in one call, not grown to.
    let mut environ = Vec::with_capacity(64 * 1024);
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        environ.clear();
        let read = std::fs::File::open(entry.path().join("environ")).and_then(|mut f| f.read_to_end(&mut environ));
        if read.is_err() {
            continue;
        }
        let has = |wanted: &str| environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes());
        if !has(&run) || node.as_deref().is_some_and(|n| !has(n)) {
            continue;
        }
        let Ok(pid) = i32::try_from(pid) else { continue };
        // SAFETY: kill(2) has no memory-safety preconditions.
        if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
            killed += 1;
        }
    }
    killed
}

/// Kills what is left of run `run_dir` and waits (up to 2 s) until it is gone.
pub fn kill_and_wait(run_dir: &Path) -> usize {
    let killed = kill(run_dir, None);
    if killed > 0 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while kill(run_dir, None) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_what_carries_the_run_and_node_in_its_environment_only() {
        let dir = std::env::temp_dir().join(format!("plan-strays-{}", std::process::id()));
        let spawn = |node: &str| {
            std::process::Command::new("sleep")
                .arg("30")
                .env("PLAN_RUN_DIR", &dir)
                .env("PLAN_NODE_ID", node)
                .spawn()
                .unwrap()
        };
        let (mut a, mut b) = (spawn("a"), spawn("b"));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(kill(&dir, Some("a")), 1);
        assert!(a.wait().unwrap().code().is_none(), "a was killed");
        assert!(b.try_wait().unwrap().is_none(), "b still runs");
        assert_eq!(kill_and_wait(&dir), 1);
        assert!(b.wait().unwrap().code().is_none());
    }
}
