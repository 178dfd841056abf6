//! The pure half of `plan`: a plan file becomes checked, resolved and compiled data,
//! stage by stage, each consuming the one before it. No effects beyond reading the
//! plan and its templates.
//!
//! | stage | module | what it makes |
//! |---|---|---|
//! | load | [`load`] | YAML with positions, the typed plan, its agents indexed |
//! | check | [`check`] | the schema check, lint rules, diagnostics and their renderers |
//! | resolve | [`resolve`] | each agent as one typed step; what a secret is |
//! | graph | [`graph`] | the agent tree as a petgraph DAG (and its publishing steps) |
//! | draw | [`draw`] | DOT, Mermaid and JSON of the DAG |
//! | targets | [`targets`] | the same DAG for Argo Workflows or GitHub Actions |
//! | intake | [`intake`] | an issue becomes a plan |
//!
//! The interpreter uses the facade below and these modules' public items.

pub mod check;
pub mod draw;
#[cfg(test)]
mod example_plans;
pub mod graph;
pub mod intake;
pub mod load;
pub mod resolve;
pub mod targets;

pub use check::diagnostic::{Diagnostic, Severity};
pub use check::{check_file, check_loaded, compile, Checked};
