//! The run store: everything a run leaves on disk under `.plan/runs/<id>/` — the
//! journal that `--resume` replays, status and output files, logs and the report —
//! and reading it back for `plan status`, `plan runs` and `plan logs`.

pub(crate) mod agent_report;
pub(crate) mod approvals;
pub(crate) mod cache;
pub(crate) mod clock;
pub(crate) mod exchanges;
pub(crate) mod journal;
pub(crate) mod metrics;
pub(crate) mod recorder;
pub(crate) mod redact;
pub(crate) mod report;
pub(crate) mod resume;
pub(crate) mod run_state;
pub(crate) mod rundir;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod usage;

use std::path::PathBuf;

/// What went wrong with a run directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no runs under {}; start one with `plan run PLAN`", .0.display())]
    NoRuns(PathBuf),
    #[error("no run `{id}` under {} (see `plan runs`)", runs_dir.display())]
    NoRun { id: String, runs_dir: PathBuf },
    #[error("run `{0}` is still running; `plan stop {0}` stops it")]
    Running(String),
    #[error("run id `{0}` is taken by an earlier run; choose another, or continue it with `--resume {0}`")]
    Taken(String),
    #[error("`{0}` is not a run id: use letters, digits, `.`, `_` and `-` (not starting with `.`)")]
    BadId(String),
    #[error("run `{id}` has no approval gate `{node}` waiting (see `plan status {id}`)")]
    NoGate { id: String, node: String },
    #[error("gate `{node}` is decided already: {what}")]
    Decided { node: String, what: String },
    #[error("run `{id}` is not running (it is {state})")]
    NotRunning { id: String, state: String },
    #[error("run `{id}` has ended ({state}): its gates take no decision (a stopped run continues with `plan run --resume {id}`)")]
    Ended { id: String, state: String },
    #[error("the plan file changed since run `{0}` started; pass --force to resume anyway")]
    PlanChanged(String),
    #[error("run `{0}` does not say which plan it ran; pass the plan file: `plan run PLAN --resume {0}`")]
    NoPlan(String),
    #[error("{0}; the run is counted as failed, and a --resume may run agents again")]
    Journal(String),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { action, path: path.into(), source }
    }
}
