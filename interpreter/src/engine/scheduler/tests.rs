//! Scheduler tests on a fake executor with paused time: no processes, no sleeps in
//! real time, exact virtual timings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::{Options, Scheduler};
use crate::engine::context::RunContext;
use crate::engine::job::{BoxFuture, Cancel, Executor, Job, Outcome, ProcessStart, Ran};
use crate::engine::render::Renderer;
use crate::store::recorder::NullRecorder;
use crate::store::state::NodeState;
use crate::store::state::{RunResult, RunStatus};

/// Each job takes its scripted time and gives its scripted outcome per attempt
/// (the last entry repeats); everything it did is logged with virtual timestamps.
#[derive(Default)]
struct Fake {
    script: HashMap<String, Vec<(u64, bool)>>,
    log: Mutex<Vec<(String, &'static str, Duration)>>,
    attempts: Mutex<HashMap<String, usize>>,
    start: Mutex<Option<Instant>>,
    /// The process life a job reports (ms), as a real process's attempt does.
    lifetimes: HashMap<String, u64>,
}

impl Executor for Arc<Fake> {
    fn execute(&self, job: Job, mut cancel: watch::Receiver<Cancel>) -> BoxFuture {
        let me = self.clone();
        Box::pin(async move {
            let t0 = *me.start.lock().unwrap().get_or_insert_with(Instant::now);
            let n = {
                let mut a = me.attempts.lock().unwrap();
                let n = a.entry(job.id.clone()).or_insert(0);
                *n += 1;
                *n
            };
            let steps = me.script.get(&job.id).cloned().unwrap_or_else(|| vec![(1000, true)]);
            let (ms, ok) = steps[(n - 1).min(steps.len() - 1)];
            me.log.lock().unwrap().push((job.id.clone(), "start", t0.elapsed()));
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                _ = cancel.wait_for(|c| *c != Cancel::None) => {
                    me.log.lock().unwrap().push((job.id.clone(), "cancelled", t0.elapsed()));
                    return Outcome::Cancelled.into();
                }
            }
            me.log.lock().unwrap().push((job.id.clone(), "end", t0.elapsed()));
            let outcome = if ok {
                Outcome::Succeeded { stdout: format!("{}\n", job.id) }
            } else {
                Outcome::Failed { error: format!("{} failed", job.id) }
            };
            Ran { lifetime: me.lifetimes.get(&job.id).map(|&ms| Duration::from_millis(ms)), ..outcome.into() }
        })
    }
}

fn scheduler(yaml: &str, fake: Arc<Fake>, concurrency: usize, fail_fast: bool) -> Scheduler<NullRecorder> {
    scheduler_on(yaml, Arc::new(fake), concurrency, fail_fast)
}

fn scheduler_on(
    yaml: &str,
    executor: Arc<dyn Executor>,
    concurrency: usize,
    fail_fast: bool,
) -> Scheduler<NullRecorder> {
    let checked = plan_compiler::check_loaded(plan_compiler::load::load_str(Path::new("t.yaml"), yaml.to_string()));
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let graph = plan_compiler::compile(&checked).unwrap();
    let plan = checked.plan().unwrap().clone();
    let vars = plan.vars.clone();
    let ctx = RunContext::new(
        plan,
        graph,
        PathBuf::from("."),
        crate::store::rundir::RunDir { id: "test".into(), root: "/nonexistent-run-dir".into() },
        vars,
        false,
    );
    let renderer = Arc::new(Renderer::new(Arc::new(ctx)));
    Scheduler::new(renderer, executor, NullRecorder, Options { concurrency, fail_fast, signals: false, replay: None })
}

fn fork_join(n: usize, extra: &str) -> String {
    let mut s = String::from(
        "version: 1\nname: t\ncomplexity: moderate\nagent:\n  id: root\n  pattern: fork-join\n  agents:\n",
    );
    for i in 0..n {
        s.push_str(&format!("    - {{ id: a{i}, run: x{extra} }}\n"));
    }
    s
}

fn events(fake: &Fake) -> Vec<(String, &'static str, u128)> {
    fake.log.lock().unwrap().iter().map(|(id, what, t)| (id.clone(), *what, t.as_millis())).collect()
}

fn state(result: &RunResult, id: &str) -> NodeState {
    result.records.iter().find(|r| &*r.id == id).unwrap().state
}

#[tokio::test(start_paused = true)]
async fn at_most_concurrency_jobs_run_at_once() {
    let fake = Arc::new(Fake::default());
    let (result, _) = scheduler(&fork_join(5, ""), fake.clone(), 2, false).run().await;
    assert_eq!(result.status, RunStatus::Succeeded);
    let mut running = 0i32;
    let mut peak = 0;
    for (_, what, _) in events(&fake) {
        running += if what == "start" { 1 } else { -1 };
        peak = peak.max(running);
    }
    assert_eq!(peak, 2);
    // 5 one-second jobs, two at a time: three rounds.
    assert_eq!(events(&fake).last().unwrap().2, 3000);
}

/// An agent's time is its process's life: what came before its process started (a 1 s
/// attempt whose process lived 400 ms) is coordination, not the agent's.
#[tokio::test(start_paused = true)]
async fn an_agents_time_is_its_process_life() {
    let fake = Arc::new(Fake { lifetimes: HashMap::from([("a0".into(), 400)]), ..Fake::default() });
    let (result, _) = scheduler(&fork_join(1, ""), fake, 1, false).run().await;
    let duration = result.records.iter().find(|r| &*r.id == "a0").unwrap().duration;
    // The scheduler's clock is the real one; the fake's 1 s is virtual.
    assert!(duration >= Duration::from_millis(400) && duration < Duration::from_millis(450), "{duration:?}");
    assert!(result.critical_path >= Duration::from_millis(400), "{:?}", result.critical_path);
}

/// Jobs that wait, then start a "process" whose start takes a while, in real time:
/// `(wait, start, life)` in milliseconds by job.
struct Starts(HashMap<String, (u64, u64, u64)>);

impl Executor for Starts {
    fn execute(&self, job: Job, _: watch::Receiver<Cancel>) -> BoxFuture {
        let (wait, start, life) = self.0.get(&job.id).copied().unwrap_or((0, 0, 1));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let at = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(start + life)).await;
            let start = ProcessStart { at, took: Duration::from_millis(start) };
            Ran {
                lifetime: Some(at.elapsed()),
                start: Some(start),
                ..Outcome::Succeeded { stdout: String::new() }.into()
            }
        })
    }
}

/// The run's last agent started 60 ms late. While another agent's process took 80 ms
/// to start, the wait was the kernel's; with nothing starting, the scheduler's.
#[tokio::test]
async fn waiting_for_the_kernel_to_start_processes_is_not_coordination() {
    let busy = Starts(HashMap::from([("a0".into(), (0, 80, 0)), ("a1".into(), (60, 0, 40))]));
    let (result, _) = scheduler_on(&fork_join(2, ""), Arc::new(busy), 2, false).run().await;
    assert!(result.process_start >= Duration::from_millis(55), "{:?}", result.process_start);
    assert!(result.coordination < Duration::from_millis(10), "{:?}", result.coordination);

    let idle = Starts(HashMap::from([("a0".into(), (0, 0, 1)), ("a1".into(), (60, 0, 20))]));
    let (result, _) = scheduler_on(&fork_join(2, ""), Arc::new(idle), 2, false).run().await;
    assert!(result.process_start < Duration::from_millis(5), "{:?}", result.process_start);
    assert!(result.coordination >= Duration::from_millis(55), "{:?}", result.coordination);
}

#[tokio::test(start_paused = true)]
async fn a_node_starts_as_soon_as_its_dependencies_succeed() {
    let yaml = "version: 1\nname: t\ncomplexity: moderate\nagent:\n  id: root\n  pattern: fork-join\n  agents:\n    - { id: quick, run: x }\n    - { id: slow, run: x }\n    - { id: after, run: x, needs: [quick] }\n";
    let fake = Arc::new(Fake {
        script: HashMap::from([("quick".into(), vec![(100, true)]), ("slow".into(), vec![(5000, true)])]),
        ..Fake::default()
    });
    let (result, _) = scheduler(yaml, fake.clone(), 8, false).run().await;
    assert_eq!(result.status, RunStatus::Succeeded);
    let ev = events(&fake);
    assert!(ev.contains(&("after".into(), "start", 100)), "{ev:?}");
}

#[tokio::test(start_paused = true)]
async fn retries_wait_their_backoff() {
    let yaml = fork_join(1, ", retry: { attempts: 3, delay: 1s, backoff: exponential, jitter: false }");
    let fake = Arc::new(Fake {
        script: HashMap::from([("a0".into(), vec![(10, false), (10, false), (10, true)])]),
        ..Fake::default()
    });
    let (result, _) = scheduler(&yaml, fake.clone(), 1, false).run().await;
    assert_eq!(result.status, RunStatus::Succeeded);
    let starts: Vec<u128> = events(&fake).into_iter().filter(|e| e.1 == "start").map(|e| e.2).collect();
    // 10ms attempt, 1s wait, 10ms attempt, 2s wait, third attempt.
    assert_eq!(starts, vec![0, 1010, 3020]);
    assert_eq!(result.records.iter().find(|r| &*r.id == "a0").unwrap().attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn after_a_failure_nothing_new_starts_and_running_work_finishes() {
    let fake = Arc::new(Fake { script: HashMap::from([("a0".into(), vec![(100, false)])]), ..Fake::default() });
    let (result, _) = scheduler(&fork_join(3, ""), fake.clone(), 2, false).run().await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(result.failure.as_ref().unwrap().0, "a0");
    assert_eq!(state(&result, "a1"), NodeState::Succeeded);
    assert_eq!(state(&result, "a2"), NodeState::Skipped);
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_what_runs() {
    let fake = Arc::new(Fake { script: HashMap::from([("a0".into(), vec![(100, false)])]), ..Fake::default() });
    let (result, _) = scheduler(&fork_join(2, ""), fake.clone(), 2, true).run().await;
    assert_eq!(result.status, RunStatus::Failed);
    assert_eq!(state(&result, "a1"), NodeState::Cancelled);
    assert!(events(&fake).contains(&("a1".into(), "cancelled", 100)));
}

#[tokio::test(start_paused = true)]
async fn restored_nodes_do_not_run_again() {
    let yaml = "version: 1\nname: t\ncomplexity: moderate\nagent:\n  id: root\n  pattern: pipeline\n  agents:\n    - { id: one, run: x }\n    - { id: two, run: \"echo {{ outputs.one }}\" }\n";
    let fake = Arc::new(Fake::default());
    let mut s = scheduler(yaml, fake.clone(), 2, false);
    s.restore(HashMap::from([("one".to_string(), serde_json::json!("restored"))]), HashMap::new());
    let (result, _) = s.run().await;
    assert_eq!(result.status, RunStatus::Succeeded);
    let ran: Vec<String> = events(&fake).into_iter().filter(|e| e.1 == "start").map(|e| e.0).collect();
    assert_eq!(ran, vec!["two".to_string()]);
}
