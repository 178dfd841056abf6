//! What a secret is: the one rule that withholding (an agent sees only the secrets
//! its plan passes it), redaction (no secret reaches the run directory or the
//! screen) and `--var` (refuses a secret) share.
//!
//! An environment variable holds a secret when its name says so, word by word
//! (words split at `_` and `-`): a word that is, or ends in, TOKEN, SECRET,
//! PASSWORD, PASSWD, CREDENTIAL(S) or APIKEY (`GITHUB_TOKEN`, `GHTOKEN`,
//! `DB_PASSWORD`), or that is KEY or PAT (`OPENAI_API_KEY`, `STRIPE_KEY`,
//! `GH_PAT`). Beyond names, a plan makes secrets of what it passes with `pass_env`
//! and what `plan run --secret` gives.

/// Whether an environment variable's name says it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    const ENDINGS: [&str; 7] = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"];
    const WORDS: [&str; 2] = ["KEY", "PAT"];
    name.to_ascii_uppercase().split(['_', '-']).any(|w| WORDS.contains(&w) || ENDINGS.iter().any(|e| w.ends_with(e)))
}

/// The variables a plan passes to agents with `pass_env` (the defaults', every
/// runner's, every agent's): secrets, whatever their names.
pub fn passed(plan: &plan_schema::Plan) -> std::collections::BTreeSet<&str> {
    let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    names.extend(plan.defaults.iter().flat_map(|d| d.pass_env.iter().map(String::as_str)));
    names.extend(plan.runners.values().flat_map(|r| r.pass_env.iter().map(String::as_str)));
    names.extend(plan.agent.all().flat_map(|a| a.pass_env.iter().map(String::as_str)));
    names
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn secrets_are_told_by_their_names() {
        for name in [
            "GITHUB_TOKEN",
            "GHTOKEN",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "PLAN_WEBHOOK_SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "SSH_KEY",
            "STRIPE_KEY",
            "GH_PAT",
            "MY_APIKEY",
            "google-credentials",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "PLAN_RUN_DIR",
            "KEYBOARD",
            "CARGO_HOME",
            "TOKENIZERS_PARALLELISM",
            "MONKEY",
            "PATTERN",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
