use super::*;
use crate::optim::test_support::{dense, normal_vec, odd_layout as layout};
use pesto_tasks::alloc_count::allocations;
use proptest::prelude::*;

/// docs/optimizers.md written out one parameter at a time.
fn reference_step(
    theta: &[f32],
    variant: Variant,
    layout: &ParamLayout,
    state: &mut OptState,
    p: &mut [f32],
    g: &[f32],
    loss: f32,
) {
    track_loss(&mut state.scalars[..LOSS_SCALARS], state.step, loss);
    if state.step == 0 {
        let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        let global = rms(p);
        for (i, tensor) in layout.tensors().iter().enumerate() {
            let own = rms(&p[tensor.range()]);
            state.scalars[LOSS_SCALARS + i] = if own > 0.0 { own } else { global };
        }
    }
    let z = schedule_features(state.progress(), &state.scalars);
    let mut log_lr = theta[LOG_LR];
    for (j, z) in z.iter().enumerate() {
        log_lr += theta[SKIP + j] * z;
    }
    let hidden = dense(theta, &z, WS, BS, SCHEDULE_HIDDEN, true);
    log_lr += hidden.iter().zip(&theta[VS..]).map(|(h, v)| v * h).sum::<f32>();
    if variant == Variant::Horizon {
        log_lr += theta[HORIZON_EXPONENT] * (state.horizon as f32 / 1000.0).ln();
    }
    let mut lr = log_lr.exp();
    if variant == Variant::Trend {
        let c = state.scalars.len() - 3;
        lr *= state.scalars[c].exp();
        let log_loss = loss.ln();
        if state.step == 0 {
            state.scalars[c + 1..].fill(log_loss);
        }
        state.scalars[c + 1] = 0.9 * state.scalars[c + 1] + 0.1 * log_loss;
        state.scalars[c + 2] = 0.99 * state.scalars[c + 2] + 0.01 * log_loss;
        let r = (state.scalars[c + 1] - state.scalars[c + 2]).clamp(-2.0, 2.0);
        let k = &theta[TREND..];
        let drive = k[0] + k[1] * r + k[2] * r.max(0.0);
        state.scalars[c] = (state.scalars[c] + 0.005 * drive).clamp(-4.0, 2.0);
    }
    let decays = [MOMENTUM_DECAYS[0], MOMENTUM_DECAYS[1], MOMENTUM_DECAYS[2], RMS_DECAY];
    for (k, (slot, d)) in state.slots.iter_mut().zip(decays).enumerate() {
        for (s, g) in slot.iter_mut().zip(g) {
            let x = if k == 3 { g * g } else { *g };
            *s = d * *s + (1.0 - d) * x;
        }
    }
    let t = (state.step + 1) as i32;
    for (k, tensor) in layout.tensors().iter().enumerate() {
        let r = tensor.range();
        let features: Vec<[f32; FEATURES]> = r
            .clone()
            .map(|i| {
                let [m0, m1, m2, v] = [0, 1, 2, 3].map(|k| state.slots[k][i]);
                let root = v.sqrt();
                let d = root + 1e-12;
                [g[i], p[i], m0, m1, m2, root, m0 / d, m1 / d, m2 / d, g[i] / d]
            })
            .collect();
        let rms: Vec<f32> = (0..FEATURES)
            .map(|j| (features.iter().map(|f| f[j] * f[j]).sum::<f32>() / r.len() as f32).sqrt())
            .collect();
        let mut scale = state.scalars[LOSS_SCALARS + k];
        if variant.snr_gain() {
            let mean = |f: &dyn Fn(usize) -> f32| {
                r.clone().map(|i| f64::from(f(i))).sum::<f64>() / r.len() as f64
            };
            let v = mean(&|i| state.slots[3][i]);
            for (j, decay) in [0.9f64, 0.99].into_iter().enumerate() {
                let m = mean(&|i| state.slots[j][i] * state.slots[j][i]);
                let snr =
                    (m.sqrt() / (1.0 - decay.powi(t))) / (v / (1.0 - 0.999f64.powi(t))).sqrt();
                scale *= (theta[GAIN + j] * (snr as f32).ln().clamp(-5.0, 1.0)).exp();
            }
        }
        let nominal_dir = |f: &[f32; FEATURES]| {
            let m_hat = f[2] / (1.0 - 0.9f32.powi(t));
            let v_hat = f[5] * f[5] / (1.0 - 0.999f32.powi(t));
            m_hat / (v_hat.sqrt() + 1e-12)
        };
        let nominal_rms =
            (features.iter().map(|f| nominal_dir(f).powi(2)).sum::<f32>() / r.len() as f32).sqrt();
        let dense = |input: &[f32], w, b, outputs, relu| dense(theta, input, w, b, outputs, relu);
        let steps: Vec<f32> = features
            .iter()
            .map(|f| {
                let x: Vec<f32> =
                    f.iter().zip(&rms).map(|(f, r)| if *r > 0.0 { f / r } else { 0.0 }).collect();
                let h1 = dense(&x, W1, B1, HIDDEN, true);
                let h2 = dense(&h1, W2, B2, HIDDEN, true);
                let out = dense(&h2, W3, B3, OUTPUTS, false);
                let mut u = nominal_rms * out[0] * (0.001 * out[1]).exp();
                if variant != Variant::Relative {
                    u += nominal_dir(f);
                }
                lr * scale * u
            })
            .collect();
        p[r].iter_mut().zip(steps).for_each(|(p, s)| *p -= s);
    }
    state.step += 1;
}

/// A theta with every weight non-zero, so every path of the update is exercised.
fn busy_theta(variant: Variant) -> Vec<f32> {
    let mut theta = RelLopt::init_theta(4, variant);
    let noise = normal_vec(9, 0, theta.len(), 0.05);
    theta.iter_mut().zip(noise).for_each(|(t, n)| *t += n);
    if variant.snr_gain() {
        theta[GAIN..SNR_THETA_DIM].copy_from_slice(&[0.5, -0.3]);
    }
    if variant == Variant::Horizon {
        theta[HORIZON_EXPONENT] = -0.4;
    }
    if variant == Variant::Trend {
        theta[TREND..].copy_from_slice(&[0.4, -3.0, -8.0]);
    }
    theta
}

#[test]
fn theta_has_240_values_snr_lopt_two_more_horizon_lopt_one_more_and_trend_lopt_three_more() {
    assert_eq!(
        (THETA_DIM, SNR_THETA_DIM, HORIZON_THETA_DIM, TREND_THETA_DIM),
        (240, 242, 243, 245)
    );
    for variant in Variant::ALL {
        assert_eq!(RelLopt::init_theta(0, variant).len(), variant.theta_dim());
        assert_eq!(RelLopt::new(variant).theta_dim(), variant.theta_dim());
    }
    let (nominal, snr) =
        (RelLopt::init_theta(5, Variant::Nominal), RelLopt::init_theta(5, Variant::Snr));
    assert_eq!(
        (&snr[..THETA_DIM], &snr[GAIN..]),
        (nominal.as_slice(), [0.0; SNR_FEATURES].as_slice())
    );
    let horizon = RelLopt::init_theta(5, Variant::Horizon);
    assert_eq!((&horizon[..SNR_THETA_DIM], horizon[HORIZON_EXPONENT]), (snr.as_slice(), 0.0));
    let trend = RelLopt::init_theta(5, Variant::Trend);
    assert_eq!((&trend[..SNR_THETA_DIM], &trend[TREND..]), (snr.as_slice(), TREND_INIT.as_slice()));
}

#[test]
fn every_kernel_matches_the_per_parameter_reference() {
    let layout = layout();
    let n = layout.len();
    for variant in Variant::ALL {
        let theta = busy_theta(variant);
        for kernel in Simd::available() {
            let lopt = RelLopt::with_kernel(variant, kernel);
            let mut state = lopt.init_state(&layout, 30);
            let mut reference = state.clone();
            let mut params = normal_vec(1, 0, n, 0.5);
            params[35..38].fill(0.0);
            let mut expected = params.clone();
            for step in 0..12 {
                let grad = normal_vec(2, step, n, 0.1);
                let loss = 2.0 / (1.0 + step as f32);
                lopt.step(&theta, &mut state, &layout, &mut params, &grad, loss);
                reference_step(
                    &theta,
                    variant,
                    &layout,
                    &mut reference,
                    &mut expected,
                    &grad,
                    loss,
                );
            }
            for (i, (a, b)) in params.iter().zip(&expected).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{kernel:?} {variant:?} [{i}]: {a} vs {b}"
                );
            }
            assert_eq!(state.step, 12);
            for (a, b) in state.scalars.iter().zip(&reference.scalars) {
                assert!((a - b).abs() <= 1e-5 * b.abs(), "{a} vs {b}");
            }
        }
    }
}

proptest! {
    // A fixed seed, so a run's verdict does not depend on the day; the cases it draws cover
    // scales from 0.01 to 100, both variants and many parameter draws.
    #![proptest_config(ProptestConfig {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5ca1e),
        ..ProptestConfig::with_cases(64)
    })]

    /// p -> s p and g -> g / s (the chain rule of p = s q) multiplies the tensor's step by s.
    /// The displacement compared is p_5 - p_0 in f32, so beside 0.1% of the expected value it
    /// may carry the rounding of p at each of its 5 updates and of the difference: up to
    /// 6 ulp of the largest |p| of each run (steps of opposite signs can cancel to far less).
    #[test]
    fn a_rescaled_tensor_takes_a_rescaled_step(
        log_s in -2.0f32..2.0,
        seed in 0u64..1000,
        variant in proptest::sample::select(Variant::ALL.to_vec()),
    ) {
        const STEPS: u64 = 5;
        let s = 10f32.powf(log_s);
        let layout = layout();
        let n = layout.len();
        let rescaled = layout.tensors()[2].range();
        let theta = busy_theta(variant);
        let run = |factor: f32| {
            let lopt = RelLopt::new(variant);
            let mut state = lopt.init_state(&layout, 20);
            let mut params = normal_vec(seed, 0, n, 0.5);
            params[rescaled.clone()].iter_mut().for_each(|p| *p *= factor);
            let start = params.clone();
            let mut largest = params.iter().fold(0.0f32, |m, p| m.max(p.abs()));
            for step in 0..STEPS {
                let mut grad = normal_vec(seed, 1 + step, n, 0.1);
                grad[rescaled.clone()].iter_mut().for_each(|g| *g /= factor);
                lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
                largest = params.iter().fold(largest, |m, p| m.max(p.abs()));
            }
            let moved = params.iter().zip(&start).map(|(p, q)| p - q).collect::<Vec<f32>>();
            (moved, (STEPS + 1) as f32 * f32::EPSILON * largest)
        };
        let ((base, base_rounding), (scaled, scaled_rounding)) = (run(1.0), run(s));
        for i in 0..n {
            let factor = if rescaled.contains(&i) { s } else { 1.0 };
            let expected = factor * base[i];
            let tol = 1e-3 * expected.abs() + scaled_rounding + factor * base_rounding;
            prop_assert!((scaled[i] - expected).abs() <= tol, "[{}] {} vs {}", i, scaled[i], expected);
        }
    }
}

#[test]
fn the_untrained_optimizers_descend_and_decay_with_the_run() {
    let layout = ParamLayout::single("p", 64);
    let curvature: Vec<f32> = (0..64).map(|i| 10f32.powf(-(i as f32) / 32.0)).collect();
    for variant in Variant::ALL {
        let (lopt, theta) = (RelLopt::new(variant), RelLopt::init_theta(0, variant));
        let mut state = lopt.init_state(&layout, 400);
        let lr0 = RelLopt::learning_rate(&theta, &state);
        assert!((lr0 / INIT_LR - 1.0).abs() < 0.02, "{lr0}");
        let mut params = vec![1.0f32; 64];
        let mut grad = vec![0.0f32; 64];
        let loss = |p: &[f32]| p.iter().zip(&curvature).map(|(p, c)| 0.5 * c * p * p).sum::<f32>();
        let start = loss(&params);
        for _ in 0..400 {
            grad.iter_mut().zip(&params).zip(&curvature).for_each(|((g, p), c)| *g = c * p);
            let l = loss(&params);
            lopt.step(&theta, &mut state, &layout, &mut params, &grad, l);
        }
        assert!(loss(&params) < 1e-2 * start, "{variant:?}: {} from {start}", loss(&params));
        // trend-lopt's controller raises its rate while the loss falls; its schedule decays.
        let schedule = if variant == Variant::Trend { &theta[..SNR_THETA_DIM] } else { &theta };
        let lr_end = RelLopt::learning_rate(schedule, &state);
        assert!(lr_end < 0.05 * lr0, "the schedule decays with t/T: {lr0} -> {lr_end}");
    }
}

#[test]
fn a_step_allocates_nothing_and_kernels_agree() {
    let layout = layout();
    let n = layout.len();
    let theta = busy_theta(Variant::Horizon);
    let mut results = Vec::new();
    for kernel in Simd::available() {
        let lopt = RelLopt::with_kernel(Variant::Horizon, kernel);
        let mut state = lopt.init_state(&layout, 10);
        let mut params = normal_vec(3, 0, n, 1.0);
        let grad = normal_vec(3, 1, n, 1.0);
        lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
        let before = allocations();
        lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
        assert_eq!(allocations(), before, "{kernel:?} allocated");
        results.push(params);
    }
    for r in &results[1..] {
        for (a, b) in r.iter().zip(&results[0]) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()));
        }
    }
}

#[test]
fn a_non_finite_loss_leaves_the_loss_averages_alone() {
    let mut scalars = vec![0.0; LOSS_SCALARS];
    track_loss(&mut scalars, 0, 4.0);
    assert_eq!(scalars, [4.0, 4.0, 4.0]);
    track_loss(&mut scalars, 1, f32::NAN);
    assert_eq!(scalars, [4.0, 4.0, 4.0]);
    track_loss(&mut scalars, 2, 2.0);
    assert_eq!(scalars[0], 4.0);
    assert!((scalars[1] - (0.9 * 4.0 + 0.1 * 2.0)).abs() < 1e-6);
    let z = schedule_features(0.5, &scalars);
    assert!(z[3] < 0.0 && z[4] < 0.0 && (z[0] - 0.5).abs() < 1e-7);
}

#[test]
fn the_horizon_exponent_scales_the_learning_rate_by_a_power_of_t() {
    let layout = layout();
    let lopt = RelLopt::new(Variant::Horizon);
    let lr =
        |theta: &[f32], horizon| RelLopt::learning_rate(theta, &lopt.init_state(&layout, horizon));
    let mut theta = busy_theta(Variant::Horizon);
    let snr = theta[..SNR_THETA_DIM].to_vec();
    assert_eq!(lr(&theta, 1000), lr(&snr, 1000), "at T = 1000 any exponent leaves the rate alone");
    theta[HORIZON_EXPONENT] = -0.5;
    let ratio = lr(&theta, 4000) / lr(&snr, 4000);
    assert!((ratio - 0.5).abs() < 1e-6, "(4000 / 1000)^-0.5 = 0.5, got {ratio}");
}

/// The controller's state after `losses`, one step each, with gains `k`: [a, fast, slow].
fn controller_after(k: [f32; TREND_GAINS], losses: impl IntoIterator<Item = f32>) -> [f32; 3] {
    let mut scalars = [0.0; TREND_SCALARS];
    for (step, loss) in losses.into_iter().enumerate() {
        track_trend(&mut scalars, &k, step as u64, loss);
    }
    scalars
}

#[test]
fn the_controller_drifts_by_k0_on_a_flat_loss_and_follows_the_trend_otherwise() {
    let flat = controller_after([-0.1, -1.0, -10.0], [3.0; 100]);
    assert!((flat[0] + 100.0 * TREND_RATE * 0.1).abs() < 1e-6, "{flat:?}");
    assert!(flat[1..].iter().all(|m| (m - 3f32.ln()).abs() < 1e-6), "{flat:?}");
    // A loss falling by 1% a step: the averages lag by about 9 and 99 steps, so r -> -0.9.
    let falling = controller_after([-0.1, -1.0, -10.0], (0..1000).map(|t| 0.99f32.powi(t)));
    assert!(falling[1] - falling[2] < -0.85 && falling[1] - falling[2] > -0.95, "{falling:?}");
    assert_eq!(falling[0], TREND_RANGE.1, "a steady fall drives a to its upper bound");
    let rising = controller_after([0.0, -1.0, -10.0], (0..1000).map(|t| 1.01f32.powi(t)));
    assert_eq!(rising[0], TREND_RANGE.0, "a steady rise drives a to its lower bound");
    let mut a = controller_after([0.0, -1.0, 0.0], (0..50).map(|t| 0.99f32.powi(t)));
    let before = a;
    track_trend(&mut a, &[0.0, -1.0, 0.0], 50, f32::NAN);
    assert_eq!(a[1..], before[1..], "a loss that is not finite leaves the averages alone");
}

#[test]
fn the_controller_settles_where_the_trend_balances_k0() {
    // ln L falls by 0.002 a step: the settled averages differ by 90 x 0.002 = 0.18, so the
    // drive is k0 + 0.18 = 0.03, and a grows by 0.005 x 0.03 a step once the averages have
    // settled. They start at ln L_0 and fall short of their settled gap by
    // 0.002 (99 x 0.99^t - 9 x 0.9^t), 0.002 x 9810 over the run, which costs a
    // 0.005 x 0.002 x 9810 = 0.0981.
    let a = controller_after([-0.15, -1.0, -10.0], (0..2000).map(|t| (-0.002 * t as f32).exp()))[0];
    let expected = 2000.0 * 0.005 * 0.03 - 0.0981;
    assert!((a - expected).abs() < 2e-3, "{a} vs {expected}");
}

#[test]
fn trend_lopt_multiplies_its_learning_rate_by_exp_a() {
    let layout = layout();
    let lopt = RelLopt::new(Variant::Trend);
    let theta = busy_theta(Variant::Trend);
    let mut state = lopt.init_state(&layout, 100);
    let base = RelLopt::learning_rate(&theta[..SNR_THETA_DIM], &state);
    assert_eq!(RelLopt::learning_rate(&theta, &state), base, "a starts at 0");
    let last = state.scalars.len() - TREND_SCALARS;
    state.scalars[last] = 0.5;
    let ratio = RelLopt::learning_rate(&theta, &state) / base;
    assert!((ratio - 0.5f32.exp()).abs() < 1e-6, "{ratio}");
}
