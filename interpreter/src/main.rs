//! The `plan` binary: parses arguments and dispatches to a command. Exit codes:
//! 0 ok, 1 plan failed or lint errors, 2 usage, 130 interrupted.

use clap::Parser;

use plan_interpreter::cli::{Cli, Command};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let code = match cli.command {
        Command::New(args) => plan_interpreter::new_cmd::run(&args),
        Command::Lint(args) => plan_interpreter::lint_cmd::run(&args),
        Command::Schema => {
            plan_interpreter::stdout(&plan_schema::json_schema_text());
            0
        }
        Command::Graph(args) => plan_interpreter::graph_cmd::run_graph(&args),
        Command::Compile(args) => plan_interpreter::graph_cmd::run_compile(&args),
        Command::Run(args) => plan_interpreter::run_cmd::run(args),
        Command::ExecNode(args) => plan_interpreter::exec_node::run(&args),
        Command::Status(args) => plan_interpreter::runs_cmd::status(&args),
        Command::Runs(args) => plan_interpreter::runs_cmd::runs(&args),
        Command::Stop(args) => plan_interpreter::runs_cmd::stop(&args),
        Command::Logs(args) => plan_interpreter::runs_cmd::logs(&args),
    };
    std::process::exit(code);
}
