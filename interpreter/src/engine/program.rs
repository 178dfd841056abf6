//! Finding an agent's program on `PATH`, and naming before a run those that are not there.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use plan_compiler::resolve::{Step, Work};
use plan_schema::{Command, Plan};

/// `program` found on `PATH` once per run, as make does: left to the spawn, every
/// start tries each `PATH` directory in turn (eight failed `execve` calls per `true`
/// on a usual `PATH`). A plan that sets `PATH` for an agent, a relative `PATH` entry,
/// or a name with a slash is left to the spawn.
pub fn resolve(program: &str, env: &BTreeMap<String, String>) -> PathBuf {
    if env.contains_key("PATH") {
        return program.into();
    }
    match lookup(program) {
        Lookup::Found(p) => p,
        Lookup::Missing | Lookup::Unknown => program.into(),
    }
}

/// What `PATH` says of a program.
#[derive(Clone, Debug, PartialEq)]
enum Lookup {
    Found(PathBuf),
    Missing,
    /// A name with a slash, or a relative `PATH` entry: for the spawn to find.
    Unknown,
}

/// `program` on this process's `PATH`, looked up once (and remembered when found).
fn lookup(program: &str) -> Lookup {
    use std::os::unix::fs::PermissionsExt;
    static FOUND: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    if program.contains('/') {
        return Lookup::Unknown;
    }
    let found = FOUND.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = found.lock().ok().and_then(|m| m.get(program).cloned()) {
        return Lookup::Found(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if dirs.iter().any(|d| d.is_relative()) {
        return Lookup::Unknown;
    }
    let hit = dirs
        .iter()
        .map(|d| d.join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0));
    match hit {
        Some(p) => {
            if let Ok(mut m) = found.lock() {
                m.insert(program.to_string(), p.clone());
            }
            Lookup::Found(p)
        }
        None => Lookup::Missing,
    }
}

/// The programs the plan's agents start that are not on `PATH`, each with the first
/// agent that starts it: a run warns of them before it starts (an earlier agent may
/// still install one). Programs found are remembered, so the first agent to start one
/// does not look for it.
pub fn missing(plan: &Plan) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![&plan.agent];
    while let Some(a) = stack.pop() {
        if let Ok(step) = plan_compiler::resolve::step(plan, a) {
            let own_path = step.env.sets("PATH");
            for program in programs(&step) {
                if !own_path && seen.insert(program) && lookup(program) == Lookup::Missing {
                    out.push((program.to_string(), a.id.clone()));
                }
            }
        }
        stack.extend(a.agents.iter().rev());
        stack.extend(a.join.as_deref());
        stack.extend(a.reduce.as_deref());
        stack.extend(a.map.as_ref().map(|m| &m.agent));
        stack.extend(a.gather.as_ref().and_then(|g| g.agent.as_ref()));
    }
    out
}

/// The programs a step starts: its command's, its runner's (or coding-agent CLI's),
/// its compensation's. A program named by a template is known only at run time.
fn programs<'p>(step: &Step<'p>) -> impl Iterator<Item = &'p str> {
    fn first(cmd: &Command) -> Option<&str> {
        cmd.program().filter(|w| !w.contains("{{") && !w.contains("{%"))
    }
    let work = match &step.work {
        Work::Command(cmd) | Work::Runner { command: cmd, .. } => first(cmd),
        Work::Coding(c) => match c.entry.and_then(|r| r.command.as_ref()) {
            Some(cmd) => first(cmd),
            None => Some(c.cli.as_str()),
        },
        Work::Action(_) | Work::Nothing => None,
    };
    work.into_iter().chain(step.agent.compensate.as_deref().and_then(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_once_unless_the_agent_sets_path() {
        let none = BTreeMap::new();
        let sh = resolve("sh", &none);
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(resolve("sh", &none), sh, "the same, from the cache");
        let own = BTreeMap::from([("PATH".to_string(), "/opt/bin".to_string())]);
        assert_eq!(resolve("sh", &own), std::path::PathBuf::from("sh"));
        assert_eq!(resolve("./tool", &none), std::path::PathBuf::from("./tool"));
        assert_eq!(resolve("no-such-program-here", &none), std::path::PathBuf::from("no-such-program-here"));
    }

    #[test]
    fn a_plan_names_the_programs_not_on_path_once_with_their_first_agent() {
        let yaml = r#"
version: 1
name: t
complexity: moderate
runners:
  cheap: { command: [no-such-runner-cli, --fast] }
  other-path: { command: [no-such-elsewhere], env: { PATH: /opt/bin } }
agent:
  id: root
  pattern: fork-join
  agents:
    - { id: a, run: [no-such-program-here, x] }
    - { id: b, run: [no-such-program-here, y] }
    - { id: c, run: "echo hi" }
    - { id: d, run: ["{{ vars.tool }}"] }
    - { id: e, prompt: hi, runner: cheap }
    - { id: f, prompt: hi, runner: claude }
    - { id: g, prompt: hi, runner: other-path }
    - { id: h, run: [sh, -c, "true"], compensate: [no-such-undo] }
"#;
        let plan: Plan = serde_yaml::from_str(yaml).unwrap();
        let missing = missing(&plan);
        let claude = lookup("claude") == Lookup::Missing;
        let mut want = vec![("no-such-program-here", "a"), ("no-such-runner-cli", "e")];
        if claude {
            want.push(("claude", "f"));
        }
        want.push(("no-such-undo", "h"));
        let got: Vec<(&str, &str)> = missing.iter().map(|(p, a)| (p.as_str(), a.as_str())).collect();
        assert_eq!(got, want);
    }
}
