//! Built-in actions (`uses`): which there are, what each requires in `with`, and the
//! typed form a resolved step holds.

use indexmap::IndexMap;
use plan_schema::Duration;
use serde_json::Value;

use super::Problem;

/// A built-in action with its arguments typed. Text arguments are templates.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<'p> {
    Noop,
    Sleep(Duration),
    /// `template.render`: `template` (a file) rendered to `output` (a template).
    Render {
        template: &'p str,
        output: &'p str,
    },
    /// A person decides; past `timeout`, `approve_on_timeout` decides.
    Approval {
        message: &'p str,
        timeout: Option<Duration>,
        approve_on_timeout: bool,
    },
    GitBranch {
        name: Arg<'p>,
    },
    GitCommit {
        message: Arg<'p>,
    },
    GithubPr {
        title: Arg<'p>,
        body: Option<Arg<'p>>,
        base: Option<Arg<'p>>,
        repo: Option<Arg<'p>>,
        draft: bool,
    },
    GithubComment {
        body: Arg<'p>,
        number: Option<Arg<'p>>,
        repo: Option<Arg<'p>>,
    },
}

/// An action's argument from `with`: a text is a template; any other value is used as
/// its JSON text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arg<'p>(pub &'p Value);

impl<'p> Arg<'p> {
    /// The template to render, or the literal text of a non-string value.
    pub fn template(self) -> Result<&'p str, String> {
        match self.0 {
            Value::String(s) => Ok(s),
            other => Err(other.to_string()),
        }
    }
}

/// The built-in actions, each with the `with` arguments it requires.
pub const ACTIONS: &[(&str, &[&str])] = &[
    ("noop", &[]),
    ("sleep", &["duration"]),
    ("template.render", &["template", "output"]),
    ("approval", &["message"]),
    ("git.branch", &["name"]),
    ("git.commit", &["message"]),
    ("github.pr", &["title"]),
    ("github.comment", &["body"]),
];

impl Action<'_> {
    /// Whether the action acts on a git repository or on GitHub.
    pub fn needs_git(&self) -> bool {
        matches!(
            self,
            Action::GitBranch { .. }
                | Action::GitCommit { .. }
                | Action::GithubPr { .. }
                | Action::GithubComment { .. }
        )
    }
}

/// A `uses` action and its `with` arguments.
pub(super) fn action<'p>(uses: &str, with: &'p IndexMap<String, Value>) -> Result<Action<'p>, Problem> {
    let Some(&(name, required)) = ACTIONS.iter().find(|(n, _)| *n == uses) else {
        return Err(Problem::UnknownAction { name: uses.to_string() });
    };
    let missing: Vec<&'static str> = required.iter().copied().filter(|a| !with.contains_key(*a)).collect();
    if !missing.is_empty() {
        return Err(Problem::MissingArguments { action: name, args: missing });
    }
    let arg = |a: &str| with.get(a).map(Arg);
    let req = |a: &str| Arg(&with[a]);
    let text = |a: &'static str| -> Result<&'p str, Problem> {
        with[a].as_str().ok_or(Problem::InvalidArgument { action: name, arg: a, expected: "a text" })
    };
    let duration = |a: &'static str| -> Result<Option<Duration>, Problem> {
        with.get(a)
            .map(|d| {
                d.as_str().and_then(|s| s.parse::<Duration>().ok()).ok_or(Problem::InvalidArgument {
                    action: name,
                    arg: a,
                    expected: "a duration (500ms, 30s, 5m, 1h)",
                })
            })
            .transpose()
    };
    Ok(match name {
        "noop" => Action::Noop,
        "sleep" => Action::Sleep(duration("duration")?.unwrap_or_default()),
        "template.render" => Action::Render { template: text("template")?, output: text("output")? },
        "approval" => Action::Approval {
            message: text("message")?,
            timeout: duration("timeout")?,
            approve_on_timeout: with.get("on_timeout").and_then(Value::as_str) == Some("approve"),
        },
        "git.branch" => Action::GitBranch { name: req("name") },
        "git.commit" => Action::GitCommit { message: req("message") },
        "github.pr" => Action::GithubPr {
            title: req("title"),
            body: arg("body"),
            base: arg("base"),
            repo: arg("repo"),
            draft: with.get("draft").and_then(Value::as_bool).unwrap_or(false),
        },
        _ => Action::GithubComment { body: req("body"), number: arg("number"), repo: arg("repo") },
    })
}
