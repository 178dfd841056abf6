//! The plan file: an issue, its tier, defaults, runners and the agent tree.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Agent, Command, Duration};

/// A plan: one issue, its complexity tier, and the agent tree that implements it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Version of the plan format; always 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Name of the plan, e.g. `issue-42-integration-tests`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The issue this plan implements; filled by `plan new`. Its text is data, never a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<Issue>,
    /// Complexity tier: atomic, simple, moderate, complex or enterprise.
    pub complexity: Complexity,
    /// Free variables for every template; `plan run --var k=v` overrides them.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, Value>,
    /// Settings inherited by every agent that does not set its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    /// Most agents running at once (default: the number of CPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrency: Option<u32>,
    /// Named agent back-ends; the rendered prompt goes to their standard input.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub runners: IndexMap<String, Runner>,
    /// Model prices in US dollars per million tokens, by model name: add to or replace
    /// entries of `plan`'s dated price table (`plan prices` prints it).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub prices: IndexMap<String, crate::Price>,
    /// What the whole run may spend (default: `cost_usd: 10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::Budget>,
    /// Bounds on fan-out and template work, checked before anything runs (and when a
    /// run-time map expands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The root of the agent tree: the primary agent.
    pub agent: Agent,
    /// Branch, commit and pull request templates for `plan run --commit/--pr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<Git>,
    /// How the work of agents with workspaces of their own is merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<Merge>,
}

/// Merging agents' work: each agent's workspace is committed on a branch of its own
/// and merged, as it finishes, into the run's merged result — outside the checkout,
/// which changes only to a complete, conflict-free result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// What a conflict does: `retry` (default) fails the attempt of the agent whose
    /// work does not merge, naming the files and both sides, and its retry starts on
    /// top of the merged result; `fail` fails the agent at once, its branch kept;
    /// `agent` has the agent's runner resolve it at once, given both sides.
    #[serde(default)]
    pub on_conflict: OnConflict,
}

/// What a merge conflict does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnConflict {
    /// Retry the agent on top of the merged result, the conflict in its prompt.
    #[default]
    Retry,
    /// Fail the agent, keeping its branch.
    Fail,
    /// Run the agent's runner again at once, in a workspace on the merged work, with
    /// both sides of the conflict in its prompt (`PLAN_CONFLICT` for a command); if
    /// that does not merge either, the attempt fails as with `retry`.
    Agent,
}

/// The GitHub issue a plan implements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Issue {
    /// The issue number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// The repository, `owner/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The issue title (data, never rendered as a template).
    #[serde(default)]
    pub title: String,
    /// The issue's web address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The issue's labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The issue body (data, never rendered as a template).
    #[serde(default)]
    pub body: String,
}

/// Complexity tier of an issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    /// Single file edit, simple fix: one agent.
    Atomic,
    /// Add a feature, update a component: one agent.
    Simple,
    /// Test suite, validation pipeline: 2-5 agents, fork-join or pipeline.
    Moderate,
    /// Integration, multi-component: 5-15 agents, mapreduce or scatter-gather.
    Complex,
    /// System migration, architecture: 15-100+ agents, depth >= 2, saga where rollback matters.
    Enterprise,
}

impl Complexity {
    pub const ALL: [Complexity; 5] =
        [Complexity::Atomic, Complexity::Simple, Complexity::Moderate, Complexity::Complex, Complexity::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Atomic => "atomic",
            Complexity::Simple => "simple",
            Complexity::Moderate => "moderate",
            Complexity::Complex => "complex",
            Complexity::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for Complexity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings inherited by every agent that does not set its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Default timeout of one attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Default retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Runner for agents that have a prompt but no `run`/`uses`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// Environment variables added for every agent.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Container image with `plan` and the agents' tools, for `plan compile --target argo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Default workspace of agents that do work: `shared` or `worktree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<crate::Workspace>,
    /// Secret environment variables (tokens, keys) every agent may see; others are
    /// withheld from agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// Whether agents run in a sandbox (default: yes, where the kernel allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<bool>,
    /// Whether agents are replayed from the step cache when nothing they depend on
    /// changed (default: yes for coding agents; `run:` commands only with their own
    /// `cache: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// Whether coding agents' model requests go through `plan`'s model gateway
    /// (default: yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<bool>,
    /// The hosts agents may reach (an agent's own list adds to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::Network>,
    /// Checks every agent with a prompt (a coding agent, a runner's command) must pass;
    /// an agent's own `accept` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<crate::Accept>,
    /// Memory and processes each agent may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::Resources>,
}

/// Retry policy of an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Total attempts, the first one included.
    #[schemars(range(min = 1, max = 100))]
    pub attempts: u32,
    /// fixed: wait `delay` each time; exponential: double it each time.
    #[serde(default)]
    pub backoff: Backoff,
    /// Wait before the second attempt.
    #[serde(default = "default_delay")]
    pub delay: Duration,
    /// Longest wait between attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<Duration>,
    /// Randomize each wait by up to +-25% so that retries do not stampede (default true).
    #[serde(default = "default_true")]
    pub jitter: bool,
}

fn default_delay() -> Duration {
    Duration::from_millis(1_000)
}

fn default_true() -> bool {
    true
}

/// How the wait between attempts grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// The same wait each time.
    #[default]
    Fixed,
    /// The wait doubles each time, up to `max_delay`.
    Exponential,
}

/// A named agent back-end, e.g. `claude: { command: [claude, -p] }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runner {
    /// The command; the rendered prompt goes to its stdin and to the file `$PLAN_PROMPT_FILE`.
    /// Leave it out for a coding-agent CLI (`cli`, or a runner named claude, codex or
    /// aider): `plan` knows its command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// The coding-agent CLI this runner drives (default: the runner's name when it is
    /// claude, codex or aider). Its output is parsed: the agent's output is its final
    /// message, and its tokens and cost go to the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<crate::AgentCli>,
    /// Model for a coding-agent CLI (e.g. `sonnet`, `gpt-5.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Extra arguments appended to a coding-agent CLI's command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment variables added for this runner.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
    /// Secret environment variables (tokens, keys) this runner's processes may see;
    /// others are withheld from agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// Hosts this runner's agents may reach (its model API, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::Network>,
    /// Whether this runner's model requests go through `plan`'s model gateway (default:
    /// yes for a built-in CLI's own command; a runner with its own `command` is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<bool>,
}

/// Bounds that keep a plan (or an output it maps over) from exhausting the machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most copies one map or scatter-gather may make (default 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub copies: Option<u32>,
    /// Most template instructions one rendering may run (default 5,000,000): a
    /// template that loops without end fails its agent instead of hanging the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub template_fuel: Option<u64>,
}

impl Limits {
    pub const DEFAULT_COPIES: u32 = 10_000;
    pub const DEFAULT_TEMPLATE_FUEL: u64 = 5_000_000;

    pub fn copies(limits: Option<&Limits>) -> u32 {
        limits.and_then(|l| l.copies).unwrap_or(Self::DEFAULT_COPIES)
    }

    pub fn template_fuel(limits: Option<&Limits>) -> u64 {
        limits.and_then(|l| l.template_fuel).unwrap_or(Self::DEFAULT_TEMPLATE_FUEL)
    }
}

/// Branch, commit and pull request templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Git {
    /// Branch name template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Inline commit message template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Commit message template file, relative to the plan file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_file: Option<String>,
    /// Pull request templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<PullRequest>,
    /// Ask a person before `--commit`/`--pr` commits and pushes: the run waits at the
    /// step `git.approve`, whose message is the diff summary; `plan approve RUN_ID
    /// git.approve` (or the web view) lets it push, `plan reject` fails the run with
    /// nothing pushed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approve: bool,
}

/// Pull request templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// Title template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Inline body template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body template file, relative to the plan file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_file: Option<String>,
    /// Base branch (default: the branch the run started from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Open the pull request as a draft.
    #[serde(default)]
    pub draft: bool,
}
