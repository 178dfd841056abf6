//! aider: the prompt goes in with `--message-file`; edits are applied without asking
//! (`--yes-always`) and left uncommitted, so that `plan` commits (and merges back)
//! them like any agent's work.

use std::collections::BTreeMap;

use super::parse::{first_line, reported_cost, AgentParser, AgentResult};
use super::{Invocation, Launch};
use crate::engine::gateway::api::Provider;
use crate::store::usage::Usage;

pub fn command(launch: &Launch, model: Option<&str>) -> Invocation {
    let mut env = BTreeMap::new();
    let mut argv: Vec<String> = vec!["aider".into()];
    if let Some(m) = model {
        argv.extend(["--model".into(), m.to_string()]);
    }
    argv.extend(
        [
            "--yes-always",
            "--no-auto-commits",
            "--no-check-update",
            "--analytics-disable",
            "--no-show-model-warnings",
            "--no-show-release-notes",
            "--no-pretty",
            "--no-fancy-input",
            "--no-gitignore",
        ]
        .map(String::from),
    );
    argv.extend(["--message-file".into(), launch.prompt_file.display().to_string()]);
    // Its chat history goes to the run directory, not into the repository.
    let history = launch.last_message_file.with_extension("aider.md");
    argv.extend(["--chat-history-file".into(), history.display().to_string()]);
    argv.extend(["--input-history-file".into(), history.with_extension("input").display().to_string()]);
    if let Some((base, key)) = launch.through(Provider::OpenAi) {
        argv.extend(["--openai-api-base".into(), base.to_string(), "--openai-api-key".into(), key.to_string()]);
        // litellm prefers OPENAI_BASE_URL (inherited from `plan`) to the flag.
        env.insert("OPENAI_BASE_URL".into(), base.to_string());
        env.insert("OPENAI_API_BASE".into(), base.to_string());
    }
    if let Some((base, key)) = launch.through(Provider::Anthropic) {
        argv.extend(["--anthropic-api-key".into(), key.to_string()]);
        env.insert("ANTHROPIC_API_BASE".into(), base.to_string());
        env.insert("ANTHROPIC_BASE_URL".into(), base.to_string());
    }
    // litellm fetches a price list from the internet unless told not to.
    env.insert("LITELLM_LOCAL_MODEL_COST_MAP".into(), "True".into());
    Invocation { argv, env, prompt_on_stdin: false }
}

/// aider's text output: already one line per step; tokens and cost from its
/// `Tokens:` and `Cost:` lines; the message without the banner or edit blocks.
#[derive(Default)]
pub struct Parser {
    result: AgentResult,
    message: Vec<String>,
    in_block: bool,
    /// Files aider edited: it prints their names around its edit blocks.
    edited: Vec<String>,
}

/// `2.5k` -> 2500.
fn count(text: &str) -> u64 {
    let t = text.trim().trim_end_matches(',');
    let (num, mul) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1_000.0),
        Some('M') => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t, 1.0),
    };
    num.parse::<f64>().map_or(0, |n| (n * mul).round() as u64)
}

impl AgentParser for Parser {
    fn line(&mut self, line: &str) -> Vec<String> {
        let t = line.trim();
        if t.starts_with("<<<<<<< SEARCH") {
            self.in_block = true;
        }
        if self.in_block {
            self.in_block = !t.starts_with(">>>>>>> REPLACE");
            return Vec::new();
        }
        if let Some(rest) = t.strip_prefix("Tokens: ") {
            // "Tokens: 2.5k sent, 20 received. Cost: $0.01 message, $0.02 session."
            let mut parts = rest.split_whitespace();
            let sent = count(parts.next().unwrap_or("0"));
            let received = rest.split(", ").nth(1).and_then(|p| p.split_whitespace().next()).map_or(0, count);
            let cost = rest
                .split("Cost: $")
                .nth(1)
                .and_then(|c| c.split_whitespace().next())
                .map(|c| c.parse::<f64>().unwrap_or(f64::NAN));
            let cost = reported_cost(&mut self.result, "aider", cost);
            let usage =
                Usage { input_tokens: sent, output_tokens: received, cost_usd: cost, turns: 1, ..Usage::default() };
            self.result.usage.add(&usage);
            return vec![line.to_string()];
        }
        if let Some(file) = t.strip_prefix("Applied edit to ") {
            self.edited.push(file.to_string());
            return vec![format!("→ edit {file}")];
        }
        if t.starts_with("litellm.") && t.contains("Error") {
            self.result.error = Some(format!("aider reported an error: {}", first_line(t, 300)));
        }
        let banner =
            ["Aider v", "Model:", "Git repo:", "Repo-map:", "Added ", "Analytics have been", "Commit ", "Update git "];
        if !t.is_empty() && !banner.iter().any(|b| t.starts_with(b)) {
            self.message.push(t.to_string());
        }
        if t.is_empty() {
            Vec::new()
        } else {
            vec![line.to_string()]
        }
    }

    fn finish(mut self: Box<Self>) -> AgentResult {
        // The file names printed around edit blocks are not part of the message.
        self.message.retain(|l| !self.edited.contains(l));
        self.result.message = self.message.join("\n");
        self.result
    }
}
