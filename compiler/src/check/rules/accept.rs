//! `missing-program`: an `accept.command` starts a program that is not there;
//! `best-of-misplaced`: `best_of` where it cannot mean anything.
//!
//! Why: a check that cannot start fails every attempt, each after the agent has spent
//! its time and money — the plan could never succeed. `best_of` asks for candidates of
//! a coding agent's change; on a command or an action there is no change to choose
//! among, and inside a run-time map the copies are already many.
//! Example: `accept: { command: "carg test" }`; `best_of: 3` on `run: make`.
//! Fix: name a program on `PATH` (or a file of the repository, `./scripts/check`);
//! put `best_of` on an agent with a prompt, outside a run-time map.
//!
//! The program is the first word of the command when it is plain text: a word with a
//! template, a variable or a shell keyword is not judged here. `unquoted-issue-text`
//! covers these commands as it covers `run`.

use std::path::Path;

use plan_schema::Over;

use super::{Ctx, Rule};
use crate::check::diagnostic::{Diagnostic, Severity};
use crate::load::agents::Slot;
use crate::resolve::{self, Work};

pub const RULE: Rule = Rule {
    codes: &[("missing-program", Severity::Error), ("best-of-misplaced", Severity::Error)],
    summary: "an acceptance check starts no program, or `best_of` is where it means nothing",
    check,
};

fn check(ctx: &Ctx, out: &mut Vec<Diagnostic>) {
    let root = crate::check::confine::root(ctx.base_dir);
    let mut lists: Vec<(String, &plan_schema::Accept)> = Vec::new();
    if let Some(a) = ctx.plan.defaults.as_ref().and_then(|d| d.accept.as_ref()) {
        lists.push(("/defaults/accept/command".into(), a));
    }
    for a in ctx.agents.iter() {
        if let Some(accept) = a.agent.accept.as_deref() {
            lists.push((format!("{}/accept/command", a.pointer), accept));
        }
        if a.agent.best_of.is_some_and(|n| n > 1) {
            best_of(ctx, a, out);
        }
    }
    for (pointer, accept) in lists {
        let many = matches!(accept.command, Some(plan_schema::Commands::Many(_)));
        for (i, command) in accept.commands().iter().enumerate() {
            let Some(program) = program_of(command) else { continue };
            if found(program, &root, ctx.base_dir) {
                continue;
            }
            let at = if many { format!("{pointer}/{i}") } else { pointer.clone() };
            out.push(
                ctx.error("missing-program", ctx.value_span(&at), format!("`{program}` is not a program here"))
                    .help("install it, or name a program on PATH or a file of the repository (`./scripts/check`)"),
            );
        }
    }
}

fn best_of(ctx: &Ctx, a: crate::load::agents::AgentRef, out: &mut Vec<Diagnostic>) {
    let at = ctx.value_span(&format!("{}/best_of", a.pointer));
    let in_map = a.slot == Slot::Map
        && a.parent
            .and_then(|p| p.map.as_ref())
            .is_some_and(|m| matches!(m.over, Over::LinesOf { .. } | Over::Template(_)));
    let why = match resolve::step(ctx.plan, a.agent).map(|s| s.work) {
        _ if in_map => "copies of a run-time map cannot each have candidates",
        Ok(Work::Coding(_) | Work::Runner { .. }) | Err(_) => return,
        Ok(_) => "only an agent with a prompt (a coding agent, a runner's command) has candidates to choose among",
    };
    out.push(
        ctx.error("best-of-misplaced", at, format!("agent `{}`: `best_of` here means nothing: {why}", a.agent.id))
            .help("remove `best_of`, or move it to the coding agent whose change should be chosen"),
    );
}

/// The program a shell command starts, when its first word is plain text.
fn program_of(command: &str) -> Option<&str> {
    let word = command.split_whitespace().next()?;
    const KEYWORDS: &[&str] = &[
        "if", "for", "while", "until", "case", "!", "{", "(", "exec", "cd", "test", "[", "true", "false", "set",
        "export", "command", "time", ":", ".", "env",
    ];
    let plain = word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./+".contains(c));
    (plain && !KEYWORDS.contains(&word) && !word.contains('=')).then_some(word)
}

/// Whether `program` can be started: a path (from the repository's root or the
/// plan's directory), or a name on `PATH`.
fn found(program: &str, root: &Path, base_dir: &Path) -> bool {
    if program.contains('/') {
        return [root, base_dir].iter().any(|d| d.join(program).is_file()) || Path::new(program).is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::program_of;

    #[test]
    fn the_program_is_a_plain_first_word() {
        assert_eq!(program_of("cargo test -p parser"), Some("cargo"));
        assert_eq!(program_of("./scripts/check --all"), Some("./scripts/check"));
        assert_eq!(program_of("{{ vars.tool }} check"), None);
        assert_eq!(program_of("FOO=1 make"), None);
        assert_eq!(program_of("test -f out.txt"), None);
        assert_eq!(program_of("$TOOL run"), None);
    }
}
