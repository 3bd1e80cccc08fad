//! `pesto export`: a learned optimizer as named tensors, in safetensors or JSON.

use super::UsageError;
use clap::{Args, ValueEnum};
use pesto_meta::durable;
use pesto_meta::export::Export;
use std::path::{Path, PathBuf};

/// Options of `pesto export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// An optimizer file or a meta-training run directory (its current optimizer).
    optimizer: PathBuf,
    /// The output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write; replaced whole, never left half-written.
    #[arg(long)]
    out: PathBuf,
}

/// The formats `pesto export` writes (docs/files.md).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// A safetensors file: one F32 tensor per named tensor, metadata in `__metadata__`.
    Safetensors,
    /// A JSON document: `metadata`, and `tensors` with each one's shape and values.
    Json,
}

/// Runs `pesto export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let export = Export::load(&args.optimizer)?;
    let dir = args.out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        let message =
            format!("--out {}: directory {} does not exist", args.out.display(), dir.display());
        return Err(UsageError(message).into());
    }
    let bytes = match args.format {
        Format::Safetensors => export.safetensors(),
        Format::Json => export.json().into_bytes(),
    };
    durable::replace(&args.out, &bytes)
        .map_err(|err| anyhow::anyhow!("writing {}: {err}", args.out.display()))?;
    let kind = export.saved.kind;
    println!(
        "wrote {} ({} values in {} tensors, {} outer steps) to {}",
        kind,
        kind.theta_dim(),
        kind.tensors().len(),
        export.saved.outer_steps,
        args.out.display()
    );
    Ok(())
}
