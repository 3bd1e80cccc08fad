//! What an evaluation prints and writes: the per-task table, results.json, curves.csv and the
//! loss-curve plots.

use super::score::mean_curve;
use super::{Entry, EvalError, EvalReport, TaskScore};
use crate::inner::Curve;
use crate::plot::{BarChart, LineChart};
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The per-task table (final training and held-out loss of each optimizer, the winning grid
/// learning rates, the ratios to the best Adam and its steps to match) and the suite summary.
pub fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<58} {:>21} {:>29} {:>29} {:>11} {:>10} {:>12}",
        "task",
        "learned train/heldout",
        "best adam train/heldout (lr)",
        "best momentum train/heldout (lr)",
        "train ratio",
        "test ratio",
        "adam steps/T"
    );
    for r in &report.tasks {
        let cell = |e: &Entry| match e.contender.lr() {
            Some(lr) => format!("{:.4}/{:.4} ({lr:.0e})", e.final_train, e.final_heldout),
            None => format!("{:.4}/{:.4}", e.final_train, e.final_heldout),
        };
        let score = &r.vs_adam;
        let mark = if score.win() { "*" } else { " " };
        let speedup = score.speedup_adam_steps_over_t.map_or("never".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            out,
            "{:<58} {:>20}{mark} {:>29} {:>29} {:>11} {:>10} {speedup:>12}",
            truncate(&r.task, 58),
            cell(&r.learned),
            cell(&r.adam),
            cell(&r.momentum),
            ratio(score.train_ratio),
            ratio(score.test_ratio),
        );
    }
    let s = &report.summary;
    let [learned, adam, momentum] = s.mean_final_train;
    let _ = writeln!(
        out,
        "mean final training loss: learned {learned:.4}, best adam {adam:.4}, best momentum {momentum:.4}; \
         learned beats best adam on {} of {} tasks (*)",
        s.wins, s.tasks
    );
    let _ = writeln!(
        out,
        "learned / best adam over {} tasks: training loss geomean {}, IQM {} (middle {}), worst {}; \
         held-out loss geomean {}",
        s.tasks,
        ratio(s.geomean_train_ratio),
        ratio(s.iqm_train_ratio),
        s.iqm_count,
        ratio(s.worst_train_ratio),
        ratio(s.geomean_test_ratio)
    );
    let _ = writeln!(
        out,
        "adam steps/T: inner steps the best adam needs to reach the learned final training loss, \
         over the horizon T"
    );
    out
}

/// A ratio with three decimals, or `inf`/`NaN`.
fn ratio(r: f64) -> String {
    if r.is_finite() { format!("{r:.3}") } else { r.to_string() }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(['~']).collect()
    }
}

/// Writes DIR/results.json, DIR/curves.csv (the learned optimizer and the best baselines, every
/// seed), one loss-vs-step PNG per task in DIR/plots and the ratio bar chart DIR/summary.png.
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
        let family = family(&r.task);
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
    if !report.tasks.is_empty() {
        summary_chart(report).write_png(
            &dir.join("summary.png"),
            (180 + 110 * report.tasks.len() as u32).max(900),
            600,
        )?;
    }
    Ok(())
}

/// The family of a task written `FAMILY:key=value,...`.
fn family(task: &str) -> &str {
    task.split(':').next().unwrap_or(task)
}

/// Per-task bars of the training- and held-out-loss ratios learned / best Adam.
fn summary_chart(report: &EvalReport) -> BarChart {
    let s = &report.summary;
    let title = format!(
        "suite `{}`: learned / best Adam final loss (geomean {} training, {} held-out)",
        report.suite,
        ratio(s.geomean_train_ratio),
        ratio(s.geomean_test_ratio)
    );
    let labels =
        report.tasks.iter().enumerate().map(|(i, r)| format!("{i:02} {}", family(&r.task)));
    let ratios = |f: fn(&TaskScore) -> f64| report.tasks.iter().map(|r| f(&r.vs_adam)).collect();
    BarChart::new(
        &title,
        "learned / best Adam (log scale; below 1: learned lower)",
        1.0,
        labels.collect(),
    )
    .with_series("final training loss", ratios(|s| s.train_ratio))
    .with_series("final held-out loss", ratios(|s| s.test_ratio))
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
    let mean = mean_curve(curves);
    let steps = mean.len();
    let window = (steps / 40).max(1);
    (0..steps.saturating_sub(window - 1))
        .step_by(window.div_ceil(2))
        .map(|t| (t as f64, mean[t..t + window].iter().sum::<f64>() / window as f64))
        .collect()
}
