//! Spreading the particles of a run over processes (docs/cluster.md). Each process owns a block
//! of antithetic pairs computed from the number of pairs and of processes only, unrolls those,
//! and shares each particle's loss, steps and flags with every process, which then sums the
//! estimate in particle order: theta gets the same bits at any number of processes. Without a
//! group (the default) the process owns every pair and nothing is communicated.

#[cfg(feature = "mpi")]
pub mod mpi;
pub mod shards;

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The collectives a run needs from the processes it is spread over (MPI provides them).
pub trait Collective {
    /// This process's index, from 0 to `size() - 1`.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Every process's `mine` (`counts[r]` bytes from rank r), concatenated in rank order, on
    /// every process.
    fn all_gather(&self, mine: &[u8], counts: &[usize]) -> Vec<u8>;
    /// Every process's `mine`, in rank order, on rank 0; nothing on the others.
    fn gather(&self, mine: &[u8]) -> Vec<Vec<u8>>;
    /// Returns once every process has called it; a process waiting sleeps rather than spins,
    /// so it leaves its core to the processes still working.
    fn barrier(&self);
}

/// The processes of a run with the stop flags agreed through each outer step's exchange.
struct Group {
    collective: Box<dyn Collective>,
    /// Raised on this process by a stop signal.
    local_stop: &'static AtomicBool,
    /// Raised on every process after the exchange of a step in which any process was stopped.
    agreed_stop: &'static AtomicBool,
    /// Time spent in collectives so far.
    communicating: Duration,
}

thread_local! {
    /// The group of the thread that runs the outer loop; none for a one-process run.
    static GROUP: RefCell<Option<Rc<RefCell<Group>>>> = const { RefCell::new(None) };
}

/// Spreads the outer loop run on this thread over `collective`'s processes. A stop raised in
/// `local_stop` on any process raises `agreed_stop` on every process after the same outer step.
pub fn join(
    collective: Box<dyn Collective>,
    local_stop: &'static AtomicBool,
    agreed_stop: &'static AtomicBool,
) {
    let group = Group { collective, local_stop, agreed_stop, communicating: Duration::ZERO };
    GROUP.with(|g| *g.borrow_mut() = Some(Rc::new(RefCell::new(group))));
}

/// Ends this thread's group: the loop runs as one process again.
pub fn leave() {
    GROUP.with(|g| *g.borrow_mut() = None);
}

/// The group of this thread, if any.
fn group() -> Option<Rc<RefCell<Group>>> {
    GROUP.with(|g| g.borrow().clone())
}

/// This process's index (0 for a one-process run).
pub fn rank() -> usize {
    group().map_or(0, |g| g.borrow().collective.rank())
}

/// Number of processes of the run (1 without a group).
pub fn size() -> usize {
    group().map_or(1, |g| g.borrow().collective.size())
}

/// Whether this process writes the run's files and runs its observers: rank 0.
pub fn is_root() -> bool {
    rank() == 0
}

/// Time this process spent in collectives since it joined its group.
pub fn communication_time() -> Duration {
    group().map_or(Duration::ZERO, |g| g.borrow().communicating)
}

/// The pairs process `rank` of `size` owns out of `pairs`: the block
/// [pairs * rank / size, pairs * (rank + 1) / size).
pub fn block(pairs: usize, rank: usize, size: usize) -> Range<usize> {
    pairs * rank / size..pairs * (rank + 1) / size
}

/// The pairs this process owns out of `pairs`.
pub fn owned_pairs(pairs: usize) -> Range<usize> {
    block(pairs, rank(), size())
}

/// Runs `collective` on `group`, adding its time to the group's.
fn timed<T>(group: &RefCell<Group>, collective: impl FnOnce(&dyn Collective) -> T) -> T {
    let started = Instant::now();
    let out = collective(group.borrow().collective.as_ref());
    group.borrow_mut().communicating += started.elapsed();
    out
}

/// The step's exchange: every process's `mine()` (`bytes_per_pair` bytes for each pair it
/// owns out of `pairs`) in pair order, on every process, with this process's stop flag, raising
/// the agreed stop if any process was stopped. `None` without a group (`mine` is not called).
pub fn exchange(
    mine: impl FnOnce() -> Vec<u8>,
    pairs: usize,
    bytes_per_pair: usize,
) -> Option<Vec<u8>> {
    let group = group()?;
    let mine = mine();
    let (size, stop) = {
        let g = group.borrow();
        (g.collective.size(), g.local_stop.load(Ordering::SeqCst))
    };
    let mut sent = Vec::with_capacity(mine.len() + 1);
    sent.push(u8::from(stop));
    sent.extend_from_slice(&mine);
    let counts: Vec<usize> =
        (0..size).map(|r| 1 + block(pairs, r, size).len() * bytes_per_pair).collect();
    let all = timed(&group, |c| c.all_gather(&sent, &counts));
    let mut facts = Vec::with_capacity(all.len() - size);
    let mut at = 0;
    let mut stopped = false;
    for count in counts {
        stopped |= all[at] != 0;
        facts.extend_from_slice(&all[at + 1..at + count]);
        at += count;
    }
    if stopped {
        group.borrow().agreed_stop.store(true, Ordering::SeqCst);
    }
    Some(facts)
}

/// Every process's `mine()` (`bytes_per_item` bytes for each item it owns of `items`, in blocks
/// as pairs are owned: `block(items, rank, size)`), in item order, on every process; `None`
/// without a group (`mine` is not called).
pub fn share(
    mine: impl FnOnce() -> Vec<u8>,
    items: usize,
    bytes_per_item: usize,
) -> Option<Vec<u8>> {
    let group = group()?;
    let mine = mine();
    let size = group.borrow().collective.size();
    let counts: Vec<usize> =
        (0..size).map(|r| block(items, r, size).len() * bytes_per_item).collect();
    Some(timed(&group, |c| c.all_gather(&mine, &counts)))
}

/// Every process's `mine()`, in rank order, on rank 0 (nothing elsewhere); `None` without a
/// group (`mine` is not called).
pub fn gather(mine: impl FnOnce() -> Vec<u8>) -> Option<Vec<Vec<u8>>> {
    let group = group()?;
    let mine = mine();
    Some(timed(&group, |c| c.gather(&mine)))
}

/// Runs `f` on rank 0 as a run of one process while the others sleep in a barrier; `None` on
/// the others. Without a group, runs `f`.
pub fn alone_on_root<T>(f: impl FnOnce() -> T) -> Option<T> {
    let Some(group) = group() else { return Some(f()) };
    let out = is_root().then(|| {
        leave();
        let out = f();
        GROUP.with(|g| *g.borrow_mut() = Some(group.clone()));
        out
    });
    group.borrow().collective.barrier();
    out
}

/// Agrees on how the processes fared: each gives its exit code (0: fine); every process gets
/// the lowest failing rank and its code, if any failed.
pub fn agree(code: u8) -> Option<(usize, u8)> {
    let group = group()?;
    let size = group.borrow().collective.size();
    let codes = timed(&group, |c| c.all_gather(&[code], &vec![1; size]));
    codes.iter().position(|&c| c != 0).map(|rank| (rank, codes[rank]))
}

/// A job of threads standing in for processes, one group per thread, for tests.
#[cfg(test)]
pub(crate) mod threads {
    use super::{Collective, join, leave};
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Barrier, Mutex};

    /// What the threads of a job share: each one's last contribution.
    struct Board {
        slots: Mutex<Vec<Vec<u8>>>,
        barrier: Barrier,
    }

    /// One thread's end of a job of threads.
    pub struct Threads {
        rank: usize,
        board: Arc<Board>,
    }

    /// The `size` ends of a new job of threads, in rank order.
    pub fn job(size: usize) -> Vec<Threads> {
        let slots = Mutex::new(vec![Vec::new(); size]);
        let board = Arc::new(Board { slots, barrier: Barrier::new(size) });
        (0..size).map(|rank| Threads { rank, board: board.clone() }).collect()
    }

    /// Runs `body(rank, agreed)` on `size` threads, each joined to one job of threads as process
    /// `rank` (its local stop flag raised from the start when `rank == stopped`, `agreed` the
    /// flag the job agrees on), and returns their results in rank order.
    pub fn run<T: Send>(
        size: usize,
        stopped: usize,
        body: impl Fn(usize, &'static AtomicBool) -> T + Sync,
    ) -> Vec<T> {
        std::thread::scope(|scope| {
            let body = &body;
            let runs: Vec<_> = job(size)
                .into_iter()
                .map(|end| {
                    scope.spawn(move || {
                        let rank = end.rank;
                        let local = Box::leak(Box::new(AtomicBool::new(rank == stopped)));
                        let agreed = Box::leak(Box::new(AtomicBool::new(false)));
                        join(Box::new(end), local, agreed);
                        let result = body(rank, agreed);
                        leave();
                        result
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        })
    }

    impl Threads {
        /// Every thread's `mine` in rank order, once all have given theirs.
        fn exchange(&self, mine: &[u8]) -> Vec<Vec<u8>> {
            self.board.slots.lock().unwrap()[self.rank] = mine.to_vec();
            self.board.barrier.wait();
            let all = self.board.slots.lock().unwrap().clone();
            self.board.barrier.wait();
            all
        }
    }

    impl Collective for Threads {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.board.slots.lock().unwrap().len()
        }

        fn all_gather(&self, mine: &[u8], counts: &[usize]) -> Vec<u8> {
            assert_eq!(mine.len(), counts[self.rank]);
            self.exchange(mine).concat()
        }

        fn gather(&self, mine: &[u8]) -> Vec<Vec<u8>> {
            let all = self.exchange(mine);
            if self.rank == 0 { all } else { Vec::new() }
        }

        fn barrier(&self) {
            self.board.barrier.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{self, CheckpointError};
    use crate::estimators::{AnyEstimator, Estimator, EstimatorConfig, EstimatorKind};
    use crate::observe::Observers;
    use crate::outer::{OuterConfig, OuterOptimizer};
    use crate::systems::ToyRegression;
    use crate::trainer::{Checkpointer, TrainState, Trainer};
    use crate::unrolled::UnrolledSystem;

    #[test]
    fn blocks_cover_every_pair_once_in_order() {
        for pairs in 0..20 {
            for size in 1..8 {
                let ends: Vec<Range<usize>> = (0..size).map(|r| block(pairs, r, size)).collect();
                assert_eq!(ends[0].start, 0);
                assert_eq!(ends[size - 1].end, pairs);
                assert!(ends.windows(2).all(|w| w[0].end == w[1].start));
                let (min, max) = (pairs / size, pairs.div_ceil(size));
                assert!(ends.iter().all(|b| (min..=max).contains(&b.len())), "{pairs} {size}");
            }
        }
    }

    /// Theta's bits and rank 0's encoded final training state after `steps` outer steps of
    /// `kind` with 6 particles on the toy system, spread over `size` threads, with the local
    /// stop flag of rank `stopped` raised from the start.
    fn train(kind: EstimatorKind, size: usize, steps: u64, stopped: usize) -> (Vec<u32>, Vec<u8>) {
        /// Keeps rank 0's encoded state at each checkpoint.
        struct Encoded(Vec<u8>);
        impl Checkpointer<AnyEstimator<ToyRegression>> for Encoded {
            fn every(&self) -> u64 {
                5
            }
            fn save(
                &mut self,
                state: &mut TrainState<AnyEstimator<ToyRegression>>,
            ) -> Result<(), CheckpointError> {
                state.estimator.gather();
                if is_root() {
                    self.0 = checkpoint::encode(checkpoint::RUN, state);
                }
                Ok(())
            }
        }
        let mut results = threads::run(size, stopped, |_, agreed| {
            let system = ToyRegression { horizon: 12 };
            let config =
                EstimatorConfig { particles: 6, sigma: 0.3, truncation: 5, stagger: true, seed: 7 };
            let estimator = AnyEstimator::new(kind, config, &system).unwrap();
            let outer = OuterConfig {
                optimizer: OuterOptimizer::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
                clip_value: None,
                clip_norm: None,
            };
            let state = TrainState::new(system.initial_theta(), estimator, &outer).unwrap();
            let mut trainer = Trainer::new(system, outer, state);
            let mut saved = Encoded(Vec::new());
            trainer.run(steps, &mut Observers::default(), agreed, &mut saved).unwrap();
            let theta: Vec<u32> = trainer.state().theta.iter().map(|t| t.to_bits()).collect();
            (theta, saved.0)
        });
        assert!(results.iter().all(|r| r.0 == results[0].0), "ranks disagree on theta");
        results.swap_remove(0)
    }

    #[test]
    fn every_es_estimator_gives_the_same_theta_and_checkpoint_at_any_process_count() {
        for kind in EstimatorKind::ALL {
            let one = train(kind, 1, 13, usize::MAX);
            assert!(!one.1.is_empty());
            for size in [2, 3, 4] {
                assert!(train(kind, size, 13, usize::MAX) == one, "{kind} on {size} processes");
            }
        }
    }

    #[test]
    fn a_stop_on_one_process_stops_every_process_after_the_same_step() {
        let stopped_at_one = train(EstimatorKind::Pes, 1, 1, usize::MAX);
        assert!(train(EstimatorKind::Pes, 3, 13, 2) == stopped_at_one);
    }

    #[test]
    fn rank_0_alone_runs_as_one_process_while_the_others_wait() {
        threads::run(3, usize::MAX, |rank, _| {
            let alone = alone_on_root(|| (super::rank(), size(), owned_pairs(6)));
            assert_eq!(alone, (rank == 0).then_some((0, 1, 0..6)));
            assert_eq!((super::rank(), size()), (rank, 3));
        });
    }

    #[test]
    fn a_run_without_a_group_owns_every_pair_and_exchanges_nothing() {
        assert_eq!((rank(), size(), is_root()), (0, 1, true));
        assert_eq!(owned_pairs(7), 0..7);
        assert_eq!(exchange(|| unreachable!(), 7, 2), None);
        assert_eq!(gather(|| unreachable!()), None);
        assert_eq!(agree(2), None);
    }
}
