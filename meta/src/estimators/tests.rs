//! Tests over the whole estimator registry: unbiasedness against full ES and the closed form,
//! the short-horizon bias of truncated ES, thread-count independence, checkpoint round trips,
//! and configuration errors.

use super::*;
use crate::repro::variance::{Moments, estimator_moments};
use crate::systems::{LinearQuadratic, LqState, ToyRegression};
use crate::unrolled::Unroll;

fn config(particles: usize, sigma: f32, truncation: u64, stagger: bool) -> EstimatorConfig {
    EstimatorConfig { particles, sigma, truncation, stagger, seed: 11 }
}

/// Moments of `reps` inner-problem estimates of `kind`.
fn moments<S: UnrolledSystem>(
    kind: EstimatorKind,
    config: &EstimatorConfig,
    system: &S,
    theta: &[f32],
    reps: usize,
) -> Moments {
    estimator_moments(kind, config, system, theta, reps).unwrap().0
}

/// Per coordinate, |mean_a - mean_b| in units of the standard error of the difference.
fn z_scores(a: &Moments, b: &Moments) -> Vec<f64> {
    let (sa, sb) = (a.std_error(), b.std_error());
    (0..a.mean.len()).map(|j| (a.mean[j] - b.mean[j]).abs() / sa[j].hypot(sb[j])).collect()
}

// The toy system at the paper's start, where the long-horizon gradient pulls theta0 up strongly.
// 10 particles and 200 repetitions keep each comparison to well under a second. Under the null
// the z-scores are standard normal; 4 standard errors is a two-sided 6e-5 false-alarm rate.
const REPS: usize = 200;

/// The ES-family estimators whose estimates are unbiased.
fn unbiased() -> impl Iterator<Item = EstimatorKind> {
    EstimatorKind::ALL.into_iter().filter(|&kind| MethodKind::from(kind).unbiased())
}

#[test]
fn unbiased_truncated_estimators_agree_with_full_es_over_an_inner_problem() {
    let system = ToyRegression::default();
    let theta = [-4.0, -4.0];
    let config = config(10, 0.3, 10, false);
    let es = moments(EstimatorKind::Es, &config, &system, &theta, REPS);
    for kind in unbiased().filter(|&kind| kind != EstimatorKind::Es) {
        let other = moments(kind, &config, &system, &theta, REPS);
        let z = z_scores(&other, &es);
        assert!(
            z.iter().all(|&z| z < 4.0),
            "{kind}: {:?} vs es {:?}, z {z:?}",
            other.mean,
            es.mean
        );
    }
}

#[test]
fn truncated_es_is_biased() {
    let system = ToyRegression::default();
    let theta = [-4.0, -4.0];
    let config = config(10, 0.3, 10, false);
    let es = moments(EstimatorKind::Es, &config, &system, &theta, REPS);
    let tes = moments(EstimatorKind::Tes, &config, &system, &theta, REPS);
    let z = z_scores(&tes, &es);
    assert!(z.iter().any(|&z| z > 6.0), "tes {:?} vs es {:?}, z {z:?}", tes.mean, es.mean);
}

#[test]
fn unbiased_estimators_match_the_closed_form_on_linear_quadratic() {
    let system = LinearQuadratic::default();
    let theta = system.initial_theta();
    let truth = system.smoothed_gradient(&theta);
    let config = config(10, 0.1, 5, false);
    let kinds: Vec<EstimatorKind> = unbiased().collect();
    assert!(
        [EstimatorKind::Es, EstimatorKind::Pes, EstimatorKind::Nres]
            .iter()
            .all(|k| kinds.contains(k))
    );
    for kind in kinds {
        let m = moments(kind, &config, &system, &theta, REPS);
        let se = m.std_error();
        for j in 0..2 {
            let z = (m.mean[j] - truth[j]).abs() / se[j];
            assert!(z < 4.0, "{kind} coord {j}: {} vs closed form {}, z {z}", m.mean[j], truth[j]);
        }
    }
}

/// The linear-quadratic dynamics with no horizon: the state is never reset.
struct Endless(LinearQuadratic);

impl UnrolledSystem for Endless {
    type State = LqState;
    fn theta_dim(&self) -> usize {
        2
    }
    fn initial_theta(&self) -> Vec<f32> {
        self.0.initial_theta()
    }
    fn init_state(&self, seed: u64, start: u64) -> LqState {
        self.0.init_state(seed, start)
    }
    fn run_steps(&self, state: &mut LqState, theta: &[f32], steps: u64) -> Unroll {
        let loss = (0..steps).map(|_| self.0.step(state, theta)).sum();
        Unroll { loss, steps, clipped: false }
    }
    fn horizon(&self, _: &LqState) -> Option<u64> {
        None
    }
    fn position(&self, state: &LqState) -> u64 {
        state.t
    }
}

/// Runs `steps` outer steps of SGD on theta with `kind` and checks every estimate is finite.
fn run_stays_finite<S: UnrolledSystem>(kind: EstimatorKind, system: &S, steps: u64) -> usize {
    let mut estimator = AnyEstimator::new(kind, config(4, 0.1, 3, true), system).unwrap();
    let mut theta = system.initial_theta();
    let mut resets = 0;
    for step in 0..steps {
        let estimate = estimator.estimate(system, &theta, step);
        assert_eq!(estimator.name(), kind.name());
        assert!(estimate.grad.iter().all(|g| g.is_finite()) && estimate.loss.is_finite());
        assert_eq!(estimate.particles, 4);
        theta.iter_mut().zip(&estimate.grad).for_each(|(t, g)| *t -= 1e-4 * g);
        resets += estimate.resets;
    }
    resets
}

#[test]
fn every_estimator_runs_on_every_system() {
    for kind in EstimatorKind::ALL {
        assert!(run_stays_finite(kind, &ToyRegression::default(), 40) > 0, "{kind} never reset");
        assert!(run_stays_finite(kind, &LinearQuadratic::default(), 10) > 0, "{kind} never reset");
        if kind == EstimatorKind::Es {
            let err = AnyEstimator::new(
                kind,
                config(4, 0.1, 3, true),
                &Endless(LinearQuadratic::default()),
            );
            assert_eq!(err.err(), Some(EstimatorError::InfiniteHorizon("es")));
        } else {
            assert_eq!(run_stays_finite(kind, &Endless(LinearQuadratic::default()), 10), 0);
        }
    }
}

/// Grads of `steps` outer steps of `estimator` at a theta that moves with the step.
pub(super) fn grads<S: UnrolledSystem>(
    estimator: &mut impl Estimator<S>,
    system: &S,
    steps: std::ops::Range<u64>,
) -> Vec<Vec<f32>> {
    steps
        .map(|step| {
            let theta = [-4.0 + 0.01 * step as f32, -3.0];
            estimator.estimate(system, &theta, step).grad
        })
        .collect()
}

#[test]
fn estimates_do_not_depend_on_the_number_of_threads() {
    let system = ToyRegression::default();
    for kind in EstimatorKind::ALL {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut estimator = AnyEstimator::new(kind, config(16, 0.3, 7, true), &system).unwrap();
            pool.install(|| grads(&mut estimator, &system, 0..20))
        };
        assert_eq!(run(1), run(2), "{kind}");
    }
}

#[test]
fn a_checkpoint_resumes_bit_identically() {
    let system = ToyRegression::default();
    let bincode = bincode::config::standard();
    for kind in EstimatorKind::ALL {
        let mut estimator = AnyEstimator::new(kind, config(6, 0.3, 7, true), &system).unwrap();
        grads(&mut estimator, &system, 0..9);
        let bytes = bincode::serde::encode_to_vec(&estimator, bincode).unwrap();
        let (mut resumed, _): (AnyEstimator<ToyRegression>, _) =
            bincode::serde::decode_from_slice(&bytes, bincode).unwrap();
        assert_eq!(resumed.kind(), kind);
        assert_eq!(
            grads(&mut estimator, &system, 9..30),
            grads(&mut resumed, &system, 9..30),
            "{kind}"
        );
    }
}

#[test]
fn bad_configurations_are_named() {
    let system = ToyRegression::default();
    let err = |c: EstimatorConfig| Pes::new(c, &system).err().unwrap().to_string();
    assert_eq!(err(config(5, 0.1, 3, false)), "`particles` must be even and at least 2, got 5");
    assert_eq!(err(config(4, -1.0, 3, false)), "`sigma` must be positive and finite, got -1");
    assert_eq!(err(config(4, 0.1, 0, false)), "`truncation` (K) must be at least 1, got 0");
    let unknown = "bptt".parse::<EstimatorKind>().unwrap_err().to_string();
    let valid = EstimatorKind::ALL.map(EstimatorKind::name).join(", ");
    assert_eq!(unknown, format!("unknown estimator `bptt`; valid estimators: {valid}"));
    assert!(unknown.starts_with("unknown estimator `bptt`; valid estimators: es, tes, pes, nres"));
    assert_eq!("nres".parse::<EstimatorKind>(), Ok(EstimatorKind::Nres));
}
