//! Everything about learning theta: unrolled systems, gradient estimators, optimizers
//! (hand-designed and learned), the outer loop, checkpoints, logging and evaluation.

pub mod estimators;
pub mod inner;
pub mod optim;
pub mod plot;
pub mod unrolled;

pub use estimators::{Estimate, Estimator};
pub use inner::{Curve, InnerObserver, train_task};
pub use optim::{LearnedOptimizer, OptState, Optimizer};
pub use unrolled::UnrolledSystem;
