//! Codex CLI: `codex exec --json` with the prompt on stdin (`-`), sandboxed to the
//! working directory (`workspace-write`), its last message also written to a file.

use std::collections::BTreeMap;

use super::{Invocation, Launch};

pub fn command(launch: &Launch, model: Option<&str>) -> Invocation {
    let env = BTreeMap::new();
    // The sandbox is an option of `exec` itself, before a `resume` subcommand.
    let sandbox = if launch.read_only { "read-only" } else { "workspace-write" };
    let mut argv: Vec<String> = ["codex", "exec", "-s", sandbox].map(String::from).to_vec();
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
    if let Some(m) = model {
        argv.extend(["-m".into(), m.to_string()]);
    }
    argv.extend(["-o".into(), launch.last_message_file.display().to_string()]);
    argv.push("-".into());
    Invocation { argv, env, prompt_on_stdin: true }
}
