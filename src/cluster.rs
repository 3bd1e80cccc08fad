//! Taking part in an MPI job (docs/cluster.md): with the `mpi` feature and a launcher
//! (`mpirun`, `srun`), meta-training spreads its particles over the job's processes; otherwise
//! this process is the whole run.

use crate::commands::FailedElsewhere;
use pesto_meta::distributed;
use pesto_meta::observe::{Observer, OuterRecord};
use std::io;
use std::sync::atomic::AtomicBool;

/// Raised on every process of a job after the outer step in which any of them was stopped.
#[cfg(feature = "mpi")]
static AGREED_STOP: AtomicBool = AtomicBool::new(false);

/// This process's part in a run: the MPI job it was launched in, if any.
pub struct Job {
    #[cfg(feature = "mpi")]
    mpi: Option<distributed::mpi::Job>,
}

impl Job {
    /// Joins the MPI job this process was launched in; alone without one or without the `mpi`
    /// feature.
    pub fn join() -> Self {
        Self {
            #[cfg(feature = "mpi")]
            mpi: distributed::mpi::Job::join(&crate::signals::STOP, &AGREED_STOP),
        }
    }

    /// The flag the outer loop stops on: agreed by every process of a job after the same outer
    /// step, or this process's own stop signal.
    pub fn stop_flag(&self) -> &'static AtomicBool {
        #[cfg(feature = "mpi")]
        if self.mpi.is_some() {
            return &AGREED_STOP;
        }
        &crate::signals::STOP
    }

    /// `result` once every process has reached this point: when any failed, the lowest failing
    /// rank returns its error and every other process `FailedElsewhere`, so it is printed once.
    pub fn agree<T>(&self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        let code = result.as_ref().err().map_or(0, crate::commands::exit_code);
        match distributed::agree(code) {
            Some((rank, code)) if rank != distributed::rank() => Err(FailedElsewhere(code).into()),
            _ => result,
        }
    }

    /// Ends the job when `result` failed on this process alone (the others would wait for it in
    /// the next step's exchange): prints the error and aborts every process with its exit code.
    /// Errors every process meets at the same step (`agreed`) are printed by rank 0 only.
    pub fn settle<T>(&self, result: anyhow::Result<T>, agreed: bool) -> anyhow::Result<T> {
        let Err(err) = result else { return result };
        if distributed::size() == 1 {
            return Err(err);
        }
        let code = crate::commands::exit_code(&err);
        if agreed {
            return match distributed::is_root() {
                true => Err(err),
                false => Err(FailedElsewhere(code).into()),
            };
        }
        crate::commands::print_error(&err);
        #[cfg(feature = "mpi")]
        if let Some(job) = &self.mpi {
            job.abort(i32::from(code));
        }
        Err(err)
    }
}

/// Rank 0's observers in a job of several processes: a failed write ends the job at once, since
/// the checkpoint the outer loop would write next needs every process, and the others are
/// already in the next step. In a one-process run they behave as `inner` alone.
pub struct Watched<'a, O> {
    /// The observers.
    pub inner: O,
    /// The job whose processes a failure ends.
    pub job: &'a Job,
}

impl<O> Watched<'_, O> {
    /// `result`, unless it failed in a job of several processes, which it ends.
    fn alone(&self, result: io::Result<()>) -> io::Result<()> {
        match result {
            Err(err) if distributed::size() > 1 => {
                let err = anyhow::Error::from(err).context("writing the training log");
                self.job.settle(Err(err), false).map_err(io::Error::other)
            }
            result => result,
        }
    }
}

impl<O: Observer> Observer for Watched<'_, O> {
    fn observe(&mut self, record: &OuterRecord) -> io::Result<()> {
        let observed = self.inner.observe(record);
        self.alone(observed)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.inner.flush();
        self.alone(flushed)
    }

    fn finish(&mut self) -> io::Result<()> {
        let finished = self.inner.finish();
        self.alone(finished)
    }
}
