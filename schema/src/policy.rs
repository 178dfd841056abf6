//! A trust policy: what a plan that no person wrote (the rules intake's, a planner
//! agent's, one found in the checkout but not committed) may do and still run without
//! a person's approval. `plan serve --policy FILE` applies it to every such plan;
//! `plan lint --policy FILE` reports what breaks it, at its line.
//!
//! The default is the safe one: prompts for the built-in coding agents, nothing else
//! that runs a program of the plan's choosing, no environment handed over, and
//! bounded time, money and fan-out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AgentCli, Duration};

/// What an untrusted plan may do and still run without a person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The built-in coding agents its prompts may go to.
    pub runners: Vec<AgentCli>,
    /// The built-in actions (`uses:`) it may use.
    pub actions: Vec<String>,
    /// `run:` and `compensate:` commands, and `runners` entries of its own: programs
    /// of the plan's choosing.
    pub commands: bool,
    /// `pass_env`: variables of the server's environment handed to agents.
    pub pass_env: bool,
    /// `env` on an agent, a runner or `defaults`: variables set for agents (a base URL
    /// or `LD_PRELOAD` is enough to take one over).
    pub env: bool,
    /// `git` settings other than the ones `plan new` writes.
    pub git: bool,
    /// `sandbox: false`: an agent with `plan`'s own rights.
    pub unsandboxed: bool,
    /// The hosts its agents may be given in `network` (`any` is never allowed unless
    /// this holds `any`); default: none beyond their model's.
    pub hosts: Vec<String>,
    /// The longest any agent's attempt may take; an agent must have a timeout.
    pub max_timeout: Duration,
    /// Most attempts of any agent (`retry.attempts`).
    pub max_attempts: u32,
    /// Most US dollars the run may spend (`budget.cost_usd`, $10 when absent).
    pub max_cost_usd: f64,
    /// Most model turns per attempt (`budget.turns`).
    pub max_turns: u32,
    /// Most agents running at once (`concurrency`).
    pub max_concurrency: u32,
    /// Most copies of a map or `replicas` agent (`limits.copies`, `replicas`).
    pub max_copies: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            runners: AgentCli::ALL.to_vec(),
            actions: ["noop", "sleep", "approval"].map(String::from).to_vec(),
            commands: false,
            pass_env: false,
            env: false,
            git: false,
            unsandboxed: false,
            hosts: Vec::new(),
            // The longest time `plan new` gives an agent (a complex issue's).
            max_timeout: Duration(std::time::Duration::from_secs(120 * 60)),
            max_attempts: 3,
            max_cost_usd: 10.0,
            max_turns: 100,
            max_concurrency: 4,
            max_copies: 8,
        }
    }
}
