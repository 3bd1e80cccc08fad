//! Evaluation of a learned optimizer on a suite against tuned hand-designed baselines: Adam and
//! SGD with momentum over a learning-rate grid, several seeds per task, each task's horizon.
//! The best grid point of each baseline is the one with the lowest mean final training loss; its
//! held-out loss is reported as it is, not tuned for. While a baseline's best point sits at an
//! end of the rates it tried on a task, the grid grows past that end for that task, up to the
//! limits `LR_LIMITS`.

mod compare;
mod output;
pub mod score;

pub use compare::{CompareError, Evaluation, comparison_table, read_evaluation};
pub use output::{table, write_outputs};
pub use score::{SingleRate, SuiteSummary, TaskScore};

use crate::inner::{Curve, train_task};
use crate::optim::{Adam, Optimizer, OptimizerSource, SavedOptimizer, Schedule, Sgd};
use crate::plot::PlotError;
use pesto_tasks::suite::Suite;
use pesto_tasks::{Task, TaskError, TaskSpec, registry};
use rayon::prelude::*;
use serde::Serialize;
use std::io;
use thiserror::Error;

/// Learning rates 1e-4 to 1e-1 in half decades.
pub const LR_GRID: [f32; 7] = [1e-4, 3.162_278e-4, 1e-3, 3.162_278e-3, 1e-2, 3.162_278e-2, 1e-1];
/// Momentum of the SGD-momentum baseline.
pub const MOMENTUM: f32 = 0.9;
/// The learning rates a task's grid may grow to, past `LR_GRID`'s ends.
pub const LR_LIMITS: (f32, f32) = (1e-6, 1.0);

/// Why an evaluation could not be written.
#[derive(Debug, Error)]
pub enum EvalError {
    /// A result file could not be written.
    #[error("writing {path}: {error}")]
    Io { path: String, error: io::Error },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// How an evaluation runs.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSettings {
    /// Initialisation seeds per task.
    pub seeds: u64,
    /// Learning rates tried for each baseline on every task.
    pub lr_grid: Vec<f32>,
    /// The lowest and highest rates a task's grid grows to, half a decade at a time, while a
    /// baseline is best at an end of the rates tried (the grid's own ends: no growth).
    pub lr_limits: (f32, f32),
    /// Fraction of the last steps whose minibatch losses average into the final training loss.
    pub tail: f64,
    /// Held-out evaluations per run.
    pub heldout_points: u64,
}

impl EvalSettings {
    /// Training runs an evaluation of `tasks` tasks makes before any grid grows: the learned
    /// optimizer and every grid point of both baselines, for every seed.
    pub fn runs(&self, tasks: usize) -> u64 {
        tasks as u64 * (1 + 2 * self.lr_grid.len() as u64) * self.seeds
    }
}

impl Default for EvalSettings {
    fn default() -> Self {
        let lr_grid = LR_GRID.to_vec();
        Self { seeds: 3, lr_grid, lr_limits: LR_LIMITS, tail: 0.1, heldout_points: 20 }
    }
}

/// An optimizer entered in the evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Contender {
    /// The learned optimizer being evaluated.
    Learned,
    /// Adam at one grid learning rate.
    Adam(f32),
    /// SGD with momentum 0.9 at one grid learning rate.
    Momentum(f32),
}

impl Contender {
    /// Name for tables and legends.
    pub fn family(&self) -> &'static str {
        match self {
            Contender::Learned => "learned",
            Contender::Adam(_) => "adam",
            Contender::Momentum(_) => "momentum",
        }
    }

    /// The grid learning rate, for baselines.
    pub fn lr(&self) -> Option<f32> {
        match *self {
            Contender::Learned => None,
            Contender::Adam(lr) | Contender::Momentum(lr) => Some(lr),
        }
    }

    /// The same baseline at learning rate `lr`.
    fn at(&self, lr: f32) -> Self {
        match self {
            Contender::Learned => Contender::Learned,
            Contender::Adam(_) => Contender::Adam(lr),
            Contender::Momentum(_) => Contender::Momentum(lr),
        }
    }

    fn optimizer(&self, saved: &SavedOptimizer) -> Box<dyn Optimizer> {
        match *self {
            Contender::Learned => Box::new(saved.build()),
            Contender::Adam(lr) => Box::new(Adam::new(Schedule::Constant(lr))),
            Contender::Momentum(lr) => {
                Box::new(Sgd::with_momentum(Schedule::Constant(lr), MOMENTUM))
            }
        }
    }
}

/// One contender's runs on one task, over all seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Who ran.
    pub contender: Contender,
    /// Mean over seeds of the final training loss (NaN if any run diverged).
    pub final_train: f64,
    /// Mean over seeds of the final held-out loss (NaN if any run diverged).
    pub final_heldout: f64,
    /// Per seed: (final training loss, final held-out loss).
    pub per_seed: Vec<(f32, f32)>,
    /// The loss curves, one per seed.
    #[serde(skip)]
    pub curves: Vec<Curve>,
}

impl Entry {
    /// Final training loss with divergence ranked last.
    fn rank(&self) -> f64 {
        if self.final_train.is_finite() { self.final_train } else { f64::INFINITY }
    }
}

/// The results on one task.
#[derive(Clone, Debug, Serialize)]
pub struct TaskResult {
    /// The task, `FAMILY:key=value,...`.
    pub task: String,
    /// Number of parameters.
    pub params: usize,
    /// Inner steps of each run (the task's horizon).
    pub steps: u64,
    /// The learned optimizer's runs.
    pub learned: Entry,
    /// The best Adam grid point.
    pub adam: Entry,
    /// The best SGD-momentum grid point.
    pub momentum: Entry,
    /// Every grid point tried on this task, the grown ones included, by family and rate:
    /// (contender, mean final training loss).
    pub grid: Vec<(Contender, f64)>,
    /// The learned optimizer against the best Adam grid point.
    pub vs_adam: TaskScore,
}

/// The whole evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Suite evaluated.
    pub suite: String,
    /// The learned optimizer's kind.
    pub optimizer: String,
    /// Outer steps of meta-training behind it.
    pub outer_steps: u64,
    /// The optimizer file and its content hash, when the caller knows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer_file: Option<OptimizerSource>,
    /// Seeds per task.
    pub seeds: u64,
    /// The learning rates every task's grid started from (`TaskResult::grid` has those tried).
    pub lr_grid: Vec<f32>,
    /// The learned optimizer against the best Adam over the whole suite.
    pub summary: SuiteSummary,
    /// The best single Adam rate for every task against each task's best Adam (none when no
    /// rate was tried on every task).
    pub single_adam_rate: Option<SingleRate>,
    /// Per task.
    pub tasks: Vec<TaskResult>,
}

/// How far an evaluation has got, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// One training run finished.
    RunDone,
    /// The grids grew by this many runs beyond `EvalSettings::runs`.
    RunsAdded(u64),
}

/// Trains every task of `suite` with the learned optimizer and every baseline grid point, growing
/// a task's grid while a baseline's best point sits at its end (`EvalSettings::lr_limits`), and
/// reports each run to `progress`; the results do not depend on the number of threads.
pub fn evaluate(
    suite: &Suite,
    saved: &SavedOptimizer,
    settings: &EvalSettings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<EvalReport, TaskError> {
    let specs = suite.members();
    let tasks: Vec<Box<dyn Task>> = specs.iter().map(registry::build).collect::<Result<_, _>>()?;
    let mut contenders = vec![Contender::Learned];
    contenders.extend(settings.lr_grid.iter().map(|&lr| Contender::Adam(lr)));
    contenders.extend(settings.lr_grid.iter().map(|&lr| Contender::Momentum(lr)));
    let mut jobs: Vec<(usize, Contender)> =
        (0..tasks.len()).flat_map(|t| contenders.iter().map(move |&c| (t, c))).collect();
    let mut entries: Vec<Vec<Entry>> = tasks.iter().map(|_| Vec::new()).collect();
    while !jobs.is_empty() {
        for ((t, contender), curves) in
            jobs.iter().zip(run(&tasks, saved, settings, &jobs, progress))
        {
            entries[*t].push(entry(*contender, curves, settings.tail));
        }
        jobs = (0..tasks.len())
            .flat_map(|t| grown(&entries[t], settings.lr_limits).into_iter().map(move |c| (t, c)))
            .collect();
        if !jobs.is_empty() {
            progress(Progress::RunsAdded(jobs.len() as u64 * settings.seeds));
        }
    }
    let results: Vec<TaskResult> = specs
        .iter()
        .zip(&tasks)
        .zip(entries)
        .map(|((spec, task), entries)| task_result(spec, task.as_ref(), entries, settings.tail))
        .collect();
    let mean = |f: fn(&TaskResult) -> f64| {
        results.iter().map(f).sum::<f64>() / results.len().max(1) as f64
    };
    let scores: Vec<TaskScore> = results.iter().map(|r| r.vs_adam.clone()).collect();
    let mean_final_train = [
        mean(|r| r.learned.final_train),
        mean(|r| r.adam.final_train),
        mean(|r| r.momentum.final_train),
    ];
    Ok(EvalReport {
        suite: suite.name().to_string(),
        optimizer: saved.kind.to_string(),
        outer_steps: saved.outer_steps,
        optimizer_file: None,
        seeds: settings.seeds,
        lr_grid: settings.lr_grid.clone(),
        summary: SuiteSummary::of(&scores, mean_final_train),
        single_adam_rate: SingleRate::best(&adam_grids(&results)),
        tasks: results,
    })
}

/// Each task's Adam grid points as (rate, mean final training loss), with its best Adam's loss.
fn adam_grids(results: &[TaskResult]) -> Vec<(Vec<(f32, f64)>, f64)> {
    let adam = |&(c, loss): &(Contender, f64)| match c {
        Contender::Adam(lr) => Some((lr, loss)),
        _ => None,
    };
    results.iter().map(|r| (r.grid.iter().filter_map(adam).collect(), r.adam.final_train)).collect()
}

/// Trains every seed of each `(task, contender)` job in parallel; the curves come back grouped
/// by job, seeds in order.
fn run(
    tasks: &[Box<dyn Task>],
    saved: &SavedOptimizer,
    settings: &EvalSettings,
    jobs: &[(usize, Contender)],
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Vec<Curve>> {
    let runs: Vec<(usize, Contender, u64)> =
        jobs.iter().flat_map(|&(t, c)| (0..settings.seeds).map(move |seed| (t, c, seed))).collect();
    let curves: Vec<Curve> = runs
        .par_iter()
        .map(|&(t, contender, seed)| {
            let mut task = tasks[t].boxed_clone();
            let steps = task.horizon();
            let every = (steps / settings.heldout_points.max(1)).max(1);
            let optimizer = contender.optimizer(saved);
            let curve = train_task(task.as_mut(), optimizer.as_ref(), seed, steps, every, &mut ());
            progress(Progress::RunDone);
            curve
        })
        .collect();
    let mut curves = curves.into_iter();
    jobs.iter().map(|_| curves.by_ref().take(settings.seeds as usize).collect()).collect()
}

/// The grid points to add for one task: for each baseline whose best point is the lowest
/// (highest) rate it tried, the next half decade below (above), within `limits`.
fn grown(entries: &[Entry], (low, high): (f32, f32)) -> Vec<Contender> {
    let mut next = Vec::new();
    for baseline in [Contender::Adam(0.0), Contender::Momentum(0.0)] {
        let family = baseline.family();
        let tried = entries.iter().filter(|e| e.contender.family() == family);
        let exponents: Vec<i32> =
            tried.filter_map(|e| e.contender.lr()).map(half_decades).collect();
        let best = best_of(entries, family).and_then(|i| entries[i].contender.lr());
        let (Some(best), Some(&lowest), Some(&highest)) =
            (best.map(half_decades), exponents.iter().min(), exponents.iter().max())
        else {
            continue;
        };
        if best == lowest && lowest > half_decades(low) {
            next.push(baseline.at(rate(best - 1)));
        } else if best == highest && highest < half_decades(high) {
            next.push(baseline.at(rate(best + 1)));
        }
    }
    next
}

/// `lr` as a whole number k of half decades: lr = 10^(k/2), rounded to the nearest k.
fn half_decades(lr: f32) -> i32 {
    (2.0 * f64::from(lr).log10()).round() as i32
}

/// The learning rate 10^(k/2).
fn rate(k: i32) -> f32 {
    10f64.powf(f64::from(k) / 2.0) as f32
}

/// The index of `family`'s best entry: the lowest final training loss, a diverged run last, the
/// lower rate on a tie (so that a grid where every rate diverges grows downward).
fn best_of(entries: &[Entry], family: &str) -> Option<usize> {
    let key = |e: &Entry| (e.rank(), e.contender.lr().unwrap_or(0.0));
    (0..entries.len()).filter(|&i| entries[i].contender.family() == family).min_by(|&a, &b| {
        let ((ra, la), (rb, lb)) = (key(&entries[a]), key(&entries[b]));
        ra.total_cmp(&rb).then(la.total_cmp(&lb))
    })
}

/// Steps whose minibatch losses average into the final training loss: the last `tail` fraction
/// of `steps`, rounded up, at least one.
fn tail_window(steps: usize, tail: f64) -> usize {
    ((steps as f64 * tail).ceil() as usize).max(1)
}

/// Summarises one contender's curves.
fn entry(contender: Contender, curves: Vec<Curve>, tail: f64) -> Entry {
    let per_seed: Vec<(f32, f32)> = curves
        .iter()
        .map(|c| {
            let n = tail_window(c.train.len(), tail);
            (c.final_train(n).unwrap_or(f32::NAN), c.final_heldout().unwrap_or(f32::NAN))
        })
        .collect();
    let mean = |f: fn(&(f32, f32)) -> f32| {
        per_seed.iter().map(|r| f64::from(f(r))).sum::<f64>() / per_seed.len().max(1) as f64
    };
    Entry { contender, final_train: mean(|r| r.0), final_heldout: mean(|r| r.1), per_seed, curves }
}

/// Picks the best grid point of each baseline for one task and scores the learned optimizer
/// against the best Adam.
fn task_result(spec: &TaskSpec, task: &dyn Task, mut entries: Vec<Entry>, tail: f64) -> TaskResult {
    let mut grid: Vec<(Contender, f64)> =
        entries[1..].iter().map(|e| (e.contender, e.final_train)).collect();
    let lr = |c: &Contender| c.lr().unwrap_or(0.0);
    grid.sort_by(|a, b| a.0.family().cmp(b.0.family()).then(lr(&a.0).total_cmp(&lr(&b.0))));
    let best = |entries: &mut Vec<Entry>, family: &str| {
        let index = best_of(entries, family).expect("every contender has an entry");
        entries.swap_remove(index)
    };
    let adam = best(&mut entries, "adam");
    let momentum = best(&mut entries, "momentum");
    let learned = best(&mut entries, "learned");
    let vs_adam = TaskScore::of(&learned, &adam, tail_window(task.horizon() as usize, tail));
    TaskResult {
        task: spec.to_string(),
        params: task.layout().len(),
        steps: task.horizon(),
        learned,
        adam,
        momentum,
        grid,
        vs_adam,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::LearnedKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Two 40-step quadratics, an untrained learned Adam, two seeds and two grid points.
    fn tiny() -> (Suite, SavedOptimizer, EvalSettings) {
        let suite = Suite::parse(
            "tiny",
            r#"
            description = "two tiny tasks"
            partition = 3
            [[entry]]
            family = "quadratic"
            weight = 1
            members = 2
            [entry.keys]
            dim = 4
            steps = 40
            "#,
        )
        .unwrap();
        let kind = LearnedKind::LearnedAdam;
        let saved = SavedOptimizer { kind, theta: kind.init_theta(0), outer_steps: 0 };
        let (lr_grid, lr_limits) = (vec![1e-3, 1e-1], (1e-3, 1e-1));
        let settings = EvalSettings { seeds: 2, lr_grid, lr_limits, tail: 0.1, heldout_points: 4 };
        (suite, saved, settings)
    }

    #[test]
    fn picks_the_best_grid_point_and_counts_wins() {
        let (suite, saved, settings) = tiny();
        let report = evaluate(&suite, &saved, &settings, &|_| ()).unwrap();
        assert_eq!(report.tasks.len(), 2);
        for r in &report.tasks {
            assert_eq!(r.grid.len(), 4);
            let best_adam = r
                .grid
                .iter()
                .filter(|g| g.0.family() == "adam")
                .map(|g| g.1)
                .fold(f64::INFINITY, f64::min);
            assert_eq!(r.adam.final_train, best_adam);
            assert_eq!(r.adam.contender, Contender::Adam(1e-1), "a larger lr wins in 40 steps");
            assert_eq!(r.learned.per_seed.len(), 2);
            assert_eq!(r.learned.curves[0].train.len(), 40);
            let ratio = r.learned.final_train / r.adam.final_train;
            assert_eq!(r.vs_adam.train_ratio, ratio);
            assert_eq!(r.vs_adam.win(), r.learned.final_train < r.adam.final_train);
        }
        assert_eq!(report.summary.tasks, 2);
        let single = report.single_adam_rate.clone().unwrap();
        let best_on_both = (single.lr, single.geomean_train_ratio, single.worst_train_ratio);
        assert_eq!(best_on_both, (1e-1, 1.0, 1.0), "1e-1 is best on both tasks");
        let dir = std::env::temp_dir().join(format!("pesto-eval-{}", std::process::id()));
        write_outputs(&report, &dir).unwrap();
        let csv = std::fs::read_to_string(dir.join("curves.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 2 * 3 * 2 * 40);
        assert!(dir.join("plots/00-quadratic.png").exists());
        assert_eq!(&std::fs::read(dir.join("summary.png")).unwrap()[1..4], b"PNG");
        assert_eq!(&std::fs::read(dir.join("overview.png")).unwrap()[1..4], b"PNG");
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(json["summary"]["tasks"], 2);
        assert!(json["tasks"][0]["vs_adam"]["train_ratio"].is_f64());
        assert_eq!(json["single_adam_rate"]["geomean_train_ratio"], 1.0);
        let table = table(&report);
        assert!(table.contains("learned beats best adam on"));
        assert!(table.contains("learned / best adam over 2 tasks: training loss geomean "));
        assert!(table.contains("one adam rate for every task: 1e-1, training loss / best adam "));
        assert!(table.lines().nth(1).unwrap().ends_with("ratio   ratio steps/T"));
        assert!(table.lines().all(|l| l.chars().count() <= output::TABLE_WIDTH), "{table}");
        for (i, r) in report.tasks.iter().enumerate() {
            assert!(table.contains(&format!("\n{i:02}  quadratic  ")), "{table}");
            assert!(table.contains(&format!("\n{i:02}  {}\n", r.task)), "{table}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reports_every_run_and_gives_the_same_results_on_one_thread() {
        let (suite, saved, settings) = tiny();
        let runs = AtomicUsize::new(0);
        let report = evaluate(&suite, &saved, &settings, &|progress| {
            assert_eq!(progress, Progress::RunDone, "the grid's ends are its limits");
            runs.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(settings.runs(2), 2 * (1 + 2 * 2) * 2);
        assert_eq!(runs.into_inner() as u64, settings.runs(2));
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let again = one_thread.install(|| evaluate(&suite, &saved, &settings, &|_| ())).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&report).unwrap());
    }

    /// Checks every task's grown grids: consecutive half decades from the starting grid, within
    /// `limits`, each baseline's best rate inside them or at a limit; returns the runs they took.
    fn check_grids(report: &EvalReport, settings: &EvalSettings) -> u64 {
        let (low, high) = (half_decades(settings.lr_limits.0), half_decades(settings.lr_limits.1));
        let start: Vec<i32> = settings.lr_grid.iter().map(|&lr| half_decades(lr)).collect();
        let mut grown = 0;
        for r in &report.tasks {
            for best in [&r.adam, &r.momentum] {
                let family = best.contender.family();
                let tried = r.grid.iter().filter(|g| g.0.family() == family);
                let lrs: Vec<f32> = tried.filter_map(|g| g.0.lr()).collect();
                let ks: Vec<i32> = lrs.iter().map(|&lr| half_decades(lr)).collect();
                assert!(lrs.iter().all(|&lr| lr == rate(half_decades(lr))), "{lrs:?}");
                let (first, last) = (ks[0], ks[ks.len() - 1]);
                assert!(low <= first && last <= high, "within the limits: {lrs:?}");
                let added: Vec<i32> = ks.iter().copied().filter(|k| !start.contains(k)).collect();
                let below = (first..start[0]).collect::<Vec<_>>();
                let above = (start[start.len() - 1] + 1..=last).collect::<Vec<_>>();
                assert_eq!(added, [below, above].concat(), "one half decade at a time: {lrs:?}");
                let k = half_decades(best.contender.lr().unwrap());
                let inside = first < k && k < last;
                assert!(inside || k == low || k == high || ks.len() == 1, "{family}: {lrs:?}");
                grown += added.len() as u64 * settings.seeds;
            }
        }
        grown
    }

    #[test]
    fn a_grid_grows_past_the_end_where_a_baseline_is_best_one_half_decade_at_a_time() {
        let (suite, saved, mut settings) = tiny();
        for (grid, limits) in [(vec![1e-3, 1e-1], (1e-4, 1.0)), (vec![1.0], (1e-3, 1.0))] {
            (settings.lr_grid, settings.lr_limits) = (grid, limits);
            let (done, added) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let report = evaluate(&suite, &saved, &settings, &|progress| match progress {
                Progress::RunDone => drop(done.fetch_add(1, Ordering::Relaxed)),
                Progress::RunsAdded(n) => drop(added.fetch_add(n as usize, Ordering::Relaxed)),
            })
            .unwrap();
            let grown = added.into_inner() as u64;
            assert_eq!(check_grids(&report, &settings), grown);
            assert_eq!(done.into_inner() as u64, settings.runs(2) + grown);
            let lrs = |r: &TaskResult| r.grid.iter().filter_map(|g| g.0.lr()).collect::<Vec<_>>();
            let tried: Vec<f32> = report.tasks.iter().flat_map(lrs).collect();
            let grid_low = settings.lr_grid[0];
            if grid_low == 1.0 {
                assert!(tried.iter().any(|&lr| lr < 1.0), "a rate of 1 is too large: grow down");
            } else {
                assert!(tried.iter().any(|&lr| lr > 0.1), "in 40 steps 0.1 is too small: grow up");
            }
            let outside = |best: fn(&TaskResult) -> &Entry| {
                let off =
                    |r: &&TaskResult| !settings.lr_grid.contains(&best(r).contender.lr().unwrap());
                report.tasks.iter().filter(off).count()
            };
            let footer = format!(
                "best lr outside the grid {grid_low:.0e}..{:.0e}: adam on {}, momentum on {} of 2 tasks",
                settings.lr_grid[settings.lr_grid.len() - 1],
                outside(|r| &r.adam),
                outside(|r| &r.momentum)
            );
            assert!(table(&report).contains(&footer), "{footer}\n{}", table(&report));
            let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
            let again =
                one_thread.install(|| evaluate(&suite, &saved, &settings, &|_| ())).unwrap();
            assert_eq!(
                serde_json::to_string(&again).unwrap(),
                serde_json::to_string(&report).unwrap()
            );
        }
    }
}
