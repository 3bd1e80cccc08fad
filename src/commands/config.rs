//! `pesto config show`: the effective meta-training config, every field with its meaning.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Inspect meta-training configs.
#[derive(Debug, Subcommand)]
pub enum Config {
    /// Print the full effective config (defaults, the file, then each --set), each field
    /// preceded by its meaning; the output is itself a valid config.
    Show(ShowArgs),
}

/// Options of `pesto config show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Config file (TOML); defaults to meta/configs/quick.toml, embedded.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a field, e.g. `--set estimator.sigma=0.02` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
}

/// Runs a `config` subcommand.
pub fn run(command: Config) -> anyhow::Result<()> {
    match command {
        Config::Show(args) => {
            let (_, config) =
                super::meta_train::load_config(args.config.as_deref(), &args.sets, None)?;
            print!("{}", config.annotated());
            Ok(())
        }
    }
}
