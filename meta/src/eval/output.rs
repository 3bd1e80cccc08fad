//! What an evaluation prints and writes: the per-task table, results.json, curves.csv, one
//! figure per task, the overview of all tasks and the ratio bar chart.

use super::{Entry, EvalError, EvalReport, TaskResult, TaskScore};
use crate::inner::Curve;
use crate::plot::{BarChart, Figure, LineChart, PALETTE, Series, Style, moving_average};
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The file an evaluation's results go to, inside its output directory.
pub const RESULTS_FILE: &str = "results.json";

/// The most columns the table takes.
pub const TABLE_WIDTH: usize = 120;

/// The per-task table (final training and held-out loss of each optimizer, the winning grid
/// learning rates, the ratios to the best Adam and its steps to match) with tasks numbered by
/// family and spelt out in full in a key below it, then the suite summary; no line is longer
/// than `TABLE_WIDTH`.
pub fn table(report: &EvalReport) -> String {
    let mut out = String::new();
    let row = |out: &mut String, cells: [&str; 8]| {
        let [n, family, learned, adam, momentum, train, test, steps] = cells;
        let _ = writeln!(
            out,
            "{n:<3} {family:<12} {learned:>15} {adam:>20} {momentum:>20} {train:>7} {test:>7} {steps:>7}"
        );
    };
    row(&mut out, ["", "", "learned ", "best adam", "best momentum", "train", "test", "adam"]);
    row(
        &mut out,
        [
            "#",
            "family",
            "train/heldout ",
            "train/heldout (lr)",
            "train/heldout (lr)",
            "ratio",
            "ratio",
            "steps/T",
        ],
    );
    for (i, r) in report.tasks.iter().enumerate() {
        let cell = |e: &Entry| match e.contender.lr() {
            Some(lr) => format!("{:.4}/{:.4} ({lr:.0e})", e.final_train, e.final_heldout),
            None => format!("{:.4}/{:.4}", e.final_train, e.final_heldout),
        };
        let score = &r.vs_adam;
        let mark = if score.win() { "*" } else { " " };
        let speedup = score.speedup_adam_steps_over_t.map_or("never".into(), |v| format!("{v:.2}"));
        row(
            &mut out,
            [
                &format!("{i:02}"),
                family(&r.task),
                &format!("{}{mark}", cell(&r.learned)),
                &cell(&r.adam),
                &cell(&r.momentum),
                &ratio(score.train_ratio),
                &ratio(score.test_ratio),
                &speedup,
            ],
        );
    }
    out += "tasks:\n";
    for (i, r) in report.tasks.iter().enumerate() {
        out += &wrap(&format!("{i:02}  {}", r.task), TABLE_WIDTH, "      ");
    }
    let s = &report.summary;
    let [learned, adam, momentum] = s.mean_final_train;
    let _ = writeln!(
        out,
        "mean final training loss: learned {learned:.4}, best adam {adam:.4}, best momentum {momentum:.4}"
    );
    let _ = writeln!(out, "learned beats best adam on {} of {} tasks (*)", s.wins, s.tasks);
    let outside = |best: fn(&TaskResult) -> &Entry| {
        let off = |r: &&TaskResult| {
            best(r).contender.lr().is_some_and(|lr| !report.lr_grid.contains(&lr))
        };
        report.tasks.iter().filter(off).count()
    };
    let (low, high) =
        report.lr_grid.iter().fold((f32::INFINITY, 0.0f32), |(l, h), &lr| (l.min(lr), h.max(lr)));
    let _ = writeln!(
        out,
        "best lr outside the grid {low:.0e}..{high:.0e}: adam on {}, momentum on {} of {} tasks",
        outside(|r| &r.adam),
        outside(|r| &r.momentum),
        s.tasks
    );
    let _ = writeln!(
        out,
        "learned / best adam over {} tasks: training loss geomean {}, IQM {} (middle {}), worst {}",
        s.tasks,
        ratio(s.geomean_train_ratio),
        ratio(s.iqm_train_ratio),
        s.iqm_count,
        ratio(s.worst_train_ratio),
    );
    let _ =
        writeln!(out, "learned / best adam held-out loss geomean {}", ratio(s.geomean_test_ratio));
    if let Some(single) = &report.single_adam_rate {
        let _ = writeln!(
            out,
            "one adam rate for every task: {:.0e}, training loss / best adam geomean {}, worst {}",
            single.lr,
            ratio(single.geomean_train_ratio),
            ratio(single.worst_train_ratio),
        );
    }
    let _ = writeln!(
        out,
        "adam steps/T: inner steps the best adam needs to reach the learned final training loss, \
         over the horizon T"
    );
    out
}

/// `text` as lines of at most `width` characters, broken after commas, each line after the
/// first starting with `indent`; a piece longer than a line stays whole.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for piece in text.split_inclusive(',') {
        let fits = line.chars().count() + piece.trim_end().chars().count() <= width;
        if fits || line.trim().is_empty() {
            line += piece;
        } else {
            out += line.trim_end();
            out.push('\n');
            line = format!("{indent}{piece}");
        }
    }
    out += line.trim_end();
    out.push('\n');
    out
}

/// A ratio with three decimals, or `inf`/`NaN`.
fn ratio(r: f64) -> String {
    if r.is_finite() { format!("{r:.3}") } else { r.to_string() }
}

/// Writes DIR/results.json, DIR/curves.csv (the learned optimizer and the best baselines, every
/// seed), one PNG per task in DIR/plots (training and held-out loss side by side), the grid of
/// all tasks' training losses DIR/overview.png and the ratio bar chart DIR/summary.png.
pub fn write_outputs(report: &EvalReport, dir: &Path) -> Result<(), EvalError> {
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |error| EvalError::Io { path, error }
    };
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(io_err(&plots))?;
    let json = dir.join(RESULTS_FILE);
    let text = serde_json::to_string_pretty(report).expect("reports serialise");
    std::fs::write(&json, text).map_err(io_err(&json))?;

    let csv = dir.join("curves.csv");
    let mut out = BufWriter::new(std::fs::File::create(&csv).map_err(io_err(&csv))?);
    write_curves(report, &mut out).and_then(|()| out.flush()).map_err(io_err(&csv))?;

    for (i, r) in report.tasks.iter().enumerate() {
        let file = plots.join(format!("{i:02}-{}.png", family(&r.task)));
        task_figure(report, r).write_png(&file, 1400, 560)?;
    }
    if !report.tasks.is_empty() {
        overview(report).write_png(
            &dir.join("overview.png"),
            1600,
            60 + 300 * report.tasks.len().div_ceil(OVERVIEW_COLUMNS) as u32,
        )?;
        summary_chart(report).write_png(
            &dir.join("summary.png"),
            (180 + 110 * report.tasks.len() as u32).max(900) + 200,
            600,
        )?;
    }
    Ok(())
}

/// Panels per row of the overview.
const OVERVIEW_COLUMNS: usize = 4;

/// The three contenders of a task: the learned optimizer, the best Adam and the best momentum.
fn contenders(r: &TaskResult) -> [&Entry; 3] {
    [&r.learned, &r.adam, &r.momentum]
}

/// One task: the training loss (smoothed) and the held-out loss of each contender, each with
/// the band from the lowest to the highest seed.
fn task_figure(report: &EvalReport, r: &TaskResult) -> Figure {
    let seeds = report.seeds;
    let mut train = LineChart::new(
        &format!("training loss (minibatch, smoothed; mean and range over {seeds} seeds)"),
        "inner step",
        "training loss",
    )
    .log_y(true);
    let mut heldout = LineChart::new(
        &format!("held-out loss (mean and range over {seeds} seeds)"),
        "inner step",
        "held-out loss",
    )
    .log_y(true);
    for (j, e) in contenders(r).into_iter().enumerate() {
        let label = match e.contender.lr() {
            Some(lr) => format!("{} lr={lr:.0e}", e.contender.family()),
            None => format!("learned ({})", report.optimizer),
        };
        let style = Style::solid(PALETTE[j]);
        train = train.with(spread(&label, &smoothed(&e.curves), style));
        heldout = heldout.with(spread(&label, &heldout_points(&e.curves), style));
    }
    Figure::new(&r.task, 2).with_panel(train).with_panel(heldout)
}

/// Every task's training loss (smoothed, with the band over seeds) in a grid of small panels,
/// each titled with its number, family and the best grid learning rates.
fn overview(report: &EvalReport) -> Figure {
    let title = format!(
        "suite `{}`: training loss of {} against the best Adam and momentum ({} seeds)",
        report.suite, report.optimizer, report.seeds
    );
    let names = ["learned", "best adam", "best momentum"];
    report.tasks.iter().enumerate().fold(Figure::new(&title, OVERVIEW_COLUMNS), |figure, (i, r)| {
        let lr = |e: &Entry| e.contender.lr().map_or(String::new(), |lr| format!("{lr:.0e}"));
        let title = format!(
            "{i:02} {} (adam {}, momentum {})",
            family(&r.task),
            lr(&r.adam),
            lr(&r.momentum)
        );
        let panel = contenders(r).into_iter().zip(names).enumerate().fold(
            LineChart::new(&title, "inner step", "training loss").log_y(true),
            |panel, (j, (e, name))| {
                panel.with(spread(name, &smoothed(&e.curves), Style::solid(PALETTE[j])))
            },
        );
        figure.with_panel(panel)
    })
}

/// A series of the mean over seeds of `per_seed` (curves sampled at the same x) with the band
/// from the lowest to the highest seed.
fn spread(name: &str, per_seed: &[Vec<(f64, f64)>], style: Style) -> Series {
    let len = per_seed.iter().map(Vec::len).min().unwrap_or(0);
    let at = |t: usize| per_seed.iter().map(move |c| c[t].1);
    let mean = (0..len).map(|t| (per_seed[0][t].0, at(t).sum::<f64>() / per_seed.len() as f64));
    let band = (0..len).map(|t| {
        (
            per_seed[0][t].0,
            at(t).fold(f64::INFINITY, f64::min),
            at(t).fold(f64::NEG_INFINITY, f64::max),
        )
    });
    let band = if per_seed.len() > 1 { band.collect() } else { Vec::new() };
    Series::new(name, mean.collect(), style).with_band(band)
}

/// Each seed's training loss, smoothed with a moving average over 2.5% of the steps.
fn smoothed(curves: &[Curve]) -> Vec<Vec<(f64, f64)>> {
    curves
        .iter()
        .map(|c| {
            let points: Vec<(f64, f64)> =
                c.train.iter().enumerate().map(|(t, &l)| (t as f64, f64::from(l))).collect();
            moving_average(&points, (points.len() / 40).max(1))
        })
        .collect()
}

/// Each seed's held-out loss at its evaluation steps.
fn heldout_points(curves: &[Curve]) -> Vec<Vec<(f64, f64)>> {
    curves
        .iter()
        .map(|c| c.heldout.iter().map(|&(s, l)| (s as f64, f64::from(l))).collect())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_task_names_wrap_after_commas_within_the_width() {
        let task = "mlp-synth:act=relu,batch=86,classes=6,hidden=31x31x31,input=37,steps=726";
        let text = wrap(&format!("00  {task}"), 40, "      ");
        assert_eq!(
            text,
            "00  mlp-synth:act=relu,batch=86,\n      classes=6,hidden=31x31x31,\n      input=37,steps=726\n"
        );
        let joined: String = text.lines().map(|l| l.strip_prefix("      ").unwrap_or(l)).collect();
        assert_eq!(joined, format!("00  {task}"));
        assert_eq!(wrap("short", 40, "  "), "short\n");
    }
}
