//! Every template in a plan — `run`, prompts, compensations, map `over`, git texts —
//! with where it stands in the file and what it may see. Lint rules check them;
//! the interpreter renders the same fields.

use std::borrow::Cow;
use std::path::Path;

use plan_schema::{Command, Over, Plan};

use crate::load::agents::{AgentIndex, AgentRef, Slot};

/// What a template becomes, which decides what it may safely contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A `run`, `compensate` or `accept.command` string, executed by `sh -c`.
    Shell,
    /// One element of a `run` list: an argv word, no shell.
    Argv,
    /// A prompt sent to a runner.
    Prompt,
    /// `map.over` as a template rendering to a JSON list.
    Over,
    /// Branch, commit and pull request texts.
    Git,
}

/// Which field of its agent (or of `git`) holds a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Run,
    Compensate,
    Accept,
    /// `defaults.accept.command`: rendered for each agent it applies to (checked in
    /// the root agent's scope).
    DefaultsAccept,
    Prompt,
    PromptFile,
    MapOver,
    Branch,
    Commit,
    CommitFile,
    PrTitle,
    PrBody,
    PrBodyFile,
}

impl Field {
    /// The field's path under its agent's (or the plan's) pointer.
    fn path(self) -> &'static str {
        match self {
            Field::Run => "run",
            Field::Compensate => "compensate",
            Field::Accept => "accept/command",
            Field::DefaultsAccept => "defaults/accept/command",
            Field::Prompt => "prompt",
            Field::PromptFile => "prompt_file",
            Field::MapOver => "map/over",
            Field::Branch => "git/branch",
            Field::Commit => "git/commit",
            Field::CommitFile => "git/commit_file",
            Field::PrTitle => "git/pr/title",
            Field::PrBody => "git/pr/body",
            Field::PrBodyFile => "git/pr/body_file",
        }
    }
}

/// One template of the plan, made as a rule walks them (see `template_fields`): where
/// it stands is the agent's place in the `AgentIndex` and the field, not a pointer.
#[derive(Clone, Debug)]
pub struct TemplateField<'a> {
    /// The field, and the word's index for a list `run`. See `pointer`.
    field: Field,
    index: Option<u32>,
    pub kind: FieldKind,
    /// The template file as written in the plan, for `*_file` fields.
    pub file: Option<&'a str>,
    /// The template text (borrowed from the plan when inline), or why the file could
    /// not be read.
    pub text: Result<Cow<'a, str>, String>,
    /// The agent the template belongs to, as its place in the `AgentIndex` (none for
    /// git texts); see `agent`.
    agent: Option<u32>,
}

impl<'a> TemplateField<'a> {
    /// The agent the template belongs to (none for git texts).
    pub fn agent(&self, agents: &'a AgentIndex<'a>) -> Option<AgentRef<'a>> {
        agents.at(self.agent? as usize)
    }

    /// JSON pointer of the YAML value that holds the template (or names its file).
    pub fn pointer(&self, agents: &AgentIndex<'_>) -> String {
        let at = match self.field {
            Field::DefaultsAccept => String::new(),
            _ => self.agent.and_then(|n| agents.at(n as usize)).map(|a| a.pointer.to_string()).unwrap_or_default(),
        };
        match self.index {
            Some(i) => format!("{at}/{}/{i}", self.field.path()),
            None => format!("{at}/{}", self.field.path()),
        }
    }
}

/// Reads a template file named in the plan, relative to `base_dir` and inside the
/// repository.
fn read_template<'a>(root: &Path, base_dir: &Path, rel: &str) -> Result<Cow<'a, str>, String> {
    if !crate::check::confine::inside(root, base_dir, Path::new(rel)) {
        return Err(format!("`{rel}` is outside the repository ({})", root.display()));
    }
    let path = normalize(&base_dir.join(rel));
    std::fs::read_to_string(&path).map(Cow::Owned).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no such file {}", path.display()),
        _ => format!("{}: {e}", path.display()),
    })
}

/// The template files a plan reads (`prompt_file`, `template.render`'s `template`,
/// `git.commit_file`, `git.pr.body_file`), as paths from `base_dir`: the plan's inputs,
/// which `plan run` does not count as changes to the repository.
pub fn template_files(plan: &Plan, base_dir: &Path) -> std::collections::BTreeSet<std::path::PathBuf> {
    let mut files: Vec<&str> = Vec::new();
    for a in plan.agent.all() {
        files.extend(a.prompt_file.as_deref());
        if a.uses.as_deref() == Some("template.render") {
            files.extend(a.with.as_ref().and_then(|w| w.get("template")).and_then(|t| t.as_str()));
        }
    }
    if let Some(git) = &plan.git {
        files.extend(git.commit_file.as_deref());
        files.extend(git.pr.as_ref().and_then(|p| p.body_file.as_deref()));
    }
    files.into_iter().map(|f| normalize(&base_dir.join(f))).collect()
}

/// All template fields, in declaration order. Made as they are walked: a plan of
/// 100,000 agents has 100,000 of them, and each rule that reads them walks them once.
pub fn template_fields<'a>(
    plan: &'a Plan,
    agents: &'a AgentIndex<'a>,
    base_dir: &'a Path,
) -> impl Iterator<Item = TemplateField<'a>> + 'a {
    let root = crate::check::confine::root(base_dir);
    let git = git_fields(plan, &root, base_dir);
    let defaults_accept = plan.defaults.as_ref().and_then(|d| d.accept.as_ref());
    (0..agents.len()).flat_map(move |n| agent_fields(agents, n, defaults_accept, &root, base_dir)).chain(git)
}

/// The template fields of the `n`th agent of `agents`, in order: `run` (each word of a
/// list), `compensate`, `prompt`, `prompt_file` (read here) and a templated `map.over`.
/// Made without a list: each rule walks 100,000 agents' fields.
fn agent_fields<'a>(
    agents: &'a AgentIndex<'a>,
    n: usize,
    defaults_accept: Option<&'a plan_schema::Accept>,
    root: &Path,
    base_dir: &Path,
) -> impl Iterator<Item = TemplateField<'a>> + 'a {
    let agent = agents.at(n).map(|a| a.agent);
    let at = Some(n as u32);
    let inline = move |field: Field, index: Option<u32>, kind, text: &'a str| TemplateField {
        field,
        index,
        kind,
        file: None,
        text: Ok(Cow::Borrowed(text)),
        agent: at,
    };
    let commands = [
        (Field::Run, agent.and_then(|a| a.run.as_ref())),
        (Field::Compensate, agent.and_then(|a| a.compensate.as_deref())),
    ];
    let words = commands.into_iter().flat_map(move |(field, command)| {
        let (shell, argv): (Option<&'a String>, &'a [String]) = match command {
            Some(Command::Shell(s)) => (Some(s), &[]),
            Some(Command::Argv(words)) => (None, words),
            None => (None, &[]),
        };
        // `[sh, -c, SCRIPT]`: the script is shell text like a string `run`.
        let script = shell_script_index(argv);
        let shell = shell.map(move |s| inline(field, None, FieldKind::Shell, s));
        shell.into_iter().chain(argv.iter().enumerate().map(move |(i, w)| {
            let kind = if Some(i) == script { FieldKind::Shell } else { FieldKind::Argv };
            inline(field, Some(i as u32), kind, w)
        }))
    });
    // `accept.command`: shell text, one string or each of a list; the defaults' once,
    // with the root agent.
    let accepts = [
        (Field::Accept, agent.and_then(|a| a.accept.as_deref())),
        (Field::DefaultsAccept, defaults_accept.filter(|_| n == 0)),
    ];
    let checks = accepts.into_iter().flat_map(move |(field, accept)| {
        let (one, many) = match accept.and_then(|a| a.command.as_ref()) {
            Some(plan_schema::Commands::One(c)) => (Some(c), &[][..]),
            Some(plan_schema::Commands::Many(cs)) => (None, &cs[..]),
            None => (None, &[][..]),
        };
        one.map(move |c| inline(field, None, FieldKind::Shell, c))
            .into_iter()
            .chain(many.iter().enumerate().map(move |(i, c)| inline(field, Some(i as u32), FieldKind::Shell, c)))
    });
    let prompt = agent.and_then(|a| a.prompt.as_deref()).map(|p| inline(Field::Prompt, None, FieldKind::Prompt, p));
    let file = agent.and_then(|a| a.prompt_file.as_deref()).map(|f| TemplateField {
        field: Field::PromptFile,
        index: None,
        kind: FieldKind::Prompt,
        file: Some(f),
        text: read_template(root, base_dir, f),
        agent: at,
    });
    let over = match agent.and_then(|a| a.map.as_ref()).map(|m| &m.over) {
        Some(Over::Template(t)) => Some(inline(Field::MapOver, None, FieldKind::Over, t)),
        _ => None,
    };
    words.chain(checks).chain(prompt).chain(file).chain(over)
}

/// The template fields of `git`: branch, commit and pull request texts.
fn git_fields<'a>(plan: &'a Plan, root: &Path, base_dir: &Path) -> Vec<TemplateField<'a>> {
    let mut out = Vec::new();
    let Some(git) = &plan.git else { return out };
    let mut git_field = |field: Field, file: Option<&'a String>, text: Option<&'a String>| {
        let (file, text) = match (file, text) {
            (Some(f), _) => (Some(f.as_str()), read_template(root, base_dir, f)),
            (None, Some(t)) => (None, Ok(Cow::Borrowed(t.as_str()))),
            (None, None) => return,
        };
        out.push(TemplateField { field, index: None, kind: FieldKind::Git, file, text, agent: None });
    };
    git_field(Field::Branch, None, git.branch.as_ref());
    git_field(Field::Commit, None, git.commit.as_ref());
    git_field(Field::CommitFile, git.commit_file.as_ref(), None);
    if let Some(pr) = &git.pr {
        git_field(Field::PrTitle, None, pr.title.as_ref());
        git_field(Field::PrBody, None, pr.body.as_ref());
        git_field(Field::PrBodyFile, pr.body_file.as_ref(), None);
    }
    out
}

/// Resolves `..` and `.` without asking the file system, so that `plans/../prompts/x`
/// works before `plans/` exists.
pub fn normalize(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The names a template may use, and the fields of the structured ones.
pub struct Scope<'a> {
    plan: &'a Plan,
    agents: &'a AgentIndex<'a>,
    agent: Option<AgentRef<'a>>,
    git: bool,
}

/// Why a variable is not in scope, with the closest valid name when there is one.
pub struct Undefined {
    pub name: String,
    pub candidates: Vec<String>,
}

impl<'a> Scope<'a> {
    pub fn new(plan: &'a Plan, agents: &'a AgentIndex<'a>, field: &TemplateField<'a>) -> Self {
        Scope { plan, agents, agent: field.agent(agents), git: field.kind == FieldKind::Git }
    }

    /// The names a template of this field may start with.
    fn roots(&self) -> Vec<&str> {
        let mut roots = vec!["issue", "vars", "plan", "run"];
        if self.git {
            roots.extend(["report", "agents"]);
        } else {
            roots.extend(["agent", "with", "outputs", "attempt", "last_error", "candidate"]);
        }
        if let Some(a) = self.agent {
            if a.slot == Slot::Gather {
                roots.push("consensus");
            }
            if a.slot == Slot::Map {
                if let Some(map) = a.parent.and_then(|p| p.map.as_ref()) {
                    roots.push(&map.var);
                }
            }
        }
        roots
    }

    /// Checks one dotted path from `undeclared_variables(true)`, e.g. `issue.titel`.
    /// Runs once per variable of every template: it allocates only for an error.
    pub fn check(&self, path: &str) -> Result<(), Undefined> {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or("");
        if crate::check::template_env::BUILTIN_NAMES.contains(&root) {
            return Ok(());
        }
        let roots = self.roots();
        if !roots.contains(&root) {
            return Err(Undefined { name: root.to_string(), candidates: owned(&roots) });
        }
        let Some(field) = parts.next() else {
            return Ok(());
        };
        if root == "outputs" && self.agents.get(field).is_some() {
            return Ok(());
        }
        let fields: Option<Vec<&str>> = match root {
            "issue" => Some(vec!["number", "repo", "title", "url", "labels", "body"]),
            "plan" => Some(vec!["name", "complexity", "pattern"]),
            "agent" => Some(vec!["id", "role", "depth", "parent"]),
            "run" => Some(vec!["id", "dir"]),
            "consensus" => Some(vec!["value", "votes", "agreed"]),
            "vars" => Some(self.plan.vars.keys().map(String::as_str).collect()),
            "with" => self.agent.map(|a| a.agent.with().keys().map(String::as_str).collect()),
            "outputs" => Some(self.agents.iter().map(|a| a.agent.id.as_str()).collect()),
            _ => None,
        };
        match fields {
            Some(fields) if !fields.contains(&field) => Err(Undefined {
                name: format!("{root}.{field}"),
                candidates: fields.into_iter().map(|f| format!("{root}.{f}")).collect(),
            }),
            _ => Ok(()),
        }
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The index of the script in an argv that runs a shell with `-c` (`[sh, -c, ...]`,
/// `[/bin/bash, -ec, ...]`).
fn shell_script_index(words: &[String]) -> Option<usize> {
    let program = words.first()?.rsplit('/').next()?;
    if !matches!(program, "sh" | "bash" | "dash" | "zsh" | "ksh") {
        return None;
    }
    let flag = words.iter().position(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))?;
    (flag + 1 < words.len()).then_some(flag + 1)
}
