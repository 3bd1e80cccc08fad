//! Every stream tag in pesto, in one place: the first part of the path that names a random
//! stream (`rng::stream(seed, &[TAG, ...])`). Two draws share a stream only if they share a tag,
//! so every tag here is distinct except `PARAM_INIT`, which tasks of different families share
//! for the same purpose.

/// Drawing a suite's entry and configuration: `[SUITE]`.
pub const SUITE: u64 = 0x5355_4954;
/// Sampling a family's configuration from its typical ranges: `[FAMILY_SAMPLE]`.
pub const FAMILY_SAMPLE: u64 = 0x5A4D_504C;
/// The inputs of a synthetic data set.
pub const DATA_INPUT: u64 = 0x494E_5055;
/// The teacher network that labels a synthetic data set.
pub const TEACHER: u64 = 0x5445_4143;
/// The minibatch indices of inner step t: `[BATCH, t]` of the task's data seed.
pub const BATCH: u64 = 0x4241_5443;
/// The minibatch of a hyperparameter meta-objective's term after update t: `[OBJECTIVE_BATCH, t]`
/// of the task's data seed.
pub const OBJECTIVE_BATCH: u64 = 0x4f42_4a42;
/// A task's parameter initialisation: `[PARAM_INIT]` of the initialisation seed.
pub const PARAM_INIT: u64 = 0x494E_4954;
/// A quadratic's optimum.
pub const QUADRATIC_OPTIMUM: u64 = 0x4F50_5449;
/// A quadratic's random rotation.
pub const QUADRATIC_ROTATION: u64 = 0x524F_5441;
/// A quadratic's gradient noise at inner step t: `[QUADRATIC_NOISE, t]`.
pub const QUADRATIC_NOISE: u64 = 0x4E4F_4953;
/// The initialisation seed of a meta-training inner run, derived from its reset seed.
pub const RUN_INIT: u64 = 0x696e_6974;
/// A reset's horizon draw.
pub const HORIZON: u64 = 0x686f_727a;
/// A reset's parameter-scale draws.
pub const PARAM_SCALE: u64 = 0x7363_616c;
/// Held-out task seeds of meta-training.
pub const HELDOUT: u64 = 0x6865_6c64;
/// Inner-problem seeds of an antithetic pair: `[PAIR_TASK, pair, episode]`.
pub const PAIR_TASK: u64 = 0x7461_736b;
/// Staggered start positions: `[PAIR_START, pair]`.
pub const PAIR_START: u64 = 0x7374_6172;
/// Full-ES perturbations: `[ES, outer_step, pair]`.
pub const ES: u64 = 0x6573;
/// Truncated-ES perturbations: `[TES, outer_step, pair]`.
pub const TES: u64 = 0x0074_6573;
/// PES perturbations: `[PES, outer_step, pair]`.
pub const PES: u64 = 0x0070_6573;
/// NRES perturbations: `[NRES, pair, episode]`.
pub const NRES: u64 = 0x6e72_6573;
/// PES + analytic perturbations: `[PES_ANALYTIC, outer_step, pair]`.
pub const PES_ANALYTIC: u64 = 0x7065_7361;
/// Reparameterisation perturbations: `[REPARAM, outer_step, pair]`.
pub const REPARAM: u64 = 0x7270_6172;
/// ARTBP's cut decisions: `[ARTBP, outer_step, j]`.
pub const ARTBP: u64 = 0x6172_7462;
/// UORO's random signs: `[UORO, outer_step]`.
pub const UORO: u64 = 0x756f_726f;
/// Inner-problem seeds of a gradient-based estimator's trajectory: `[GRADIENT_TASK, episode]`.
pub const GRADIENT_TASK: u64 = 0x6772_6164;
/// Where a character-level inner problem starts in its text: `[TEXT_START]` of its seed.
pub const TEXT_START: u64 = 0x7465_7874;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_is_distinct() {
        let tags = [
            SUITE,
            FAMILY_SAMPLE,
            DATA_INPUT,
            TEACHER,
            BATCH,
            OBJECTIVE_BATCH,
            PARAM_INIT,
            QUADRATIC_OPTIMUM,
            QUADRATIC_ROTATION,
            QUADRATIC_NOISE,
            RUN_INIT,
            HORIZON,
            PARAM_SCALE,
            HELDOUT,
            PAIR_TASK,
            PAIR_START,
            ES,
            TES,
            PES,
            NRES,
            PES_ANALYTIC,
            REPARAM,
            ARTBP,
            UORO,
            GRADIENT_TASK,
            TEXT_START,
        ];
        let distinct: std::collections::BTreeSet<u64> = tags.into_iter().collect();
        assert_eq!(distinct.len(), tags.len());
    }
}
