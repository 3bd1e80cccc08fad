//! `pesto train`: trains one task with a hand-designed or learned optimizer and writes its loss
//! curve.

use super::{positive, whole};
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pesto_meta::optim::{Adam, Optimizer, OptimizerSource, Schedule, Sgd};
use pesto_meta::plot::{LineChart, PALETTE, Series, Style, moving_average};
use pesto_meta::{Curve, InnerObserver, train_task};
use pesto_tasks::{TaskSpec, registry};
use serde::Serialize;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

/// Trains one task with SGD, momentum, Adam or a learned optimizer and writes curve.csv,
/// summary.json and curve.png.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The task, FAMILY[:key=value,...] (see `pesto tasks`).
    #[arg(long)]
    task: String,
    /// Seed of the task's data and of the initialisation.
    #[arg(long, default_value_t = 0)]
    #[arg(allow_negative_numbers = true, value_parser = whole(0, u64::MAX))]
    seed: u64,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    optimizer: OptimizerKind,
    /// A learned optimizer instead: an optimizer file, a meta-training run directory or one of
    /// its checkpoints; alone, the shipped optimizer (checkpoints/pretrained/optimizer.bin if it
    /// exists here, else the copy built into pesto).
    #[arg(long, num_args = 0..=1, value_name = "PATH", conflicts_with_all = ["optimizer", "lr", "schedule"])]
    lopt: Option<Option<PathBuf>>,
    /// Learning rate (the initial one under a cosine schedule).
    #[arg(long, default_value_t = 3e-3, value_parser = positive, allow_negative_numbers = true)]
    lr: f32,
    /// Learning-rate schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    schedule: ScheduleKind,
    /// Number of inner steps [default: the task's horizon].
    #[arg(long, allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    steps: Option<u64>,
    /// Steps between held-out evaluations [default: steps / 100].
    #[arg(long, allow_negative_numbers = true, value_parser = whole(1, u64::MAX))]
    eval_every: Option<u64>,
    /// Output directory.
    #[arg(long, default_value = "runs/train")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Momentum,
    Adam,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleKind {
    Constant,
    Cosine,
}

/// What summary.json records.
#[derive(Debug, Serialize)]
struct Summary {
    task: String,
    seed: u64,
    params: usize,
    optimizer: String,
    /// The learned optimizer's file, content hash and outer step (absent for hand-designed ones).
    #[serde(skip_serializing_if = "Option::is_none")]
    optimizer_file: Option<OptimizerSource>,
    steps: u64,
    eval_every: u64,
    initial_heldout: f32,
    final_heldout: f32,
    best_heldout: f32,
    final_train: f32,
    seconds: f64,
    steps_per_second: f64,
}

/// A progress bar over the inner steps showing the latest held-out loss.
struct Progress(ProgressBar);

impl InnerObserver for Progress {
    fn on_step(&mut self, _: u64, _: f32) {
        self.0.inc(1);
    }

    fn on_heldout(&mut self, _: u64, loss: f32) {
        self.0.set_message(format!("held-out loss {loss:.4}"));
    }
}

/// Trains, writes the outputs and prints a summary.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let spec = TaskSpec::parse(&args.task, args.seed)?;
    let mut task = registry::build(&spec)?;
    let steps = args.steps.unwrap_or(task.horizon());
    let eval_every = args.eval_every.unwrap_or((steps / 100).max(1));
    let lr = match args.schedule {
        ScheduleKind::Constant => Schedule::Constant(args.lr),
        ScheduleKind::Cosine => Schedule::Cosine { lr: args.lr, horizon: steps, floor: 0.0 },
    };
    let mut optimizer_file = None;
    let optimizer: Box<dyn Optimizer> = match (&args.lopt, args.optimizer) {
        (Some(path), _) => {
            let (saved, source) = super::learned_optimizer(path.as_deref())?;
            optimizer_file = Some(source);
            Box::new(saved.build())
        }
        (None, OptimizerKind::Sgd) => Box::new(Sgd::new(lr)),
        (None, OptimizerKind::Momentum) => Box::new(Sgd::with_momentum(lr, 0.9)),
        (None, OptimizerKind::Adam) => Box::new(Adam::new(lr)),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let bar = ProgressBar::new(steps).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps {per_sec} {msg}")
            .expect("valid progress template"),
    );
    let start = Instant::now();
    let curve = train_task(
        task.as_mut(),
        optimizer.as_ref(),
        args.seed,
        steps,
        eval_every,
        &mut Progress(bar.clone()),
    );
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let summary = Summary {
        task: spec.to_string(),
        seed: args.seed,
        params: task.layout().len(),
        optimizer: optimizer.name(),
        optimizer_file,
        steps,
        eval_every,
        initial_heldout: curve.heldout[0].1,
        final_heldout: curve.final_heldout().expect("the final evaluation is recorded"),
        best_heldout: curve.heldout.iter().map(|&(_, l)| l).fold(f32::INFINITY, f32::min),
        final_train: curve.final_train((steps as usize / 10).max(1)).expect("at least one step"),
        seconds,
        steps_per_second: steps as f64 / seconds,
    };
    write_outputs(&args.out, &curve, &summary)?;
    println!(
        "trained {} ({} params) with {} for {} steps in {:.2} s ({:.0} steps/s)",
        summary.task, summary.params, summary.optimizer, steps, seconds, summary.steps_per_second
    );
    println!(
        "held-out loss {:.4} -> {:.4} (best {:.4}); train loss over the last 10% {:.4}",
        summary.initial_heldout, summary.final_heldout, summary.best_heldout, summary.final_train
    );
    println!("wrote curve.csv, summary.json, curve.png to {}", args.out.display());
    Ok(())
}

fn write_outputs(dir: &std::path::Path, curve: &Curve, summary: &Summary) -> anyhow::Result<()> {
    let csv = dir.join("curve.csv");
    curve
        .write_csv(BufWriter::new(File::create(&csv)?))
        .with_context(|| format!("writing {}", csv.display()))?;
    let json = dir.join("summary.json");
    std::fs::write(&json, serde_json::to_string_pretty(summary)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    let train: Vec<(f64, f64)> =
        curve.train.iter().enumerate().map(|(s, &l)| (s as f64, f64::from(l))).collect();
    let smoothed = moving_average(&train, (train.len() / 40).max(1));
    let heldout = curve.heldout.iter().map(|&(s, l)| (s as f64, f64::from(l))).collect();
    let faint = Style { width: 1, opacity: 0.35, ..Style::solid(PALETTE[0]) };
    LineChart::new(&format!("{} with {}", summary.task, summary.optimizer), "step", "loss")
        .log_y(true)
        .with(Series::new("train (minibatch)", train, faint))
        .with(Series::new("train (moving average)", smoothed, Style::solid(PALETTE[0])))
        .with(Series::new("held-out", heldout, Style::solid(PALETTE[1])))
        .write_png(&dir.join("curve.png"), 1100, 600)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::commands::{Cli, exit_code, run};
    use clap::Parser;

    fn train(task: &str, out: &std::path::Path) -> anyhow::Result<()> {
        let out = out.to_str().unwrap();
        run(Cli::parse_from(["pesto", "train", "--task", task, "--steps", "20", "--out", out]))
    }

    #[test]
    fn bad_tasks_exit_2_naming_the_problem() {
        let out = std::env::temp_dir().join(format!("pesto-train-bad-{}", std::process::id()));
        let err = train("quadratic:dim=0", &out).unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert_eq!(
            format!("{err:#}"),
            "task family `quadratic`: `dim=0` is invalid; expected an integer in 1..=1024"
        );
        let err = train("mlp-synth:depth=2", &out).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "task family `mlp-synth` has no key `depth`; valid keys: input, hidden, act, classes, \
             batch, steps"
        );
        assert_eq!(exit_code(&err), 2);
        let parse = |option: &str, value: &str| {
            let args = ["pesto", "train", "--task", "quadratic", option, value];
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            err.to_string()
        };
        assert_eq!(
            parse("--lr", "-1"),
            "error: invalid value '-1' for '--lr <LR>': expected a finite number above 0\n\n\
             For more information, try '--help'.\n"
        );
        assert!(
            parse("--steps", "-5").starts_with(
                "error: invalid value '-5' for '--steps <STEPS>': expected a whole number of at \
                 least 1\n"
            ),
            "{}",
            parse("--steps", "-5")
        );
    }

    #[test]
    fn writes_the_curve_summary_and_chart() {
        let out = std::env::temp_dir().join(format!("pesto-train-{}", std::process::id()));
        train("quadratic:dim=8", &out).unwrap();
        let csv = std::fs::read_to_string(out.join("curve.csv")).unwrap();
        assert_eq!(csv.lines().count(), 22);
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(summary["steps"], 20);
        assert!(std::fs::metadata(out.join("curve.png")).unwrap().len() > 0);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
