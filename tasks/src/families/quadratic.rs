//! `quadratic`: f(p) = 1/2 (p - p*)^T Q diag(lambda) Q^T (p - p*) with log-spaced eigenvalues,
//! an optional random rotation Q and optional Gaussian gradient noise.

use crate::error::TaskError;
use crate::family::{Config, Domain, KeySpec, TaskFamily, steps_key};
use crate::layout::ParamLayout;
use crate::linalg::{Mat, gemm};
use crate::rng::stream;
use crate::tags;
use crate::task::{Normaliser, Task, TaskSpec};
use nalgebra::DMatrix;
use rand::RngExt;
use rand_distr::StandardNormal;
use std::sync::Arc;

/// Quadratic bowls with a chosen condition number.
pub struct QuadraticFamily;

impl TaskFamily for QuadraticFamily {
    fn name(&self) -> &'static str {
        "quadratic"
    }

    fn description(&self) -> &'static str {
        "quadratic bowl, eigenvalues log-spaced in [1/cond, 1], random optimum, optional rotation"
    }

    fn keys(&self) -> Vec<KeySpec> {
        vec![
            KeySpec {
                name: "dim",
                description: "number of parameters",
                default: "32",
                valid: Domain::Int { min: 1, max: 1024 },
                typical: Domain::Int { min: 8, max: 64 },
            },
            KeySpec {
                name: "cond",
                description: "condition number of the Hessian",
                default: "100",
                valid: Domain::Float { min: 1.0, max: 1e8, log: true },
                typical: Domain::Float { min: 10.0, max: 1e4, log: true },
            },
            KeySpec {
                name: "rotate",
                description: "eigenbasis is a random rotation (else the axes)",
                default: "true",
                valid: Domain::choice(&["true", "false"]),
                typical: Domain::choice(&["true", "false"]),
            },
            KeySpec {
                name: "noise",
                description: "std of Gaussian noise added to each gradient",
                default: "0",
                valid: Domain::Float { min: 0.0, max: 100.0, log: false },
                typical: Domain::Float { min: 0.0, max: 0.3, log: false },
            },
            steps_key("500", (200, 500)),
        ]
    }

    fn build(&self, spec: &TaskSpec) -> Result<Box<dyn Task>, TaskError> {
        let config = Config::new(self.name(), self.keys(), spec)?;
        let dim = config.size("dim")?;
        let cond = config.float("cond")?;
        let eigen: Vec<f32> =
            (0..dim).map(|i| cond.powf(-(i as f64) / (dim.max(2) - 1) as f64) as f32).collect();
        let mut rng = stream(spec.seed, &[crate::tags::QUADRATIC_OPTIMUM]);
        let optimum = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
        let basis = (config.word("rotate")? == "true").then(|| random_rotation(spec.seed, dim));
        Ok(Box::new(Quadratic {
            spec: spec.clone(),
            layout: ParamLayout::single("x", dim),
            shape: Arc::new(Shape { eigen, optimum, basis }),
            noise: config.float("noise")? as f32,
            horizon: config.int("steps")?,
            diff: vec![0.0; dim],
            rotated: vec![0.0; dim],
        }))
    }
}

/// A Haar-random orthogonal `dim x dim` matrix (column-major): Q of the QR decomposition of a
/// Gaussian matrix, with column signs fixed by R's diagonal.
fn random_rotation(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = stream(seed, &[tags::QUADRATIC_ROTATION]);
    let gaussian = DMatrix::<f64>::from_fn(dim, dim, |_, _| rng.sample(StandardNormal));
    let qr = gaussian.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (i, mut column) in q.column_iter_mut().enumerate() {
        column *= r[(i, i)].signum();
    }
    q.iter().map(|&v| v as f32).collect()
}

/// The fixed part of a quadratic task, shared between clones.
struct Shape {
    eigen: Vec<f32>,
    optimum: Vec<f32>,
    basis: Option<Vec<f32>>,
}

/// One quadratic task.
#[derive(Clone)]
struct Quadratic {
    spec: TaskSpec,
    layout: ParamLayout,
    shape: Arc<Shape>,
    noise: f32,
    horizon: u64,
    diff: Vec<f32>,
    rotated: Vec<f32>,
}

impl Quadratic {
    /// The noise-free loss; with `grad`, also writes its gradient H (p - p*).
    fn exact(&mut self, params: &[f32], grad: Option<&mut [f32]>) -> f32 {
        let Shape { eigen, optimum, basis } = &*self.shape;
        let dim = eigen.len();
        let (diff, y) = (&mut self.diff, &mut self.rotated);
        diff.iter_mut().zip(params).zip(optimum).for_each(|((d, p), o)| *d = p - o);
        match basis {
            Some(q) => gemm(1.0, Mat::new(q, dim, dim).t(), Mat::new(diff, dim, 1), 0.0, y),
            None => y.copy_from_slice(diff),
        }
        let loss: f64 = y.iter().zip(eigen).map(|(y, l)| 0.5 * f64::from(l * y * y)).sum();
        if let Some(grad) = grad {
            y.iter_mut().zip(eigen).for_each(|(y, l)| *y *= l);
            match basis {
                Some(q) => gemm(1.0, Mat::new(q, dim, dim), Mat::new(y, dim, 1), 0.0, grad),
                None => grad.copy_from_slice(y),
            }
        }
        loss as f32
    }
}

impl Task for Quadratic {
    fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn init_params(&self, seed: u64, params: &mut [f32]) {
        let mut rng = stream(seed, &[tags::PARAM_INIT]);
        params.iter_mut().for_each(|p| *p = rng.sample(StandardNormal));
    }

    /// The loss, with the gradient H (p - p*) + noise * eps_t, eps_t ~ N(0, I) drawn per
    /// (seed, step): an unbiased, noisy gradient of the exact loss.
    fn loss_and_grad(&mut self, params: &[f32], step: u64, grad: &mut [f32]) -> f32 {
        let loss = self.exact(params, Some(grad));
        if self.noise > 0.0 {
            let mut rng = stream(self.spec.seed, &[tags::QUADRATIC_NOISE, step]);
            grad.iter_mut().for_each(|g| *g += self.noise * rng.sample::<f32, _>(StandardNormal));
        }
        loss
    }

    fn heldout_loss(&mut self, params: &[f32]) -> f32 {
        self.exact(params, None)
    }

    /// Scale: the expected loss at initialisation, E f(p0) = sum(lambda) for p0, p* ~ N(0, I);
    /// diverging runs clip at 10 times that.
    fn normaliser(&self) -> Normaliser {
        Normaliser { scale: self.shape.eigen.iter().sum(), max: 10.0 }
    }

    fn horizon(&self) -> u64 {
        self.horizon
    }

    fn boxed_clone(&self) -> Box<dyn Task> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::gradcheck;
    use crate::registry;
    use crate::task::TaskSpec;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn gradient_matches_finite_differences(
            seed in 0u64..1 << 32,
            step in 0u64..1000,
            rotate in proptest::bool::ANY,
        ) {
            gradcheck::check(&format!("quadratic:dim=12,cond=1e3,noise=0,rotate={rotate}"), seed, step);
        }
    }

    #[test]
    fn gradient_noise_is_unbiased_with_the_configured_scale() {
        // Over n = 2000 steps x 8 coordinates, the noise's mean has standard error noise/sqrt(n*8)
        // = 0.5/126 = 0.004, so |mean| < 4 SE = 0.016; its sample std is within 4 SE of 0.5
        // (SE of a sample std ~ noise/sqrt(2 n 8) = 0.0028).
        let spec = TaskSpec::parse("quadratic:dim=8,noise=0.5", 11).unwrap();
        let mut noisy = registry::build(&spec).unwrap();
        let mut exact =
            registry::build(&TaskSpec::parse("quadratic:dim=8,noise=0", 11).unwrap()).unwrap();
        let params = vec![0.3f32; 8];
        let (mut g, mut g0) = (vec![0.0; 8], vec![0.0; 8]);
        let (mut sum, mut sum_sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
        for step in 0..2000 {
            let loss = noisy.loss_and_grad(&params, step, &mut g);
            assert_eq!(loss, exact.loss_and_grad(&params, step, &mut g0));
            for (a, b) in g.iter().zip(&g0) {
                let e = f64::from(a - b);
                (sum, sum_sq, n) = (sum + e, sum_sq + e * e, n + 1.0);
            }
        }
        let mean = sum / n;
        let std = (sum_sq / n - mean * mean).sqrt();
        assert!(mean.abs() < 0.016, "mean {mean}");
        assert!((std - 0.5).abs() < 0.0112, "std {std}");
    }

    #[test]
    fn optimum_has_zero_loss_and_rotation_keeps_the_spectrum() {
        for rotate in ["true", "false"] {
            let spec =
                TaskSpec::parse(&format!("quadratic:dim=5,cond=100,rotate={rotate}"), 3).unwrap();
            let mut task = registry::build(&spec).unwrap();
            let optimum: Vec<f32> = {
                let mut rng = crate::rng::stream(3, &[crate::tags::QUADRATIC_OPTIMUM]);
                use rand::RngExt;
                (0..5).map(|_| rng.sample(rand_distr::StandardNormal)).collect()
            };
            assert!(task.heldout_loss(&optimum).abs() < 1e-10);
            // Sum of eigenvalues 1 + 10^-0.5 + ... + 10^-2, the normaliser's scale.
            let trace: f32 = (0..5).map(|i| 100f32.powf(-(i as f32) / 4.0)).sum();
            assert!((task.normaliser().scale - trace).abs() < 1e-5);
        }
    }
}
