//! Observers of the outer training loop: each sees one record per outer step. A TensorBoard
//! writer, a CSV log, a progress bar and the curves figure are four observers of one loop.

mod csv;
#[cfg(feature = "plot")]
mod curves;
#[cfg(feature = "progress")]
mod progress;
#[cfg(feature = "tensorboard")]
pub(crate) mod tensorboard;

pub use csv::CsvLog;
#[cfg(feature = "plot")]
pub use curves::CurvesPlot;
#[cfg(feature = "progress")]
pub use progress::ProgressBar;
#[cfg(feature = "tensorboard")]
pub use tensorboard::TensorBoard;

use std::io;
use std::path::Path;

/// `error` with `path` in front of its message, so a failed write names its file.
fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The name of the run in `dir`: the directory's own name, resolved so that `.` is named too,
/// or `run` where it has none.
pub fn run_name(dir: &Path) -> String {
    let dir = dir.canonicalize().or_else(|_| std::path::absolute(dir));
    let name = dir.ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    name.unwrap_or_else(|| "run".into())
}

/// What the outer loop reports after each outer step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OuterRecord {
    /// Number of outer steps completed.
    pub step: u64,
    /// Mean truncation meta-loss over particles.
    pub meta_loss: f64,
    /// Euclidean norm of the meta-gradient estimate (before clipping).
    pub grad_norm: f64,
    /// Euclidean norm of theta after the update.
    pub theta_norm: f64,
    /// Inner steps taken by all particles in this outer step.
    pub inner_steps: u64,
    /// Inner steps per second over this outer step, all particles together.
    pub inner_steps_per_sec: f64,
    /// Fraction of particles whose inner problem ended and was reset.
    pub reset_fraction: f64,
    /// Fraction of particles whose loss hit the clip (NaN, infinite or above the maximum).
    pub clip_fraction: f64,
    /// Held-out meta-loss, on the steps where it was evaluated.
    pub heldout_loss: Option<f64>,
    /// The step's meta-gradient or update was not finite, so theta was left unchanged.
    pub update_skipped: bool,
    /// theta after the update.
    pub theta: Vec<f32>,
}

/// Sees every outer step of a training loop.
///
/// ```
/// use pesto_meta::observe::{Observer, OuterRecord};
///
/// /// Keeps the lowest meta-loss seen.
/// #[derive(Default)]
/// struct Best(f64);
///
/// impl Observer for Best {
///     fn observe(&mut self, record: &OuterRecord) -> std::io::Result<()> {
///         if self.0 == 0.0 || record.meta_loss < self.0 {
///             self.0 = record.meta_loss;
///         }
///         Ok(())
///     }
/// }
///
/// let mut best = Best::default();
/// for (step, loss) in [(1, 0.9), (2, 0.4), (3, 0.6)] {
///     best.observe(&OuterRecord { step, meta_loss: loss, ..Default::default() }).unwrap();
/// }
/// best.finish().unwrap();
/// assert_eq!(best.0, 0.4);
/// ```
pub trait Observer {
    /// Records one outer step.
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()>;
    /// Makes everything recorded so far durable (called with each checkpoint).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Closes the observer at the end of the run.
    fn finish(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// The observers of one run, called in order.
#[derive(Default)]
pub struct Observers(Vec<Box<dyn Observer>>);

impl Observers {
    /// Adds an observer.
    pub fn push(&mut self, observer: impl Observer + 'static) {
        self.0.push(Box::new(observer));
    }
}

impl Observer for Observers {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.observe(record))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.flush())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|o| o.finish())
    }
}

/// Keeps every record in memory.
impl Observer for Vec<OuterRecord> {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        self.push(record.clone());
        Ok(())
    }
}

/// Two observers, called in order.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        self.0.observe(record).and_then(|()| self.1.observe(record))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().and_then(|()| self.1.flush())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.0.finish().and_then(|()| self.1.finish())
    }
}

/// An observer borrowed for one run.
impl<O: Observer + ?Sized> Observer for &mut O {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        (**self).observe(record)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}
