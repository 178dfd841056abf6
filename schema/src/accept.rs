//! What makes an attempt right: checks run in the agent's workspace after each
//! attempt (`accept`), and candidates to choose among (`best_of`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;

/// Checks an attempt must pass to count as a success, run in the agent's workspace
/// after the agent ends: its commands, where its change may be, how large it may be,
/// and a judge. A failed check fails the attempt; the retry (in the same session) is
/// told what failed: the command's last lines, the paths outside `touches`, the
/// judge's reasons.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// Commands that must exit 0, each run by `sh -c` in the workspace, in order (e.g.
    /// `cargo test -p parser`). Templates, rendered as `run:` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Commands>,
    /// Longest time each command may take (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Globs every changed path must match (`src/parser/**`); a change elsewhere fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<String>,
    /// Most lines the change may add and remove together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_changed_lines: Option<u64>,
    /// A model that reads the change and the issue and scores it against a rubric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judge>,
}

impl Accept {
    /// How long a check command may take when `timeout` is unset.
    pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

    /// The check commands, in order.
    pub fn commands(&self) -> &[String] {
        match &self.command {
            None => &[],
            Some(Commands::One(c)) => std::slice::from_ref(c),
            Some(Commands::Many(cs)) => cs,
        }
    }

    /// Whether a check needs the change itself (a repository to diff in).
    pub fn needs_change(&self) -> bool {
        !self.touches.is_empty() || self.max_changed_lines.is_some() || self.judge.is_some()
    }
}

/// One shell command, or several run in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Commands {
    One(String),
    Many(Vec<String>),
}

/// A model judging a change: it reads the diff and the issue, scores the change from
/// 0 to 1 against `rubric`, and gives its reasons (recorded in the report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Judge {
    /// The runner that judges: a built-in coding-agent CLI, or a `runners` entry with
    /// `cli` (default: the agent's own runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    /// What a right change looks like, in words (text, not a template).
    pub rubric: String,
    /// The least score that passes (default 0.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_score: Option<f64>,
}

impl Judge {
    pub const DEFAULT_MIN_SCORE: f64 = 0.7;

    pub fn min_score(&self) -> f64 {
        self.min_score.unwrap_or(Self::DEFAULT_MIN_SCORE)
    }
}
