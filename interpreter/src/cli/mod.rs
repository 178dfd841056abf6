//! Command-line interface: the arguments of every subcommand (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod run;
pub use run::{ExecNodeArgs, RunArgs};

#[derive(Parser, Debug)]
#[command(
    name = "plan",
    version,
    about = "Turn a GitHub issue into a declarative plan of coding agents; check it, draw it, run it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Turn a GitHub issue (or an issue file) into a plan.
    New(NewArgs),
    /// Check plan files: schema and semantic rules, with file:line:col diagnostics.
    Lint(LintArgs),
    /// Print the JSON Schema of plan files (for editors and validators).
    Schema,
    /// Print a shell's completion script: `plan completions bash > ~/.local/share/bash-completion/completions/plan`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the model gateway's dated price table (US dollars per million tokens;
    /// a plan's `prices:` adds to it or replaces rows).
    Prices,
    /// The step cache: `ls` its entries, `show KEY`, `prune [--older-than 30d]
    /// [--max-size 5GiB]`.
    Cache(crate::commands::cache::CacheArgs),
    /// Draw a plan's DAG without running anything.
    Graph(GraphArgs),
    /// Compile a plan and print its DAG as JSON.
    Compile(CompileArgs),
    /// Run a plan.
    Run(RunArgs),
    /// Run a plan template over a suite of tasks (each a small repository, an issue
    /// and hidden checks) and print its success rate, cost, tokens and time, per tier
    /// and pattern; the figures go to eval.json.
    Eval(crate::commands::eval::EvalArgs),
    /// Run one node of a plan, given the outputs before it (what compiled Argo and
    /// GitHub Actions steps run).
    ExecNode(ExecNodeArgs),
    /// Show the state of a run: each agent's state, attempt and duration.
    Status(StatusArgs),
    /// List runs with their state.
    Runs(RunsArgs),
    /// Stop a running run gracefully (saga compensations still run).
    Stop(StopArgs),
    /// Print the logs of a run, or of one agent.
    Logs(LogsArgs),
    /// Approve a waiting approval gate (resumes the run if its process is gone).
    Approve(ApproveArgs),
    /// Reject a waiting approval gate: the node fails, saga compensations run.
    Reject(RejectArgs),
    /// Serve a live web view of runs (with approvals and a JSON API) and take GitHub
    /// webhooks that queue runs for labelled issues.
    Serve(crate::commands::serve::ServeArgs),
    /// Runs a command in a sandbox (what `plan run` starts sandboxed agents through)
    /// or a copy-on-write workspace: namespaces, mounts, Landlock, a relay to `plan`'s
    /// proxy.
    #[command(name = "__sandbox", hide = true)]
    Sandbox(crate::commands::sandbox::SandboxArgs),
    /// Runs the model gateway alone, as a run starts it, with one pass for a pseudo
    /// agent `gateway`: prints it as JSON and serves until standard input closes (for
    /// measuring the gateway, and for trying a CLI through it).
    #[command(name = "__gateway", hide = true)]
    Gateway(crate::commands::gateway::GatewayArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["issue", "from"])))]
pub struct NewArgs {
    /// The issue number (with --repo); read through GitHub's REST API.
    #[arg(long, requires = "repo")]
    pub issue: Option<u64>,
    /// The repository, `owner/name`.
    #[arg(long)]
    pub repo: Option<String>,
    /// Read the issue from a file: GitHub REST JSON, `gh issue view --json` output, or
    /// markdown (first heading = title); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Where to write the plan (default: plans/issue-N.yaml).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Overwrite an existing plan file.
    #[arg(long)]
    pub force: bool,
    /// Print why this tier and pattern on standard error.
    #[arg(long)]
    pub explain: bool,
    /// Classification rules (default: prompts/intake-rules.yaml if present, else the built-in rules).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// The coding agent the plan's prompts go to (a built-in runner).
    #[arg(long, value_enum, default_value = "claude")]
    pub runner: RunnerArg,
    /// Ask a command instead: it gets the issue as JSON on stdin and answers
    /// `{"complexity", "pattern", "agents": [work items]}`.
    #[arg(long, value_name = "CMD", conflicts_with = "planner")]
    pub classifier: Option<String>,
    /// Have a coding agent write the plan: `claude` or `codex` (read-only in the
    /// repository), or a command that reads the request on stdin and prints the plan.
    /// Its plan is linted; the diagnostics go back to it until the plan lints clean.
    /// It starts from the rules' plan as a draft; when it writes no plan, the rules'
    /// plan is written. `PLAN_PLANNER` makes it the normal path.
    #[arg(long, value_name = "claude|codex|CMD", env = "PLAN_PLANNER")]
    pub planner: Option<String>,
    /// The rules' plan, whatever `PLAN_PLANNER` says (no model).
    #[arg(long)]
    pub rules_only: bool,
    /// Most rounds the planner gets to answer with a plan that lints clean.
    #[arg(long, default_value_t = 3, requires = "planner")]
    pub planner_rounds: u32,
    /// Most US dollars the planner may spend over all its rounds (Claude Code gets it
    /// as `--max-budget-usd`; a command as `PLAN_PLANNER_BUDGET_USD`).
    #[arg(long, value_name = "USD", default_value_t = 1.0, requires = "planner")]
    pub planner_budget: f64,
    /// A secret variable the planner may see (repeat for more): its model key. The
    /// planner gets no other secret; claude and codex get their own model keys.
    #[arg(long = "planner-pass", value_name = "NAME", requires = "planner")]
    pub planner_pass: Vec<String>,
    /// Print the plan on standard output instead of writing it (its template paths
    /// are still those of the output file).
    #[arg(long, hide = true)]
    pub print: bool,
}

#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// Plan files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Also report where each plan does more than this trust policy lets a plan no
    /// person wrote do (what `plan serve --policy` holds for approval); `default` is
    /// the built-in one.
    #[arg(long, value_name = "FILE|default")]
    pub policy: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Github,
}

#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Colour each node by its state in this run (its publishing steps drawn too).
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    /// Draw the publishing steps `plan run --commit` adds (approval, commit, push).
    #[arg(long)]
    pub commit: bool,
    /// Draw the publishing steps `plan run --pr` adds (…and the pull request).
    #[arg(long)]
    pub pr: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = CompileFormat::Json)]
    pub format: CompileFormat,
    /// Compile for another engine instead: an Argo Workflow or a GitHub Actions workflow.
    #[arg(long, value_enum)]
    pub target: Option<CompileTarget>,
    /// Container image for Argo (default: `defaults.image`).
    #[arg(long)]
    pub image: Option<String>,
    /// GitHub Actions: the command that installs `plan` in each job, pinned (e.g.
    /// `cargo install --locked --git URL --rev SHA plan`); the repository variable
    /// `PLAN_INSTALL` overrides it. Without either, jobs stop with a clear error.
    #[arg(long, value_name = "CMD")]
    pub install: Option<String>,
    /// The plan file's path in the engine's checkout or image (default: as given).
    #[arg(long)]
    pub plan_path: Option<String>,
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileTarget {
    Argo,
    GithubActions,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileFormat {
    Json,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The run (default: the latest).
    pub run_id: Option<String>,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    /// Refresh until the run ends.
    #[arg(long)]
    pub watch: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunsArgs {
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    pub run_id: String,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    pub run_id: String,
    /// One agent (node id); default: every log, each line prefixed with its agent.
    pub agent: Option<String>,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
    /// Keep printing new output until the run ends.
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(clap::Args, Debug)]
pub struct ApproveArgs {
    pub run_id: String,
    /// The gate: the id of the `uses: approval` agent.
    pub node: String,
    /// Why (kept in the journal and the report).
    #[arg(long)]
    pub comment: Option<String>,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RejectArgs {
    pub run_id: String,
    /// The gate: the id of the `uses: approval` agent.
    pub node: String,
    /// Why (kept in the journal and the report).
    #[arg(long, required = true)]
    pub reason: String,
    #[arg(long, default_value = ".plan/runs")]
    pub runs_dir: PathBuf,
}

/// The built-in coding-agent runners.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RunnerArg {
    Claude,
    Codex,
    Aider,
}

impl From<RunnerArg> for plan_schema::AgentCli {
    fn from(r: RunnerArg) -> Self {
        match r {
            RunnerArg::Claude => plan_schema::AgentCli::Claude,
            RunnerArg::Codex => plan_schema::AgentCli::Codex,
            RunnerArg::Aider => plan_schema::AgentCli::Aider,
        }
    }
}
