//! The collectives of a run over MPI (rsmpi), for a job started by `mpirun` or `srun`.

use super::Collective;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use mpi::{Count, Threading};
use std::sync::atomic::AtomicBool;

/// MPI_COMM_WORLD as a `Collective`.
struct World(SimpleCommunicator);

/// Displacements of blocks of `counts` laid end to end.
fn displacements(counts: &[Count]) -> Vec<Count> {
    counts.iter().scan(0, |at, &c| Some(std::mem::replace(at, *at + c))).collect()
}

/// `counts` as MPI counts; a block over 2 GiB is a bug of the caller.
fn mpi_counts(counts: impl IntoIterator<Item = usize>) -> Vec<Count> {
    counts.into_iter().map(|c| Count::try_from(c).expect("a block under 2 GiB")).collect()
}

impl Collective for World {
    fn rank(&self) -> usize {
        self.0.rank() as usize
    }

    fn size(&self) -> usize {
        self.0.size() as usize
    }

    fn all_gather(&self, mine: &[u8], counts: &[usize]) -> Vec<u8> {
        let counts = mpi_counts(counts.iter().copied());
        let displs = displacements(&counts);
        let mut all = vec![0u8; counts.iter().sum::<Count>() as usize];
        let mut partition = PartitionMut::new(&mut all[..], counts, displs);
        self.0.all_gather_varcount_into(mine, &mut partition);
        all
    }

    fn gather(&self, mine: &[u8]) -> Vec<Vec<u8>> {
        let root = self.0.process_at_rank(0);
        let length = mine.len() as u64;
        if self.0.rank() != 0 {
            root.gather_into(&length);
            root.gather_varcount_into(mine);
            return Vec::new();
        }
        let mut lengths = vec![0u64; self.size()];
        root.gather_into_root(&length, &mut lengths[..]);
        let counts = mpi_counts(lengths.iter().map(|&l| l as usize));
        let displs = displacements(&counts);
        let mut all = vec![0u8; counts.iter().sum::<Count>() as usize];
        let mut partition = PartitionMut::new(&mut all[..], counts.clone(), displs.clone());
        root.gather_varcount_into_root(mine, &mut partition);
        counts
            .iter()
            .zip(&displs)
            .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
            .collect()
    }

    fn barrier(&self) {
        let mut request = self.0.immediate_barrier();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(pending) => request = pending,
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// Whether this process was started by an MPI launcher (`mpirun`, `srun`).
pub fn launched() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].iter().any(|v| std::env::var_os(v).is_some())
}

/// An MPI job this process takes part in; dropping it leaves the group and finalises MPI.
pub struct Job {
    universe: Universe,
}

impl Job {
    /// Joins the MPI job this process was launched in, with this thread running the outer loop
    /// (see `super::join`); `None` when it was not launched by an MPI launcher.
    pub fn join(local_stop: &'static AtomicBool, agreed_stop: &'static AtomicBool) -> Option<Self> {
        if !launched() {
            return None;
        }
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)?;
        super::join(Box::new(World(universe.world())), local_stop, agreed_stop);
        Some(Self { universe })
    }

    /// Ends the whole job at once with exit code `code` (a process failed alone, so the others
    /// would wait for it forever).
    pub fn abort(&self, code: i32) -> ! {
        self.universe.world().abort(code)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        super::leave();
    }
}
