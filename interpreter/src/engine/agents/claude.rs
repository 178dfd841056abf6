//! Claude Code: `claude -p` reads the prompt on stdin and prints stream-json events.
//! Edits are allowed in the working directory only (`acceptEdits`, which also works
//! as root); turns and the dollars left are passed to the CLI's own limits.

use std::collections::BTreeMap;

use serde_json::Value;

use super::parse::{first_line, relative, reported_cost, u64_at, AgentParser, AgentResult};
use super::{Invocation, Launch};
use crate::engine::gateway::api::Provider;
use crate::store::usage::Usage;

pub fn command(launch: &Launch, model: Option<&str>) -> Invocation {
    let mut env = BTreeMap::new();
    let mut argv: Vec<String> =
        ["claude", "-p", "--output-format", "stream-json", "--verbose"].into_iter().map(String::from).collect();
    let mode = if launch.read_only { "default" } else { "acceptEdits" };
    argv.extend(["--permission-mode".into(), mode.into()]);
    argv.extend(["--max-turns".into(), launch.turns.to_string()]);
    if let Some(m) = model {
        argv.extend(["--model".into(), m.to_string()]);
    }
    // Through the gateway, budgets are checked at each request (and name the budget
    // when they stop one); else the CLI's own limit is all there is.
    if let Some(left) = launch.cost_left.filter(|_| launch.gateway.is_none()) {
        argv.extend(["--max-budget-usd".into(), format!("{:.4}", left.max(0.0))]);
    }
    if let Some(session) = launch.session {
        argv.extend(["--resume".into(), session.to_string()]);
    }
    if let Some((base, key)) = launch.through(Provider::Anthropic) {
        env.insert("ANTHROPIC_BASE_URL".into(), base.to_string());
        env.insert("ANTHROPIC_API_KEY".into(), key.to_string());
    }
    // No telemetry, no update checks, no side requests: only the model's API.
    env.insert("DISABLE_TELEMETRY".into(), "1".into());
    env.insert("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(), "1".into());
    Invocation { argv, env, prompt_on_stdin: true }
}

/// Claude Code's stream-json (also its one-object `json` output, and `json --verbose`'s
/// array of events).
pub struct Parser {
    result: AgentResult,
    root: Option<String>,
    /// Lines that are not JSON (a plan's own command without `--output-format`).
    plain: Vec<String>,
    finished: bool,
}

impl Parser {
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
        let (cache_write, cache_read) =
            (u64_at(&usage, "cache_creation_input_tokens"), u64_at(&usage, "cache_read_input_tokens"));
        r.usage = Usage {
            input_tokens: u64_at(&usage, "input_tokens") + cache_write + cache_read,
            output_tokens: u64_at(&usage, "output_tokens"),
            cost_usd: None,
            turns: u32::try_from(u64_at(v, "num_turns")).unwrap_or(u32::MAX),
            cache_write_tokens: cache_write,
            cache_read_tokens: cache_read,
            rate_limit_wait_ms: 0,
        };
        // JSON has no NaN: a figure that is not a number arrives as a string.
        let figure =
            v.get("total_cost_usd").map(|c| c.as_f64().or_else(|| c.as_str()?.parse().ok()).unwrap_or(f64::NAN));
        r.usage.cost_usd = reported_cost(r, "claude", figure);
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

impl AgentParser for Parser {
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

impl Parser {
    pub fn new(root: Option<String>) -> Parser {
        Parser { result: AgentResult::default(), root, plain: Vec::new(), finished: false }
    }
}
