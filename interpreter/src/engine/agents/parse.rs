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

pub fn parser_for(cli: AgentCli, workdir: Option<&std::path::Path>) -> Box<dyn AgentParser> {
    let root = workdir.map(|d| format!("{}/", d.display()));
    match cli {
        AgentCli::Claude => {
            Box::new(Claude { result: AgentResult::default(), root, plain: Vec::new(), finished: false })
        }
        AgentCli::Codex => Box::new(Codex { result: AgentResult::default(), root, finished: false }),
        AgentCli::Aider => Box::new(Aider::default()),
    }
}

/// `path` relative to the working directory, when it is inside it.
fn relative<'a>(root: &Option<String>, path: &'a str) -> &'a str {
    match root {
        Some(r) => path.strip_prefix(r.as_str()).unwrap_or(path),
        None => path,
    }
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

fn u64_at(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Claude Code's stream-json (also its one-object `json` output, and `json --verbose`'s
/// array of events).
struct Claude {
    result: AgentResult,
    root: Option<String>,
    /// Lines that are not JSON (a plan's own command without `--output-format`).
    plain: Vec<String>,
    finished: bool,
}

impl Claude {
    fn event(&mut self, v: &Value, out: &mut Vec<String>) {
        match v.get("type").and_then(Value::as_str) {
            Some("system") => {
                if let Some(s) = v.get("session_id").and_then(Value::as_str) {
                    self.result.session = Some(s.to_string());
                }
            }
            Some("assistant") => {
                for item in v.pointer("/message/content").and_then(Value::as_array).into_iter().flatten() {
                    match item.get("type").and_then(Value::as_str) {
                        Some("tool_use") => out.push(self.tool_call(item)),
                        Some("text") => {
                            let text = item.get("text").and_then(Value::as_str).unwrap_or("");
                            if !text.trim().is_empty() {
                                out.push(format!("  {}", first_line(text, 200)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                for item in v.pointer("/message/content").and_then(Value::as_array).into_iter().flatten() {
                    let text = match item.get("content") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Array(parts)) => {
                            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect()
                        }
                        _ => String::new(),
                    };
                    let failed = item.get("is_error").and_then(Value::as_bool).unwrap_or(false)
                        || text.contains("<tool_use_error>");
                    if failed {
                        let text = text.replace("<tool_use_error>", "").replace("</tool_use_error>", "");
                        out.push(format!("  ✗ {}", first_line(&text, 200)));
                    }
                }
            }
            Some("result") => {
                self.finished = true;
                self.finish_event(v, out);
            }
            _ => {}
        }
    }

    fn tool_call(&self, item: &Value) -> String {
        let name = item.get("name").and_then(Value::as_str).unwrap_or("tool");
        let input = item.get("input").cloned().unwrap_or(Value::Null);
        let arg = ["file_path", "path", "command", "pattern", "url", "description"]
            .iter()
            .find_map(|k| input.get(*k).and_then(Value::as_str))
            .map(|a| first_line(relative(&self.root, a), 160))
            .unwrap_or_default();
        format!("→ {name} {arg}").trim_end().to_string()
    }

    fn finish_event(&mut self, v: &Value, out: &mut Vec<String>) {
        let r = &mut self.result;
        r.message = v.get("result").and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(s) = v.get("session_id").and_then(Value::as_str) {
            r.session = Some(s.to_string());
        }
        let usage = v.get("usage").cloned().unwrap_or(Value::Null);
        r.usage = Usage {
            input_tokens: u64_at(&usage, "input_tokens")
                + u64_at(&usage, "cache_creation_input_tokens")
                + u64_at(&usage, "cache_read_input_tokens"),
            output_tokens: u64_at(&usage, "output_tokens"),
            cost_usd: v.get("total_cost_usd").and_then(Value::as_f64),
            turns: u32::try_from(u64_at(v, "num_turns")).unwrap_or(u32::MAX),
        };
        if v.get("is_error").and_then(Value::as_bool).unwrap_or(false) {
            let subtype = v.get("subtype").and_then(Value::as_str).unwrap_or("error");
            let text = if r.message.is_empty() { subtype.to_string() } else { r.message.clone() };
            r.error = Some(format!("claude reported an error: {text}"));
        } else if let Some(sub) = v.get("subtype").and_then(Value::as_str).filter(|s| s.starts_with("error")) {
            r.error = Some(format!("claude stopped: {sub}"));
        }
        for d in v.get("permission_denials").and_then(Value::as_array).into_iter().flatten() {
            let tool = d.get("tool_name").and_then(Value::as_str).unwrap_or("tool");
            let path = d.pointer("/tool_input/file_path").and_then(Value::as_str).map(|p| relative(&self.root, p));
            r.denied.push(format!("{tool} {}", path.unwrap_or("")).trim_end().to_string());
        }
        out.push(format!("✓ {} ({} turns, {})", first_line(&r.message, 200), r.usage.turns, r.usage.describe()));
    }
}

impl AgentParser for Claude {
    fn line(&mut self, line: &str) -> Vec<String> {
        let mut out = Vec::new();
        match serde_json::from_str::<Value>(line.trim()) {
            Ok(Value::Array(events)) => events.iter().for_each(|e| self.event(e, &mut out)),
            Ok(v) => self.event(&v, &mut out),
            Err(_) if !line.trim().is_empty() => {
                self.plain.push(line.to_string());
                out.push(line.to_string());
            }
            Err(_) => {}
        }
        out
    }

    fn done(&self) -> bool {
        self.finished
    }

    fn finish(mut self: Box<Self>) -> AgentResult {
        if !self.finished {
            // Plain text: the whole of it is the message.
            self.result.message = self.plain.join("\n");
        }
        self.result
    }
}

/// Codex's `exec --json` events.
struct Codex {
    result: AgentResult,
    root: Option<String>,
    /// `codex exec` runs one turn: its end is the final result.
    finished: bool,
}

impl AgentParser for Codex {
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

/// aider's text output: already one line per step; tokens and cost from its
/// `Tokens:` and `Cost:` lines; the message without the banner or edit blocks.
#[derive(Default)]
struct Aider {
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

impl AgentParser for Aider {
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
                .and_then(|c| c.parse::<f64>().ok());
            self.result.usage.add(&Usage { input_tokens: sent, output_tokens: received, cost_usd: cost, turns: 1 });
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

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
