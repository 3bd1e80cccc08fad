//! One module per subcommand.

use clap::{Parser, Subcommand};

mod tasks;
mod train;

/// Meta-train learned optimizers with Persistent Evolution Strategies.
#[derive(Debug, Parser)]
#[command(name = "pesto", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List task families, their keys, and the built-in suites.
    Tasks(tasks::TasksArgs),
    /// Train one task with a hand-designed optimizer and write its loss curve.
    Train(train::TrainArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Tasks(args) => tasks::run(args),
        Command::Train(args) => train::run(args),
    }
}

/// Exit code for an error: 2 for bad user input (as clap uses for bad arguments), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| cause.is::<pesto_tasks::TaskError>()) { 2 } else { 1 }
}
