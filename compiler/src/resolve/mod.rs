//! resolve: the compiler's last stage. Each agent becomes one typed [`Step`]: what it
//! does (a command, a prompt for a coding-agent CLI or a runner's command, a built-in
//! action with typed arguments, or nothing) and its resolved policies (timeout, retry,
//! workspace, turns, environment). Every default is applied here and nowhere else.
//!
//! Lint reports the [`Problem`]s of [`step`] at their lines (rules `unknown-runner`,
//! `runner-without-command`, `prompt-without-runner`, `unknown-action`,
//! `missing-argument`); a plan that lints clean resolves, so the engine executes a
//! step and checks none of these again. A step borrows the plan: resolving costs no
//! copy, so the engine resolves an agent when it dispatches it and a plan of 100,000
//! agents holds no second form of them.
//!
//! Templates stay templates: a command, a prompt and an action's text arguments are
//! rendered by the engine for each attempt.

mod action;
pub mod secret;

use action::action;
pub use action::{Action, Arg, ACTIONS};

use std::fmt;

use indexmap::IndexMap;
use plan_schema::{Agent, AgentCli, Budget, Command, Duration, Plan, Retry, Runner, Workspace};

/// One agent, resolved: what it does, and the policies it runs under.
#[derive(Clone, Debug)]
pub struct Step<'p> {
    pub agent: &'p Agent,
    pub work: Work<'p>,
    /// The longest one attempt may take: the agent's, else `defaults.timeout`.
    pub timeout: Option<Duration>,
    /// The agent's retry policy, else `defaults.retry`; never for a gate (a person's
    /// decision is final).
    pub retry: Option<&'p Retry>,
    /// The agent's workspace, else `defaults.workspace`, else shared.
    pub workspace: Workspace,
    /// `expect: changes`: an attempt that changed no file fails.
    pub expect_changes: bool,
    /// What the agent may spend over all its attempts (the plan's `budget` caps the
    /// run as a whole).
    pub budget: Option<&'p Budget>,
    /// Model turns an attempt may take: the agent's budget, else the plan's, else
    /// [`Budget::DEFAULT_TURNS`].
    pub turns: u32,
    /// What the step's processes see of the environment.
    pub env: EnvPolicy<'p>,
    /// What its processes may do outside their workspace.
    pub sandbox: Sandbox<'p>,
    /// A coding agent whose model requests go through `plan`'s model gateway: a
    /// built-in CLI's own command, unless `gateway: false` on the agent, its runner or
    /// in `defaults`. Its CLI's model keys are then not passed to it (the gateway holds
    /// them).
    pub gateway: bool,
    /// Replayed from the step cache when nothing it depends on changed: a coding agent
    /// or a runner's command unless `cache: false` (on it, else in `defaults`); a
    /// `run:` command only with its own `cache: true`; a built-in action never (its
    /// effects are in the world).
    pub cache: bool,
    /// The globs its cache key covers (`reads`); empty: its whole workspace.
    pub reads: &'p [String],
    /// The checks each attempt must pass: the agent's `accept`, else (for an agent
    /// with a prompt) `defaults.accept`; never for a built-in action.
    pub accept: Option<&'p plan_schema::Accept>,
    /// The judge's CLI and runner entry, when `accept.judge` is set.
    pub judge: Option<CodingAgent<'p>>,
    /// Candidates tried at once (`best_of`, > 1), each in a workspace of its own.
    pub best_of: u32,
}

/// An agent's sandbox: whether it has one, the hosts it may reach (beyond its
/// runner's model API), and its memory and process limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox<'p> {
    /// `sandbox` on the agent, else in `defaults`, else on.
    pub on: bool,
    /// `network` of `defaults`, the runner and the agent together; `None`: any.
    pub hosts: Option<Vec<&'p str>>,
    /// Bytes (`resources.memory`, default 4GiB).
    pub memory: u64,
    /// Processes and threads (`resources.pids`, default 512).
    pub pids: u32,
}

impl<'p> Sandbox<'p> {
    fn of(plan: &'p Plan, agent: &'p Agent, runner: Option<&'p plan_schema::Runner>) -> Sandbox<'p> {
        use plan_schema::{parse_memory, Network, Resources};
        let defaults = plan.defaults.as_ref();
        let lists = [
            defaults.and_then(|d| d.network.as_ref()),
            runner.and_then(|r| r.network.as_ref()),
            agent.network.as_deref(),
        ];
        let hosts = if lists.iter().flatten().any(|n| matches!(n, Network::Any(_))) {
            None
        } else {
            Some(
                lists
                    .into_iter()
                    .flatten()
                    .flat_map(|n| match n {
                        Network::Hosts(h) => h.iter().map(String::as_str).collect::<Vec<_>>(),
                        Network::Any(_) => Vec::new(),
                    })
                    .collect(),
            )
        };
        let resources = [agent.resources.as_deref(), defaults.and_then(|d| d.resources.as_ref())];
        let memory = resources.iter().flatten().find_map(|r| r.memory.as_deref()).and_then(parse_memory);
        Sandbox {
            on: agent.sandbox.or(defaults.and_then(|d| d.sandbox)).unwrap_or(true),
            hosts,
            memory: memory.unwrap_or(Resources::DEFAULT_MEMORY),
            pids: resources.iter().flatten().find_map(|r| r.pids).unwrap_or(Resources::DEFAULT_PIDS),
        }
    }
}

impl Step<'_> {
    /// Whether the step waits for a person (`uses: approval`).
    pub fn is_gate(&self) -> bool {
        matches!(self.work, Work::Action(Action::Approval { .. }))
    }
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Work<'p> {
    /// `run`: a command; its prompt, if any, goes to its standard input.
    Command(&'p Command),
    /// A prompt for a coding-agent CLI (built in, or a `runners` entry with `cli`).
    Coding(CodingAgent<'p>),
    /// A prompt for a `runners` entry's own command, on its standard input.
    Runner { name: &'p str, command: &'p Command },
    /// `uses`: a built-in action.
    Action(Action<'p>),
    /// Nothing of its own: it coordinates children (or is a gather with no agent).
    Nothing,
}

/// A coding-agent CLI run: which CLI, under which runner name, with which entry.
#[derive(Clone, Copy, Debug)]
pub struct CodingAgent<'p> {
    pub cli: AgentCli,
    pub runner: &'p str,
    /// The plan's `runners.<name>` entry, when there is one (model, args, or its own
    /// command whose output is read as this CLI's).
    pub entry: Option<&'p Runner>,
}

/// The environment of a step's processes, in the order it is layered: `defaults.env`,
/// the runner's `env` (then, for a coding agent, what its CLI needs), the agent's
/// `env` (later wins); and the secrets it may see.
#[derive(Clone, Debug)]
pub struct EnvPolicy<'p> {
    pub defaults: Option<&'p IndexMap<String, String>>,
    pub runner: Option<&'p IndexMap<String, String>>,
    pub agent: Option<&'p IndexMap<String, String>>,
    /// Secret variables passed through: the agent's, its runner's, its CLI's model
    /// keys, the defaults'.
    pub pass: Vec<&'p str>,
}

impl<'p> EnvPolicy<'p> {
    /// Whether a variable of this name is set by the plan.
    pub fn sets(&self, name: &str) -> bool {
        [self.defaults, self.runner, self.agent].into_iter().flatten().any(|m| m.contains_key(name))
    }
}

/// Why an agent does not resolve. Each is a lint error at the field it names.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// A prompt, and neither `run` nor a runner (`prompt-without-runner`).
    NoRunner,
    /// `runner` names no runner (`unknown-runner`); `from_defaults` when the name
    /// came from `defaults.runner`.
    UnknownRunner { name: String, from_defaults: bool },
    /// A `runners` entry with neither `command` nor a CLI (`runner-without-command`).
    RunnerWithoutCommand { name: String },
    /// `accept.judge.runner` (or the agent's runner, by default) is no coding-agent
    /// CLI (`unknown-runner`).
    JudgeRunner { name: String },
    /// `uses` names no built-in action (`unknown-action`).
    UnknownAction { name: String },
    /// Required `with` arguments are absent (`missing-argument`, one each).
    MissingArguments { action: &'static str, args: Vec<&'static str> },
    /// A `with` argument does not parse (`missing-argument`).
    InvalidArgument { action: &'static str, arg: &'static str, expected: &'static str },
}

impl Problem {
    /// The lint code that reports it.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NoRunner => "prompt-without-runner",
            Problem::UnknownRunner { .. } | Problem::JudgeRunner { .. } => "unknown-runner",
            Problem::RunnerWithoutCommand { .. } => "runner-without-command",
            Problem::UnknownAction { .. } => "unknown-action",
            Problem::MissingArguments { .. } | Problem::InvalidArgument { .. } => "missing-argument",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoRunner => f.write_str("a prompt but no runner"),
            Problem::UnknownRunner { name, .. } => write!(f, "unknown runner `{name}`"),
            Problem::RunnerWithoutCommand { name } => {
                write!(f, "runner `{name}` has no `command` and is no coding-agent CLI")
            }
            Problem::JudgeRunner { name } => {
                write!(f, "`accept.judge` needs a coding-agent CLI to judge with; `{name}` is none")
            }
            Problem::UnknownAction { name } => write!(f, "unknown action `{name}`"),
            Problem::MissingArguments { action, args } => {
                let args: Vec<String> = args.iter().map(|a| format!("`with.{a}`")).collect();
                write!(f, "`{action}` needs {}", args.join(" and "))
            }
            Problem::InvalidArgument { action, arg, expected } => {
                write!(f, "`{action}`: `with.{arg}` must be {expected}")
            }
        }
    }
}

/// The runner an agent's prompt goes to: its own `runner`, else `defaults.runner`.
pub fn runner_name<'p>(plan: &'p Plan, agent: &'p Agent) -> Option<&'p str> {
    agent.runner.as_deref().or(plan.defaults.as_ref().and_then(|d| d.runner.as_deref()))
}

/// Whether `name` names a runner: an entry of `runners` or a built-in coding agent.
pub fn runner_exists(plan: &Plan, name: &str) -> bool {
    plan.runners.contains_key(name) || AgentCli::named(name).is_some()
}

/// The coding-agent CLI a runner drives: its entry's `cli`, else its name when it
/// names one (also when the entry gives its own `command`, whose output is then read
/// as that CLI's).
pub fn cli_of(name: &str, entry: Option<&Runner>) -> Option<AgentCli> {
    entry.and_then(|r| r.cli).or_else(|| AgentCli::named(name))
}

/// Resolves one agent of `plan`.
pub fn step<'p>(plan: &'p Plan, agent: &'p Agent) -> Result<Step<'p>, Problem> {
    let defaults = plan.defaults.as_ref();
    let mut env = EnvPolicy {
        defaults: defaults.map(|d| &d.env),
        runner: None,
        agent: agent.env.as_deref(),
        pass: agent.pass_env.iter().map(String::as_str).collect(),
    };
    let mut gateway = false;
    let work = if let Some(uses) = agent.uses.as_deref() {
        Work::Action(action(uses, agent.with())?)
    } else if let Some(cmd) = &agent.run {
        Work::Command(cmd)
    } else if agent.has_prompt() {
        let name = runner_name(plan, agent).ok_or(Problem::NoRunner)?;
        let entry = plan.runners.get(name);
        if let Some(r) = entry {
            env.runner = Some(&r.env);
            env.pass.extend(r.pass_env.iter().map(String::as_str));
        }
        match (cli_of(name, entry), entry) {
            (Some(cli), _) => {
                gateway = entry.is_none_or(|r| r.command.is_none())
                    && [agent.gateway, entry.and_then(|r| r.gateway), defaults.and_then(|d| d.gateway)]
                        .into_iter()
                        .flatten()
                        .next()
                        .unwrap_or(true);
                if !gateway {
                    env.pass.extend(cli.model_keys());
                }
                Work::Coding(CodingAgent { cli, runner: name, entry })
            }
            (None, Some(r)) => match &r.command {
                Some(command) => Work::Runner { name, command },
                None => return Err(Problem::RunnerWithoutCommand { name: name.to_string() }),
            },
            (None, None) => {
                let from_defaults = agent.runner.is_none();
                return Err(Problem::UnknownRunner { name: name.to_string(), from_defaults });
            }
        }
    } else {
        Work::Nothing
    };
    if let Some(d) = defaults {
        env.pass.extend(d.pass_env.iter().map(String::as_str));
    }
    let gate = matches!(work, Work::Action(Action::Approval { .. }));
    let accept = match &work {
        Work::Action(_) | Work::Nothing => None,
        Work::Command(_) => agent.accept.as_deref(),
        Work::Coding(_) | Work::Runner { .. } => agent.accept.as_deref().or(defaults.and_then(|d| d.accept.as_ref())),
    };
    let judge = match accept.and_then(|a| a.judge.as_ref()) {
        None => None,
        Some(j) => {
            let name = j.runner.as_deref().or(runner_name(plan, agent)).unwrap_or("claude");
            let entry = plan.runners.get(name);
            match cli_of(name, entry) {
                Some(cli) => Some(CodingAgent { cli, runner: name, entry }),
                None => return Err(Problem::JudgeRunner { name: name.to_string() }),
            }
        }
    };
    let best_of = match &work {
        Work::Coding(_) | Work::Runner { .. } => agent.best_of.unwrap_or(1).max(1),
        _ => 1,
    };
    let runner = match &work {
        Work::Coding(c) => c.entry,
        Work::Runner { name, .. } => plan.runners.get(*name),
        _ => None,
    };
    Ok(Step {
        sandbox: Sandbox::of(plan, agent, runner),
        agent,
        timeout: agent.timeout.or(defaults.and_then(|d| d.timeout)),
        retry: if gate { None } else { agent.retry.as_deref().or(defaults.and_then(|d| d.retry.as_ref())) },
        // Candidates work apart, whatever the plan says of workspaces.
        workspace: if best_of > 1 {
            Workspace::Worktree
        } else {
            agent.workspace.or(defaults.and_then(|d| d.workspace)).unwrap_or_default()
        },
        expect_changes: agent.expect == Some(plan_schema::Expect::Changes),
        budget: agent.budget.as_deref(),
        turns: agent
            .budget
            .as_ref()
            .and_then(|b| b.turns)
            .or(plan.budget.as_ref().and_then(|b| b.turns))
            .unwrap_or(Budget::DEFAULT_TURNS),
        cache: match &work {
            Work::Coding(_) | Work::Runner { .. } => agent.cache.or(defaults.and_then(|d| d.cache)).unwrap_or(true),
            Work::Command(_) => agent.cache == Some(true),
            Work::Action(_) | Work::Nothing => false,
        },
        reads: &agent.reads,
        accept,
        judge,
        best_of,
        work,
        env,
        gateway,
    })
}

#[cfg(test)]
mod tests;
