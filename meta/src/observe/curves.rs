//! `curves.png` in a run directory: the meta-training curves (the meta-loss with its moving
//! average, the held-out meta-loss, the meta-gradient norm), redrawn at each checkpoint and at
//! the end of the run.

use super::{CsvLog, Observer, OuterRecord, run_name};
use crate::plot::{Figure, LineChart, Marker, PALETTE, Series, Style, moving_average};
use std::io;
use std::path::{Path, PathBuf};

/// What the figure needs of one outer step.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Point {
    step: f64,
    meta_loss: f64,
    grad_norm: f64,
    heldout_loss: Option<f64>,
}

impl From<&OuterRecord> for Point {
    fn from(r: &OuterRecord) -> Self {
        Self {
            step: r.step as f64,
            meta_loss: r.meta_loss,
            grad_norm: r.grad_norm,
            heldout_loss: r.heldout_loss,
        }
    }
}

/// Keeps the outer steps of a run and draws `RUN/curves.png` from them whenever it is flushed
/// (with each checkpoint) or finished, if steps came in since it last drew.
pub struct CurvesPlot {
    path: PathBuf,
    name: String,
    points: Vec<Point>,
    drawn: usize,
}

/// Size of `curves.png` in pixels.
const SIZE: (u32, u32) = (1500, 560);

impl CurvesPlot {
    /// The plot of the run in `run_dir` resuming after `start_step` outer steps, holding the
    /// rows of `run_dir/log.csv` up to that step (none when the log does not exist).
    pub fn open(run_dir: &Path, start_step: u64) -> io::Result<Self> {
        let log = run_dir.join("log.csv");
        let records = match CsvLog::read(&log) {
            Ok(records) => records,
            Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(err) => return Err(err),
        };
        let name = run_name(run_dir);
        let points: Vec<Point> =
            records.iter().filter(|r| r.step <= start_step).map(Point::from).collect();
        let drawn = points.len();
        Ok(Self { path: run_dir.join("curves.png"), name, points, drawn })
    }

    /// The figure: the meta-loss panel (each step faint, its moving average over a fiftieth of
    /// the steps, the held-out meta-loss with markers) beside the meta-gradient norm panel.
    fn figure(&self) -> Figure {
        let window = (self.points.len() / 50).max(1);
        let line = |f: fn(&Point) -> f64| -> Vec<(f64, f64)> {
            self.points.iter().map(|p| (p.step, f(p))).collect()
        };
        let faint = |colour| Style { width: 1, opacity: 0.3, ..Style::solid(colour) };
        let (loss, heldout, grad) = (PALETTE[0], PALETTE[1], PALETTE[2]);
        let meta_loss = line(|p| p.meta_loss);
        let heldout_points: Vec<(f64, f64)> =
            self.points.iter().filter_map(|p| Some((p.step, p.heldout_loss?))).collect();
        let positive = meta_loss.iter().chain(&heldout_points).all(|p| p.1 > 0.0);
        let averaged = format!("meta-loss, moving average over {window} steps");
        let held = Style { marker: Some(Marker::Circle), ..Style::solid(heldout) };
        let mut losses = LineChart::new("meta-loss", "outer step", "meta-loss")
            .log_y(positive)
            .with(Series::new("meta-loss of each step", meta_loss.clone(), faint(loss)))
            .with(Series::new(&averaged, moving_average(&meta_loss, window), Style::solid(loss)));
        if !heldout_points.is_empty() {
            losses = losses.with(Series::new("held-out meta-loss", heldout_points, held));
        }
        let grad_norm = line(|p| p.grad_norm);
        let norms = LineChart::new("meta-gradient norm", "outer step", "norm (before clipping)")
            .log_y(true)
            .with(Series::new("gradient norm of each step", grad_norm.clone(), faint(grad)))
            .with(Series::new(
                &format!("gradient norm, moving average over {window} steps"),
                moving_average(&grad_norm, window),
                Style::solid(grad),
            ));
        let last = self.points.last().map_or(0.0, |p| p.step);
        let title = format!("meta-training curves of {} after {last} outer steps", self.name);
        Figure::new(&title, 2).with_panel(losses).with_panel(norms)
    }

    /// Draws the figure if steps came in since it was last drawn.
    fn draw(&mut self) -> io::Result<()> {
        if self.drawn == self.points.len() {
            return Ok(());
        }
        self.figure().write_png(&self.path, SIZE.0, SIZE.1).map_err(io::Error::other)?;
        self.drawn = self.points.len();
        Ok(())
    }
}

impl Observer for CurvesPlot {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        self.points.push(Point::from(record));
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.draw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: u64) -> OuterRecord {
        OuterRecord {
            step,
            meta_loss: 1.0 / step as f64,
            grad_norm: 0.5 + step as f64,
            heldout_loss: step.is_multiple_of(5).then_some(2.0 / step as f64),
            ..OuterRecord::default()
        }
    }

    #[test]
    fn draws_at_each_flush_with_new_steps_and_reloads_the_log_on_resume() {
        let dir = std::env::temp_dir().join(format!("pesto-curves-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("curves.png");
        let mut log = CsvLog::open(&dir.join("log.csv"), 0).unwrap();
        let mut plot = CurvesPlot::open(&dir, 0).unwrap();
        plot.flush().unwrap();
        assert!(!png.exists(), "nothing to draw before the first step");
        for step in 1..=12 {
            log.observe(&record(step)).unwrap();
            plot.observe(&record(step)).unwrap();
        }
        log.finish().unwrap();
        plot.finish().unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");

        let resumed = CurvesPlot::open(&dir, 10).unwrap();
        assert_eq!(resumed.points, (1..=10).map(|s| Point::from(&record(s))).collect::<Vec<_>>());
        let titles: Vec<String> = resumed.figure().panels.iter().map(|p| p.title.clone()).collect();
        assert_eq!(titles, ["meta-loss", "meta-gradient norm"]);
        std::fs::remove_file(&png).unwrap();
        let mut resumed = resumed;
        resumed.finish().unwrap();
        assert!(!png.exists(), "no new step since the log was read");
        std::fs::write(dir.join("log.csv"), "header\n1,x\n").unwrap();
        let err = CurvesPlot::open(&dir, 1).err().unwrap().to_string();
        assert_eq!(
            err,
            format!("{}: line 2 is not a row of the log", dir.join("log.csv").display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
