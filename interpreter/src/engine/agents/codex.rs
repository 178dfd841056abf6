//! Codex CLI: `codex exec --json` with the prompt on stdin (`-`), sandboxed to the
//! working directory (`workspace-write`), its last message also written to a file.

use std::collections::BTreeMap;

use serde_json::Value;

use super::parse::{first_line, relative, u64_at, AgentParser, AgentResult};
use super::{Invocation, Launch};
use crate::engine::gateway::api::Provider;
use crate::store::usage::Usage;

pub fn command(launch: &Launch, model: Option<&str>) -> Invocation {
    let mut env = BTreeMap::new();
    // The sandbox is an option of `exec` itself, before a `resume` subcommand.
    // Confined by `plan` (its sandbox decides what the process may write and reach),
    // Codex's own sandbox is off: nested, its bubblewrap hides a workspace under /tmp.
    let mut argv: Vec<String> = if launch.confined {
        ["codex", "exec", "--dangerously-bypass-approvals-and-sandbox"].map(String::from).to_vec()
    } else {
        let sandbox = if launch.read_only { "read-only" } else { "workspace-write" };
        ["codex", "exec", "-s", sandbox].map(String::from).to_vec()
    };
    if let Some(session) = launch.session {
        argv.push("resume".into());
        argv.push(session.to_string());
    }
    argv.extend(["--json", "--skip-git-repo-check"].map(String::from));
    for setting in [
        "check_for_update_on_startup=false",
        "analytics.enabled=false",
        "feedback.enabled=false",
        "features.plugins=false",
        "features.remote_plugin=false",
        "features.apps=false",
    ] {
        argv.extend(["-c".into(), setting.into()]);
    }
    // Codex ignores OPENAI_BASE_URL: the gateway is a provider of its own, its key
    // (a placeholder) in a variable of its own.
    if let Some((base, key)) = launch.through(Provider::OpenAi) {
        let provider = format!(
            "model_providers.plan-gateway={{name=\"plan model gateway\",base_url=\"{base}\",env_key=\"PLAN_GATEWAY_KEY\",wire_api=\"responses\"}}"
        );
        argv.extend(["-c".into(), "model_provider=\"plan-gateway\"".into(), "-c".into(), provider]);
        env.insert("PLAN_GATEWAY_KEY".into(), key.to_string());
    }
    if let Some(m) = model {
        argv.extend(["-m".into(), m.to_string()]);
    }
    argv.extend(["-o".into(), launch.last_message_file.display().to_string()]);
    argv.push("-".into());
    Invocation { argv, env, prompt_on_stdin: true }
}

/// Codex's `exec --json` events.
pub struct Parser {
    result: AgentResult,
    root: Option<String>,
    /// `codex exec` runs one turn: its end is the final result.
    finished: bool,
}

impl AgentParser for Parser {
    fn line(&mut self, line: &str) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            return if line.trim().is_empty() { Vec::new() } else { vec![line.to_string()] };
        };
        let r = &mut self.result;
        let mut out = Vec::new();
        match v.get("type").and_then(Value::as_str) {
            Some("thread.started") => r.session = v.get("thread_id").and_then(Value::as_str).map(str::to_string),
            Some("item.completed") => {
                let item = v.get("item").cloned().unwrap_or(Value::Null);
                match item.get("type").and_then(Value::as_str) {
                    Some("file_change") => {
                        for c in item.get("changes").and_then(Value::as_array).into_iter().flatten() {
                            let path = c.get("path").and_then(Value::as_str).unwrap_or("?");
                            let kind = c.get("kind").and_then(Value::as_str).unwrap_or("change");
                            out.push(format!("→ {kind} {}", relative(&self.root, path)));
                        }
                    }
                    Some("command_execution") => {
                        let cmd = item.get("command").and_then(Value::as_str).unwrap_or("");
                        let code = item
                            .get("exit_code")
                            .and_then(Value::as_i64)
                            .map_or(String::new(), |c| format!(" (exit {c})"));
                        out.push(format!("→ $ {}{code}", first_line(cmd, 160)));
                    }
                    Some("agent_message") => {
                        let text = item.get("text").and_then(Value::as_str).unwrap_or("");
                        r.message = text.to_string();
                        out.push(format!("  {}", first_line(text, 200)));
                    }
                    Some("error") => {
                        out.push(format!(
                            "  ! {}",
                            first_line(item.get("message").and_then(Value::as_str).unwrap_or(""), 200)
                        ));
                    }
                    _ => {}
                }
            }
            Some("turn.completed") => {
                self.finished = true;
                let u = v.get("usage").cloned().unwrap_or(Value::Null);
                r.usage.add(&Usage {
                    input_tokens: u64_at(&u, "input_tokens"),
                    output_tokens: u64_at(&u, "output_tokens") + u64_at(&u, "reasoning_output_tokens"),
                    cost_usd: None,
                    turns: 1,
                    cache_write_tokens: u64_at(&u, "cache_write_input_tokens"),
                    cache_read_tokens: u64_at(&u, "cached_input_tokens"),
                    rate_limit_wait_ms: 0,
                });
                out.push(format!("✓ {} ({})", first_line(&r.message, 200), r.usage.describe()));
            }
            Some("turn.failed") => {
                self.finished = true;
                let msg = v.pointer("/error/message").and_then(Value::as_str).unwrap_or("turn failed");
                r.error = Some(format!("codex reported an error: {msg}"));
                out.push(format!("✗ {}", first_line(msg, 200)));
            }
            Some("error") => {
                out.push(format!("  ! {}", first_line(v.get("message").and_then(Value::as_str).unwrap_or(""), 200)));
            }
            _ => {}
        }
        out
    }

    fn done(&self) -> bool {
        self.finished
    }

    fn finish(self: Box<Self>) -> AgentResult {
        self.result
    }
}

impl Parser {
    pub fn new(root: Option<String>) -> Parser {
        Parser { result: AgentResult::default(), root, finished: false }
    }
}
