//! What the scheduler hands an executor (a `Job`), and what comes back (an
//! `Outcome`). A failed step is a value, not an error.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use petgraph::graph::NodeIndex;
use tokio::sync::watch;

use crate::store::usage::Usage;

/// A unit of execution: a node of the DAG, or one copy of a run-time map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub node: NodeIndex,
    pub copy: Option<usize>,
}

/// A command ready to start: argv, standard input, environment, directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessSpec {
    pub argv: Vec<String>,
    /// The rendered prompt: on standard input (unless the agent's CLI reads it from a
    /// file) and in `$PLAN_PROMPT_FILE`.
    pub stdin: Option<String>,
    pub env: BTreeMap<String, String>,
    /// Inherited variables the process must not see (secrets it did not ask for).
    pub withhold: Vec<String>,
    pub workdir: Option<PathBuf>,
    /// Set when the command is a coding-agent CLI whose output `plan` reads.
    pub agent: Option<AgentSpec>,
    /// The sandbox (or workspace) it starts in; `None`: as `plan` runs.
    pub sandbox: Option<Box<crate::engine::sandbox::SandboxSpec>>,
}

/// A coding-agent CLI run: how to read its output, and where to keep it whole.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    pub cli: plan_schema::AgentCli,
    pub prompt_on_stdin: bool,
    /// The CLI's machine-readable output, kept whole (`agents/<id>.jsonl`).
    pub events: PathBuf,
    /// Where the CLI writes its last message, when it can.
    pub last_message: Option<PathBuf>,
}

/// A built-in git or GitHub step.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    GitBranch {
        root: PathBuf,
        name: String,
    },
    GitCommit {
        root: PathBuf,
        message: String,
    },
    GithubPr {
        root: PathBuf,
        repo: String,
        title: String,
        body: String,
        base: String,
        draft: bool,
    },
    /// `key`: the comment's idempotency key (the run and the node).
    GithubComment {
        repo: String,
        number: u64,
        body: String,
        key: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Work {
    Action(Action),
    Process(ProcessSpec),
    Sleep(Duration),
    /// Write rendered text to a file (`template.render`).
    WriteFile {
        path: PathBuf,
        contents: String,
    },
    /// Wait for a person's decision (`uses: approval`).
    Approval(crate::engine::approval::Gate),
    /// A publishing step (`--commit`, `--pr`, `git.approve`).
    Publish(crate::engine::publish::Publishing),
}

impl Work {
    /// Whether the work waits for a person: it holds no concurrency slot, and its
    /// node is `waiting`, not `running`.
    pub fn is_gate(&self) -> bool {
        matches!(self, Work::Approval(_) | Work::Publish(crate::engine::publish::Publishing::Approve { .. }))
    }
}

#[derive(Clone, Debug)]
pub struct Job {
    /// The attempt must leave a changed file behind (`expect: changes`).
    pub expect_changes: bool,
    /// Node id (`agent`, `agent[3]`): names the log file.
    pub id: String,
    pub work: Work,
    pub timeout: Option<Duration>,
    pub log: Option<PathBuf>,
    /// Its way to the step cache, when it may be replayed from it.
    pub cache: Option<Box<crate::engine::cache::Ticket>>,
    /// The checks the attempt must pass (`accept`), or its place among candidates.
    pub accept: Option<Box<crate::engine::accept::Acceptance>>,
    /// The attempt before's work, when its checks failed: `(where it started, its
    /// commit)`; this attempt's workspace starts with it.
    pub carry: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Succeeded { stdout: String },
    Failed { error: String },
    TimedOut { after: Duration },
    Cancelled,
}

impl Outcome {
    /// What a retried attempt sees as `last_error`.
    pub fn error_text(&self) -> String {
        match self {
            Outcome::Succeeded { .. } => String::new(),
            Outcome::Failed { error } => error.clone(),
            Outcome::TimedOut { after } => {
                format!("timed out after {}", plan_schema::Duration(*after))
            }
            Outcome::Cancelled => "cancelled".into(),
        }
    }
}

/// Why running work should stop; the highest reason wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cancel {
    None,
    /// `--fail-fast` after a failure.
    Failure,
    /// Ctrl-C or `plan stop`: SIGTERM, then SIGKILL after the grace period.
    Interrupt,
    /// A second Ctrl-C: SIGKILL now.
    Kill,
}

/// What an executor reports: the outcome, and what a coding agent spent and the
/// session it can continue.
#[derive(Clone, Debug, PartialEq)]
pub struct Ran {
    pub outcome: Outcome,
    pub usage: Option<Usage>,
    pub session: Option<String>,
    /// How long the agent's process lived, from its start to its exit: the agent's
    /// own time, which the coordination overhead is measured against.
    pub lifetime: Option<std::time::Duration>,
    /// When the process was asked of the kernel, and how long starting it took.
    pub start: Option<ProcessStart>,
    /// A failure no retry can help (`merge: { on_conflict: fail }`).
    pub no_retry: bool,
    /// What its sandbox refused it (connections to hosts its plan does not list).
    pub blocked: Vec<String>,
    /// A cost its CLI reported that cannot be one: refused, not counted.
    pub cost_error: Option<String>,
    /// Replayed from the step cache: the key, and what producing it had spent (saved
    /// this time).
    pub cached: Option<(String, Option<Usage>)>,
    /// Its step-cache key, when it had one: the keys of what follows it name it.
    pub cache_key: Option<String>,
    /// What its acceptance checks found.
    pub checks: Option<Box<crate::engine::accept::Checks>>,
    /// A candidate of `best_of`: its work, kept apart until the candidates are compared.
    pub candidate: Option<Box<crate::engine::best_of::Candidacy>>,
    /// Work that failed its checks, for the retry to go on from (see `Job::carry`).
    pub carry: Option<Box<(String, String)>>,
}

/// The kernel starting a process: from the spawn call to its return (the program
/// loaded), which the overhead counts as the kernel's, not the scheduler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessStart {
    pub at: std::time::Instant,
    pub took: std::time::Duration,
}

impl From<Outcome> for Ran {
    fn from(outcome: Outcome) -> Self {
        Ran {
            outcome,
            usage: None,
            session: None,
            lifetime: None,
            start: None,
            no_retry: false,
            blocked: Vec::new(),
            cost_error: None,
            cached: None,
            cache_key: None,
            checks: None,
            candidate: None,
            carry: None,
        }
    }
}

pub type BoxFuture = Pin<Box<dyn Future<Output = Ran> + Send>>;

/// Decides *how* a job runs; the scheduler decides *when*.
pub trait Executor: Send + Sync {
    fn execute(&self, job: Job, cancel: watch::Receiver<Cancel>) -> BoxFuture;
}
