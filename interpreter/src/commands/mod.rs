//! The `plan` subcommands: each file parses nothing (clap did) and returns a typed
//! `Error` that `main` turns into a message and an exit code.

mod approve;
mod background;
pub mod cache;
mod dry_run;
pub mod eval;
mod exec_node;
mod feedback;
pub mod gateway;
mod graph;
mod inputs;
mod lint;
mod new;
mod outcome;
mod planner;
pub(crate) mod policy;
mod run;
mod runs;
pub(crate) mod sandbox;
pub(crate) mod serve;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Parses the command line, runs the command and exits with its code:
/// 0 ok, 1 plan failed or lint errors, 2 usage, 130 interrupted.
pub fn main() -> ! {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::New(args) => new::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Schema => {
            stdout(&plan_schema::json_schema_text());
            Ok(())
        }
        Command::Cache(args) => cache::run(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = crate::cli::Cli::command();
            clap_complete::generate(shell, &mut cmd, "plan", &mut std::io::stdout());
            Ok(())
        }
        Command::Prices => {
            stdout(plan_schema::prices::TABLE);
            Ok(())
        }
        Command::Graph(args) => graph::run_graph(&args),
        Command::Compile(args) => graph::run_compile(&args),
        Command::Run(args) => run::run(args),
        Command::Eval(args) => eval::run(&args),
        Command::ExecNode(args) => exec_node::run(&args),
        Command::Status(args) => runs::status(&args),
        Command::Runs(args) => runs::runs(&args),
        Command::Stop(args) => runs::stop(&args),
        Command::Logs(args) => runs::logs(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Approve(args) => approve::decide(&args.runs_dir, &args.run_id, &args.node, true, args.comment.clone()),
        Command::Sandbox(args) => sandbox::enter(&args),
        Command::Gateway(args) => gateway::run(&args),
        Command::Reject(args) => {
            approve::decide(&args.runs_dir, &args.run_id, &args.node, false, Some(args.reason.clone()))
        }
    };
    std::process::exit(match result {
        Ok(()) => 0,
        Err(e) => e.report(),
    })
}

/// Writes to standard output; a reader that went away (`plan ... | head`) is not an
/// error worth a panic.
pub(crate) fn stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
