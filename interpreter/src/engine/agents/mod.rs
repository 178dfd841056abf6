//! Coding agents as runners. Each CLI has its own file (`claude.rs`, `codex.rs`,
//! `aider.rs`): how it is started non-interactively (`command`) and how its
//! machine-readable output becomes a readable log, a final message, and tokens and
//! cost (`Parser`); `parse.rs` holds what the parsers share. The secret keys each CLI
//! reads are `plan_schema::AgentCli::model_keys`. A plan's `runners.<name>` may
//! replace the command or only add `model`, `args` and `env`.

mod aider;
mod claude;
mod codex;
mod parse;

use std::collections::BTreeMap;

use plan_schema::{AgentCli, Runner};

pub(crate) use parse::{parser_for, AgentParser, AgentResult};

/// What a runner needs to start one attempt of an agent.
pub struct Launch<'a> {
    pub cli: AgentCli,
    /// The plan's `runners.<name>` entry, when there is one.
    pub runner: Option<&'a Runner>,
    /// Model turns allowed for this attempt.
    pub turns: u32,
    /// Dollars left to spend, when a budget limits it.
    pub cost_left: Option<f64>,
    /// The session of the attempt before, to continue where the CLI supports it.
    pub session: Option<&'a str>,
    /// The rendered prompt, as a file.
    pub prompt_file: &'a std::path::Path,
    /// Where a CLI that can writes its last message.
    pub last_message_file: &'a std::path::Path,
    /// Read the repository, change nothing (a planner): Claude Code in its default
    /// permission mode (edits are refused without a person to ask), Codex in its
    /// read-only sandbox.
    pub read_only: bool,
    /// `plan` confines the process itself (`engine::sandbox`): a CLI's own sandbox
    /// would only fight it (Codex's bubblewrap hides the workspace under `/tmp`).
    pub confined: bool,
    /// The model gateway's address and this attempt's placeholder key: the CLI is
    /// pointed there instead of at its provider, and never sees the real key.
    pub gateway: Option<&'a crate::engine::gateway::Pass>,
}

/// A runner's command and environment.
pub struct Invocation {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Whether the prompt goes to standard input (else it is in the argv or a file).
    pub prompt_on_stdin: bool,
}

impl Launch<'_> {
    /// The gateway's base URL for `provider`, and the placeholder key, when this
    /// attempt goes through the gateway.
    fn through(&self, provider: crate::engine::gateway::api::Provider) -> Option<(&str, &str)> {
        let pass = self.gateway?;
        Some((pass.bases.get(&provider)?.as_str(), pass.key.as_str()))
    }
}

/// The command of a coding-agent CLI for one attempt: the built-in one (plus the
/// runner's `model` and `args`), or the runner's own `command` when it has one.
pub fn command(launch: &Launch) -> Invocation {
    if let Some(own) = launch.runner.and_then(|r| r.command.as_ref()) {
        return Invocation { argv: own.argv(), env: BTreeMap::new(), prompt_on_stdin: true };
    }
    let model = launch.runner.and_then(|r| r.model.as_deref());
    let mut cmd = match launch.cli {
        AgentCli::Claude => claude::command(launch, model),
        AgentCli::Codex => codex::command(launch, model),
        AgentCli::Aider => aider::command(launch, model),
    };
    if let Some(r) = launch.runner {
        // Before a trailing `-` (read the prompt from stdin), which must stay last.
        let at = if cmd.argv.last().is_some_and(|a| a == "-") { cmd.argv.len() - 1 } else { cmd.argv.len() };
        cmd.argv.splice(at..at, r.args.iter().cloned());
    }
    cmd
}
