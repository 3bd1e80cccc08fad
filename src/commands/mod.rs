//! One module per subcommand.

use clap::{Parser, Subcommand};

/// Meta-train learned optimizers with Persistent Evolution Strategies.
#[derive(Debug, Parser)]
#[command(name = "pesto", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {}
}

/// Exit code for an error: 2 for bad user input (as clap uses for bad arguments), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| cause.is::<pesto_tasks::TaskError>()) { 2 } else { 1 }
}
