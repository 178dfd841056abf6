//! The model stand-in (`tests/model_server.py`) from the tests' side: started on
//! 127.0.0.1 with a script, stopped when dropped; and the real coding-agent CLIs,
//! found on PATH (CI installs them; elsewhere a test without its CLI is skipped).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::repo;

pub struct ModelServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl ModelServer {
    pub fn start(script: Value) -> ModelServer {
        let dir = tempfile::tempdir().unwrap();
        let script_file = dir.path().join("script.json");
        std::fs::write(&script_file, script.to_string()).unwrap();
        let mut child = Command::new("python3")
            .arg(repo().join("tests/model_server.py"))
            .arg("--script")
            .arg(&script_file)
            .arg("--log")
            .arg(dir.path().join("requests.jsonl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the model stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).expect("the stand-in's port");
        ModelServer { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request it received: `{"path", "body"}`.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The script most tests use: read and edit `greeting.txt`, then say `done`.
pub fn fix_greeting() -> Value {
    serde_json::json!({
        "edits": [{"file": "greeting.txt", "old": "hello", "new": "goodbye"}],
        "reply": "done",
        "usage": {"input": 30, "output": 15}
    })
}

/// Whether the coding-agent CLI `name` is installed; in CI it must be.
pub fn installed(name: &str) -> bool {
    let found = Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(found || std::env::var_os("CI").is_none(), "`{name}` is needed in CI (.ci/run installs it)");
    found
}

/// The model key `plan` holds in the tests: only the stand-in may ever see it.
pub const REAL_KEY: &str = "sk-real-key-canary-5f2b9c";

/// The environment that points each CLI at the stand-in, with a scratch home.
pub fn agent_env(server: &ModelServer, home: &Path) -> Vec<(String, String)> {
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n[model_providers.mock]\nname = \"mock\"\n\
             base_url = \"{}/v1\"\nenv_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n",
            server.url()
        ),
    )
    .unwrap();
    let metadata = home.join("model.metadata.json");
    std::fs::write(
        &metadata,
        // Priced as `plan`'s table prices gpt-4o-mini: aider's figure and the
        // gateway's agree.
        r#"{"openai/gpt-4o-mini": {"max_input_tokens": 128000, "max_output_tokens": 4096, "max_tokens": 4096,
            "input_cost_per_token": 0.00000015, "output_cost_per_token": 0.0000006,
            "litellm_provider": "openai", "mode": "chat"}}"#,
    )
    .unwrap();
    let pairs: [(&str, String); 11] = [
        ("HOME", home.display().to_string()),
        ("CODEX_HOME", codex_home.display().to_string()),
        ("ANTHROPIC_BASE_URL", server.url()),
        ("ANTHROPIC_API_KEY", REAL_KEY.into()),
        ("OPENAI_API_KEY", REAL_KEY.into()),
        // Where `plan`'s model gateway sends OpenAI requests (Codex, aider).
        ("OPENAI_BASE_URL", format!("{}/v1", server.url())),
        ("AIDER_MODEL", "openai/gpt-4o-mini".into()),
        ("AIDER_EDIT_FORMAT", "diff".into()),
        ("AIDER_OPENAI_API_BASE", format!("{}/v1", server.url())),
        ("AIDER_MODEL_METADATA_FILE", metadata.display().to_string()),
        // A token the agents must not see (they do not ask for it).
        ("GITHUB_TOKEN", "ghp_agentsMustNotSeeThis123".into()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Runs `plan args` in `work` with the environment `agent_env` made.
pub fn plan_run(work: &Path, env: &[(String, String)], args: &[&str]) -> crate::support::Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    crate::support::run_in(work, args, &env)
}

/// The text of each user message of a request (Anthropic, Responses or Chat).
pub fn user_messages(request: &Value) -> Vec<String> {
    let body = &request["body"];
    let items = body["messages"].as_array().or(body["input"].as_array()).cloned().unwrap_or_default();
    let text = |m: &Value| match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    };
    items.iter().filter(|m| m["role"] == "user").map(text).collect()
}

/// All user text of a request.
pub fn user_text(request: &Value) -> String {
    user_messages(request).join("\n")
}

/// A copy of `plans/coding-agents/tiny-repo` in `dir/work`, committed on `main`,
/// with a bare `origin` beside it.
pub fn tiny_repo(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    for f in ["greeting.txt", "test.sh"] {
        std::fs::copy(repo().join("plans/coding-agents/tiny-repo").join(f), work.join(f)).unwrap();
    }
    crate::support::git_repo(dir, &work);
    work
}
