//! What a meta-training reset draws besides the task: a horizon T log-uniform in a range, and
//! the parameter-scale augmentation (the task computes with p = s * q while the optimizer sees
//! and updates q, s log-uniform in a range, per tensor or per task).

use pesto_tasks::ParamLayout;
use pesto_tasks::rng::stream;
use pesto_tasks::tags;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Largest horizon a reset may draw.
pub const MAX_HORIZON: u64 = 10_000_000;
/// The widest parameter-scale range: s in [1e-6, 1e6].
pub const MAX_PARAM_SCALE: f32 = 1e6;

/// Which parameters share one scale s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleGranularity {
    /// Each tensor draws its own s.
    #[default]
    Tensor,
    /// One s for every parameter of the task.
    Task,
}

/// How each reset of an inner run is drawn, beyond the task itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Horizons drawn log-uniformly in `[min, max]`, replacing the task's own `steps`.
    pub horizon: Option<[u64; 2]>,
    /// Parameter scales s drawn log-uniformly in `[min, max]`; none means s = 1.
    pub param_scale: Option<[f32; 2]>,
    /// Whether s is drawn per tensor or per task.
    pub granularity: ScaleGranularity,
}

/// Draws a value log-uniformly in `[lo, hi]` from a stream.
fn log_uniform(rng: &mut impl rand::Rng, lo: f64, hi: f64) -> f64 {
    if lo >= hi {
        return lo;
    }
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

impl Sampling {
    /// A problem with these ranges, naming the field and the valid range; None if valid.
    pub fn problem(&self) -> Option<String> {
        if let Some([lo, hi]) = self.horizon
            && !(1 <= lo && lo <= hi && hi <= MAX_HORIZON)
        {
            return Some(format!(
                "`horizon` = [{lo}, {hi}] is invalid; expected [min, max] with 1 <= min <= max <= {MAX_HORIZON}"
            ));
        }
        if let Some([lo, hi]) = self.param_scale {
            let bound = 1.0 / MAX_PARAM_SCALE;
            if !(bound <= lo && lo <= hi && hi <= MAX_PARAM_SCALE) {
                return Some(format!(
                    "`param_scale` = [{lo}, {hi}] is invalid; expected [min, max] with 1e-6 <= min <= max <= 1e6"
                ));
            }
        }
        None
    }

    /// The horizon of the reset drawn from `seed`, if horizons are sampled.
    pub fn horizon(&self, seed: u64) -> Option<u64> {
        let [lo, hi] = self.horizon?;
        let t = log_uniform(&mut stream(seed, &[tags::HORIZON]), lo as f64, hi as f64 + 1.0);
        Some((t.floor() as u64).clamp(lo, hi))
    }

    /// One scale s per tensor of `layout` for the reset drawn from `seed` (empty: s = 1).
    pub fn scales(&self, seed: u64, layout: &ParamLayout) -> Vec<f32> {
        let Some([lo, hi]) = self.param_scale else { return Vec::new() };
        let mut rng = stream(seed, &[tags::PARAM_SCALE]);
        let shared = log_uniform(&mut rng, f64::from(lo), f64::from(hi));
        let mut draw = || match self.granularity {
            ScaleGranularity::Task => shared as f32,
            ScaleGranularity::Tensor => log_uniform(&mut rng, f64::from(lo), f64::from(hi)) as f32,
        };
        layout.tensors().iter().map(|_| draw()).collect()
    }
}

/// Multiplies each tensor of `x` (laid out by `layout`) by its scale, or divides when
/// `inverse`; nothing when `scales` is empty.
pub fn rescale(layout: &ParamLayout, scales: &[f32], x: &mut [f32], inverse: bool) {
    for (tensor, &s) in layout.tensors().iter().zip(scales) {
        let factor = if inverse { 1.0 / s } else { s };
        x[tensor.range()].iter_mut().for_each(|v| *v *= factor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_are_log_uniform_in_range_and_deterministic() {
        let sampling = Sampling { horizon: Some([100, 2000]), ..Sampling::default() };
        let draws: Vec<u64> = (0..4000).map(|s| sampling.horizon(s).unwrap()).collect();
        assert_eq!(sampling.horizon(7), sampling.horizon(7));
        assert!(draws.iter().all(|t| (100..=2000).contains(t)));
        // ln T is uniform on [ln 100, ln 2001): mean and standard error of the mean.
        let (a, b) = (100f64.ln(), 2001f64.ln());
        let logs: Vec<f64> = draws.iter().map(|&t| (t as f64 + 0.5).ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let se = (b - a) / 12f64.sqrt() / (logs.len() as f64).sqrt();
        assert!((mean - (a + b) / 2.0).abs() < 4.0 * se, "mean ln T {mean}, se {se}");
        assert_eq!(Sampling::default().horizon(3), None);
    }

    #[test]
    fn scales_follow_the_granularity_and_rescale_inverts() {
        let mut layout = ParamLayout::new();
        layout.push("w", &[3, 2]);
        layout.push("b", &[2]);
        let per_tensor = Sampling { param_scale: Some([1e-3, 1e3]), ..Sampling::default() };
        let s = per_tensor.scales(5, &layout);
        assert_eq!(s.len(), 2);
        assert_ne!(s[0], s[1]);
        assert!(s.iter().all(|s| (1e-3..=1e3).contains(s)));
        let per_task = Sampling { granularity: ScaleGranularity::Task, ..per_tensor.clone() };
        let t = per_task.scales(5, &layout);
        assert_eq!(t[0], t[1]);
        assert!(Sampling::default().scales(5, &layout).is_empty());
        let mut x = vec![1.0f32; 8];
        rescale(&layout, &s, &mut x, false);
        assert_eq!((x[0], x[7]), (s[0], s[1]));
        rescale(&layout, &s, &mut x, true);
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn bad_ranges_are_named() {
        let bad = Sampling { horizon: Some([0, 5]), ..Sampling::default() };
        assert!(bad.problem().unwrap().starts_with("`horizon` = [0, 5] is invalid"));
        let bad = Sampling { param_scale: Some([2.0, 1.0]), ..Sampling::default() };
        assert!(bad.problem().unwrap().starts_with("`param_scale` = [2, 1] is invalid"));
        assert_eq!(Sampling::default().problem(), None);
    }
}
