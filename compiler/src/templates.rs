//! Every template in a plan — `run`, prompts, compensations, map `over`, git texts —
//! with where it stands in the file and what it may see. Lint rules check them;
//! the interpreter renders the same fields.

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
    /// JSON pointer of the YAML value that holds the template (or names its file).
    pub pointer: String,
    pub kind: FieldKind,
    /// The template file as written in the plan, for `*_file` fields.
    pub file: Option<String>,
    /// The template text, or why the file could not be read.
    pub text: Result<String, String>,
    /// The agent the template belongs to (none for git texts).
    pub agent: Option<AgentRef<'a>>,
}

/// All template fields, in declaration order.
pub fn template_fields<'a>(plan: &'a Plan, agents: &'a AgentIndex<'a>, base_dir: &Path) -> Vec<TemplateField<'a>> {
    let mut out = Vec::new();
    let root = crate::confine::root(base_dir);
    let read = |rel: &str| -> Result<String, String> {
        if !crate::confine::inside(&root, base_dir, Path::new(rel)) {
            return Err(format!("`{rel}` is outside the repository ({})", root.display()));
        }
        let path = normalize(&base_dir.join(rel));
        std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("no such file {}", path.display()),
            _ => format!("{}: {e}", path.display()),
        })
    };
    for a in agents.iter() {
        let p = a.pointer;
        let inline = |pointer: String, kind, text: &str| TemplateField {
            pointer,
            kind,
            file: None,
            text: Ok(text.to_string()),
            agent: Some(a),
        };
        for (field, command) in [("run", &a.agent.run), ("compensate", &a.agent.compensate)] {
            match command {
                Some(Command::Shell(s)) => out.push(inline(format!("{p}/{field}"), FieldKind::Shell, s)),
                Some(Command::Argv(words)) => {
                    // `[sh, -c, SCRIPT]`: the script is shell text like a string `run`.
                    let script = shell_script_index(words);
                    for (i, w) in words.iter().enumerate() {
                        let kind = if Some(i) == script { FieldKind::Shell } else { FieldKind::Argv };
                        out.push(inline(format!("{p}/{field}/{i}"), kind, w));
                    }
                }
                None => {}
            }
        }
        if let Some(prompt) = &a.agent.prompt {
            out.push(inline(format!("{p}/prompt"), FieldKind::Prompt, prompt));
        }
        if let Some(file) = &a.agent.prompt_file {
            out.push(TemplateField {
                pointer: format!("{p}/prompt_file"),
                kind: FieldKind::Prompt,
                file: Some(file.clone()),
                text: read(file),
                agent: Some(a),
            });
        }
        if let Some(Over::Template(t)) = a.agent.map.as_ref().map(|m| &m.over) {
            out.push(inline(format!("{p}/map/over"), FieldKind::Over, t));
        }
    }
    if let Some(git) = &plan.git {
        let mut git_field = |pointer: &str, file: Option<&String>, text: Option<&String>| {
            if let Some(f) = file {
                out.push(TemplateField {
                    pointer: pointer.into(),
                    kind: FieldKind::Git,
                    file: Some(f.clone()),
                    text: read(f),
                    agent: None,
                });
            } else if let Some(t) = text {
                out.push(TemplateField {
                    pointer: pointer.into(),
                    kind: FieldKind::Git,
                    file: None,
                    text: Ok(t.clone()),
                    agent: None,
                });
            }
        };
        git_field("/git/branch", None, git.branch.as_ref());
        git_field("/git/commit", None, git.commit.as_ref());
        git_field("/git/commit_file", git.commit_file.as_ref(), None);
        if let Some(pr) = &git.pr {
            git_field("/git/pr/title", None, pr.title.as_ref());
            git_field("/git/pr/body", None, pr.body.as_ref());
            git_field("/git/pr/body_file", pr.body_file.as_ref(), None);
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
        Scope { plan, agents, agent: field.agent, git: field.kind == FieldKind::Git }
    }

    fn roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = ["issue", "vars", "plan", "run"].map(String::from).to_vec();
        if self.git {
            roots.extend(["report", "agents"].map(String::from));
        } else {
            roots.extend(["agent", "with", "outputs", "attempt", "last_error"].map(String::from));
        }
        if let Some(a) = self.agent {
            if a.slot == Slot::Gather {
                roots.push("consensus".into());
            }
            if a.slot == Slot::Map {
                if let Some(map) = a.parent.and_then(|p| p.map.as_ref()) {
                    roots.push(map.var.clone());
                }
            }
        }
        roots
    }

    /// Checks one dotted path from `undeclared_variables(true)`, e.g. `issue.titel`.
    pub fn check(&self, path: &str) -> Result<(), Undefined> {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or("");
        if crate::template_env::BUILTIN_NAMES.contains(&root) {
            return Ok(());
        }
        let roots = self.roots();
        if !roots.iter().any(|r| r == root) {
            return Err(Undefined { name: root.to_string(), candidates: roots });
        }
        let Some(field) = parts.next() else {
            return Ok(());
        };
        if root == "outputs" && self.agents.get(field).is_some() {
            return Ok(());
        }
        let fields: Option<Vec<String>> = match root {
            "issue" => Some(["number", "repo", "title", "url", "labels", "body"].map(String::from).to_vec()),
            "plan" => Some(["name", "complexity", "pattern"].map(String::from).to_vec()),
            "agent" => Some(["id", "role", "depth", "parent"].map(String::from).to_vec()),
            "run" => Some(["id", "dir"].map(String::from).to_vec()),
            "consensus" => Some(["value", "votes", "agreed"].map(String::from).to_vec()),
            "vars" => Some(self.plan.vars.keys().cloned().collect()),
            "with" => self.agent.map(|a| a.agent.with.keys().cloned().collect()),
            "outputs" => Some(self.agents.iter().map(|a| a.agent.id.clone()).collect()),
            _ => None,
        };
        match fields {
            Some(fields) if !fields.iter().any(|f| f == field) => Err(Undefined {
                name: format!("{root}.{field}"),
                candidates: fields.into_iter().map(|f| format!("{root}.{f}")).collect(),
            }),
            _ => Ok(()),
        }
    }
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
