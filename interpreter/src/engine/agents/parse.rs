//! Reading a coding agent's output as it comes: each line of the CLI's stdout gives
//! readable log lines (one per tool call or file change, then the final message), and
//! at the end the agent's result — its final message, tokens and cost, session, and
//! whether the CLI reported an error or a denied permission.

use plan_schema::AgentCli;
use serde_json::Value;

use crate::store::usage::Usage;

/// What one run of a coding-agent CLI came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentResult {
    /// The agent's final message: what `outputs.<id>` holds.
    pub message: String,
    pub usage: Usage,
    /// The CLI's session, to continue on a retry.
    pub session: Option<String>,
    /// An error the CLI reported (it may still exit 0).
    pub error: Option<String>,
    /// Tool calls the CLI refused for want of permission (e.g. `Edit src/lib.rs`).
    pub denied: Vec<String>,
    /// A cost the CLI reported that cannot be one (negative, not a number, absurd):
    /// refused, not counted.
    pub cost_error: Option<String>,
}

impl AgentResult {
    /// Why this run does not count as a success, if it does not.
    pub fn failure(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        (!self.denied.is_empty()).then(|| format!("permission denied: {}", self.denied.join(", ")))
    }
}

/// Turns a CLI's stdout, line by line, into log lines and a result.
pub trait AgentParser: Send {
    /// One line of stdout (without its newline); the readable lines it gives.
    fn line(&mut self, line: &str) -> Vec<String>;
    /// Whether the CLI has given its final result (it has nothing more to say).
    fn done(&self) -> bool {
        false
    }
    fn finish(self: Box<Self>) -> AgentResult;
}

/// The parser of `cli`'s output (each lives beside the CLI's command, in its file).
pub fn parser_for(cli: AgentCli, workdir: Option<&std::path::Path>) -> Box<dyn AgentParser> {
    let root = workdir.map(|d| format!("{}/", d.display()));
    match cli {
        AgentCli::Claude => Box::new(super::claude::Parser::new(root)),
        AgentCli::Codex => Box::new(super::codex::Parser::new(root)),
        AgentCli::Aider => Box::new(super::aider::Parser::default()),
    }
}

/// `path` relative to the working directory, when it is inside it.
pub(super) fn relative<'a>(root: &Option<String>, path: &'a str) -> &'a str {
    match root {
        Some(r) => path.strip_prefix(r.as_str()).unwrap_or(path),
        None => path,
    }
}

pub(super) fn first_line(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

/// A cost figure the CLI reported: counted when it can be a cost, else refused with
/// the reason in `result.cost_error`.
pub(super) fn reported_cost(result: &mut AgentResult, cli: &str, figure: Option<f64>) -> Option<f64> {
    match crate::store::usage::checked_cost(figure?) {
        Ok(cost) => Some(cost),
        Err(why) => {
            result.cost_error = Some(format!("{cli} reported a cost that cannot be one ({why}): not counted"));
            None
        }
    }
}

pub(super) fn u64_at(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests;
