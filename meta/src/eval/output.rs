//! What an evaluation prints and writes: the per-task table, results.json, curves.csv and the
//! loss-curve plots.

use super::{Entry, EvalError, EvalReport};
use crate::inner::Curve;
use crate::plot::LineChart;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The per-task table: final training and held-out loss of each optimizer, and the winning
/// grid learning rates.
pub fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<58} {:>21} {:>29} {:>29}",
        "task",
        "learned train/heldout",
        "best adam train/heldout (lr)",
        "best momentum train/heldout (lr)"
    );
    for r in &report.tasks {
        let cell = |e: &Entry| match e.contender.lr() {
            Some(lr) => format!("{:.4}/{:.4} ({lr:.0e})", e.final_train, e.final_heldout),
            None => format!("{:.4}/{:.4}", e.final_train, e.final_heldout),
        };
        let mark = if r.learned.rank() < r.adam.rank() { "*" } else { " " };
        let _ = writeln!(
            out,
            "{:<58} {:>20}{mark} {:>29} {:>29}",
            truncate(&r.task, 58),
            cell(&r.learned),
            cell(&r.adam),
            cell(&r.momentum)
        );
    }
    let [learned, adam, momentum] = report.mean_final_train;
    let _ = writeln!(
        out,
        "mean final training loss: learned {learned:.4}, best adam {adam:.4}, best momentum {momentum:.4}; \
         learned beats best adam on {} of {} tasks (*)",
        report.wins_vs_adam,
        report.tasks.len()
    );
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(['~']).collect()
    }
}

/// Writes DIR/results.json, DIR/curves.csv (the learned optimizer and the best baselines, every
/// seed) and one loss-vs-step PNG per task in DIR/plots.
pub fn write_outputs(report: &EvalReport, dir: &Path) -> Result<(), EvalError> {
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |error| EvalError::Io { path, error }
    };
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(io_err(&plots))?;
    let json = dir.join("results.json");
    let text = serde_json::to_string_pretty(report).expect("reports serialise");
    std::fs::write(&json, text).map_err(io_err(&json))?;

    let csv = dir.join("curves.csv");
    let mut out = BufWriter::new(std::fs::File::create(&csv).map_err(io_err(&csv))?);
    write_curves(report, &mut out).and_then(|()| out.flush()).map_err(io_err(&csv))?;

    for (i, r) in report.tasks.iter().enumerate() {
        let family = r.task.split(':').next().unwrap_or("task");
        let mut chart =
            LineChart::new(&truncate(&r.task, 90), "inner step", "training loss (mean over seeds)")
                .log_y(true);
        for e in [&r.learned, &r.adam, &r.momentum] {
            let label = match e.contender.lr() {
                Some(lr) => format!("{} lr={lr:.0e}", e.contender.family()),
                None => format!("learned ({})", report.optimizer),
            };
            chart = chart.with_series(&label, smoothed_mean(&e.curves));
        }
        chart.write_png(&plots.join(format!("{i:02}-{family}.png")), 900, 560)?;
    }
    Ok(())
}

fn write_curves(report: &EvalReport, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "task,optimizer,lr,seed,step,train_loss,heldout_loss")?;
    for r in &report.tasks {
        for e in [&r.learned, &r.adam, &r.momentum] {
            let lr = e.contender.lr().map_or(String::new(), |lr| lr.to_string());
            for (seed, curve) in e.curves.iter().enumerate() {
                let mut heldout = curve.heldout.iter().peekable();
                for (step, train) in curve.train.iter().enumerate() {
                    let h = heldout
                        .next_if(|(s, _)| *s == step as u64)
                        .map_or(String::new(), |(_, l)| l.to_string());
                    let family = e.contender.family();
                    writeln!(out, "\"{}\",{family},{lr},{seed},{step},{train},{h}", r.task)?;
                }
            }
        }
    }
    Ok(())
}

/// Mean over seeds of the training loss, smoothed with a moving average of 2.5% of the steps.
fn smoothed_mean(curves: &[Curve]) -> Vec<(f64, f64)> {
    let steps = curves.iter().map(|c| c.train.len()).min().unwrap_or(0);
    let mean: Vec<f64> = (0..steps)
        .map(|t| curves.iter().map(|c| f64::from(c.train[t])).sum::<f64>() / curves.len() as f64)
        .collect();
    let window = (steps / 40).max(1);
    (0..steps.saturating_sub(window - 1))
        .step_by(window.div_ceil(2))
        .map(|t| (t as f64, mean[t..t + window].iter().sum::<f64>() / window as f64))
        .collect()
}
