//! Secrets stay secret: not in the journal, status files, outputs, logs, prompts or the
//! terminal — also when a cut through an error message would leave the end of one —
//! and secrets given to a run reach only the agents that name them.

use std::path::Path;

use crate::support::Test;

const TOKEN: &str = "ghp_0123456789abcdefghijKLMNOPQRSTUVWXYZ";

/// Every file under `dir` that contains `needle`.
fn grep(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_end_of_a_token_in_a_cut_error_message_is_not_kept() {
    // stderr: the token, then enough text that the kept tail starts inside it.
    let plan = r#"version: 1
name: leak
complexity: simple
agent: { id: leak, pass_env: [GITHUB_TOKEN], run: "printf '%s' \"$GITHUB_TOKEN\" >&2; head -c 1985 /dev/zero | tr '\\0' x >&2; exit 3" }
"#;
    let mut t = Test::new().file("plan.yaml", plan);
    t.env_var("GITHUB_TOKEN", TOKEN);
    let run = t.run_with(&["run", "plan.yaml", "--json"]);
    run.code(1);
    let end = &TOKEN[TOKEN.len() - 8..];
    assert!(!run.stderr.contains(end) && !run.stdout.contains(end), "{}", run.stderr);
    assert!(grep(&t.path(".plan"), end).is_empty(), "{:?}", grep(&t.path(".plan"), end));
}

#[test]
fn secrets_are_passed_by_name_and_never_written() {
    let plan = r#"version: 1
name: secrets
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: asks, pass_env: [DEPLOY_KEY], run: "echo \"key=$DEPLOY_KEY\"" }
    - { id: not, run: "echo \"key=[${DEPLOY_KEY:-none}]\"" }
"#;
    let t = Test::new().file("plan.yaml", plan);
    let refused = t.run_with(&["run", "plan.yaml", "--var", "DEPLOY_KEY=s3cr3t-value-123"]);
    refused.code(2);
    assert!(refused.stderr.contains("--secret DEPLOY_KEY"), "{}", refused.stderr);
    let run = t.run_with(&["run", "plan.yaml", "--secret", "DEPLOY_KEY=s3cr3t-value-123", "--json"]);
    run.code(0);
    let report = run.json();
    let dir = t.path(".plan/runs").join(report["run_id"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(dir.join("logs/asks.log")).unwrap(), "key=***\n");
    assert_eq!(std::fs::read_to_string(dir.join("logs/not.log")).unwrap(), "key=[none]\n");
    assert!(grep(t.dir.path(), "s3cr3t-value-123").is_empty(), "{:?}", grep(t.dir.path(), "s3cr3t-value-123"));
}

#[test]
fn one_rule_for_secrets_withholds_and_redacts_alike() {
    // STRIPE_KEY is a secret by its name: withheld from an agent that does not name
    // it, and redacted from one that does. STRIPE_CONN is no secret by its name, but
    // passing it with `pass_env` makes it one.
    let plan = r#"version: 1
name: one-rule
complexity: moderate
agent:
  id: primary
  pattern: fork-join
  agents:
    - { id: passed, pass_env: [STRIPE_KEY, STRIPE_CONN], run: "echo \"key=$STRIPE_KEY conn=$STRIPE_CONN\"" }
    - { id: other, run: "echo \"key=[${STRIPE_KEY:-withheld}]\"" }
"#;
    let key = "sk_live_canary_0123456789";
    let conn = "postgres://canary-conn-9876@db";
    let mut t = Test::new().file("plan.yaml", plan);
    t.env_var("STRIPE_KEY", key).env_var("STRIPE_CONN", conn);
    let run = t.run_with(&["run", "plan.yaml", "--json"]);
    run.code(0);
    let dir = t.path(".plan/runs").join(run.json()["run_id"].as_str().unwrap());
    // The agent did print both (the canary: `***` stands where each value was).
    assert_eq!(std::fs::read_to_string(dir.join("logs/passed.log")).unwrap(), "key=*** conn=***\n");
    assert_eq!(std::fs::read_to_string(dir.join("logs/other.log")).unwrap(), "key=[withheld]\n");
    for value in [key, conn] {
        assert!(grep(t.dir.path(), value).is_empty(), "{value}: {:?}", grep(t.dir.path(), value));
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value));
    }
}
