//! The suite file of `plan eval` (`suite.yaml`): tasks, each a small repository, an
//! issue and hidden checks that decide success, and the plan template they run
//! under. Paths are relative to the suite file.
//!
//! ```yaml
//! name: offline
//! plan: plans/single.yaml        # the template every task runs under (default)
//! tasks:
//!   - id: add-adds               # tasks/add-adds/{repo/,issue.md,check.sh} by default
//!   - id: docs-and-code
//!     plan: plans/fork-join.yaml # this task's own template
//!     repo: elsewhere/repo
//!     issue: elsewhere/issue.json
//!     check: elsewhere/hidden.sh
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: String,
    #[serde(default)]
    plan: Option<PathBuf>,
    tasks: Vec<TaskFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    id: String,
    #[serde(default)]
    plan: Option<PathBuf>,
    #[serde(default)]
    repo: Option<PathBuf>,
    #[serde(default)]
    issue: Option<PathBuf>,
    #[serde(default)]
    check: Option<PathBuf>,
}

/// A suite, its paths made whole.
#[derive(Debug)]
pub struct Suite {
    pub name: String,
    pub tasks: Vec<Task>,
}

/// One task: where its repository, issue and hidden check are, and its template.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub plan: PathBuf,
    pub repo: PathBuf,
    pub issue: PathBuf,
    pub check: PathBuf,
}

impl Suite {
    /// Reads the suite at `path` (a `suite.yaml`, or a directory holding one); `plan`
    /// replaces every task's template.
    pub fn read(path: &Path, plan: Option<&Path>) -> Result<Suite, Error> {
        let file = if path.is_dir() { path.join("suite.yaml") } else { path.to_path_buf() };
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io("read", &file, e))?;
        let parsed: SuiteFile = serde_yaml::from_str(&text).map_err(|e| {
            let at = e.location().map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
            Error::Usage(format!("{}{at}: {e} (see docs/eval.md for the suite format)", file.display()))
        })?;
        let dir = file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let given = plan.map(Path::to_path_buf);
        let mut tasks = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in parsed.tasks {
            let valid = !t.id.is_empty() && t.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid || !seen.insert(t.id.clone()) {
                return Err(Error::Usage(format!(
                    "{}: task id `{}` must be unique, of letters, digits, `-` and `_`",
                    file.display(),
                    t.id
                )));
            }
            let own = |p: Option<PathBuf>, default: &str| {
                dir.join(p.unwrap_or_else(|| Path::new("tasks").join(&t.id).join(default)))
            };
            let template = given
                .clone()
                .or_else(|| t.plan.map(|p| dir.join(p)))
                .or_else(|| parsed.plan.as_ref().map(|p| dir.join(p)));
            let Some(plan) = template else {
                return Err(Error::Usage(format!(
                    "{}: task `{}` has no plan template: set `plan:` on the suite or the task, or give --plan",
                    file.display(),
                    t.id
                )));
            };
            let task = Task {
                plan,
                repo: own(t.repo, "repo"),
                issue: own(t.issue, "issue.md"),
                check: own(t.check, "check.sh"),
                id: t.id,
            };
            for (what, p) in
                [("plan", &task.plan), ("repo", &task.repo), ("issue", &task.issue), ("check", &task.check)]
            {
                if !p.exists() {
                    return Err(Error::Usage(format!(
                        "{}: task `{}`: its {what} {} does not exist",
                        file.display(),
                        task.id,
                        p.display()
                    )));
                }
            }
            tasks.push(task);
        }
        if tasks.is_empty() {
            return Err(Error::Usage(format!("{}: the suite has no tasks", file.display())));
        }
        Ok(Suite { name: parsed.name, tasks })
    }
}
