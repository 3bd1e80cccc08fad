//! Test helper: analytic gradients against central finite differences along random directions.

use crate::registry;
use crate::rng::stream;
use crate::task::TaskSpec;
use rand::RngExt;
use rand_distr::StandardNormal;

/// Checks the gradient of the task `text` (data seed `seed`) at the initialisation of `seed`
/// plus N(0, 0.1^2) noise, on the minibatch of `step`, along a random unit direction.
///
/// Compares L(p + h d) - L(p - h d) with g . (p+ - p-), using the f32-rounded points actually
/// evaluated. Tolerance: 1% of the predicted change (central-difference truncation with h = 1e-2
/// is O(h^2) relative) plus 1e-5 * |L| per evaluation, the f32 rounding of a loss summed from
/// f32 terms (eps 6e-8 times at most a few hundred rounded operations per term).
pub fn check(text: &str, seed: u64, step: u64) {
    let spec = TaskSpec::parse(text, seed).unwrap();
    let mut task = registry::build(&spec).unwrap();
    let n = task.layout().len();
    let mut params = vec![0.0; n];
    task.init_params(seed, &mut params);
    let mut rng = stream(seed, &[0x4752_4144]);
    params.iter_mut().for_each(|p| *p += 0.1 * rng.sample::<f32, _>(StandardNormal));
    let dir: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    let norm = dir.iter().map(|d| d * d).sum::<f64>().sqrt();
    let h = 1e-2 / norm;
    let shifted = |sign: f64| -> Vec<f32> {
        params.iter().zip(&dir).map(|(&p, d)| (f64::from(p) + sign * h * d) as f32).collect()
    };
    let (plus, minus) = (shifted(1.0), shifted(-1.0));
    let mut grad = vec![0.0; n];
    let mut scratch = vec![0.0; n];
    task.loss_and_grad(&params, step, &mut grad);
    let l_plus = f64::from(task.loss_and_grad(&plus, step, &mut scratch));
    let l_minus = f64::from(task.loss_and_grad(&minus, step, &mut scratch));
    let predicted: f64 = grad
        .iter()
        .zip(plus.iter().zip(&minus))
        .map(|(&g, (&a, &b))| f64::from(g) * (f64::from(a) - f64::from(b)))
        .sum();
    let measured = l_plus - l_minus;
    let tolerance = 1e-2 * predicted.abs() + 1e-5 * (l_plus.abs() + l_minus.abs());
    assert!(
        (measured - predicted).abs() <= tolerance,
        "{text} seed {seed} step {step}: finite difference {measured:e}, gradient {predicted:e}"
    );
}
