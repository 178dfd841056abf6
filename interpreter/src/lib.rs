//! The effectful half of `plan`: the tokio interpreter that runs a compiled plan
//! (scheduler, processes, run directory, journal, report) and the command-line glue.

pub mod background;
pub mod cli;
pub mod clock;
pub mod consensus;
pub mod exec_node;
pub mod git;
pub mod github;
pub mod graph_cmd;
pub mod job;
pub mod journal;
pub mod lint_cmd;
pub mod new_cmd;
pub mod prepare;
pub mod process;
pub mod recorder;
pub mod redact;
pub mod render;
pub mod report;
pub mod run_cmd;
pub mod run_state;
pub mod rundir;
pub mod runs_cmd;
pub mod scheduler;
pub mod tree;

/// Writes to standard output; a reader that went away (`plan ... | head`) is not an
/// error worth a panic.
pub fn stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
