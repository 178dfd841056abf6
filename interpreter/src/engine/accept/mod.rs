//! Acceptance checks (`accept:`): after an attempt ends well, in the agent's
//! workspace, its change is held to the plan's word — where it may be (`touches`), how
//! large (`max_changed_lines`), commands that must exit 0, and a judge's score. A
//! failed check fails the attempt: its evidence becomes the attempt's error, which the
//! retry's prompt carries (in the same session), and every attempt's checks go to the
//! report.
//!
//! The checks are made ready when the attempt is dispatched (`prepare`: commands
//! rendered, the judge's pass to the model gateway) and run by the workspace that
//! placed the attempt (`run`), which knows its files and its change.

pub mod attempt;
pub mod judge;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::job::{Cancel, Executor, Job, Outcome, ProcessSpec, Work};
use crate::engine::render::{NodeVars, Renderer, TemplateError};
use crate::engine::tree::AgentMeta;
use crate::git::GitError;

/// The checks of one attempt, ready to run.
#[derive(Clone, Debug)]
pub struct Acceptance {
    pub attempt: u32,
    /// Shell commands, rendered, run in order until one fails.
    pub commands: Vec<String>,
    pub timeout: Duration,
    pub touches: Vec<String>,
    pub max_changed_lines: Option<u64>,
    pub judge: Option<judge::Judging>,
    /// A candidate of `best_of`: its index. Its work is kept on a branch of its own,
    /// not merged, until the candidates are compared.
    pub candidate: Option<usize>,
}

impl Acceptance {
    /// Whether the checks read the change (so it must be told from the files).
    pub fn needs_change(&self) -> bool {
        !self.touches.is_empty() || self.max_changed_lines.is_some() || self.judge.is_some() || self.candidate.is_some()
    }
}

/// The checks an attempt of `step` must pass, when it has any (or is a candidate).
pub fn prepare(
    renderer: &Renderer,
    step: &plan_compiler::resolve::Step<'_>,
    meta: AgentMeta<'_>,
    vars: &NodeVars,
    candidate: Option<usize>,
) -> Result<Option<Box<Acceptance>>, TemplateError> {
    let Some(accept) = step.accept else {
        return Ok(candidate.map(|candidate| {
            Box::new(Acceptance {
                attempt: vars.attempt,
                commands: Vec::new(),
                timeout: plan_schema::Accept::DEFAULT_TIMEOUT,
                touches: Vec::new(),
                max_changed_lines: None,
                judge: None,
                candidate: Some(candidate),
            })
        }));
    };
    let ctx = renderer.context(meta, vars);
    let commands = accept.commands().iter().map(|c| renderer.render_str(c, &ctx)).collect::<Result<_, _>>()?;
    let judge = match (&accept.judge, &step.judge) {
        (Some(j), Some(coding)) => Some(judge::Judging::new(renderer, j, coding, vars)),
        _ => None,
    };
    Ok(Some(Box::new(Acceptance {
        attempt: vars.attempt,
        commands,
        timeout: accept.timeout.map_or(plan_schema::Accept::DEFAULT_TIMEOUT, |t| t.as_std()),
        touches: accept.touches.clone(),
        max_changed_lines: accept.max_changed_lines,
        judge,
        candidate,
    })))
}

/// What one attempt's checks found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    pub attempt: u32,
    pub passed: bool,
    /// Lines added and removed by the change, when it was looked at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_lines: Option<u64>,
    /// The judge's score, when it judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub checks: Vec<Check>,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    Command {
        command: String,
        passed: bool,
        /// How it ended, when it failed (`exited with status 1`, `timed out after 10m`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ended: String,
        /// Its last lines (standard output and error together), when it failed.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        output: String,
    },
    Touches {
        passed: bool,
        allowed: Vec<String>,
        outside: Vec<String>,
    },
    MaxChangedLines {
        passed: bool,
        lines: u64,
        max: u64,
    },
    Judge {
        passed: bool,
        score: Option<f64>,
        min_score: f64,
        reasons: String,
    },
}

impl Check {
    fn passed(&self) -> bool {
        match self {
            Check::Command { passed, .. }
            | Check::Touches { passed, .. }
            | Check::MaxChangedLines { passed, .. }
            | Check::Judge { passed, .. } => *passed,
        }
    }

    /// What the retry is told of a failed check.
    fn evidence(&self) -> Option<String> {
        Some(match self {
            _ if self.passed() => return None,
            Check::Command { command, ended, output, .. } if output.is_empty() => {
                format!("- `{command}` failed ({ended})")
            }
            Check::Command { command, ended, output, .. } => {
                format!("- `{command}` failed ({ended}); its last lines:\n{output}")
            }
            Check::Touches { allowed, outside, .. } => format!(
                "- the change touches paths outside what it may change ({}): {}",
                allowed.join(", "),
                outside.join(", ")
            ),
            Check::MaxChangedLines { lines, max, .. } => {
                format!("- the change has {lines} changed lines; at most {max} are allowed: make it smaller")
            }
            Check::Judge { score, min_score, reasons, .. } => match score {
                Some(s) => format!("- a reviewer scored the change {s:.2} (at least {min_score:.2} needed): {reasons}"),
                None => format!("- the reviewer gave no score: {reasons}"),
            },
        })
    }
}

impl Checks {
    /// The error a failed attempt carries: what failed, with its evidence.
    pub fn evidence(&self) -> String {
        let lines: Vec<String> = self.checks.iter().filter_map(Check::evidence).collect();
        format!("the change did not pass its acceptance checks:\n{}", lines.join("\n"))
    }
}

/// One changed file: its path and lines added and removed (0 for a binary file).
#[derive(Clone, Debug, PartialEq)]
pub struct ChangedFile {
    pub path: String,
    pub lines: u64,
}

/// An attempt's change: its files, and its diff for a judge (cut at `DIFF_CAP`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    pub files: Vec<ChangedFile>,
    pub diff: String,
}

/// The most of a diff a judge reads.
const DIFF_CAP: usize = 60_000;

impl Change {
    pub fn lines(&self) -> u64 {
        self.files.iter().map(|f| f.lines).sum()
    }

    /// The change from tree (or commit) `from` to `to` in the repository at `root`.
    pub fn between(root: &Path, from: &str, to: &str) -> Result<Change, GitError> {
        let stat = crate::git::git(root, &["diff", "--numstat", "--no-renames", "-z", from, to])?;
        let files = stat
            .split('\0')
            .filter(|l| !l.is_empty())
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let (added, removed, path) = (parts.next()?, parts.next()?, parts.next()?);
                let n = |s: &str| s.parse::<u64>().unwrap_or(0);
                Some(ChangedFile { path: path.to_string(), lines: n(added) + n(removed) })
            })
            .collect();
        let mut diff = crate::git::tree::patch(root, from, to).unwrap_or_default();
        if diff.len() > DIFF_CAP {
            let mut cut = DIFF_CAP;
            while !diff.is_char_boundary(cut) {
                cut -= 1;
            }
            diff.truncate(cut);
            diff.push_str("\n[... the rest of the diff is left out ...]\n");
        }
        Ok(Change { files, diff })
    }
}

/// Where checks run: the agent's own process spec (its sandbox, environment and
/// workspace), with the command replaced.
pub struct Place<'a> {
    pub spec: Option<&'a ProcessSpec>,
    pub log: Option<PathBuf>,
}

/// Runs the checks of `acc` on `change` (none: no repository to tell it); with what
/// the judge spent outside the gateway. The judge reads the change only when
/// everything else passed.
pub async fn run(
    acc: &Acceptance,
    change: Option<&Change>,
    place: Place<'_>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) -> (Checks, Option<crate::store::usage::Usage>) {
    let mut checks = Vec::new();
    if !acc.touches.is_empty() {
        let globs = globs(&acc.touches);
        let outside: Vec<String> = change
            .map(|c| c.files.iter().filter(|f| !globs.is_match(&f.path)).map(|f| f.path.clone()).collect())
            .unwrap_or_default();
        checks.push(Check::Touches { passed: outside.is_empty(), allowed: acc.touches.clone(), outside });
    }
    if let (Some(max), Some(c)) = (acc.max_changed_lines, change) {
        checks.push(Check::MaxChangedLines { passed: c.lines() <= max, lines: c.lines(), max });
    }
    for command in &acc.commands {
        let check = run_command(command, acc.timeout, &place, executor, cancel.clone()).await;
        let failed = !check.passed();
        checks.push(check);
        if failed {
            break;
        }
    }
    let mut score = None;
    let mut usage = None;
    if let (Some(j), true) = (&acc.judge, checks.iter().all(Check::passed)) {
        let verdict = j.judge(change.map(|c| c.diff.as_str()).unwrap_or(""), place.log.clone()).await;
        score = verdict.score;
        usage = verdict.usage;
        checks.push(Check::Judge {
            passed: verdict.score.is_some_and(|s| s >= j.min_score),
            score: verdict.score,
            min_score: j.min_score,
            reasons: verdict.reasons,
        });
    }
    let checks = Checks {
        attempt: acc.attempt,
        passed: checks.iter().all(Check::passed),
        changed_lines: change.map(Change::lines),
        score,
        checks,
    };
    (checks, usage)
}

/// One check command, as the agent's process would run (its sandbox, its workspace),
/// with everything it prints on standard error, so a failure keeps its last lines.
async fn run_command(
    command: &str,
    timeout: Duration,
    place: &Place<'_>,
    executor: &dyn Executor,
    cancel: watch::Receiver<Cancel>,
) -> Check {
    let mut spec = place.spec.cloned().unwrap_or_default();
    spec.argv = plan_schema::Command::Shell(format!("{{ {command}\n}} 1>&2")).argv();
    spec.stdin = None;
    spec.agent = None;
    let job = Job {
        expect_changes: false,
        id: "accept".into(),
        work: Work::Process(spec),
        timeout: Some(timeout),
        log: place.log.clone(),
        cache: None,
        accept: None,
        carry: None,
    };
    let ran = executor.execute(job, cancel).await;
    let (passed, (ended, output)) = match ran.outcome {
        Outcome::Succeeded { .. } => (true, Default::default()),
        other => (false, last_lines(&other.error_text(), 40)),
    };
    Check::Command { command: command.to_string(), passed, ended, output }
}

/// How a failed command ended, and the last `n` lines of what it printed (its error
/// reads `how it ended: what it printed`).
fn last_lines(text: &str, n: usize) -> (String, String) {
    let (head, body) = text.split_once(": ").unwrap_or((text, ""));
    let lines: Vec<&str> = body.lines().collect();
    (head.to_string(), lines[lines.len().saturating_sub(n)..].join("\n"))
}

/// The globs of `touches` (a path matches when one matches it; `*` stays in its
/// directory).
fn globs(patterns: &[String]) -> globset::GlobSet {
    let mut set = globset::GlobSetBuilder::new();
    for p in patterns {
        if let Ok(g) = globset::GlobBuilder::new(p).literal_separator(true).build() {
            set.add(g);
        }
    }
    set.build().unwrap_or_else(|_| globset::GlobSet::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_names_each_failed_check() {
        let checks = Checks {
            attempt: 1,
            passed: false,
            changed_lines: Some(12),
            score: None,
            checks: vec![
                Check::Touches { passed: false, allowed: vec!["src/**".into()], outside: vec!["README.md".into()] },
                Check::MaxChangedLines { passed: true, lines: 12, max: 50 },
                {
                    let (ended, output) = last_lines("exit status 101: running 1 test\ntest parse ... FAILED", 40);
                    Check::Command { command: "cargo test".into(), passed: false, ended, output }
                },
            ],
        };
        let text = checks.evidence();
        assert!(text.contains("outside what it may change (src/**): README.md"), "{text}");
        assert!(text.contains("`cargo test` failed (exit status 101); its last lines:\nrunning 1 test"), "{text}");
        assert!(!text.contains("changed lines"), "{text}");
    }

    #[test]
    fn touches_globs_keep_to_their_directory() {
        let g = globs(&["src/*.rs".into(), "docs/**".into()]);
        assert!(g.is_match("src/lib.rs"));
        assert!(!g.is_match("src/parser/mod.rs"));
        assert!(g.is_match("docs/a/b.md"));
        assert!(!g.is_match("README.md"));
    }
}
