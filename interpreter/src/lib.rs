//! The effectful half of `plan`: the command-line commands, the tokio engine that
//! runs a compiled plan, the run store (journal, status, report) and git/GitHub.
//!
//! Arrows point one way: `commands` -> `engine` -> `store`, and `commands`/`engine`
//! -> `git`. Nothing in `store` or `git` knows the engine or the commands.

mod cli;
mod commands;
mod engine;
mod error;
mod git;
mod store;

pub use commands::main;
