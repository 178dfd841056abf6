//! Intake: an issue (from GitHub's REST API, `gh issue view --json`, or markdown)
//! becomes a plan. Pure: the caller fetches or reads the issue text.

mod classify;
mod enterprise;
mod generate;
mod items;
mod named;
mod review;
mod rules;
mod source;
mod steps;

pub use classify::{classify, Classification};
pub use generate::{default_git, generate, render_plan, shape, top_pattern, Generated, TemplatePaths};
pub use items::{code_items, work_items};
pub use review::{review, Finding};
pub use rules::{Rules, DEFAULT_RULES};
pub use source::{parse_issue, IssueText, SourceError};
