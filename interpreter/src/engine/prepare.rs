//! Turning a node into a job: renders its command or prompt for this attempt,
//! resolves its runner, environment, directory and timeout. Failures here (a template
//! that does not render) fail the node without running anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plan_compiler::graph::{Unit, UnitKind};
use plan_schema::{AgentCli, Budget, Command};
use serde_json::Value;

use crate::engine::agents;
use crate::engine::job::{AgentSpec, ProcessSpec, Work};
use crate::engine::render::{NodeVars, Renderer, TemplateError};
use crate::engine::tree::AgentMeta;

/// What a node does for one attempt.
#[derive(Debug, PartialEq)]
pub enum Prepared {
    /// Finished already (noop).
    Done(String),
    Run(Work),
}

/// On a retry, a coding agent is told why the attempt before failed (unless its
/// prompt says so already, through `last_error`).
fn retry_prompt(prompt: String, vars: &NodeVars) -> Option<String> {
    if vars.attempt <= 1 || vars.last_error.is_empty() || prompt.contains(vars.last_error) {
        return Some(prompt);
    }
    Some(format!(
        "{prompt}\n\nThis is attempt {} of this task. The attempt before failed:\n\n{}\n\nFix what caused that and \
         finish the task.\n",
        vars.attempt, vars.last_error
    ))
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
        Work::Approval(gate) => format!("wait for approval: {}", gate.message),
        Work::Action(a) => format!("{a:?}"),
    }
}

/// Why a node could not be turned into work (it fails without running anything).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("`{uses}` needs `with.{name}`{hint}")]
    MissingWith { uses: String, name: &'static str, hint: &'static str },
    #[error("agent `{0}` has a prompt but no runner")]
    NoRunner(String),
    #[error("unknown runner `{0}`")]
    UnknownRunner(String),
    #[error("runner `{0}` has no `command`, and is not a coding-agent CLI (set `cli: claude|codex|aider`)")]
    NoCommand(String),
    #[error("agent `{0}` does no work")]
    NoWork(String),
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    #[error("`{0}` is outside the repository ({1}): `template.render` writes inside it only")]
    Outside(String, String),
    #[error("`{0}` needs a git repository")]
    NoRepository(String),
    #[error("`{0}`: set `issue.repo` or `with.repo` (owner/name)")]
    NoGithubRepo(String),
    #[error("`github.pr` needs `with.base`: HEAD was detached")]
    DetachedHead,
    #[error("`github.comment` needs `issue.number` or `with.number`")]
    NoIssueNumber,
}

/// Turns a node into work for one attempt, its templates rendered by `renderer`.
pub struct Preparer<'r> {
    renderer: &'r Renderer,
}

impl<'r> Preparer<'r> {
    pub fn new(renderer: &'r Renderer) -> Self {
        Preparer { renderer }
    }

    fn render_str(&self, source: &str, ctx: &minijinja::Value) -> Result<String, TemplateError> {
        self.renderer.render_str(source, ctx)
    }

    /// Prepares `unit` (agent `meta`) for one attempt.
    pub fn prepare(&self, unit: &Unit, meta: AgentMeta<'_>, vars: &NodeVars) -> Result<Prepared, PrepareError> {
        let run = &self.renderer.run;
        let plan = &run.plan;
        let a = &meta.agent;
        // Built only when a template needs it: most commands are plain text.
        let cell = std::cell::OnceCell::new();
        let ctx = || cell.get_or_init(|| self.renderer.context(meta, vars));
        if let Some(uses) = &a.uses {
            return self.builtin(uses, meta, ctx);
        }
        let prompt = match (&a.prompt, &a.prompt_file) {
            (Some(p), _) => Some(self.render_str(p, ctx())?),
            (None, Some(f)) => Some(self.renderer.render_file(f, ctx())?),
            (None, None) => None,
        };
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Some(d) = &plan.defaults {
            env.extend(d.env.clone());
        }
        let mut pass: Vec<&str> = a.pass_env.iter().map(String::as_str).collect();
        let (argv, agent, prompt) = match (&a.run, prompt) {
            (Some(cmd), prompt) => (self.command(cmd, ctx)?, None, prompt),
            (None, Some(prompt)) => {
                let name: &str = a
                    .runner
                    .as_deref()
                    .or(plan.defaults.as_ref().and_then(|d| d.runner.as_deref()))
                    .ok_or_else(|| PrepareError::NoRunner(a.id.clone()))?;
                let runner = plan.runners.get(name);
                if let Some(r) = runner {
                    env.extend(r.env.clone());
                    pass.extend(r.pass_env.iter().map(String::as_str));
                }
                match agents::cli_of(name, runner) {
                    Some(cli) => {
                        pass.extend(agents::needs_env(cli));
                        let (argv, agent, more_env) = self.agent_cli(cli, runner, meta, vars);
                        env.extend(more_env);
                        (argv, Some(agent), retry_prompt(prompt, vars))
                    }
                    None => {
                        let command = runner
                            .ok_or_else(|| PrepareError::UnknownRunner(name.to_string()))?
                            .command
                            .as_ref()
                            .ok_or_else(|| PrepareError::NoCommand(name.to_string()))?;
                        let argv = match command {
                            Command::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
                            Command::Argv(words) => words.clone(),
                        };
                        (argv, None, Some(prompt))
                    }
                }
            }
            (None, None) => match &unit.kind {
                UnitKind::Gather { .. } => return Ok(Prepared::Done(String::new())),
                _ => return Err(PrepareError::NoWork(a.id.clone())),
            },
        };
        env.extend(a.env().clone());
        env.insert("PLAN_RUN_DIR".into(), run.run_dir.display().to_string());
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
        if let Some(d) = &plan.defaults {
            pass.extend(d.pass_env.iter().map(String::as_str));
        }
        for (name, value) in &run.given_secrets {
            if pass.contains(&name.as_str()) {
                env.insert(name.clone(), value.clone());
            }
        }
        let withhold = run.withheld_env(&pass, &env);
        let workdir = a.workdir.as_ref().map(|w| self.render_str(w, ctx())).transpose()?.map(PathBuf::from);
        Ok(Prepared::Run(Work::Process(ProcessSpec { argv, stdin: prompt, env, withhold, workdir, agent })))
    }

    /// The command of a coding-agent CLI for this attempt, how to read its output,
    /// and the environment it needs.
    fn agent_cli(
        &self,
        cli: AgentCli,
        runner: Option<&plan_schema::Runner>,
        meta: AgentMeta<'_>,
        vars: &NodeVars,
    ) -> (Vec<String>, AgentSpec, BTreeMap<String, String>) {
        let run = &self.renderer.run;
        let turns = meta
            .agent
            .budget
            .as_ref()
            .and_then(|b| b.turns)
            .or(run.plan.budget.as_ref().and_then(|b| b.turns))
            .unwrap_or(Budget::DEFAULT_TURNS);
        let prompt_file = run.run_dir.join("prompts").join(format!("{}.md", vars.node_id));
        let last_message = run.run_dir.join("agents").join(format!("{}.last.txt", vars.node_id));
        let launch = agents::Launch {
            read_only: false,
            cli,
            runner,
            turns,
            cost_left: vars.cost_left,
            session: vars.session,
            prompt_file: &prompt_file,
            last_message_file: &last_message,
        };
        let invocation = agents::command(&launch);
        let spec = AgentSpec {
            cli,
            prompt_on_stdin: invocation.prompt_on_stdin,
            events: run.run_dir.join("agents").join(format!("{}.jsonl", vars.node_id)),
            last_message: Some(last_message),
        };
        (invocation.argv, spec, invocation.env)
    }

    /// A built-in action (`uses`).
    fn builtin<'c>(
        &self,
        uses: &str,
        meta: AgentMeta<'_>,
        ctx: impl Fn() -> &'c minijinja::Value,
    ) -> Result<Prepared, PrepareError> {
        let with = meta.agent.with();
        let missing =
            |name: &'static str, hint: &'static str| PrepareError::MissingWith { uses: uses.into(), name, hint };
        match uses {
            "noop" => Ok(Prepared::Done(String::new())),
            "sleep" => {
                let d = with
                    .get("duration")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<plan_schema::Duration>().ok())
                    .ok_or(missing("duration", ", e.g. 100ms"))?;
                Ok(Prepared::Run(Work::Sleep(d.as_std())))
            }
            "template.render" => {
                let template = with.get("template").and_then(Value::as_str).ok_or(missing("template", ""))?;
                let output = with.get("output").and_then(Value::as_str).ok_or(missing("output", ""))?;
                let contents = self.renderer.render_file(template, ctx())?;
                let path = PathBuf::from(self.render_str(output, ctx())?);
                let run = &self.renderer.run;
                if !plan_compiler::confine::inside(&run.confined, Path::new("."), &path) {
                    return Err(PrepareError::Outside(path.display().to_string(), run.confined.display().to_string()));
                }
                Ok(Prepared::Run(Work::WriteFile { path, contents }))
            }
            "approval" => {
                let message = with.get("message").and_then(Value::as_str).ok_or(missing("message", ""))?;
                let timeout = match with.get("timeout").and_then(Value::as_str) {
                    Some(t) => Some(
                        t.parse::<plan_schema::Duration>()
                            .map_err(|_| missing("timeout", ": a duration such as 1h"))?
                            .as_std(),
                    ),
                    None => None,
                };
                let run = &self.renderer.run;
                Ok(Prepared::Run(Work::Approval(crate::engine::approval::Gate {
                    run_root: run.run_dir.clone(),
                    node: meta.agent.id.clone(),
                    run_id: run.run_id.clone(),
                    message: self.render_str(message, ctx())?,
                    timeout,
                    approve_on_timeout: with.get("on_timeout").and_then(Value::as_str) == Some("approve"),
                })))
            }
            "git.branch" | "git.commit" | "github.pr" | "github.comment" => {
                self.action(uses, meta, ctx()).map(Prepared::Run)
            }
            other => Err(PrepareError::UnknownAction(other.to_string())),
        }
    }

    /// A git or GitHub step, its `with` arguments rendered.
    fn action(&self, uses: &str, meta: AgentMeta<'_>, ctx: &minijinja::Value) -> Result<Work, PrepareError> {
        use crate::engine::job::Action;
        let run = &self.renderer.run;
        let arg = |name: &'static str| -> Result<String, PrepareError> {
            let raw = meta.agent.with().get(name).ok_or_else(|| PrepareError::MissingWith {
                uses: uses.to_string(),
                name,
                hint: "",
            })?;
            match raw.as_str() {
                Some(s) => Ok(self.render_str(s, ctx)?),
                None => Ok(raw.to_string()),
            }
        };
        let optional = |name: &'static str| meta.agent.with().contains_key(name).then(|| arg(name)).transpose();
        let repo = run.repo.as_ref().ok_or_else(|| PrepareError::NoRepository(uses.to_string()))?;
        let root = repo.root.clone();
        let github_repo = || {
            optional("repo")?.or_else(|| run.github_repo()).ok_or_else(|| PrepareError::NoGithubRepo(uses.to_string()))
        };
        Ok(Work::Action(match uses {
            "git.branch" => Action::GitBranch { root, name: arg("name")? },
            "git.commit" => Action::GitCommit { root, message: arg("message")? },
            "github.pr" => Action::GithubPr {
                repo: github_repo()?,
                title: arg("title")?,
                body: optional("body")?.unwrap_or_default(),
                base: optional("base")?.or_else(|| repo.branch.clone()).ok_or(PrepareError::DetachedHead)?,
                draft: meta.agent.with().get("draft").and_then(Value::as_bool).unwrap_or(false),
                root,
            },
            _ => Action::GithubComment {
                number: optional("number")?
                    .and_then(|n| n.parse().ok())
                    .or_else(|| run.plan.issue.as_ref().and_then(|i| i.number))
                    .ok_or(PrepareError::NoIssueNumber)?,
                repo: github_repo()?,
                body: arg("body")?,
            },
        }))
    }

    /// The saga compensation of a step, rendered.
    pub fn compensation(&self, meta: AgentMeta<'_>) -> Result<Option<Work>, TemplateError> {
        let Some(cmd) = &meta.agent.compensate else {
            return Ok(None);
        };
        let ctx = self.renderer.context(meta, &NodeVars { attempt: 1, ..NodeVars::default() });
        let argv = self.command(cmd, || &ctx)?;
        let mut env = BTreeMap::new();
        env.insert("PLAN_RUN_DIR".into(), self.renderer.run.run_dir.display().to_string());
        env.insert("PLAN_AGENT_ID".into(), meta.agent.id.clone());
        env.extend(meta.agent.env().clone());
        let withhold = self.renderer.run.withheld_env(&[], &env);
        Ok(Some(Work::Process(ProcessSpec { argv, stdin: None, env, withhold, workdir: None, agent: None })))
    }

    fn command<'c>(&self, cmd: &Command, ctx: impl Fn() -> &'c minijinja::Value) -> Result<Vec<String>, TemplateError> {
        Ok(match cmd {
            Command::Shell(s) => vec!["sh".into(), "-c".into(), self.render_str(s, ctx())?],
            Command::Argv(words) => words.iter().map(|w| self.render_str(w, ctx())).collect::<Result<_, _>>()?,
        })
    }
}
