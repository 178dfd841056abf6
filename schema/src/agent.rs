//! The agent tree: every node is an agent that does work, has children, or both.

use std::fmt;
use std::sync::LazyLock;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{Duration, Gather, MapSpec, Retry};

/// The pattern every agent id matches.
pub const AGENT_ID_PATTERN: &str = r"^[a-z][a-z0-9_-]*$";

/// One agent of the tree. It does its own work with `run`, `uses` or a prompt sent to a
/// runner, and/or coordinates children with `pattern` + `agents`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Unique id of the agent (`[a-z][a-z0-9_-]*`); names its status, log and output files.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_-]*$"))]
    pub id: String,
    /// What this agent is responsible for, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Box<str>>,
    /// A command: a string (run by `sh -c`) or a list (argv, no shell). A template. The
    /// rendered prompt, if any, goes to its standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Command>,
    /// A built-in action: `noop`, `sleep`, `template.render`, with arguments in `with`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<Box<str>>,
    /// Extra template variables for this agent (and arguments of a `uses` action).
    #[serde(default, skip_serializing_if = "no_entries")]
    #[schemars(with = "IndexMap<String, Value>")]
    pub with: Option<Box<IndexMap<String, Value>>>,
    /// An inline prompt template, sent to the agent's runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A prompt template file, relative to the plan file, sent to the agent's runner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_file: Option<Box<str>>,
    /// The named runner (see `runners`) that receives the prompt; default `defaults.runner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Box<str>>,
    /// Ids of agents this one waits for, beyond what the pattern implies.
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub needs: Box<[String]>,
    /// Longest time one attempt may take before its whole process group is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// How often, and how patiently, a failed attempt is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<Retry>>,
    /// Environment variables added for this agent's processes.
    #[serde(default, skip_serializing_if = "no_entries")]
    #[schemars(with = "IndexMap<String, String>")]
    pub env: Option<Box<IndexMap<String, String>>>,
    /// Working directory of this agent's processes, relative to where `plan run` runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<Box<str>>,
    /// `worktree`: run in a workspace of its own on a branch of its own — a
    /// copy-on-write view of the repository where the kernel allows, else a git
    /// worktree — merged, when it succeeds, into the run's merged result (see `merge`);
    /// `shared` (default): run in the current checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Workspace>,
    /// What this agent may spend over all its attempts; see the plan's `budget`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Box<crate::Budget>>,
    /// Run it in a sandbox (default: yes, where the kernel allows): it writes only its
    /// workspace and a temporary directory of its own, reaches only the hosts of
    /// `network`, sees no other process and no credential file. `false` opts out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<bool>,
    /// Replay it from the step cache when nothing it depends on changed (default: yes
    /// for coding agents in a repository; a `run:` command only with `cache: true`):
    /// its output, its change to its workspace and its session come back without a
    /// model call or a process. `false` always runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// The files its work depends on, as globs (`src/parser/**`, `Cargo.toml`): its
    /// cache key covers only these (default: every file its workspace starts with,
    /// less the plan and its templates).
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub reads: Box<[String]>,
    /// Send its model requests through `plan`'s model gateway (default: yes, for the
    /// built-in runners): it holds the real key, meters cost and enforces budgets at
    /// each request. `false` opts out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<bool>,
    /// The hosts it may reach beyond its runner's model API (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Box<crate::Network>>,
    /// Memory and processes it may use (defaults: 4GiB, 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<crate::Resources>>,
    /// `changes`: the attempt fails unless the agent changed a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<crate::Expect>,
    /// Checks each attempt must pass, in its workspace, to count as a success (else
    /// `defaults.accept`): commands, where its change may be, its size, a judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Box<crate::Accept>>,
    /// A coding agent tried this many times at once, each in a workspace of its own:
    /// the winner is the first by all checks passed, then the judge's score, then the
    /// smallest change; only its work is merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16))]
    pub best_of: Option<u32>,
    /// Secret environment variables (tokens, keys) this agent may see.
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    pub pass_env: Box<[String]>,
    /// Saga only: the command that undoes this step's work when a later step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensate: Option<Box<Command>>,
    /// How the children relate: pipeline, fork-join, mapreduce, scatter-gather or saga.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Pattern>,
    /// The children of this agent (secondaries under the primary, tertiaries under them, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "exact_vec")]
    pub agents: Vec<Agent>,
    /// fork-join: the agent that runs after every child succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Box<Agent>>,
    /// mapreduce: one copy of `agent` per item of `over`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<Box<MapSpec>>,
    /// mapreduce: the agent that runs after every copy succeeded; sees their outputs in item order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce: Option<Box<Agent>>,
    /// scatter-gather: how the children's answers are combined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gather: Option<Box<Gather>>,
    /// scatter-gather: run this many copies of the single child.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub replicas: Option<u32>,
}

/// The fields an agent rarely sets (`with`, `env`, `retry`, `budget`, `compensate`) are
/// boxed: unset, each costs a pointer, and a plan of 100,000 agents holds 100,000 of them.
fn no_entries<V>(map: &Option<Box<IndexMap<String, V>>>) -> bool {
    map.as_ref().is_none_or(|m| m.is_empty())
}

static NO_WITH: LazyLock<IndexMap<String, Value>> = LazyLock::new(IndexMap::new);
static NO_ENV: LazyLock<IndexMap<String, String>> = LazyLock::new(IndexMap::new);

impl Agent {
    /// The agent's `with` variables (empty when unset).
    pub fn with(&self) -> &IndexMap<String, Value> {
        self.with.as_deref().unwrap_or(&NO_WITH)
    }

    /// The agent's own `env` (empty when unset).
    pub fn env(&self) -> &IndexMap<String, String> {
        self.env.as_deref().unwrap_or(&NO_ENV)
    }

    /// Whether the agent does work of its own (as opposed to only coordinating children).
    pub fn has_work(&self) -> bool {
        self.run.is_some() || self.uses.is_some() || self.has_prompt()
    }

    /// Whether the agent has a prompt (inline or file).
    pub fn has_prompt(&self) -> bool {
        self.prompt.is_some() || self.prompt_file.is_some()
    }

    /// Whether the agent coordinates children of any kind.
    pub fn has_children(&self) -> bool {
        !self.agents.is_empty() || self.map.is_some()
    }

    /// The agents directly under this one: its `agents`, `join`, `reduce`, map agent
    /// and gather agent.
    pub fn children(&self) -> impl Iterator<Item = &Agent> {
        self.agents
            .iter()
            .chain(self.join.as_deref())
            .chain(self.reduce.as_deref())
            .chain(self.map.as_ref().map(|m| &m.agent))
            .chain(self.gather.as_ref().and_then(|g| g.agent.as_ref()))
    }

    /// This agent and every agent under it, depth first (siblings in no set order):
    /// for what visits every agent once, whatever the tree's shape.
    pub fn all(&self) -> impl Iterator<Item = &Agent> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let a = stack.pop()?;
            stack.extend(a.children());
            Some(a)
        })
    }
}

/// Where an agent works.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Workspace {
    /// The checkout `plan run` runs in.
    #[default]
    Shared,
    /// A workspace of its own on its own branch (copy-on-write, or a git worktree), so
    /// that parallel agents never edit the same files.
    Worktree,
}

/// A command: a string run by `sh -c`, or a list run as argv without a shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Command {
    /// Run by `sh -c`.
    Shell(String),
    /// Run as argv, no shell.
    Argv(Vec<String>),
}

impl Command {
    /// The argv that runs the command: `sh -c TEXT` for a string, the words for a list.
    /// The one place a shell command becomes a process's argv.
    pub fn argv(&self) -> Vec<String> {
        self.try_argv(|w| Ok::<_, std::convert::Infallible>(w.to_string())).unwrap_or_else(|e| match e {})
    }

    /// The argv with each word (a shell command's text, a list's every word) passed
    /// through `word` first — a template rendered, say.
    pub fn try_argv<E>(&self, mut word: impl FnMut(&str) -> Result<String, E>) -> Result<Vec<String>, E> {
        match self {
            Command::Shell(s) => Ok(vec!["sh".into(), "-c".into(), word(s)?]),
            Command::Argv(words) => words.iter().map(|w| word(w)).collect(),
        }
    }

    /// The program the command starts: `sh` for a string, the first word of a list.
    pub fn program(&self) -> Option<&str> {
        match self {
            Command::Shell(_) => Some("sh"),
            Command::Argv(words) => words.first().map(String::as_str),
        }
    }
}

/// How an agent's children relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// One after another, in order; each sees the outputs before it.
    Pipeline,
    /// All at once; then `join`.
    ForkJoin,
    /// One copy of `map.agent` per item of `map.over`, at once; then `reduce`.
    Mapreduce,
    /// The same task to every child (or `replicas` copies); then `gather` decides.
    ScatterGather,
    /// One after another; when one fails, finished steps are compensated in reverse order.
    Saga,
}

impl Pattern {
    pub const ALL: [Pattern; 5] =
        [Pattern::Pipeline, Pattern::ForkJoin, Pattern::Mapreduce, Pattern::ScatterGather, Pattern::Saga];

    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Pipeline => "pipeline",
            Pattern::ForkJoin => "fork-join",
            Pattern::Mapreduce => "mapreduce",
            Pattern::ScatterGather => "scatter-gather",
            Pattern::Saga => "saga",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list read into a vector of exactly its length (serde's own grows by doubling,
/// which for 100,000 agents holds half as many again, twice over, while it grows).
fn exact_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    struct Exact<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Exact<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            // Plans are read from a parsed document, whose lengths are exact; a bound
            // all the same.
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
            while let Some(x) = seq.next_element()? {
                v.push(x);
            }
            Ok(v)
        }
    }
    d.deserialize_seq(Exact(std::marker::PhantomData))
}
