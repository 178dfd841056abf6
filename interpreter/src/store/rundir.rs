//! The run directory `.plan/runs/<run-id>/`: the journal, status files, logs,
//! outputs, prompts and the report, and the atomic writes they all use. Status and
//! output files are written off the critical path by `store::status::Writer`.

use std::path::{Path, PathBuf};

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
        if RunDir::at(&root).journal().exists() {
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
        let dir = RunDir { id: id.to_string(), root };
        dir.journal().is_file().then_some(dir)
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

    /// The run directory at `root` (its id is its name), for code handed only the path.
    pub fn at(root: &Path) -> RunDir {
        let id = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        RunDir { id, root: root.to_path_buf() }
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
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The log of a saga step's compensation.
    pub fn compensate_log(&self, node: &str) -> PathBuf {
        self.root.join("logs").join(format!("{node}.compensate.log"))
    }
    /// A node's rendered prompt (`$PLAN_PROMPT_FILE`).
    pub fn prompt_file(&self, node: &str) -> PathBuf {
        self.root.join("prompts").join(format!("{node}.md"))
    }
    /// A coding agent's machine-readable output, kept whole.
    pub fn agent_events(&self, node: &str) -> PathBuf {
        self.root.join("agents").join(format!("{node}.jsonl"))
    }
    /// Where a coding-agent CLI that can writes its last message.
    pub fn agent_last_message(&self, node: &str) -> PathBuf {
        self.root.join("agents").join(format!("{node}.last.txt"))
    }
    /// The scratch directory of the judge of a node's attempt (`accept.judge`).
    pub fn judge_dir(&self, node: &str, attempt: u32) -> PathBuf {
        self.root.join("judges").join(format!("{node}-{attempt}"))
    }
    /// Where the workspaces of the run live (copy-on-write, or worktrees).
    pub fn workspaces(&self) -> PathBuf {
        self.root.join("ws")
    }
    /// The scratch index that says what the checkout's files are (merging).
    pub fn checkout_index(&self) -> PathBuf {
        self.root.join("checkout.index")
    }
    /// A change of the checkout's files under way: the commit it goes to.
    pub fn switching(&self) -> PathBuf {
        self.root.join("switching")
    }
    /// Every model request and answer of the run, through the gateway
    /// (`store::exchanges`).
    pub fn exchanges(&self) -> PathBuf {
        self.root.join("gateway").join("exchanges.jsonl")
    }
    /// Approval gates: requests and decisions.
    pub fn approvals(&self) -> PathBuf {
        self.root.join("approvals")
    }
    /// What a waiting gate asks (written by the run).
    pub fn approval_request(&self, node: &str) -> PathBuf {
        self.approvals().join(format!("{node}.request.json"))
    }
    /// A person's decision on a gate (written by `plan approve`/`reject`, the page).
    pub fn approval_decision(&self, node: &str) -> PathBuf {
        self.approvals().join(format!("{node}.json"))
    }
    /// What a background run prints.
    pub fn run_log(&self) -> PathBuf {
        self.root.join("run.log")
    }
    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.jsonl")
    }
    pub fn report(&self) -> PathBuf {
        self.root.join("report.json")
    }
    /// Every node's state in one file (`store::status`).
    pub fn board(&self) -> PathBuf {
        self.root.join("status.json")
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
    write_atomic_with(path, |f| std::io::Write::write_all(f, contents))
}

/// As [`write_atomic`], with what `write` writes through a buffer (a big report is
/// never held whole in memory).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    write(&mut out)?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path)
}
