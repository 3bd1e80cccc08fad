//! Everything about learning theta: unrolled systems, gradient estimators, optimizers
//! (hand-designed and learned), the outer loop, checkpoints, logging and evaluation.

pub mod checkpoint;
pub mod differentiable;
pub mod estimators;
pub mod observe;
pub mod optim;
pub mod outer;
pub mod plot;
pub mod repro;
pub mod systems;
pub mod unrolled;

pub use differentiable::DifferentiableSystem;
pub use estimators::{Estimate, Estimator};
pub use optim::{LearnedOptimizer, OptState, Optimizer};
pub use unrolled::UnrolledSystem;
