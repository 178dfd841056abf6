//! The pure half of `plan`: YAML with positions, the schema check, lint rules, and the
//! agent tree compiled to a petgraph DAG, with its drawings. No effects beyond
//! reading the plan and its templates.

pub mod agents;
pub mod compile_json;
pub mod confine;
pub mod diagnostic;
pub mod dot;
pub mod drawing;
#[cfg(test)]
mod example_plans;
pub mod graph;
pub mod intake;
pub mod lint;
pub mod load;
mod load_fold;
pub mod locate;
pub mod mermaid;
pub mod render;
pub mod resolve;
pub mod rules;
pub mod schema_check;
pub mod secret;
pub mod source;
pub mod suggest;
pub mod targets;
pub mod template_env;
mod template_vars;
pub mod templates;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use lint::{check_file, check_loaded, compile, Checked};
