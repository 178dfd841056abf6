//! Turning a node into a job: renders its command or prompt for this attempt,
//! resolves its runner, environment, directory and timeout. Failures here (a template
//! that does not render) fail the node without running anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plan_compiler::graph::{Unit, UnitKind};
use plan_schema::{Command, Retry};
use serde_json::Value;

use crate::job::{ProcessSpec, Work};
use crate::render::{NodeVars, Renderer};
use crate::tree::AgentMeta;

/// What a node does for one attempt.
#[derive(Debug, PartialEq)]
pub enum Prepared {
    /// Finished already (noop).
    Done(String),
    Run(Work),
}

/// A readable one-line form of the work, for `--dry-run` and logs.
pub fn describe(work: &Work) -> String {
    match work {
        Work::Process(spec) => {
            let mut s = if spec.argv.len() == 3 && spec.argv[0] == "sh" && spec.argv[1] == "-c" {
                spec.argv[2].clone()
            } else {
                spec.argv.iter().map(|a| plan_compiler::template_env::shell_quote(a)).collect::<Vec<_>>().join(" ")
            };
            if let Some(stdin) = &spec.stdin {
                let first = stdin.lines().next().unwrap_or("");
                s.push_str(&format!("  <<< prompt: {first}{}", if stdin.lines().count() > 1 { " ..." } else { "" }));
            }
            s
        }
        Work::Sleep(d) => format!("sleep {}", plan_schema::Duration(*d)),
        Work::WriteFile { path, .. } => format!("write {}", path.display()),
        Work::Action(a) => format!("{a:?}"),
    }
}

impl Renderer {
    /// Prepares `unit` (agent `meta`) for one attempt.
    pub fn prepare(&self, unit: &Unit, meta: &AgentMeta, vars: &NodeVars) -> Result<Prepared, String> {
        let shared = &self.shared;
        let plan = &shared.plan;
        let a = &meta.agent;
        // Built only when a template needs it: most commands are plain text.
        let cell = std::cell::OnceCell::new();
        let ctx = || cell.get_or_init(|| self.context(meta, vars));
        if let Some(uses) = &a.uses {
            return match uses.as_str() {
                "noop" => Ok(Prepared::Done(String::new())),
                "sleep" => {
                    let d = a
                        .with
                        .get("duration")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<plan_schema::Duration>().ok())
                        .ok_or("`sleep` needs `with.duration`, e.g. 100ms")?;
                    Ok(Prepared::Run(Work::Sleep(d.as_std())))
                }
                "template.render" => {
                    let template = a
                        .with
                        .get("template")
                        .and_then(Value::as_str)
                        .ok_or("`template.render` needs `with.template`")?;
                    let output =
                        a.with.get("output").and_then(Value::as_str).ok_or("`template.render` needs `with.output`")?;
                    let contents = self.render_file(template, ctx())?;
                    let path = self.render_str(output, ctx())?;
                    Ok(Prepared::Run(Work::WriteFile { path: PathBuf::from(path), contents }))
                }
                "git.branch" | "git.commit" | "github.pr" | "github.comment" => {
                    self.action(uses, meta, ctx()).map(Prepared::Run)
                }
                other => Err(format!("unknown action `{other}`")),
            };
        }
        let prompt = match (&a.prompt, &a.prompt_file) {
            (Some(p), _) => Some(self.render_str(p, ctx())?),
            (None, Some(f)) => Some(self.render_file(f, ctx())?),
            (None, None) => None,
        };
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Some(d) = &plan.defaults {
            env.extend(d.env.clone());
        }
        let argv = match (&a.run, prompt.is_some()) {
            (Some(cmd), _) => self.command(cmd, ctx)?,
            (None, true) => {
                let name = a
                    .runner
                    .as_ref()
                    .or(plan.defaults.as_ref().and_then(|d| d.runner.as_ref()))
                    .ok_or_else(|| format!("agent `{}` has a prompt but no runner", a.id))?;
                let runner = plan.runners.get(name).ok_or_else(|| format!("unknown runner `{name}`"))?;
                env.extend(runner.env.clone());
                match &runner.command {
                    Command::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
                    Command::Argv(words) => words.clone(),
                }
            }
            (None, false) => match &unit.kind {
                UnitKind::Gather { .. } => return Ok(Prepared::Done(String::new())),
                _ => return Err(format!("agent `{}` does no work", a.id)),
            },
        };
        env.extend(a.env.clone());
        env.insert("PLAN_RUN_DIR".into(), shared.run_dir.display().to_string());
        env.insert("PLAN_AGENT_ID".into(), a.id.clone());
        env.insert("PLAN_NODE_ID".into(), unit.id.clone());
        env.insert("PLAN_ATTEMPT".into(), vars.attempt.max(1).to_string());
        if let Some(issue) = &plan.issue {
            // Issue text reaches commands as data: through the environment, never a template.
            env.insert("PLAN_ISSUE_TITLE".into(), issue.title.clone());
            env.insert("PLAN_ISSUE_BODY".into(), issue.body.clone());
            if let Some(n) = issue.number {
                env.insert("PLAN_ISSUE_NUMBER".into(), n.to_string());
            }
        }
        let workdir = a.workdir.as_ref().map(|w| self.render_str(w, ctx())).transpose()?.map(PathBuf::from);
        Ok(Prepared::Run(Work::Process(ProcessSpec { argv, stdin: prompt, env, workdir })))
    }

    /// A git or GitHub step, its `with` arguments rendered.
    fn action(&self, uses: &str, meta: &AgentMeta, ctx: &minijinja::Value) -> Result<Work, String> {
        use crate::job::Action;
        let shared = &self.shared;
        let arg = |name: &str| -> Result<String, String> {
            let raw = meta.agent.with.get(name).ok_or_else(|| format!("`{uses}` needs `with.{name}`"))?;
            match raw.as_str() {
                Some(s) => self.render_str(s, ctx),
                None => Ok(raw.to_string()),
            }
        };
        let optional = |name: &str| meta.agent.with.contains_key(name).then(|| arg(name)).transpose();
        let repo = shared.repo.as_ref().ok_or_else(|| format!("`{uses}` needs a git repository"))?;
        let root = repo.root.clone();
        let github_repo = || {
            optional("repo")?
                .or_else(|| shared.github_repo())
                .ok_or_else(|| format!("`{uses}`: set `issue.repo` or `with.repo` (owner/name)"))
        };
        Ok(Work::Action(match uses {
            "git.branch" => Action::GitBranch { root, name: arg("name")? },
            "git.commit" => Action::GitCommit { root, message: arg("message")? },
            "github.pr" => Action::GithubPr {
                repo: github_repo()?,
                title: arg("title")?,
                body: optional("body")?.unwrap_or_default(),
                base: optional("base")?
                    .or_else(|| repo.branch.clone())
                    .ok_or("`github.pr` needs `with.base`: HEAD was detached")?,
                draft: meta.agent.with.get("draft").and_then(Value::as_bool).unwrap_or(false),
                root,
            },
            _ => Action::GithubComment {
                number: optional("number")?
                    .and_then(|n| n.parse().ok())
                    .or_else(|| shared.plan.issue.as_ref().and_then(|i| i.number))
                    .ok_or("`github.comment` needs `issue.number` or `with.number`")?,
                repo: github_repo()?,
                body: arg("body")?,
            },
        }))
    }

    /// The saga compensation of a step, rendered.
    pub fn compensation(&self, meta: &AgentMeta) -> Result<Option<Work>, String> {
        let Some(cmd) = &meta.agent.compensate else {
            return Ok(None);
        };
        let ctx = self.context(meta, &NodeVars { attempt: 1, ..NodeVars::default() });
        let argv = self.command(cmd, || &ctx)?;
        let mut env = BTreeMap::new();
        env.insert("PLAN_RUN_DIR".into(), self.shared.run_dir.display().to_string());
        env.insert("PLAN_AGENT_ID".into(), meta.agent.id.clone());
        env.extend(meta.agent.env.clone());
        Ok(Some(Work::Process(ProcessSpec { argv, stdin: None, env, workdir: None })))
    }

    fn command<'c>(&self, cmd: &Command, ctx: impl Fn() -> &'c minijinja::Value) -> Result<Vec<String>, String> {
        Ok(match cmd {
            Command::Shell(s) => vec!["sh".into(), "-c".into(), self.render_str(s, ctx())?],
            Command::Argv(words) => words.iter().map(|w| self.render_str(w, ctx())).collect::<Result<_, _>>()?,
        })
    }
}

/// The retry policy of an agent (its own, else the defaults, else one attempt).
pub fn retry_of(meta: &AgentMeta, defaults: Option<&plan_schema::Defaults>) -> Option<Retry> {
    meta.agent.retry.clone().or_else(|| defaults.and_then(|d| d.retry.clone()))
}

/// How long to wait before attempt `next` (2 = the first retry).
pub fn backoff_delay(retry: &Retry, next: u32) -> std::time::Duration {
    let base = retry.delay.as_std();
    let mut d = match retry.backoff {
        plan_schema::Backoff::Fixed => base,
        plan_schema::Backoff::Exponential => base.saturating_mul(2u32.saturating_pow(next.saturating_sub(2))),
    };
    if let Some(max) = retry.max_delay {
        d = d.min(max.as_std());
    }
    if retry.jitter && !d.is_zero() {
        let factor = 0.75 + fastrand::f64() * 0.5;
        d = d.mul_f64(factor);
        if let Some(max) = retry.max_delay {
            d = d.min(max.as_std());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan_schema::{Backoff, Duration};

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let r = Retry {
            attempts: 5,
            backoff: Backoff::Exponential,
            delay: Duration::from_millis(100),
            max_delay: Some(Duration::from_millis(300)),
            jitter: false,
        };
        let ms: Vec<u128> = (2..=5).map(|n| backoff_delay(&r, n).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 300, 300]);
        let fixed = Retry { backoff: Backoff::Fixed, jitter: true, max_delay: None, ..r };
        for _ in 0..50 {
            let d = backoff_delay(&fixed, 4).as_millis();
            assert!((75..=125).contains(&d), "{d}");
        }
    }
}
