//! Tests of the gradient-based estimators: exactness of RTRL against BPTT, unbiasedness of UORO,
//! ARTBP and PES + analytic, every estimator on every differentiable system, thread-count
//! independence and checkpoint round trips.

use super::tests::grads;
use super::*;
use crate::differentiable::DifferentiableSystem;
use crate::repro::variance::Moments;
use crate::systems::{InfluenceBalancing, LinearQuadratic, ToyRegression};
use pesto_tasks::rng;

fn config(particles: usize, truncation: u64, seed: u64) -> GradientConfig {
    let estimator = EstimatorConfig { particles, sigma: 0.1, truncation, stagger: false, seed };
    GradientConfig::from(estimator)
}

/// The sum of `outer_steps` estimates of a fresh `kind` at fixed `theta`.
fn summed<S: DifferentiableSystem>(
    kind: GradientKind,
    config: GradientConfig,
    system: &S,
    theta: &[f32],
    outer_steps: u64,
) -> Vec<f64> {
    let mut estimator = AnyGradientEstimator::new(kind, config, system).unwrap();
    let mut sum = vec![0.0; theta.len()];
    for step in 0..outer_steps {
        let grad = estimator.estimate(system, theta, step).grad;
        sum.iter_mut().zip(&grad).for_each(|(s, g)| *s += f64::from(*g));
    }
    sum
}

/// Moments of `reps` sums of `outer_steps` estimates, each from a fresh seed.
fn moments<S: DifferentiableSystem>(
    kind: GradientKind,
    config: &GradientConfig,
    system: &S,
    theta: &[f32],
    (outer_steps, reps): (u64, u64),
) -> Moments {
    let samples: Vec<Vec<f64>> = (0..reps)
        .map(|rep| {
            let mut config = config.clone();
            config.estimator.seed = rng::derive(config.estimator.seed, &[rep]);
            summed(kind, config, system, theta, outer_steps)
        })
        .collect();
    Moments::of(&samples)
}

/// Asserts |mean - truth| < 4 standard errors per coordinate: under the null the z-score is
/// standard normal, so a two-sided false alarm has probability 6e-5.
fn assert_unbiased(name: &str, m: &Moments, truth: &[f64]) {
    for (j, se) in m.std_error().iter().enumerate() {
        let z = (m.mean[j] - truth[j]).abs() / se;
        assert!(z < 4.0, "{name} coord {j}: {} vs {} (se {se}, z {z})", m.mean[j], truth[j]);
    }
}

/// Asserts `a` and `b` agree to float accuracy relative to their size (the gradients are
/// accumulated in f64 and returned in f32).
fn assert_close(what: &str, a: &[f64], b: &[f64]) {
    let scale = a.iter().chain(b).fold(1.0f64, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-5 * scale, "{what}: {a:?} vs {b:?}");
    }
}

#[test]
fn rtrl_equals_bptt_over_a_whole_horizon() {
    let toy = ToyRegression::default();
    let theta = [-2.0, -3.0];
    let bptt = summed(GradientKind::Bptt, config(2, 10, 0), &toy, &theta, 1);
    assert_close("toy", &summed(GradientKind::Rtrl, config(2, 10, 0), &toy, &theta, 10), &bptt);
    let lq = LinearQuadratic::default();
    let theta = lq.initial_theta();
    let exact = lq.smoothed_gradient(&theta);
    assert_close("lq bptt", &summed(GradientKind::Bptt, config(2, 5, 0), &lq, &theta, 1), &exact);
    assert_close("lq rtrl", &summed(GradientKind::Rtrl, config(2, 5, 0), &lq, &theta, 4), &exact);
    // Influence balancing scores only an unroll's last step, so one 60-step truncation of RTRL
    // and of TBPTT from the start both give the exact gradient of that one loss.
    let ib = InfluenceBalancing::default();
    let rtrl = summed(GradientKind::Rtrl, config(2, 60, 0), &ib, &[0.2], 1);
    let tbptt = summed(GradientKind::Tbptt, config(2, 60, 0), &ib, &[0.2], 1);
    assert_close("influence balancing", &rtrl, &tbptt);
}

#[test]
fn uoro_is_unbiased_for_rtrl() {
    let system = ToyRegression::default();
    let theta = [-1.0, -2.0];
    let rtrl = summed(GradientKind::Rtrl, config(2, 5, 0), &system, &theta, 4);
    let uoro = moments(GradientKind::Uoro, &config(2, 5, 3), &system, &theta, (4, 2000));
    assert_unbiased("uoro", &uoro, &rtrl);
    let ib = InfluenceBalancing::default();
    let rtrl = summed(GradientKind::Rtrl, config(2, 1, 0), &ib, &[0.5], 30);
    let uoro = moments(GradientKind::Uoro, &config(2, 1, 5), &ib, &[0.5], (30, 2000));
    assert_unbiased("uoro on influence balancing", &uoro, &rtrl);
}

#[test]
fn artbp_is_unbiased_for_bptt() {
    let system = LinearQuadratic::default();
    let theta = system.initial_theta();
    let truth = system.smoothed_gradient(&theta);
    let artbp = moments(GradientKind::Artbp, &config(2, 5, 7), &system, &theta, (4, 2000));
    assert_unbiased("artbp", &artbp, &truth);
}

#[test]
fn pes_analytic_is_unbiased_on_linear_quadratic() {
    let system = LinearQuadratic::default();
    let theta = system.initial_theta();
    let truth = system.smoothed_gradient(&theta);
    let pes_a = moments(GradientKind::PesAnalytic, &config(10, 5, 9), &system, &theta, (4, 200));
    assert_unbiased("pes-analytic", &pes_a, &truth);
    let reparam = moments(GradientKind::Reparam, &config(10, 5, 9), &system, &theta, (1, 200));
    assert_unbiased("reparam", &reparam, &truth);
}

/// Runs `steps` outer steps of SGD with `kind` and checks every estimate is finite.
fn run_stays_finite<S: DifferentiableSystem>(kind: GradientKind, system: &S, steps: u64) {
    let mut estimator = AnyGradientEstimator::new(kind, config(4, 3, 1), system).unwrap();
    let mut theta = system.initial_theta();
    for step in 0..steps {
        let estimate = estimator.estimate(system, &theta, step);
        assert_eq!(estimator.name(), kind.name());
        assert!(estimate.grad.iter().all(|g| g.is_finite()) && estimate.loss.is_finite());
        assert!(estimate.inner_steps > 0);
        theta.iter_mut().zip(&estimate.grad).for_each(|(t, g)| *t -= 1e-4 * g);
    }
    assert!(estimator.held_floats(system.state_dim()) > 0);
}

#[test]
fn every_gradient_estimator_runs_on_every_differentiable_system() {
    for kind in GradientKind::ALL {
        run_stays_finite(kind, &ToyRegression::default(), 40);
        run_stays_finite(kind, &LinearQuadratic::default(), 10);
        let ib = InfluenceBalancing::default();
        if matches!(kind, GradientKind::Bptt | GradientKind::Reparam) {
            let err = AnyGradientEstimator::new(kind, config(4, 3, 1), &ib).err();
            assert_eq!(err, Some(EstimatorError::InfiniteHorizon(kind.name())));
        } else {
            run_stays_finite(kind, &ib, 10);
        }
    }
}

#[test]
fn gradient_estimates_are_thread_independent_and_resume_bit_identically() {
    let system = ToyRegression::default();
    let bincode = bincode::config::standard();
    for kind in GradientKind::ALL.map(MethodKind::Gradient) {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut estimator = AnyMethod::new(kind, config(8, 7, 2), &system).unwrap();
            pool.install(|| grads(&mut estimator, &system, 0..20))
        };
        assert_eq!(run(1), run(2), "{kind}");
        let mut estimator = AnyMethod::new(kind, config(6, 7, 2), &system).unwrap();
        grads(&mut estimator, &system, 0..9);
        let bytes = bincode::serde::encode_to_vec(&estimator, bincode).unwrap();
        let (mut resumed, _): (AnyMethod<ToyRegression>, _) =
            bincode::serde::decode_from_slice(&bytes, bincode).unwrap();
        assert_eq!(resumed.kind(), kind);
        let (a, b) = (grads(&mut estimator, &system, 9..30), grads(&mut resumed, &system, 9..30));
        assert_eq!(a, b, "{kind}");
    }
}

#[test]
fn method_names_parse_print_and_serialise_and_bad_settings_are_named() {
    let system = ToyRegression::default();
    for kind in MethodKind::all() {
        assert_eq!(kind.name().parse::<MethodKind>(), Ok(kind));
        assert_eq!(format!("{kind:>13}"), format!("{:>13}", kind.name()));
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
        assert_eq!(serde_json::from_str::<MethodKind>(&json).unwrap(), kind);
        let estimator = AnyMethod::new(kind, config(2, 3, 0), &system).unwrap();
        assert_eq!((estimator.kind(), estimator.name()), (kind, kind.name()));
        let family = match kind {
            MethodKind::Es(_) => "es",
            MethodKind::Gradient(_) => "gradient",
        };
        let tagged = serde_json::to_value(&estimator).unwrap();
        assert!(tagged[family][kind.name()].is_object(), "{kind}: {tagged}");
    }
    let es = EstimatorKind::ALL.map(EstimatorKind::name).join(", ");
    let gradient = GradientKind::ALL.map(GradientKind::name).join(", ");
    assert!(gradient.starts_with("bptt, tbptt, artbp, rtrl, uoro, reparam, pes-analytic"));
    assert_eq!(
        "sgd".parse::<MethodKind>().unwrap_err().to_string(),
        format!("unknown estimator `sgd`; valid estimators: {es}, {gradient}")
    );
    let config = GradientConfig { cut_probability: 1.0, ..config(2, 1, 0) };
    let err = Artbp::new(config, &LinearQuadratic::default()).err().unwrap();
    assert_eq!(err.to_string(), "`cut_probability` must be in (0, 1), got 1");
}
