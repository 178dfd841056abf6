//! Claude Code: `claude -p` reads the prompt on stdin and prints stream-json events.
//! Edits are allowed in the working directory only (`acceptEdits`, which also works
//! as root); turns and the dollars left are passed to the CLI's own limits.

use std::collections::BTreeMap;

use super::{Invocation, Launch};

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
    if let Some(left) = launch.cost_left {
        argv.extend(["--max-budget-usd".into(), format!("{:.4}", left.max(0.0))]);
    }
    if let Some(session) = launch.session {
        argv.extend(["--resume".into(), session.to_string()]);
    }
    // No telemetry, no update checks, no side requests: only the model's API.
    env.insert("DISABLE_TELEMETRY".into(), "1".into());
    env.insert("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(), "1".into());
    Invocation { argv, env, prompt_on_stdin: true }
}
