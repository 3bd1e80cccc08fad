//! `pesto inspect`: what an optimizer file, a checkpoint or a run directory holds.

use clap::Args;
use std::path::PathBuf;

/// Options of `pesto inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// An optimizer file, a run or experiment checkpoint, or a run directory (its newest
    /// checkpoint).
    file: PathBuf,
    /// Print the facts as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// Runs `pesto inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let facts = pesto_meta::inspect::inspect(&args.file)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&facts)?),
        false => print!("{facts}"),
    }
    Ok(())
}
