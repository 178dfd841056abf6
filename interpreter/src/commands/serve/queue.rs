//! The run queue of `plan serve`: one file per queued run under the queue directory
//! (`queued` -> `started` -> `finished`), so a restarted server picks up where the
//! last one stopped. At most `max_runs` run at once; each is a detached `plan run
//! --background`, so runs outlive the server. A started run whose process died
//! without finishing is resumed with `--resume`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Server;
use crate::error::Error;
use crate::store::journal::{self, Entry};
use crate::store::rundir::{write_atomic, RunDir};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The id the run gets.
    pub run_id: String,
    pub repo: String,
    pub issue: u64,
    pub plan: PathBuf,
    /// Where the plan came from: `person`, `checkout`, `rules` or `planner`.
    #[serde(default)]
    pub provenance: String,
    /// The plan's fingerprint when it was judged: the run refuses a changed plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// The message of the person's review the run waits for first (`plan run
    /// --hold`), when the plan is untrusted and breaks the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<PathBuf>,
    /// `queued`, `started` or `finished`.
    pub state: String,
    /// How the run ended, or why it could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub queued_at: String,
    /// Feedback on the run's pull request that re-enters it (`plan run --resume RUN
    /// --feedback FILE`), when this is a round of feedback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<PathBuf>,
}

pub struct Queue {
    dir: PathBuf,
    runs_dir: PathBuf,
    max_runs: usize,
    run_concurrency: Option<usize>,
    /// Runs publish their work as a pull request (`plan serve --pr`).
    pub pr: bool,
    /// Wakes the worker when an item is queued.
    pub wake: tokio::sync::Notify,
    /// One tick at a time (a tick starts processes).
    ticking: std::sync::Mutex<()>,
}

/// Where a started run is.
enum Progress {
    Running,
    Finished(String),
    /// Its process is gone and it did not finish: killed, or the machine went down.
    Killed,
}

impl Queue {
    pub fn open(dir: &Path, runs_dir: &Path, max_runs: usize, run_concurrency: Option<usize>) -> Result<Queue, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        Ok(Queue {
            dir: dir.to_path_buf(),
            runs_dir: runs_dir.to_path_buf(),
            max_runs: max_runs.max(1),
            run_concurrency,
            pr: false,
            wake: tokio::sync::Notify::new(),
            ticking: std::sync::Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every item, oldest first.
    pub fn items(&self) -> Vec<Item> {
        let mut items: Vec<Item> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".run.json"))
                    .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
                    .collect()
            })
            .unwrap_or_default();
        items.sort_by(|a: &Item, b: &Item| (&a.queued_at, &a.run_id).cmp(&(&b.queued_at, &b.run_id)));
        items
    }

    /// The newest item of an issue.
    pub fn latest_for(&self, repo: &str, issue: u64) -> Option<Item> {
        self.items().into_iter().rev().find(|i| i.repo.eq_ignore_ascii_case(repo) && i.issue == issue)
    }

    pub fn save(&self, item: &Item) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(item).unwrap_or_default();
        write_atomic(&self.dir.join(format!("{}.run.json", item.run_id)), &bytes)
    }

    /// Whether `delivery` (its id, or its body under any id) was acted on already.
    pub fn delivered(&self, delivery: &super::webhook::Delivery) -> bool {
        let dir = self.dir.join("deliveries");
        dir.join(&delivery.id).exists() || dir.join(format!("body-{}", delivery.body_hash)).exists()
    }

    /// Keeps `delivery` for good: it is not acted on again.
    pub fn record_delivery(&self, delivery: &super::webhook::Delivery) -> std::io::Result<()> {
        let dir = self.dir.join("deliveries");
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join(&delivery.id), delivery.body_hash.as_bytes())?;
        write_atomic(&dir.join(format!("body-{}", delivery.body_hash)), delivery.id.as_bytes())
    }

    /// Queues `item` and wakes the worker.
    pub fn push(&self, item: &Item) -> std::io::Result<()> {
        self.save(item)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Brings items up to date with their runs and starts queued ones while fewer
    /// than `max_runs` run.
    pub fn tick(&self) {
        let Ok(_one) = self.ticking.lock() else { return };
        let mut active = 0;
        let items = self.items();
        for item in items.iter().filter(|i| i.state == "started") {
            match self.progress(&item.run_id) {
                Progress::Running => active += 1,
                Progress::Finished(how) => self.finish(item, how),
                Progress::Killed => match crate::commands::approve::resume_detached(&self.runs_dir, &item.run_id) {
                    Ok(()) => {
                        eprintln!("resumed run {} of {}#{}", item.run_id, item.repo, item.issue);
                        active += 1;
                    }
                    Err(e) => self.finish(item, format!("could not be resumed: {e}")),
                },
            }
        }
        for item in items.iter().filter(|i| i.state == "queued") {
            if active >= self.max_runs {
                break;
            }
            match self.start(item) {
                Ok(()) => {
                    // A round of feedback starts once; a kill resumes it as any run.
                    let started = Item { state: "started".into(), feedback: None, ..item.clone() };
                    if let Err(e) = self.save(&started) {
                        eprintln!("error: cannot record that run {} started: {e}", item.run_id);
                    }
                    eprintln!("started run {} for {}#{}", item.run_id, item.repo, item.issue);
                    active += 1;
                }
                Err(why) => self.finish(item, format!("did not start: {why}")),
            }
        }
    }

    fn finish(&self, item: &Item, outcome: String) {
        let done = Item { state: "finished".into(), outcome: Some(outcome), ..item.clone() };
        if let Err(e) = self.save(&done) {
            eprintln!("error: cannot record how run {} ended: {e}", item.run_id);
        }
    }

    fn progress(&self, run_id: &str) -> Progress {
        let Some(dir) = RunDir::open(&self.runs_dir, run_id) else {
            return Progress::Finished("its run directory is gone".into());
        };
        if dir.is_running() {
            return Progress::Running;
        }
        let entries = journal::replay(&dir.journal()).unwrap_or_default();
        match entries.last() {
            Some(Entry::RunFinished { status, .. }) => Progress::Finished(status.to_string()),
            _ => Progress::Killed,
        }
    }

    /// `plan run PLAN --background` under the item's run id; a round of feedback
    /// resumes the run with it.
    fn start(&self, item: &Item) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("run").arg("--background").arg("--runs-dir").arg(&self.runs_dir);
        if let Some(feedback) = &item.feedback {
            cmd.arg("--resume").arg(&item.run_id).arg("--feedback").arg(feedback);
        } else {
            cmd.arg(&item.plan).arg("--run-id").arg(&item.run_id);
            if let Some(hold) = &item.hold {
                cmd.arg("--hold").arg(hold);
            }
            if let Some(hash) = &item.plan_hash {
                cmd.arg("--plan-hash").arg(hash);
            }
            if self.pr {
                cmd.arg("--pr");
            }
        }
        if let Some(n) = self.run_concurrency {
            cmd.arg("--concurrency").arg(n.to_string());
        }
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr);
        Err(text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("plan run failed").trim().to_string())
    }
}

/// The queue's worker: a tick on every push, and every second.
pub async fn work(server: Arc<Server>) {
    loop {
        let s = server.clone();
        let _ = tokio::task::spawn_blocking(move || s.queue.tick()).await;
        tokio::select! {
            () = server.queue.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
