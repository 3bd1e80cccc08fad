//! Reproductions of the paper's experiments (REFERENCE.md §4) and estimator diagnostics; the
//! CLI only parses their options and prints their results.

pub mod variance;
