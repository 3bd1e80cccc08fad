//! Everything about learning theta: unrolled systems, gradient estimators, optimizers
//! (hand-designed and learned), the outer loop, checkpoints, logging and evaluation.

pub mod checkpoint;
pub mod differentiable;
pub mod distributed;
pub mod durable;
pub mod estimators;
#[cfg(feature = "plot")]
pub mod eval;
#[cfg(feature = "export")]
pub mod export;
pub mod inner;
pub mod inspect;
pub mod metatrain;
pub mod observe;
pub mod optim;
pub mod outer;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(all(feature = "plot", feature = "tensorboard"))]
pub mod repro;
pub mod systems;
pub mod trainer;
pub mod unrolled;

pub use differentiable::DifferentiableSystem;
pub use estimators::{Estimate, Estimator};
pub use inner::{Curve, InnerObserver, train_task};
pub use optim::{LearnedOptimizer, OptState, Optimizer};
pub use unrolled::{Unroll, UnrolledSystem};

#[cfg(test)]
#[global_allocator]
static ALLOCATOR: pesto_tasks::alloc_count::CountingAllocator =
    pesto_tasks::alloc_count::CountingAllocator;
