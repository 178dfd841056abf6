//! Turning a node into a job: renders its command or prompt for this attempt,
//! resolves its runner, environment, directory and timeout. Failures here (a template
//! that does not render) fail the node without running anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plan_compiler::resolve::{Action, Arg, CodingAgent, Step, Work as StepWork};
use plan_schema::Command;

use crate::engine::agents;
use crate::engine::job::{AgentSpec, ProcessSpec, Work};
use crate::engine::render::{NodeVars, Renderer, TemplateError};
use crate::engine::tree::AgentMeta;

/// What a node does for one attempt.
#[derive(Debug, PartialEq)]
pub enum Prepared {
    /// Finished already (noop).
    Done(String),
    /// Work to run, and its way to the step cache when it may be replayed from it.
    Run(Work, Option<Box<crate::engine::cache::Ticket>>),
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
                spec.argv
                    .iter()
                    .map(|a| plan_compiler::check::template_env::shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" ")
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
        Work::Publish(step) => crate::engine::publish::describe(step),
    }
}

/// Why a node could not be turned into work (it fails without running anything).
/// Only what is known at run time: lint has checked everything else (`resolve`).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Only for a plan that did not pass lint (lint reports every `Problem`).
    #[error("{0} (`plan lint` explains it)")]
    Unresolved(plan_compiler::resolve::Problem),
    #[error("`{0}` is outside the repository ({1}): `template.render` writes inside it only")]
    Outside(String, String),
    #[error("`{0}` needs a git repository")]
    NoRepository(&'static str),
    #[error("`{0}`: set `issue.repo` or `with.repo` (owner/name)")]
    NoGithubRepo(&'static str),
    #[error("`github.pr` needs `with.base`: HEAD was detached")]
    DetachedHead,
    #[error("`github.comment` needs `issue.number` or `with.number` (a number, not `{0}`)")]
    NoIssueNumber(String),
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

    /// Prepares agent `meta`, resolved as `step`, for one attempt of node `vars.node_id`.
    pub fn prepare(&self, step: &Step<'_>, meta: AgentMeta<'_>, vars: &NodeVars) -> Result<Prepared, PrepareError> {
        let run = &self.renderer.run;
        let plan = &run.plan;
        let a = step.agent;
        // Built only when a template needs it: most commands are plain text.
        let cell = std::cell::OnceCell::new();
        let ctx = || cell.get_or_init(|| self.renderer.context(meta, vars));
        let prompt = || -> Result<Option<String>, TemplateError> {
            Ok(match (&a.prompt, &a.prompt_file) {
                (Some(p), _) => Some(self.render_str(p, ctx())?),
                (None, Some(f)) => Some(self.renderer.render_file(f, ctx())?),
                (None, None) => None,
            })
        };
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        // What the step's cache key names of its work (its prompt as first rendered,
        // without what a retry adds).
        let (argv, agent, stdin, keyed) = match &step.work {
            StepWork::Nothing => return Ok(Prepared::Done(String::new())),
            StepWork::Action(action) => return self.builtin(action, meta, ctx),
            StepWork::Command(cmd) => {
                let (argv, stdin) = (self.command(cmd, ctx)?, prompt()?);
                let keyed = vec![serde_json::to_string(&argv).unwrap_or_default(), stdin.clone().unwrap_or_default()];
                (argv, None, stdin, keyed)
            }
            StepWork::Runner { command, .. } => {
                let stdin = prompt()?;
                let keyed = vec![stdin.clone().unwrap_or_default()];
                (command.argv(), None, stdin, keyed)
            }
            StepWork::Coding(coding) => {
                let prompt = prompt()?.unwrap_or_default();
                let keyed = vec![prompt.clone()];
                let confined = step.sandbox.on && !run.dry_run && crate::engine::sandbox::availability().is_ok();
                let (argv, agent, cli_env) = self.agent_cli(coding, step.turns, vars, confined);
                env = cli_env;
                (argv, Some(agent), retry_prompt(prompt, vars), keyed)
            }
        };
        // Layered: the defaults', the runner's, the CLI's, the agent's; then what
        // `plan` sets, which nothing replaces.
        let layers = &step.env;
        let mut env = layers
            .defaults
            .into_iter()
            .chain(layers.runner)
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(env)
            .chain(layers.agent.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())))
            .collect::<BTreeMap<_, _>>();
        env.insert("PLAN_RUN_DIR".into(), run.dir.root.display().to_string());
        env.insert("PLAN_AGENT_ID".into(), a.id.clone());
        env.insert("PLAN_NODE_ID".into(), vars.node_id.to_string());
        env.insert("PLAN_ATTEMPT".into(), vars.attempt.max(1).to_string());
        if let Some(issue) = &plan.issue {
            // Issue text reaches commands as data: through the environment, never a template.
            env.insert("PLAN_ISSUE_TITLE".into(), issue.title.clone());
            env.insert("PLAN_ISSUE_BODY".into(), issue.body.clone());
            if let Some(n) = issue.number {
                env.insert("PLAN_ISSUE_NUMBER".into(), n.to_string());
            }
        }
        for (name, value) in &run.given_secrets {
            if step.env.pass.contains(&name.as_str()) {
                env.insert(name.clone(), value.clone());
            }
        }
        let withhold = run.withheld_env(&step.env.pass, &env);
        let workdir = a.workdir.as_ref().map(|w| self.render_str(w, ctx())).transpose()?.map(PathBuf::from);
        let cli = agent.as_ref().map(|a| a.cli);
        let model = crate::engine::sandbox::ModelRoute { cli, gateway: vars.gateway.map(|p| p.port) };
        let sandbox =
            crate::engine::sandbox::for_agent(&step.sandbox, run, vars.node_id, model, &mut env).map(Box::new);
        let ticket = self.ticket(step, vars, keyed);
        Ok(Prepared::Run(Work::Process(ProcessSpec { argv, stdin, env, withhold, workdir, agent, sandbox }), ticket))
    }

    /// The step's way to the cache, when it may be replayed from it: its cache is on,
    /// and the run has git to tell what it read and changed (without git, only a step
    /// that asks for it with `cache: true`).
    fn ticket(
        &self,
        step: &Step<'_>,
        vars: &NodeVars,
        keyed: Vec<String>,
    ) -> Option<Box<crate::engine::cache::Ticket>> {
        let run = &self.renderer.run;
        let cache = run.cache.clone()?;
        let root = run.repo.as_ref().map(|r| r.root.clone()).or_else(|| run.cache_root.clone());
        if !step.cache || (root.is_none() && step.agent.cache != Some(true)) {
            return None;
        }
        let mut inputs = run.inputs_of(vars.node_id);
        if let Some(item) = vars.item {
            inputs.push(format!("item={item}"));
        }
        if let Some(vote) = vars.consensus {
            inputs.push(format!("agreed={}", vote.value));
        }
        if let Some(c) = vars.candidate {
            inputs.push(format!("candidate={c}"));
        }
        let place = (root, run.dir.root.clone());
        Some(Box::new(crate::engine::cache::Ticket::new(cache, &run.plan.name, step, &keyed, inputs, place)))
    }

    /// The command of a coding-agent CLI for this attempt, how to read its output,
    /// and the environment it needs.
    fn agent_cli(
        &self,
        coding: &CodingAgent<'_>,
        turns: u32,
        vars: &NodeVars,
        confined: bool,
    ) -> (Vec<String>, AgentSpec, BTreeMap<String, String>) {
        let dir = &self.renderer.run.dir;
        let prompt_file = dir.prompt_file(vars.node_id);
        let last_message = dir.agent_last_message(vars.node_id);
        let launch = agents::Launch {
            read_only: false,
            confined,
            gateway: vars.gateway,
            cli: coding.cli,
            runner: coding.entry,
            turns,
            cost_left: vars.cost_left,
            session: vars.session,
            prompt_file: &prompt_file,
            last_message_file: &last_message,
        };
        let invocation = agents::command(&launch);
        let spec = AgentSpec {
            cli: coding.cli,
            prompt_on_stdin: invocation.prompt_on_stdin,
            events: dir.agent_events(vars.node_id),
            last_message: Some(last_message),
        };
        (invocation.argv, spec, invocation.env)
    }

    /// A built-in action (`uses`), its text arguments rendered.
    fn builtin<'c>(
        &self,
        action: &Action<'_>,
        meta: AgentMeta<'_>,
        ctx: impl Fn() -> &'c minijinja::Value,
    ) -> Result<Prepared, PrepareError> {
        use crate::engine::job::Action as Git;
        let run = &self.renderer.run;
        let arg = |a: Arg<'_>| -> Result<String, PrepareError> {
            match a.template() {
                Ok(t) => Ok(self.render_str(t, ctx())?),
                Err(literal) => Ok(literal),
            }
        };
        let optional = |a: Option<Arg<'_>>| a.map(arg).transpose();
        let repo = |uses: &'static str| run.repo.as_ref().ok_or(PrepareError::NoRepository(uses));
        let github_repo = |uses: &'static str, given: Option<Arg<'_>>| {
            optional(given)?.or_else(|| run.github_repo()).ok_or(PrepareError::NoGithubRepo(uses))
        };
        let work = match action {
            Action::Noop => return Ok(Prepared::Done(String::new())),
            Action::Sleep(d) => Work::Sleep(d.as_std()),
            Action::Render { template, output } => {
                let contents = self.renderer.render_file(template, ctx())?;
                let path = PathBuf::from(self.render_str(output, ctx())?);
                if !plan_compiler::check::confine::inside(&run.confined, Path::new("."), &path) {
                    return Err(PrepareError::Outside(path.display().to_string(), run.confined.display().to_string()));
                }
                Work::WriteFile { path, contents }
            }
            Action::Approval { message, timeout, approve_on_timeout } => {
                Work::Approval(crate::engine::approval::Gate {
                    run_root: run.dir.root.clone(),
                    node: meta.agent.id.clone(),
                    run_id: run.dir.id.clone(),
                    message: self.render_str(message, ctx())?,
                    timeout: timeout.map(|t| t.as_std()),
                    approve_on_timeout: *approve_on_timeout,
                })
            }
            Action::GitBranch { name } => {
                Work::Action(Git::GitBranch { root: repo("git.branch")?.root.clone(), name: arg(*name)? })
            }
            Action::GitCommit { message } => {
                Work::Action(Git::GitCommit { root: repo("git.commit")?.root.clone(), message: arg(*message)? })
            }
            Action::GithubPr { title, body, base, repo: given, draft } => {
                let local = repo("github.pr")?;
                Work::Action(Git::GithubPr {
                    repo: github_repo("github.pr", *given)?,
                    title: arg(*title)?,
                    body: optional(*body)?.unwrap_or_default(),
                    base: optional(*base)?.or_else(|| local.branch.clone()).ok_or(PrepareError::DetachedHead)?,
                    draft: *draft,
                    root: local.root.clone(),
                })
            }
            Action::GithubComment { body, number, repo: given } => {
                repo("github.comment")?;
                let number = match optional(*number)? {
                    Some(n) => n.trim().parse().map_err(|_| PrepareError::NoIssueNumber(n))?,
                    None => run
                        .plan
                        .issue
                        .as_ref()
                        .and_then(|i| i.number)
                        .ok_or_else(|| PrepareError::NoIssueNumber(String::new()))?,
                };
                Work::Action(Git::GithubComment {
                    number,
                    repo: github_repo("github.comment", *given)?,
                    body: arg(*body)?,
                    key: format!("{}/{}", run.dir.id, meta.agent.id),
                })
            }
        };
        Ok(Prepared::Run(work, None))
    }

    /// The saga compensation of a step, rendered.
    pub fn compensation(&self, meta: AgentMeta<'_>) -> Result<Option<Work>, TemplateError> {
        let Some(cmd) = &meta.agent.compensate else {
            return Ok(None);
        };
        let ctx = self.renderer.context(meta, &NodeVars { attempt: 1, ..NodeVars::default() });
        let argv = self.command(cmd, || &ctx)?;
        let mut env = BTreeMap::new();
        env.insert("PLAN_RUN_DIR".into(), self.renderer.run.dir.root.display().to_string());
        env.insert("PLAN_AGENT_ID".into(), meta.agent.id.clone());
        env.extend(meta.agent.env().clone());
        let withhold = self.renderer.run.withheld_env(&[], &env);
        let run = &self.renderer.run;
        let policy = run.step(&meta).ok().map(|s| s.sandbox);
        let mut sandbox = policy.and_then(|p| {
            let id = format!("{}.compensate", meta.agent.id);
            crate::engine::sandbox::for_agent(&p, run, &id, crate::engine::sandbox::ModelRoute::default(), &mut env)
        });
        // A compensation undoes work in the checkout it runs in.
        if let (Some(s), Ok(here)) = (&mut sandbox, std::env::current_dir()) {
            if let Some(c) = &mut s.confine {
                c.rw.push(here.clone());
            }
            s.ro.push(here.join(".git"));
        }
        let sandbox = sandbox.map(Box::new);
        let spec = ProcessSpec { argv, stdin: None, env, withhold, workdir: None, agent: None, sandbox };
        Ok(Some(Work::Process(spec)))
    }

    fn command<'c>(&self, cmd: &Command, ctx: impl Fn() -> &'c minijinja::Value) -> Result<Vec<String>, TemplateError> {
        cmd.try_argv(|word| self.render_str(word, ctx()))
    }
}
