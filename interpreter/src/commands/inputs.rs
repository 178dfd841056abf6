//! What `plan run` takes beside the plan: `--var` values, `--secret`s, the message of
//! a `--hold`, and the fingerprint the plan must have (`--plan-hash`).

use indexmap::IndexMap;
use plan_schema::Plan;
use serde_json::Value;

use crate::error::Error;
use crate::store::resume::Resumed;

/// The plan's variables with `--var K=V` overrides. A variable named like a secret
/// is refused: variables are written to the journal and reach templates.
pub(super) fn vars(plan: &Plan, overrides: &[String]) -> Result<IndexMap<String, Value>, Error> {
    let mut vars = plan.vars.clone();
    for kv in overrides {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(Error::Usage(format!("--var expects KEY=VALUE, got `{kv}`")));
        };
        if plan_compiler::resolve::secret::looks_secret(k.trim()) {
            return Err(Error::Usage(format!(
                "`--var {k}` looks like a secret, and variables are written to the run directory: pass it with \
                 `--secret {k}` (agents that name it in `pass_env` get it in their environment)"
            )));
        }
        vars.insert(k.trim().to_string(), Value::String(v.to_string()));
    }
    Ok(vars)
}

/// `--secret NAME[=VALUE]`: each secret's value, from the argument or this environment.
pub(super) fn secrets(given: &[String]) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let mut out = std::collections::BTreeMap::new();
    for s in given {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n.trim().to_string(), v.to_string()),
            None => {
                let value = std::env::var(s)
                    .map_err(|_| Error::Usage(format!("--secret {s}: there is no environment variable `{s}`")))?;
                (s.clone(), value)
            }
        };
        out.insert(name, value);
    }
    Ok(out)
}

/// The message of the hold before every node: `--hold FILE`'s text, or the one the
/// resumed run was started with.
pub(super) fn hold(file: Option<&std::path::Path>, resumed: Option<&Resumed>) -> Result<Option<String>, Error> {
    if let Some(r) = resumed.filter(|r| r.hold.is_some()) {
        return Ok(r.hold.clone());
    }
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(file).map_err(|e| Error::io("read the hold message", file, e))?;
    Ok(Some(if text.trim().is_empty() { "review this plan before it runs".to_string() } else { text }))
}

/// `--plan-hash`: the plan that was checked is the plan that runs (a plan file changed
/// since `plan serve` checked it against its policy is refused).
pub(super) fn check_hash(checked: &plan_compiler::Checked, expected: Option<&str>) -> Result<(), Error> {
    let Some(expected) = expected else { return Ok(()) };
    let text = checked.loaded.source.as_ref().map_or("", |s| s.text.as_str());
    let hash = crate::store::journal::fingerprint(text.as_bytes());
    if hash != expected {
        return Err(Error::refused(format!(
            "{} changed since it was checked (fingerprint {hash}, expected {expected}): not run",
            checked.loaded.path.display()
        )));
    }
    Ok(())
}

/// Whether the plan's agents get their sandboxes: `on`, `unavailable: <why>`, or
/// `None` when no agent asks for one. `require`: unavailable is an error.
pub(super) fn sandbox_status(plan: &Plan, require: bool) -> Result<Option<String>, Error> {
    let agents = plan_compiler::load::agents::AgentIndex::new(plan);
    let wanted =
        agents.iter().any(|a| plan_compiler::resolve::step(plan, a.agent).is_ok_and(|s| s.sandbox.on && !s.is_gate()));
    if !wanted {
        return Ok(None);
    }
    match crate::engine::sandbox::availability() {
        Ok(()) => Ok(Some("on".into())),
        Err(why) if require => Err(Error::refused(format!(
            "sandbox: unavailable: {why}; --require-sandbox refuses to run agents without one"
        ))),
        Err(why) => Ok(Some(format!("unavailable: {why}"))),
    }
}

/// `--replay RUN_ID`: the exchanges that run recorded, and its directory.
pub fn replay(args: &crate::cli::RunArgs) -> Result<Option<(std::path::PathBuf, std::path::PathBuf)>, Error> {
    let Some(id) = &args.replay else { return Ok(None) };
    let recorded = crate::store::rundir::RunDir::find(&args.runs_dir, Some(id))?;
    let file = recorded.exchanges();
    if !file.is_file() {
        return Err(Error::Usage(format!(
            "run `{id}` recorded no model exchanges ({} is missing): only runs whose agents went through the model \
             gateway can be replayed",
            file.display()
        )));
    }
    Ok(Some((file, recorded.root)))
}
