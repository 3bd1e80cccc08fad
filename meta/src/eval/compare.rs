//! Several evaluations side by side: the suite summaries of `results.json` files (from
//! `pesto eval`), grouped by suite, with the median over each suite's evaluations, for instance
//! over the meta-training seeds of one recipe.

use super::SuiteSummary;
use super::output::RESULTS_FILE;
use super::score::median;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a results file could not be read.
#[derive(Debug, Error)]
pub enum CompareError {
    /// The file could not be read.
    #[error("reading {path} (an output directory of `pesto eval` or its results.json): {error}")]
    Io { path: String, error: std::io::Error },
    /// The file is not the results of `pesto eval`.
    #[error("{path} is not a results.json written by `pesto eval`: {error}")]
    Format { path: String, error: serde_json::Error },
}

/// One evaluation, as far as comparing needs it.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct Evaluation {
    /// Where it was read from, as given.
    #[serde(skip_deserializing)]
    pub source: String,
    /// Suite evaluated.
    pub suite: String,
    /// The learned optimizer's kind.
    pub optimizer: String,
    /// Outer steps of meta-training behind it.
    pub outer_steps: u64,
    /// The suite summary.
    pub summary: SuiteSummary,
}

/// Reads the evaluation in `path`: an output directory of `pesto eval` or its results file.
pub fn read_evaluation(path: &Path) -> Result<Evaluation, CompareError> {
    let file: PathBuf = if path.is_dir() { path.join(RESULTS_FILE) } else { path.to_path_buf() };
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(&file)
        .map_err(|error| CompareError::Io { path: shown.clone(), error })?;
    let mut evaluation: Evaluation =
        serde_json::from_str(&text).map_err(|error| CompareError::Format { path: shown, error })?;
    evaluation.source = path.display().to_string();
    Ok(evaluation)
}

/// One table per suite (in order of first appearance) with a row per evaluation: training- and
/// held-out-loss geometric-mean ratios, wins, worst and interquartile-mean ratios; suites with
/// more than one evaluation end with the median of each column.
pub fn comparison_table(evaluations: &[Evaluation]) -> String {
    let mut suites: Vec<(&str, usize)> = Vec::new();
    for e in evaluations {
        let key = (e.suite.as_str(), e.summary.tasks);
        if !suites.contains(&key) {
            suites.push(key);
        }
    }
    let median_label = |rows: usize| format!("median of {rows}");
    let widest_label = median_label(evaluations.len()).len();
    let width = evaluations.iter().map(|e| e.source.len()).fold(widest_label, usize::max);
    let mut out = String::new();
    let row = |out: &mut String, cells: [&str; 8]| {
        let [source, optimizer, outer, train, test, wins, worst, iqm] = cells;
        let _ = writeln!(
            out,
            "{source:<width$} {optimizer:<14} {outer:>6} {train:>7} {test:>7} {wins:>5} {worst:>7} {iqm:>7}"
        );
    };
    let ratio = |r: f64| format!("{r:.3}");
    for (suite, tasks) in suites {
        let rows: Vec<&Evaluation> =
            evaluations.iter().filter(|e| e.suite == suite && e.summary.tasks == tasks).collect();
        let _ = writeln!(out, "suite `{suite}` ({tasks} tasks): learned / best adam");
        row(&mut out, ["", "optimizer", "outer", "train", "test", "wins", "worst", "IQM"]);
        for e in &rows {
            let s = &e.summary;
            row(
                &mut out,
                [
                    &e.source,
                    &e.optimizer,
                    &e.outer_steps.to_string(),
                    &ratio(s.geomean_train_ratio),
                    &ratio(s.geomean_test_ratio),
                    &s.wins.to_string(),
                    &ratio(s.worst_train_ratio),
                    &ratio(s.iqm_train_ratio),
                ],
            );
        }
        if rows.len() > 1 {
            let column = |f: fn(&SuiteSummary) -> f64| {
                median(&rows.iter().map(|e| f(&e.summary)).collect::<Vec<_>>())
            };
            row(
                &mut out,
                [
                    &median_label(rows.len()),
                    "",
                    "",
                    &ratio(column(|s| s.geomean_train_ratio)),
                    &ratio(column(|s| s.geomean_test_ratio)),
                    &column(|s| s.wins as f64).to_string(),
                    &ratio(column(|s| s.worst_train_ratio)),
                    &ratio(column(|s| s.iqm_train_ratio)),
                ],
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(train: f64, wins: usize) -> SuiteSummary {
        SuiteSummary {
            tasks: 8,
            wins,
            geomean_train_ratio: train,
            geomean_test_ratio: 1.5,
            worst_train_ratio: 3.0,
            iqm_train_ratio: 0.8,
            iqm_count: 4,
            mean_final_train: [0.1, 0.2, 0.3],
        }
    }

    fn evaluation(source: &str, suite: &str, train: f64, wins: usize) -> Evaluation {
        Evaluation {
            source: source.into(),
            suite: suite.into(),
            optimizer: "snr-lopt".into(),
            outer_steps: 4000,
            summary: summary(train, wins),
        }
    }

    #[test]
    fn a_results_file_round_trips_through_its_summary_with_infinite_ratios() {
        let dir = std::env::temp_dir().join(format!("pesto-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut worst = summary(0.9, 6);
        worst.worst_train_ratio = f64::INFINITY;
        let json = serde_json::json!({
            "suite": "ood", "optimizer": "trend-lopt", "outer_steps": 4000, "seeds": 3,
            "lr_grid": [1e-4], "summary": worst, "tasks": []
        });
        std::fs::write(dir.join(RESULTS_FILE), json.to_string()).unwrap();
        let read = read_evaluation(&dir).unwrap();
        assert_eq!(read.source, dir.display().to_string());
        assert_eq!((read.suite.as_str(), read.optimizer.as_str()), ("ood", "trend-lopt"));
        assert_eq!(read.summary, worst);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreadable_and_foreign_files_are_errors_that_name_the_file() {
        let missing = Path::new("no/such/eval");
        let err = read_evaluation(missing).unwrap_err().to_string();
        assert!(err.starts_with("reading no/such/eval (an output directory of "), "{err}");
        let foreign =
            std::env::temp_dir().join(format!("pesto-foreign-{}.json", std::process::id()));
        std::fs::write(&foreign, r#"{"suite": "ood"}"#).unwrap();
        let err = read_evaluation(&foreign).unwrap_err().to_string();
        assert!(err.contains("is not a results.json written by `pesto eval`"), "{err}");
        assert!(err.contains("missing field `optimizer`"), "{err}");
        std::fs::remove_file(&foreign).unwrap();
    }

    #[test]
    fn the_table_groups_by_suite_and_adds_a_median_row_where_a_suite_has_several() {
        let table = comparison_table(&[
            evaluation("seed1-ood", "ood", 0.9, 6),
            evaluation("seed1-heldout", "heldout", 0.8, 7),
            evaluation("seed2-ood", "ood", 1.2, 4),
            evaluation("seed3-ood", "ood", 1.0, 5),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "suite `ood` (8 tasks): learned / best adam");
        assert!(lines[2].starts_with("seed1-ood") && lines[4].starts_with("seed3-ood"));
        let median: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(median, ["median", "of", "3", "1.000", "1.500", "5", "3.000", "0.800"]);
        assert_eq!(lines[7], "suite `heldout` (8 tasks): learned / best adam");
        assert!(lines[9].starts_with("seed1-heldout"));
        assert!(!table.contains("median of 1"));
    }
}
