//! Coding agents: which CLI a runner drives, the budgets that stop runaway cost, and
//! what an agent is expected to leave behind.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A coding-agent CLI that `plan` knows how to drive: its flags, its machine-readable
/// output, its usage and cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentCli {
    /// Claude Code (`claude -p`, stream-json output).
    Claude,
    /// OpenAI Codex CLI (`codex exec --json`).
    Codex,
    /// aider (`aider --message-file`, text output).
    Aider,
}

impl AgentCli {
    pub const ALL: [AgentCli; 3] = [AgentCli::Claude, AgentCli::Codex, AgentCli::Aider];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentCli::Claude => "claude",
            AgentCli::Codex => "codex",
            AgentCli::Aider => "aider",
        }
    }

    /// The built-in runner of this name, if any.
    pub fn named(name: &str) -> Option<AgentCli> {
        AgentCli::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The secret environment variables the CLI reads to reach its model: passed to
    /// an agent that runs it, withheld from every other.
    pub fn model_keys(self) -> &'static [&'static str] {
        match self {
            AgentCli::Claude => &["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"],
            AgentCli::Codex => &["OPENAI_API_KEY", "CODEX_API_KEY"],
            AgentCli::Aider => &["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "GEMINI_API_KEY"],
        }
    }
}

/// Limits on what agents may spend. On the plan: the whole run (default: $10); on an
/// agent: that agent, over all its attempts. When one is spent the agent is stopped,
/// nothing new starts, saga compensations run and the run fails. Spent money stays
/// spent across `--resume`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most US dollars agents may spend: metered by `plan`'s model gateway from the
    /// API's own usage and the price table (else what the CLI reports), and checked
    /// before each model request is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cost_usd: Option<f64>,
    /// Most tokens (input, cached input included, + output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Most model turns (requests) per attempt of each agent: passed to the CLI where
    /// it has a flag for it, and enforced by the gateway (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub turns: Option<u32>,
}

impl Budget {
    /// The run's budget when the plan sets none.
    pub const DEFAULT_COST_USD: f64 = 10.0;
    /// Turns per attempt when no budget sets them.
    pub const DEFAULT_TURNS: u32 = 50;
}

/// What a model costs, in US dollars per million tokens (`prices:` in a plan adds to
/// or replaces entries of `plan`'s own dated price table).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Input tokens read fresh.
    #[schemars(range(min = 0))]
    pub input: f64,
    /// Output tokens (reasoning included).
    #[schemars(range(min = 0))]
    pub output: f64,
    /// Input tokens written to the prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_write: Option<f64>,
    /// Input tokens read from the prompt cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub cache_read: Option<f64>,
}

/// What an agent must leave behind for its attempt to count as a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// At least one file changed in the agent's working tree; an agent that was asked
    /// to change code and changed nothing fails.
    Changes,
}
