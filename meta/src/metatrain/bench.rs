//! The throughput benchmark of docs/benchmark.md, run through the same `MetaTrainer` as
//! meta-training.

use super::{MetaTrainConfig, MetaTrainer, RunError};
use crate::distributed;
#[cfg(feature = "plot")]
use crate::eval::score::median;
#[cfg(feature = "plot")]
use crate::plot::LineChart;
use pesto_tasks::{TaskSpec, registry};
use serde::{Deserialize, Serialize};
#[cfg(feature = "plot")]
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

/// One process, for reports written before processes were recorded.
fn one() -> usize {
    1
}

/// Outer steps run before timing starts.
pub const WARMUP_STEPS: u64 = 5;

/// What `pesto bench` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// The learned optimizer's kind.
    pub optimizer: String,
    /// Parameters of the inner task; absent when the tasks come from a suite.
    pub task_params: Option<usize>,
    /// Particles N (inner runs per outer step).
    pub particles: usize,
    /// Truncation length K.
    pub truncation: u64,
    /// Worker threads of the rayon pool.
    pub threads: usize,
    /// Timed outer steps (after the warm-up).
    pub outer_steps: u64,
    /// Inner steps of all particles per second over the timed steps.
    pub inner_steps_per_sec: f64,
    /// Outer steps per second over the timed steps.
    pub outer_steps_per_sec: f64,
    /// Mean inner steps of an outer step: N x K less the steps cut at horizons.
    pub inner_steps_per_outer_step: f64,
    /// Seconds from the start of the benchmark to the end of the first outer step.
    pub first_step_secs: f64,
    /// Peak resident memory of the process in MiB, where the OS reports it.
    pub peak_rss_mib: Option<f64>,
    /// Processes the particles are spread over (docs/cluster.md; 1 in reports without it).
    #[serde(default = "one")]
    pub processes: usize,
    /// Seconds per timed outer step this process (rank 0) spent in collectives, waiting for
    /// the others included (0 in one process).
    #[serde(default)]
    pub communication_secs_per_step: f64,
    /// The least of every process's `communication_secs_per_step`: the exchange with the
    /// least waiting, closest to its own cost (0 in one process).
    #[serde(default)]
    pub least_communication_secs_per_step: f64,
    /// Outer steps per second of the same workload on rank 0 alone, timed first while the
    /// other processes sleep (absent in one process).
    #[serde(default)]
    pub single_process_outer_steps_per_sec: Option<f64>,
    /// Parallel efficiency T(1) / (R T(R)) from the two timings (absent in one process).
    #[serde(default)]
    pub efficiency: Option<f64>,
}

/// Runs `WARMUP_STEPS + steps` outer steps of `config` and measures the last `steps`; in a run
/// spread over R > 1 processes, times it first on rank 0 alone, for the efficiency.
pub fn bench(config: MetaTrainConfig, steps: u64) -> Result<BenchReport, RunError> {
    let size = distributed::size();
    let alone = match size > 1 {
        true => distributed::alone_on_root(|| time(config.clone(), steps)).transpose()?,
        false => None,
    };
    let mut report = time(config, steps)?;
    let mine = report.communication_secs_per_step;
    let all = distributed::gather(|| mine.to_le_bytes().to_vec()).unwrap_or_default();
    let least = all.iter().map(|b| f64::from_le_bytes(b[..8].try_into().expect("8 bytes")));
    report.least_communication_secs_per_step = least.fold(mine, f64::min);
    if let Some(alone) = alone {
        let single = alone.outer_steps_per_sec;
        report.single_process_outer_steps_per_sec = Some(single);
        report.efficiency = Some(report.outer_steps_per_sec / (size as f64 * single));
    }
    Ok(report)
}

/// `bench` on the processes of this run as they are, without the efficiency.
fn time(config: MetaTrainConfig, steps: u64) -> Result<BenchReport, RunError> {
    let optimizer = config.optimizer.kind.to_string();
    let (particles, truncation) = (config.estimator.particles, config.estimator.truncation);
    let task = config.tasks.task.clone();
    let started = Instant::now();
    let mut trainer = MetaTrainer::new(config, Path::new("."))?;
    trainer.step();
    let first_step_secs = started.elapsed().as_secs_f64();
    for _ in 1..WARMUP_STEPS {
        trainer.step();
    }
    let timed = Instant::now();
    let communicated = distributed::communication_time();
    let mut inner_steps = 0;
    for _ in 0..steps {
        inner_steps += trainer.step().inner_steps;
    }
    let seconds = timed.elapsed().as_secs_f64();
    let peak_rss_mib = peak_rss_mib();
    let task_params = task.map(|task| {
        let spec = TaskSpec::parse(&task, 0).expect("the trainer parsed this task");
        registry::build(&spec).expect("the trainer built this task").layout().len()
    });
    Ok(BenchReport {
        optimizer,
        task_params,
        particles,
        truncation,
        threads: rayon::current_num_threads(),
        outer_steps: steps,
        inner_steps_per_sec: inner_steps as f64 / seconds,
        outer_steps_per_sec: steps as f64 / seconds,
        inner_steps_per_outer_step: inner_steps as f64 / steps as f64,
        first_step_secs,
        peak_rss_mib,
        processes: distributed::size(),
        communication_secs_per_step: (distributed::communication_time() - communicated)
            .as_secs_f64()
            / steps as f64,
        least_communication_secs_per_step: 0.0,
        single_process_outer_steps_per_sec: None,
        efficiency: None,
    })
}

/// The quantity a scaling sweep varies (docs/benchmark.md, "How cost grows").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepAxis {
    /// Parameters of the inner task.
    Params,
    /// Particles N.
    Particles,
    /// Truncation length K.
    Truncation,
}

impl SweepAxis {
    /// Every axis, in the order of the names accepted by `from_str`.
    pub const ALL: [Self; 3] = [Self::Params, Self::Particles, Self::Truncation];

    /// The axis's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Params => "params",
            Self::Particles => "particles",
            Self::Truncation => "truncation",
        }
    }

    /// The value of this axis in `report`, if it has one.
    pub fn value(self, report: &BenchReport) -> Option<f64> {
        match self {
            Self::Params => report.task_params.map(|p| p as f64),
            Self::Particles => Some(report.particles as f64),
            Self::Truncation => Some(report.truncation as f64),
        }
    }

    /// The x-axis label of a chart along this axis.
    pub fn label(self) -> &'static str {
        match self {
            Self::Params => "parameters of the inner task",
            Self::Particles => "particles N",
            Self::Truncation => "truncation length K",
        }
    }
}

impl FromStr for SweepAxis {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|a| a.name()).collect();
            format!("unknown sweep axis `{s}`; expected one of {}", names.join(", "))
        })
    }
}

/// A log-log chart of inner steps/s against `axis`: one series per optimizer, with the median
/// of the reports at each value of the axis.
#[cfg(feature = "plot")]
pub fn scaling_chart(reports: &[BenchReport], axis: SweepAxis) -> LineChart {
    let mut runs: BTreeMap<&str, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for report in reports {
        if let Some(x) = axis.value(report) {
            let series = runs.entry(report.optimizer.as_str()).or_default();
            series.entry(x as u64).or_default().push(report.inner_steps_per_sec);
        }
    }
    let title = format!("meta-training throughput against {}", axis.label());
    let chart = LineChart::new(&title, axis.label(), "inner steps/s").log_x(true).log_y(true);
    runs.into_iter().fold(chart, |chart, (name, points)| {
        let points = points.into_iter().map(|(x, y)| (x as f64, median(&y))).collect();
        chart.with_series(name, points)
    })
}

/// Peak resident set size of this process (VmHWM in /proc/self/status), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metatrain::{LoptTraining, TaskSource};
    use crate::unrolled::UnrolledSystem;

    /// Celo's phase-1 workload with nominal-lopt.
    fn celo_config() -> MetaTrainConfig {
        let text = include_str!("../../configs/bench_celo.toml");
        MetaTrainConfig::parse(text, Path::new("bench_celo.toml")).unwrap()
    }

    /// The reference workload's configuration.
    fn benchmark_config() -> MetaTrainConfig {
        let text = include_str!("../../configs/benchmark.toml");
        MetaTrainConfig::parse(text, Path::new("benchmark.toml")).unwrap()
    }

    /// The benchmark with nominal-lopt on the train suite, sampled horizons and rescaled
    /// parameters.
    fn sampled_config() -> MetaTrainConfig {
        let text = include_str!("../../configs/benchmark.toml")
            .replace("kind = \"mlp-lopt\"", "kind = \"nominal-lopt\"")
            .replace(
                "task = \"mlp-synth-64x32x10\"",
                "suite = \"train\"\nhorizon = [20, 200]\nparam_scale = [0.1, 10.0]",
            );
        MetaTrainConfig::parse(&text, Path::new("sampled.toml")).unwrap()
    }

    /// Theta's bits after three outer steps of `config` in a pool of `threads` threads.
    fn theta_after_three_steps(config: MetaTrainConfig, threads: usize) -> Vec<u32> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut trainer = MetaTrainer::new(config, Path::new(".")).unwrap();
            for _ in 0..3 {
                trainer.step();
            }
            trainer.state().theta.iter().map(|t| t.to_bits()).collect()
        })
    }

    #[test]
    fn the_benchmark_gives_the_same_theta_on_one_and_two_threads() {
        for config in [benchmark_config(), sampled_config(), celo_config()] {
            let kind = config.optimizer.kind;
            let one = theta_after_three_steps(config.clone(), 1);
            assert_eq!(one, theta_after_three_steps(config, 2), "{kind}");
            let initial = kind.init_theta(0);
            assert_ne!(one, initial.iter().map(|t| t.to_bits()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_celo_workload_has_the_shapes_of_celos_phase_1() {
        let config = celo_config();
        assert_eq!(config.optimizer.kind, crate::optim::LearnedKind::NominalLopt);
        assert_eq!((config.estimator.particles, config.estimator.truncation), (64, 50));
        assert_eq!(config.estimator.sigma, 0.01);
        assert!(config.estimator.stagger);
        assert_eq!(config.tasks.horizon, Some([100, 2000]));
        assert_eq!(config.tasks.param_scale, Some([1e-3, 1e3]));
        assert_eq!(config.tasks.param_scale_per, crate::metatrain::ScaleGranularity::Task);
        let spec = TaskSpec::parse(config.tasks.task.as_deref().unwrap(), 0).unwrap();
        assert_eq!(spec.config["batch"], "64");
        assert_eq!(registry::build(&spec).unwrap().layout().len(), 2410);
    }

    #[test]
    fn a_truncation_of_the_celo_workload_allocates_nothing() {
        let config = celo_config();
        let kind = config.optimizer.kind;
        let source = TaskSource::from_config(&config.tasks).unwrap();
        let system = LoptTraining::new(source, kind, kind.init_theta(0))
            .with_sampling(config.tasks.sampling());
        let theta = system.initial_theta();
        let mut run = system.init_state(1, 0);
        assert!(!run.scales.is_empty() && run.horizon >= 100);
        system.unroll(&mut run, &theta, 2);
        let before = pesto_tasks::alloc_count::allocations();
        let loss = system.unroll(&mut run, &theta, 50).loss;
        assert_eq!(pesto_tasks::alloc_count::allocations(), before);
        assert!(loss.is_finite() && run.step == 52);
    }

    /// A bench report with these axis values and throughput.
    fn report(
        optimizer: &str,
        task_params: Option<usize>,
        inner_steps_per_sec: f64,
    ) -> BenchReport {
        BenchReport {
            optimizer: optimizer.into(),
            task_params,
            particles: 64,
            truncation: 50,
            threads: 1,
            outer_steps: 30,
            inner_steps_per_sec,
            outer_steps_per_sec: 1.0,
            inner_steps_per_outer_step: 3200.0,
            first_step_secs: 0.1,
            peak_rss_mib: Some(20.0),
            processes: 1,
            communication_secs_per_step: 0.0,
            least_communication_secs_per_step: 0.0,
            single_process_outer_steps_per_sec: None,
            efficiency: None,
        }
    }

    #[test]
    fn the_json_report_names_every_field_and_reads_back() {
        let text = include_str!("../../configs/bench_celo.toml")
            .replace("particles = 64", "particles = 2")
            .replace("truncation = 50", "truncation = 3")
            .replace("mlp-synth-64x32x10:batch=64", "mlp-synth:input=4,hidden=3,classes=2,batch=8");
        let config = MetaTrainConfig::parse(&text, Path::new("tiny.toml")).unwrap();
        let measured = bench(config, 2).unwrap();
        let json = serde_json::to_value(&measured).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = vec![
            "optimizer",
            "task_params",
            "particles",
            "truncation",
            "threads",
            "outer_steps",
            "inner_steps_per_sec",
            "outer_steps_per_sec",
            "inner_steps_per_outer_step",
            "first_step_secs",
            "peak_rss_mib",
            "processes",
            "communication_secs_per_step",
            "least_communication_secs_per_step",
            "single_process_outer_steps_per_sec",
            "efficiency",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["optimizer"], "nominal-lopt");
        assert_eq!(json["task_params"], 4 * 3 + 3 + 3 * 2 + 2);
        assert_eq!((json["particles"].as_u64(), json["outer_steps"].as_u64()), (Some(2), Some(2)));
        assert!((1.0..=6.0).contains(&measured.inner_steps_per_outer_step));
        let back: BenchReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, measured);
    }

    #[test]
    fn the_scaling_chart_has_one_series_per_optimizer_of_medians_on_log_axes() {
        let reports = [
            report("mlp-lopt", Some(2410), 10.0),
            report("mlp-lopt", Some(2410), 20.0),
            report("nominal-lopt", Some(2410), 30.0),
            report("nominal-lopt", Some(2410), 10.0),
            report("nominal-lopt", Some(2410), 20.0),
            report("nominal-lopt", Some(31146), 4.0),
            report("nominal-lopt", None, 1.0),
        ];
        let chart = scaling_chart(&reports, SweepAxis::Params);
        assert!(chart.log_x && chart.log_y);
        let series: Vec<_> = chart.series.iter().map(|s| (s.name.as_str(), &s.points)).collect();
        assert_eq!(
            series,
            [
                ("mlp-lopt", &vec![(2410.0, 15.0)]),
                ("nominal-lopt", &vec![(2410.0, 20.0), (31146.0, 4.0)])
            ]
        );
        let by_k = scaling_chart(&reports, SweepAxis::Truncation);
        assert_eq!(by_k.series[1].points, [(50.0, 10.0)]);
    }

    #[test]
    fn sweep_axes_parse_by_name_and_reject_others_naming_the_valid_ones() {
        for axis in SweepAxis::ALL {
            assert_eq!(axis.name().parse(), Ok(axis));
        }
        assert_eq!(
            "size".parse::<SweepAxis>(),
            Err("unknown sweep axis `size`; expected one of params, particles, truncation".into())
        );
    }
}
