//! The run directory `.plan/runs/<run-id>/`: status files (replaced atomically),
//! logs, outputs, prompts and the report. Writes that are not on the critical path go
//! through a background writer thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;
use serde_json::Value;

use crate::store::clock;
use crate::store::StoreError;

/// Paths of one run.
#[derive(Clone, Debug)]
pub struct RunDir {
    pub id: String,
    pub root: PathBuf,
}

impl RunDir {
    /// Creates `<runs_dir>/<id>/` and its subdirectories, for a new run: an id that a
    /// run has used already is refused.
    pub fn create(runs_dir: &Path, id: &str) -> Result<RunDir, StoreError> {
        check_id(id)?;
        let root = runs_dir.join(id);
        if root.join("journal.jsonl").exists() {
            return Err(StoreError::Taken(id.to_string()));
        }
        for sub in ["status", "logs", "outputs", "prompts", "agents"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| StoreError::io("create", root.join(sub), e))?;
        }
        Ok(RunDir { id: id.to_string(), root })
    }

    /// Opens an existing run.
    pub fn open(runs_dir: &Path, id: &str) -> Option<RunDir> {
        check_id(id).ok()?;
        let root = runs_dir.join(id);
        root.join("journal.jsonl").is_file().then(|| RunDir { id: id.to_string(), root })
    }

    /// Run `id`, or the newest run when `id` is `None`.
    pub fn find(runs_dir: &Path, id: Option<&str>) -> Result<RunDir, StoreError> {
        let id = match id {
            Some(id) => id.to_string(),
            None => crate::store::run_state::list(runs_dir)
                .pop()
                .ok_or_else(|| StoreError::NoRuns(runs_dir.to_path_buf()))?,
        };
        RunDir::open(runs_dir, &id).ok_or_else(|| StoreError::NoRun { id, runs_dir: runs_dir.to_path_buf() })
    }

    pub fn status(&self, node: &str) -> PathBuf {
        self.root.join("status").join(format!("{node}.json"))
    }
    pub fn log(&self, node: &str) -> PathBuf {
        self.root.join("logs").join(format!("{node}.log"))
    }
    pub fn output(&self, node: &str) -> PathBuf {
        self.root.join("outputs").join(format!("{node}.json"))
    }
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }
    pub fn report(&self) -> PathBuf {
        self.root.join("report.json")
    }

    /// Takes the run's lock (held while a process runs it); `None` if another holds it.
    pub fn lock(&self) -> std::io::Result<Option<std::fs::File>> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.root.join("lock"))?;
        // SAFETY: flock on a descriptor we own; the lock lives as long as the file.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        Ok((rc == 0).then_some(file))
    }

    /// Whether a process is running this run now.
    pub fn is_running(&self) -> bool {
        matches!(self.lock(), Ok(None))
    }
}

/// A run id names a directory under the runs directory and nothing else: letters,
/// digits, `.`, `_` and `-`, not starting with `.`.
fn check_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadId(id.to_string()))
    }
}

/// Writes `contents` to `path` through a temporary file and a rename, so that a reader
/// sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// A status file: `agent_id, issue, progress, message, data, timestamp, pid`.
#[derive(Serialize)]
pub struct Status<'a> {
    pub agent_id: &'a str,
    pub issue: Option<u64>,
    pub progress: u8,
    pub message: String,
    pub data: Value,
    pub timestamp: String,
    pub pid: u32,
}

enum Write {
    /// A status file, serialized on the writer thread.
    Status(PathBuf, Box<StatusFields>),
    Plain(PathBuf, Vec<u8>),
    Flush(mpsc::Sender<()>),
}

struct StatusFields {
    node: String,
    issue: Option<u64>,
    progress: u8,
    message: String,
    data: Value,
    at: std::time::SystemTime,
}

fn write_status(path: &Path, f: StatusFields) {
    let status = Status {
        agent_id: &f.node,
        issue: f.issue,
        progress: f.progress,
        message: f.message,
        data: f.data,
        timestamp: clock::timestamp(f.at),
        pid: std::process::id(),
    };
    if let Ok(bytes) = serde_json::to_vec_pretty(&status) {
        let _ = write_atomic(path, &bytes);
    }
}

/// A background thread that writes status and output files in order.
pub struct Writer {
    tx: mpsc::Sender<Write>,
    dir: RunDir,
    issue: Option<u64>,
}

impl Writer {
    pub fn spawn(dir: RunDir, issue: Option<u64>) -> Writer {
        let (tx, rx) = mpsc::channel::<Write>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                // What queued up meanwhile goes in one batch, where a node's later status
                // replaces an earlier one not yet written (a fast agent is written once).
                let mut batch = vec![first];
                batch.extend(rx.try_iter());
                let mut latest: std::collections::HashMap<&Path, usize> = std::collections::HashMap::new();
                for (i, w) in batch.iter().enumerate() {
                    if let Write::Status(p, _) = w {
                        latest.insert(p.as_path(), i);
                    }
                }
                let keep: Vec<bool> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, w)| !matches!(w, Write::Status(p, _) if latest.get(p.as_path()) != Some(&i)))
                    .collect();
                for (w, keep) in batch.into_iter().zip(keep) {
                    match w {
                        Write::Status(p, f) if keep => write_status(&p, *f),
                        Write::Status(..) => {}
                        Write::Plain(p, b) => {
                            let _ = write_atomic(&p, &b);
                        }
                        Write::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            }
        });
        Writer { tx, dir, issue }
    }

    pub fn status(&self, node: &str, progress: u8, message: String, data: Value) {
        let fields = StatusFields {
            node: node.to_string(),
            issue: self.issue,
            progress,
            message,
            data,
            at: std::time::SystemTime::now(),
        };
        let _ = self.tx.send(Write::Status(self.dir.status(node), Box::new(fields)));
    }

    pub fn output(&self, node: &str, value: &Value) {
        if let Ok(bytes) = serde_json::to_vec_pretty(value) {
            let _ = self.tx.send(Write::Plain(self.dir.output(node), bytes));
        }
    }

    /// Waits until everything sent so far is written.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Write::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}
