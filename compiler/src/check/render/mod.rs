//! Renderers of diagnostics, one per output format; the model is `diagnostic.rs`.

mod github;
mod human;
mod json;

pub use github::render_github;
pub use human::{render_human, Style};
pub use json::render_json;
