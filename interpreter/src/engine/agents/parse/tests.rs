//! The parsers on output in the shapes the installed CLIs print.

use std::path::Path;

use plan_schema::AgentCli;

use super::*;

fn parse(cli: AgentCli, text: &str) -> (Vec<String>, AgentResult) {
    let mut p = parser_for(cli, Some(Path::new("/repo")));
    let log = text.lines().flat_map(|l| p.line(l)).collect();
    (log, p.finish())
}

#[test]
fn claude_stream_json_gives_steps_message_usage_and_cost() {
    let text = r#"{"type":"system","subtype":"init","cwd":"/repo","session_id":"s-1","tools":[]}
{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Read","input":{"file_path":"/repo/greeting.txt"}}]}}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"1\thello"}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Edit","input":{"file_path":"/repo/greeting.txt","old_string":"hello","new_string":"goodbye"}}]}}
{"type":"assistant","message":{"content":[{"type":"text","text":"done"}]}}
{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"done","session_id":"s-1","total_cost_usd":0.0007,"usage":{"input_tokens":30,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":15},"permission_denials":[]}"#;
    let (log, r) = parse(AgentCli::Claude, text);
    assert_eq!(log[0], "→ Read greeting.txt");
    assert_eq!(log[1], "→ Edit greeting.txt");
    assert_eq!(log[2], "  done");
    assert!(log[3].starts_with("✓ done (3 turns, 45 tokens, $0.0007)"), "{}", log[3]);
    assert_eq!(r.message, "done");
    assert_eq!(r.session.as_deref(), Some("s-1"));
    assert_eq!(
        r.usage,
        Usage { input_tokens: 30, output_tokens: 15, cost_usd: Some(0.0007), turns: 3, ..Usage::default() }
    );
    assert_eq!(r.failure(), None);
}

#[test]
fn claude_denied_edit_and_reported_error_fail() {
    let denied = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"done","permission_denials":[{"tool_name":"Edit","tool_use_id":"t","tool_input":{"file_path":"/repo/a.txt"}}]}"#;
    let (_, r) = parse(AgentCli::Claude, denied);
    assert_eq!(r.failure().as_deref(), Some("permission denied: Edit a.txt"));
    let down = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: Unable to connect to API (ConnectionRefused)","total_cost_usd":0}"#;
    let (_, r) = parse(AgentCli::Claude, down);
    assert_eq!(
        r.failure().as_deref(),
        Some("claude reported an error: API Error: Unable to connect to API (ConnectionRefused)")
    );
}

#[test]
fn codex_events_give_changes_message_and_tokens_without_a_cost() {
    let text = r#"{"type":"thread.started","thread_id":"t-9"}
{"type":"turn.started"}
{"type":"item.started","item":{"id":"item_0","type":"file_change","changes":[{"path":"/repo/greeting.txt","kind":"update"}],"status":"in_progress"}}
{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"/repo/greeting.txt","kind":"update"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"done"}}
{"type":"turn.completed","usage":{"input_tokens":20,"cached_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0}}"#;
    let (log, r) = parse(AgentCli::Codex, text);
    assert_eq!(log, vec!["→ update greeting.txt", "  done", "✓ done (30 tokens, cost unknown)"]);
    assert_eq!((r.message.as_str(), r.session.as_deref()), ("done", Some("t-9")));
    assert_eq!(r.usage.cost_usd, None);
    let (_, failed) = parse(AgentCli::Codex, r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#);
    assert_eq!(failed.failure().as_deref(), Some("codex reported an error: stream disconnected"));
}

#[test]
fn aider_text_gives_edits_tokens_and_a_message_without_the_banner() {
    let text = "Aider v0.86.2\nModel: openai/mock with diff edit format\nGit repo: .git with 1 files\n\
                Added greeting.txt to the chat.\n\ngreeting.txt\n<<<<<<< SEARCH\nhello\n=======\ngoodbye\n\
                >>>>>>> REPLACE\nTokens: 2.5k sent, 20 received. Cost: $0.01 message, $0.01 session.\n\
                Applied edit to greeting.txt\nChanged the greeting.";
    let (log, r) = parse(AgentCli::Aider, text);
    assert!(log.contains(&"→ edit greeting.txt".to_string()), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("SEARCH")), "{log:?}");
    assert_eq!(
        r.usage,
        Usage { input_tokens: 2500, output_tokens: 20, cost_usd: Some(0.01), turns: 1, ..Usage::default() }
    );
    assert_eq!(r.message, "Changed the greeting.");
}

#[test]
fn a_plain_text_claude_command_gives_its_text() {
    let (_, r) = parse(AgentCli::Claude, "The fix is in.\nAll tests pass.");
    assert_eq!(r.message, "The fix is in.\nAll tests pass.");
    assert_eq!(r.failure(), None);
}
