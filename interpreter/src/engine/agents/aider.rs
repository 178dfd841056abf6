//! aider: the prompt goes in with `--message-file`; edits are applied without asking
//! (`--yes-always`) and left uncommitted, so that `plan` commits (and merges back)
//! them like any agent's work.

use std::collections::BTreeMap;

use super::{Invocation, Launch};

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
    // litellm fetches a price list from the internet unless told not to.
    env.insert("LITELLM_LOCAL_MODEL_COST_MAP".into(), "True".into());
    Invocation { argv, env, prompt_on_stdin: false }
}
