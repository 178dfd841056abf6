//! Every template in a plan — `run`, prompts, compensations, map `over`, git texts —
//! with where it stands in the file and what it may see. Lint rules check them;
//! the interpreter renders the same fields.

use std::borrow::Cow;
use std::path::Path;

use plan_schema::{Command, Over, Plan};

use crate::agents::{AgentIndex, AgentRef, Slot};

/// What a template becomes, which decides what it may safely contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A `run` or `compensate` string, executed by `sh -c`.
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

#[derive(Clone, Debug)]
pub struct TemplateField<'a> {
    /// Where the template stands: the agent's pointer (empty for git texts), the field
    /// under it, and the word's index for a list `run`. See `pointer`.
    at: &'a str,
    field: &'static str,
    index: Option<usize>,
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
    pub fn pointer(&self) -> String {
        match self.index {
            Some(i) => format!("{}/{}/{i}", self.at, self.field),
            None => format!("{}/{}", self.at, self.field),
        }
    }
}

/// How many template fields `template_fields` finds: the list is made to measure.
fn count_fields(plan: &Plan, agents: &AgentIndex<'_>) -> usize {
    let words = |c: Option<&Command>| match c {
        Some(Command::Shell(_)) => 1,
        Some(Command::Argv(w)) => w.len(),
        None => 0,
    };
    let own: usize = agents
        .iter()
        .map(|a| {
            let agent = a.agent;
            words(agent.run.as_ref())
                + words(agent.compensate.as_deref())
                + usize::from(agent.prompt.is_some())
                + usize::from(agent.prompt_file.is_some())
                + usize::from(matches!(agent.map.as_ref().map(|m| &m.over), Some(Over::Template(_))))
        })
        .sum();
    own + if plan.git.is_some() { 6 } else { 0 }
}

/// All template fields, in declaration order.
pub fn template_fields<'a>(plan: &'a Plan, agents: &'a AgentIndex<'a>, base_dir: &Path) -> Vec<TemplateField<'a>> {
    // Made to measure: a plan of 100,000 agents holds 100,000 of these.
    let mut out = Vec::with_capacity(count_fields(plan, agents));
    let root = crate::confine::root(base_dir);
    let read = |rel: &str| -> Result<Cow<'a, str>, String> {
        if !crate::confine::inside(&root, base_dir, Path::new(rel)) {
            return Err(format!("`{rel}` is outside the repository ({})", root.display()));
        }
        let path = normalize(&base_dir.join(rel));
        std::fs::read_to_string(&path).map(Cow::Owned).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("no such file {}", path.display()),
            _ => format!("{}: {e}", path.display()),
        })
    };
    for (n, a) in agents.iter().enumerate() {
        let p = a.pointer;
        let n = Some(n as u32);
        let inline = |field: &'static str, index: Option<usize>, kind, text: &'a str| TemplateField {
            at: p,
            field,
            index,
            kind,
            file: None,
            text: Ok(Cow::Borrowed(text)),
            agent: n,
        };
        for (field, command) in [("run", a.agent.run.as_ref()), ("compensate", a.agent.compensate.as_deref())] {
            match command {
                Some(Command::Shell(s)) => out.push(inline(field, None, FieldKind::Shell, s)),
                Some(Command::Argv(words)) => {
                    // `[sh, -c, SCRIPT]`: the script is shell text like a string `run`.
                    let script = shell_script_index(words);
                    for (i, w) in words.iter().enumerate() {
                        let kind = if Some(i) == script { FieldKind::Shell } else { FieldKind::Argv };
                        out.push(inline(field, Some(i), kind, w));
                    }
                }
                None => {}
            }
        }
        if let Some(prompt) = &a.agent.prompt {
            out.push(inline("prompt", None, FieldKind::Prompt, prompt));
        }
        if let Some(file) = &a.agent.prompt_file {
            out.push(TemplateField {
                at: p,
                field: "prompt_file",
                index: None,
                kind: FieldKind::Prompt,
                file: Some(file),
                text: read(file),
                agent: n,
            });
        }
        if let Some(Over::Template(t)) = a.agent.map.as_ref().map(|m| &m.over) {
            out.push(inline("map/over", None, FieldKind::Over, t));
        }
    }
    if let Some(git) = &plan.git {
        let mut git_field = |field: &'static str, file: Option<&'a String>, text: Option<&'a String>| {
            if let Some(f) = file {
                out.push(TemplateField {
                    at: "/git",
                    field,
                    index: None,
                    kind: FieldKind::Git,
                    file: Some(f),
                    text: read(f),
                    agent: None,
                });
            } else if let Some(t) = text {
                out.push(TemplateField {
                    at: "/git",
                    field,
                    index: None,
                    kind: FieldKind::Git,
                    file: None,
                    text: Ok(Cow::Borrowed(t)),
                    agent: None,
                });
            }
        };
        git_field("branch", None, git.branch.as_ref());
        git_field("commit", None, git.commit.as_ref());
        git_field("commit_file", git.commit_file.as_ref(), None);
        if let Some(pr) = &git.pr {
            git_field("pr/title", None, pr.title.as_ref());
            git_field("pr/body", None, pr.body.as_ref());
            git_field("pr/body_file", pr.body_file.as_ref(), None);
        }
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
            roots.extend(["agent", "with", "outputs", "attempt", "last_error"]);
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
        if crate::template_env::BUILTIN_NAMES.contains(&root) {
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
