//! Inner problems for learned-optimizer meta-training: the `Task` trait, parameter layouts,
//! synthetic and real data, task families and named suites. Knows nothing about meta-learning.

pub mod alloc_count;
pub mod classifier;
pub mod data;
pub mod error;
pub mod families;
pub mod family;
#[cfg(test)]
mod gradcheck;
pub mod layout;
pub mod linalg;
pub mod mlp;
pub mod read;
pub mod registry;
pub mod rng;
pub mod simd;
pub mod spec;
pub mod suite;
pub mod tags;
pub mod task;
pub mod vmath;

pub use error::TaskError;
pub use family::{Domain, KeySpec, TaskFamily};
pub use layout::{ParamLayout, TensorSpec};
pub use suite::Suite;
pub use task::{Normalised, Normaliser, Task, TaskSpec};

#[cfg(test)]
#[global_allocator]
static ALLOCATOR: alloc_count::CountingAllocator = alloc_count::CountingAllocator;
