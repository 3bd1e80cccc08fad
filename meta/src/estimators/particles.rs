//! Machinery shared by the ES family (docs/estimators.md): antithetic pairs of particles, their
//! perturbations, truncated unrolls, resets at the horizon, staggered starts and the
//! fixed-order reduction g = 1/(N sigma^2) sum_i L_i v_i.
//!
//! Particle `2p` of pair `p` uses theta + eps_p and particle `2p + 1` uses theta - eps_p. Both
//! members of a pair share their inner problem's seed and start position.
//!
//! Spread over processes (`crate::distributed`), each process unrolls the pairs it owns and
//! every process receives each particle's truncation, so all of them hold every perturbation,
//! truncation and episode count, and compute the same estimate; the inner states of the pairs
//! another process owns are brought to rank 0 only when a checkpoint is written (`gather`).

use super::EstimatorError;
use crate::distributed;
use crate::unrolled::{Unroll, UnrolledSystem};
use pesto_tasks::rng::{self, StreamRng};
use pesto_tasks::tags;
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Settings of an estimator (the ES family uses all of them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimatorConfig {
    /// Number N of particles (N/2 antithetic pairs); even.
    pub particles: usize,
    /// Standard deviation sigma of the perturbations eps ~ N(0, sigma^2 I).
    pub sigma: f32,
    /// Truncation length K: inner steps per particle per outer step (full ES ignores it).
    pub truncation: u64,
    /// Start each pair's first inner problem at a random position in [0, T).
    pub stagger: bool,
    /// Seed of every random stream of the estimator.
    pub seed: u64,
}

impl EstimatorConfig {
    /// Checks the configuration's ranges.
    pub fn validate(&self) -> Result<(), EstimatorError> {
        if self.particles < 2 || !self.particles.is_multiple_of(2) {
            return Err(EstimatorError::Particles(self.particles));
        }
        if !(self.sigma > 0.0 && self.sigma.is_finite()) {
            return Err(EstimatorError::Sigma(self.sigma));
        }
        if self.truncation == 0 {
            return Err(EstimatorError::Truncation);
        }
        Ok(())
    }

    /// Number of antithetic pairs N/2.
    pub fn pairs(&self) -> usize {
        self.particles / 2
    }
}

/// The vectors v_i that multiply each particle's loss in the estimate.
#[derive(Clone, Copy, Debug)]
pub enum Weights<'a> {
    /// v_i = eps_i, the particle's current perturbation (ES, truncated ES, NRES).
    Perturbations,
    /// v_i = xi_i, one accumulator per particle (PES).
    Accumulators(&'a [Vec<f32>]),
}

/// One particle: its inner state, its signed perturbation and its last truncation.
#[derive(Clone, Serialize, Deserialize)]
pub struct Particle<St> {
    /// The particle's inner state s_i.
    pub state: St,
    /// The perturbation eps_i this particle adds to theta (the negation of its partner's).
    pub eps: Vec<f32>,
    /// Scratch for theta + eps_i, sized once.
    perturbed: Vec<f32>,
    /// The last truncation: its loss L_i, steps and clip.
    pub last: Unroll,
    /// Whether the last truncation reached the horizon, as reported by the process owning the
    /// particle (read only for pairs another process owns).
    #[serde(skip)]
    finished: bool,
}

/// Bytes a particle's truncation takes in a step's exchange: loss, steps, clipped, finished.
const FACT_BYTES: usize = 18;

impl<St> Particle<St> {
    /// The particle's truncation and whether it reached the horizon, as exchanged.
    fn fact(&self, finished: bool) -> [u8; FACT_BYTES] {
        let mut fact = [0; FACT_BYTES];
        fact[..8].copy_from_slice(&self.last.loss.to_bits().to_le_bytes());
        fact[8..16].copy_from_slice(&self.last.steps.to_le_bytes());
        fact[16] = u8::from(self.last.clipped);
        fact[17] = u8::from(finished);
        fact
    }

    /// Records a truncation received from the process that owns the particle.
    fn record(&mut self, fact: &[u8]) {
        let word = |at: usize| u64::from_le_bytes(fact[at..at + 8].try_into().expect("8 bytes"));
        self.last =
            Unroll { loss: f64::from_bits(word(0)), steps: word(8), clipped: fact[16] != 0 };
        self.finished = fact[17] != 0;
    }
}

impl<St> Particle<St> {
    /// Runs one truncation of up to `k` steps with theta + eps_i and records it in `last`.
    pub fn unroll<S: UnrolledSystem<State = St>>(&mut self, system: &S, theta: &[f32], k: u64) {
        let (state, perturbed) = self.perturb(theta);
        self.last = system.unroll(state, perturbed, k);
    }

    /// Writes theta + eps_i into the particle's scratch; returns the state and theta + eps_i.
    pub fn perturb(&mut self, theta: &[f32]) -> (&mut St, &[f32]) {
        for ((q, t), e) in self.perturbed.iter_mut().zip(theta).zip(&self.eps) {
            *q = t + e;
        }
        (&mut self.state, &self.perturbed)
    }

    /// Floats the particle holds besides its state: eps_i and its scratch theta + eps_i.
    pub fn held_floats(&self) -> usize {
        self.eps.len() + self.perturbed.len()
    }
}

/// The particles of an ES-family estimator, in antithetic pairs, with each pair's episode count.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Particles<S: UnrolledSystem> {
    /// The estimator's settings.
    pub config: EstimatorConfig,
    /// N particles; `2p` and `2p + 1` form pair `p`.
    pub members: Vec<Particle<S::State>>,
    /// Index of each pair's current inner problem, which names its task seed.
    episodes: Vec<u64>,
}

impl<S: UnrolledSystem> Particles<S> {
    /// N particles at the start of their first inner problem, staggered if configured.
    pub fn new(config: EstimatorConfig, system: &S) -> Result<Self, EstimatorError> {
        config.validate()?;
        let dim = system.theta_dim();
        let mut members = Vec::with_capacity(config.particles);
        for pair in 0..config.pairs() as u64 {
            let seed = task_seed(config.seed, pair, 0);
            let mut state = system.init_state(seed, 0);
            if let (true, Some(horizon)) = (config.stagger, system.horizon(&state)) {
                let start =
                    rng::stream(config.seed, &[tags::PAIR_START, pair]).random_range(0..horizon);
                state = system.init_state(seed, start);
            }
            for _ in 0..2 {
                let eps = vec![0.0; dim];
                let perturbed = vec![0.0; dim];
                members.push(Particle {
                    state: state.clone(),
                    eps,
                    perturbed,
                    last: Unroll::default(),
                    finished: false,
                });
            }
        }
        let episodes = vec![0; config.pairs()];
        Ok(Self { config, members, episodes })
    }

    /// Writes +eps and -eps, eps ~ N(0, sigma^2 I) drawn from `stream`, into pair `pair`.
    pub fn perturb_pair(&mut self, pair: usize, mut stream: StreamRng) {
        let sigma = self.config.sigma;
        let (plus, minus) = self.members[2 * pair..2 * pair + 2].split_at_mut(1);
        for (p, m) in plus[0].eps.iter_mut().zip(minus[0].eps.iter_mut()) {
            *p = sigma * stream.sample::<f32, _>(StandardNormal);
            *m = -*p;
        }
    }

    /// Perturbs every pair from the stream `[tag, outer_step, pair]` of the estimator's seed.
    pub fn perturb_all(&mut self, tag: u64, outer_step: u64) {
        let seed = self.config.seed;
        for pair in 0..self.config.pairs() {
            self.perturb_pair(pair, rng::stream(seed, &[tag, outer_step, pair as u64]));
        }
    }

    /// Unrolls every particle this process owns (in parallel) for up to `k` steps with
    /// theta + eps_i, recording each truncation, and receives the truncations of the others.
    pub fn unroll(&mut self, system: &S, theta: &[f32], k: u64) {
        let pairs = self.config.pairs();
        let owned = distributed::owned_pairs(pairs);
        let mine = &mut self.members[2 * owned.start..2 * owned.end];
        mine.par_iter_mut().for_each(|particle| particle.unroll(system, theta, k));
        let facts = || mine.iter().flat_map(|p| p.fact(system.is_done(&p.state))).collect();
        if let Some(all) = distributed::exchange(facts, pairs, 2 * FACT_BYTES) {
            for (particle, fact) in self.members.iter_mut().zip(all.chunks_exact(FACT_BYTES)) {
                particle.record(fact);
            }
        }
    }

    /// Brings the particles other processes own to rank 0, so that its estimator holds every
    /// inner state for a checkpoint. Collective: every process calls it at the same step. Rank
    /// 0 receives the serialised particles of all the others, N particles in all.
    pub fn gather(&mut self) {
        let pairs = self.config.pairs();
        let Some(blocks) = distributed::gather(|| self.encode_owned()) else { return };
        let size = blocks.len();
        for (rank, block) in blocks.iter().enumerate().skip(1) {
            let particles =
                Self::decode_block(block).expect("particles sent by another process decode");
            let theirs = distributed::block(pairs, rank, size);
            self.members[2 * theirs.start..2 * theirs.end].clone_from_slice(&particles);
        }
    }

    /// The particles of the pairs this process owns, encoded: what it sends to rank 0 for a
    /// gathered checkpoint, or writes to its own shard of a sharded one.
    pub fn encode_owned(&self) -> Vec<u8> {
        let owned = distributed::owned_pairs(self.config.pairs());
        let mine = &self.members[2 * owned.start..2 * owned.end];
        bincode::serde::encode_to_vec(mine, bincode::config::standard()).expect("particles encode")
    }

    /// A block of particles encoded by `encode_owned`.
    fn decode_block(bytes: &[u8]) -> Result<Vec<Particle<S::State>>, String> {
        match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
            Ok((particles, used)) if used == bytes.len() => Ok(particles),
            Ok((_, used)) => {
                Err(format!("{} unused bytes after its particles", bytes.len() - used))
            }
            Err(err) => Err(err.to_string()),
        }
    }

    /// Takes every particle out, so that the estimator serialises without them (the head of a
    /// sharded checkpoint); `set_members` puts them, or ones decoded from shards, back.
    pub fn take_members(&mut self) -> Vec<Particle<S::State>> {
        std::mem::take(&mut self.members)
    }

    /// Makes `members` the particles, in particle order.
    pub fn set_members(&mut self, members: Vec<Particle<S::State>>) {
        self.members = members;
    }

    /// Appends the particles of a block encoded by `encode_owned` (a shard read back).
    pub fn append_block(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.members.extend(Self::decode_block(bytes)?);
        Ok(())
    }

    /// The estimate g = 1/(N sigma^2) sum_i L_i v_i (docs/estimators.md), reduced in particle
    /// order so it does not depend on the number of threads.
    pub fn estimate(&self, weights: Weights<'_>) -> super::Estimate {
        self.estimate_with_control(weights, &[])
    }

    /// The estimate g = 1/(N sigma^2) sum_i (L_i - eps_i . c) v_i with the control variate
    /// eps_i . c (PES + analytic, docs/estimators.md; an empty `control` is c = 0).
    pub fn estimate_with_control(&self, weights: Weights<'_>, control: &[f64]) -> super::Estimate {
        let n = self.members.len();
        let dim = self.members[0].eps.len();
        let mut sum = vec![0.0f64; dim];
        for (i, particle) in self.members.iter().enumerate() {
            let v = match weights {
                Weights::Perturbations => &particle.eps,
                Weights::Accumulators(xi) => &xi[i],
            };
            let baseline: f64 =
                particle.eps.iter().zip(control).map(|(&e, c)| f64::from(e) * c).sum();
            for (s, &v) in sum.iter_mut().zip(v) {
                *s += (particle.last.loss - baseline) * f64::from(v);
            }
        }
        let scale = 1.0 / (n as f64 * f64::from(self.config.sigma).powi(2));
        let grad = sum.iter().map(|s| (s * scale) as f32).collect();
        super::Estimate::from_particles(grad, self.members.iter().map(|p| p.last))
    }

    /// A fresh inner problem (start 0) for pair `pair`'s next episode.
    pub fn next_episode(&mut self, system: &S, pair: usize) -> S::State {
        self.episodes[pair] += 1;
        system.init_state(task_seed(self.config.seed, pair as u64, self.episodes[pair]), 0)
    }

    /// Why particles decoded from a checkpoint cannot be used with `system`, if they cannot:
    /// a count or a vector length that does not match, or a state the system cannot step.
    pub fn check(&self, system: &S) -> Result<(), String> {
        let (n, dim) = (self.config.particles, system.theta_dim());
        if self.members.len() != n || self.episodes.len() != self.config.pairs() {
            return Err(format!(
                "{} particles and {} episodes, expected {n}",
                self.members.len(),
                self.episodes.len()
            ));
        }
        for p in &self.members {
            if p.eps.len() != dim || p.perturbed.len() != dim {
                return Err(format!("a perturbation of {} values, expected {dim}", p.eps.len()));
            }
            system.check_state(&p.state)?;
        }
        Ok(())
    }

    /// Floats the particles hold: each one's state (`state_dim` floats), eps_i and scratch.
    pub fn held_floats(&self, state_dim: usize) -> usize {
        self.members.iter().map(|p| state_dim + p.held_floats()).sum()
    }

    /// Index of pair `pair`'s current inner problem.
    pub fn episode(&self, pair: usize) -> u64 {
        self.episodes[pair]
    }

    /// Restarts both members of pair `pair` on a fresh inner problem.
    pub fn restart_pair(&mut self, system: &S, pair: usize) {
        let state = self.next_episode(system, pair);
        self.members[2 * pair + 1].state.clone_from(&state);
        self.members[2 * pair].state = state;
    }

    /// Restarts every pair whose inner problem reached its horizon, calling `on_restart` with
    /// each such pair, and returns the number of particles restarted. Both members of a pair are
    /// always at the same position, so the first one decides; a pair another process owns only
    /// counts its new episode here, its owner builds its inner problem.
    pub fn restart_finished(
        &mut self,
        system: &S,
        mut on_restart: impl FnMut(&mut Self, usize),
    ) -> usize {
        let owned = distributed::owned_pairs(self.config.pairs());
        let mut restarted = 0;
        for pair in 0..self.config.pairs() {
            let (first, mine) = (&self.members[2 * pair], owned.contains(&pair));
            if !(if mine { system.is_done(&first.state) } else { first.finished }) {
                continue;
            }
            match mine {
                true => self.restart_pair(system, pair),
                false => self.episodes[pair] += 1,
            }
            on_restart(self, pair);
            restarted += 2;
        }
        restarted
    }
}

/// Seed of pair `pair`'s inner problem number `episode`, shared by both members.
fn task_seed(seed: u64, pair: u64, episode: u64) -> u64 {
    rng::derive(seed, &[tags::PAIR_TASK, pair, episode])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metatrain::{LoptTraining, TaskSource};
    use crate::optim::LearnedKind;
    use pesto_tasks::TaskSpec;
    use pesto_tasks::alloc_count::allocations;

    #[test]
    fn a_particles_truncation_allocates_nothing_with_any_learned_optimizer() {
        let spec = TaskSpec::parse("mlp-synth-64x32x10", 0).unwrap();
        let config =
            EstimatorConfig { particles: 2, sigma: 0.01, truncation: 20, stagger: false, seed: 1 };
        for kind in LearnedKind::ALL {
            let system =
                LoptTraining::new(TaskSource::Task(spec.clone()), kind, kind.init_theta(0));
            let mut particles = Particles::new(config.clone(), &system).unwrap();
            particles.perturb_all(tags::PES, 0);
            let theta = system.initial_theta();
            let particle = &mut particles.members[0];
            particle.unroll(&system, &theta, 2);
            let before = allocations();
            particle.unroll(&system, &theta, 20);
            assert_eq!(allocations(), before, "{kind} allocated");
            assert!(particle.last.loss.is_finite() && particle.last.steps == 20, "{kind}");
        }
    }
}
