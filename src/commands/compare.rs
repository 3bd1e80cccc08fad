//! `pesto compare`: several evaluations' suite summaries side by side, with their medians.

use clap::Args;
use pesto_meta::eval::{comparison_table, read_evaluation};
use std::path::PathBuf;

/// Arguments of `pesto compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Output directories of `pesto eval` (or their results.json files), e.g. one per
    /// meta-training seed and suite.
    #[arg(required = true, value_name = "EVAL")]
    evaluations: Vec<PathBuf>,
    /// Print the evaluations' suite summaries as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// Runs `pesto compare`.
pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let evaluations =
        args.evaluations.iter().map(|p| read_evaluation(p)).collect::<Result<Vec<_>, _>>()?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&evaluations)?),
        false => print!("{}", comparison_table(&evaluations)),
    }
    Ok(())
}
