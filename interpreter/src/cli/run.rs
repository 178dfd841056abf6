//! The arguments of `plan run` and `plan exec-node`.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The plan file (with --resume it may be left out: the run knows its plan).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// Most agents running at once (overrides the plan's `concurrency`).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Override a template variable: `--var k=v` (repeatable).
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// A secret for agents that name it in `pass_env`: `--secret NAME` takes it from
    /// this environment, `--secret NAME=VALUE` sets it. Never a template variable,
    /// never written to the run directory, redacted from everything agents print.
    #[arg(long = "secret", value_name = "NAME[=VALUE]")]
    pub secrets: Vec<String>,
    /// Where runs are kept.
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    /// Run every step, whatever the step cache holds (and store nothing in it).
    #[arg(long)]
    pub no_cache: bool,
    /// The step cache's directory (share one between checkouts or machines' runs).
    #[arg(long, value_name = "DIR", default_value = crate::store::cache::DEFAULT_DIR, env = "PLAN_CACHE_DIR")]
    pub cache_dir: PathBuf,
    /// The most the step cache keeps when the run ends: the least recently used entries
    /// go first.
    #[arg(long, value_name = "SIZE", default_value = crate::store::cache::DEFAULT_MAX_SIZE)]
    pub cache_max_size: String,
    /// Print the run report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Print the schedule level by level, with rendered commands; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Cancel running agents at the first failure instead of letting them finish.
    #[arg(long)]
    pub fail_fast: bool,
    /// Continue the run with this id: agents that succeeded are not run again.
    #[arg(long, value_name = "RUN_ID")]
    pub resume: Option<String>,
    /// With --resume: continue even though the plan file changed.
    #[arg(long)]
    pub force: bool,
    /// With --resume of a finished run: re-enter the step that owns its work with
    /// this feedback on its pull request (JSON: `kind`, `text`, and optionally
    /// `title`, `source`, `by`, `agent`); the step's session goes on, and its fix is
    /// published as the run was (`plan serve` writes these from CI and reviews).
    #[arg(long, value_name = "FILE", requires = "resume")]
    pub feedback: Option<PathBuf>,
    /// Answer every model request from the exchanges run RUN_ID recorded, in the same
    /// order per agent and attempt, without a network: a new run that repeats that
    /// one (for debugging it, or a deterministic test).
    #[arg(long, value_name = "RUN_ID", conflicts_with = "resume")]
    pub replay: Option<String>,
    /// No progress display on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// After the agents succeed: create the branch of `git.branch`, commit what changed
    /// with the rendered message, and push it to `origin`.
    #[arg(long)]
    pub commit: bool,
    /// Also open a pull request (implies --commit).
    #[arg(long)]
    pub pr: bool,
    /// Open the pull request as a draft.
    #[arg(long, requires = "pr")]
    pub draft: bool,
    /// Start the run detached (it survives the terminal), print its id and return.
    #[arg(long)]
    pub background: bool,
    /// Refuse to run when agents would run without the sandbox they ask for (the
    /// kernel cannot make one here).
    #[arg(long)]
    pub require_sandbox: bool,
    /// Use this run id (set by --background for the detached process).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
    /// Wait for a person before anything runs: a gate before every node, its
    /// message read from FILE (`plan serve` holds plans that break its policy so).
    #[arg(long, value_name = "FILE")]
    pub hold: Option<PathBuf>,
    /// Refuse to run unless the plan file's fingerprint is this (the plan that was
    /// checked is the one that runs).
    #[arg(long, hide = true)]
    pub plan_hash: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ExecNodeArgs {
    pub file: PathBuf,
    /// The node id (see `plan compile`): an agent id, `map[*]`, `id.gather`, ...
    #[arg(long)]
    pub node: String,
    /// Run this copy of a map whose items are known at run time.
    #[arg(long)]
    pub copy: Option<usize>,
    /// Print the items of a run-time map instead of running anything.
    #[arg(long)]
    pub expand: bool,
    /// Run the `compensate` of saga step NODE.
    #[arg(long)]
    pub compensate: bool,
    /// Directory of `{"node", "output"}` records of earlier nodes.
    #[arg(long)]
    pub inputs: Option<PathBuf>,
    /// Write the result here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}
