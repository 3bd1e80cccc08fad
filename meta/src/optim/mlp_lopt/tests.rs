use super::*;
use crate::optim::test_support::{dense, normal_vec, odd_layout as layout};
use pesto_tasks::alloc_count::allocations;

/// docs/optimizers.md written out one parameter at a time: 19 features, three dense layers.
fn reference_step(
    theta: &[f32],
    layout: &ParamLayout,
    state: &mut OptState,
    p: &mut [f32],
    g: &[f32],
) {
    for (m, d) in state.slots.iter_mut().zip(DECAYS) {
        for (m, g) in m.iter_mut().zip(g) {
            *m = d * *m + (1.0 - d) * g;
        }
    }
    let t = state.step as f32;
    for tensor in layout.tensors() {
        let r = tensor.range();
        let mut channels: Vec<&[f32]> = vec![&g[r.clone()], &p[r.clone()]];
        channels.extend(state.slots.iter().map(|m| &m[r.clone()]));
        let rms: Vec<f32> = channels
            .iter()
            .map(|x| (1e-5 + x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt())
            .collect();
        let mut steps = vec![0.0f32; r.len()];
        for (i, step) in steps.iter_mut().enumerate() {
            let mut f: Vec<f32> = channels.iter().zip(&rms).map(|(x, r)| x[i] / r).collect();
            f.extend(TIMESCALES.iter().map(|tau| (t / tau - 1.0).tanh()));
            assert_eq!(f.len(), 19);
            let dense =
                |input: &[f32], w, b, outputs, relu| dense(theta, input, w, b, outputs, relu);
            let h1 = dense(&f, W1, B1, 32, true);
            let h2 = dense(&h1, W2, B2, 32, true);
            let out = dense(&h2, W3, B3, 2, false);
            *step = 0.001 * out[0] * (0.001 * out[1]).exp();
        }
        p[r].iter_mut().zip(steps).for_each(|(p, s)| *p -= s);
    }
    state.step += 1;
}

#[test]
fn theta_has_1762_values() {
    assert_eq!(THETA_DIM, 1762);
    assert_eq!(MlpLopt::init_theta(0).len(), 1762);
    assert_eq!(MlpLopt::default().theta_dim(), 1762);
}

#[test]
fn every_kernel_matches_the_per_parameter_reference() {
    let layout = layout();
    let n = layout.len();
    // Weights of order one everywhere, so that every feature and unit matters.
    let theta = normal_vec(1, 0, THETA_DIM, 0.5);
    for kernel in Simd::available() {
        let lopt = MlpLopt::with_kernel(kernel);
        let mut state = lopt.init_state(&layout, 100);
        state.step = 995; // time features away from their saturated start
        let mut expected_state = state.clone();
        let mut params = normal_vec(2, 0, n, 1.0);
        let mut expected = params.clone();
        for step in 0..6 {
            let grad = normal_vec(3, step, n, 0.1 + step as f32);
            let before = params.clone();
            lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
            reference_step(&theta, &layout, &mut expected_state, &mut expected, &grad);
            // f32 sums of <= 64 terms of order one: relative error well below 1e-4.
            let scale =
                before.iter().zip(&expected).map(|(b, e)| (b - e).abs()).fold(0.0, f32::max);
            for (i, (got, want)) in params.iter().zip(&expected).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-4 * scale,
                    "{kernel:?} step {step} param {i}: {got} vs {want}"
                );
            }
            params.copy_from_slice(&expected);
            for (m, e) in state.slots.iter().zip(&expected_state.slots) {
                assert!(m.iter().zip(e).all(|(a, b)| (a - b).abs() <= 1e-6 * (1.0 + b.abs())));
            }
            state = expected_state.clone();
        }
    }
}

/// Runs `steps` updates on f(p) = 0.5 sum c_i p_i^2 from p = 1 and returns f.
fn minimise_quadratic(mut update: impl FnMut(&mut [f32], &[f32]), n: usize, steps: usize) -> f32 {
    let curvature: Vec<f32> = (0..n).map(|i| 0.25 * 16f32.powf(i as f32 / n as f32)).collect();
    let mut params = vec![1.0f32; n];
    let mut grad = vec![0.0f32; n];
    for _ in 0..steps {
        grad.iter_mut().zip(&params).zip(&curvature).for_each(|((g, p), c)| *g = c * p);
        update(&mut params, &grad);
    }
    params.iter().zip(&curvature).map(|(p, c)| 0.5 * c * p * p).sum()
}

#[test]
fn initial_theta_descends_like_normalised_gradient_descent() {
    let layout = layout();
    let n = layout.len();
    let (start, steps) = (minimise_quadratic(|_, _| {}, n, 1), 300);
    let (lopt, theta) = (MlpLopt::default(), MlpLopt::init_theta(7));
    let mut state = lopt.init_state(&layout, 100);
    let end =
        minimise_quadratic(|p, g| lopt.step(&theta, &mut state, &layout, p, g, 1.0), n, steps);
    let normalised_gd = |p: &mut [f32], g: &[f32]| {
        for tensor in layout.tensors() {
            let r = tensor.range();
            let rms =
                (1e-5 + g[r.clone()].iter().map(|g| g * g).sum::<f32>() / r.len() as f32).sqrt();
            p[r.clone()].iter_mut().zip(&g[r]).for_each(|(p, g)| *p -= 1e-3 * g / rms);
        }
    };
    let target = minimise_quadratic(normalised_gd, n, steps);
    assert!(target < 0.9 * start, "normalised descent itself barely moved: {start} -> {target}");
    // The random part moves each parameter by ~1e-6 per step against the descent path's ~1e-3,
    // so it may cost at most about 1e-3 of the decrease; allow 1e-2.
    assert!(
        (end - target).abs() < 1e-2 * (start - target),
        "{start} -> {end}, normalised GD {target}"
    );
}

#[test]
fn updates_stay_finite_for_huge_and_zero_gradients() {
    let layout = layout();
    let n = layout.len();
    let (lopt, theta) = (MlpLopt::default(), normal_vec(4, 0, THETA_DIM, 0.5));
    let mut state = lopt.init_state(&layout, 100);
    let mut params = normal_vec(5, 0, n, 1.0);
    for grad in
        [vec![0.0; n], vec![1e38; n], normal_vec(6, 0, n, 1e30), vec![-3e38; n], vec![0.0; n]]
    {
        lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
        assert!(params.iter().all(|p| p.is_finite()), "{params:?}");
        assert!(state.slots.iter().flatten().all(|m| m.is_finite()));
    }
}

#[test]
fn a_step_allocates_nothing() {
    let mut layout = ParamLayout::new();
    for (name, shape) in [("w0", &[64, 32][..]), ("b0", &[32]), ("w1", &[32, 10]), ("b1", &[10])] {
        layout.push(name, shape);
    }
    let (lopt, theta) = (MlpLopt::default(), MlpLopt::init_theta(0));
    let mut state = lopt.init_state(&layout, 100);
    let mut params = normal_vec(8, 0, layout.len(), 1.0);
    let grad = normal_vec(9, 0, layout.len(), 1.0);
    let before = allocations();
    for _ in 0..10 {
        lopt.step(&theta, &mut state, &layout, &mut params, &grad, 1.0);
    }
    assert_eq!(allocations(), before);
}

#[test]
fn a_step_uses_the_theta_it_is_given() {
    let (a, b) = (MlpLopt::init_theta(1), MlpLopt::init_theta(2));
    let lopt = MlpLopt::default();
    let layout = layout();
    let (mut s1, mut s2) = (lopt.init_state(&layout, 100), lopt.init_state(&layout, 100));
    let grad = normal_vec(3, 0, layout.len(), 1.0);
    let (mut p1, mut p2) = (vec![0.5; layout.len()], vec![0.5; layout.len()]);
    let mut scratch = (s1.clone(), p1.clone());
    lopt.step(&a, &mut scratch.0, &layout, &mut scratch.1, &grad, 1.0);
    lopt.step(&b, &mut s1, &layout, &mut p1, &grad, 1.0);
    MlpLopt::default().step(&b, &mut s2, &layout, &mut p2, &grad, 1.0);
    assert_eq!(p1, p2);
    assert_ne!(scratch.1, p1);
}
