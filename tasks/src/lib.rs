//! Inner problems for learned-optimizer meta-training: the `Task` trait, parameter layouts,
//! synthetic and real data, task families and named suites. Knows nothing about meta-learning.

pub mod error;
pub mod layout;
pub mod linalg;
pub mod rng;
pub mod task;

pub use error::TaskError;
pub use layout::{ParamLayout, TensorSpec};
pub use task::{Normalised, Normaliser, Task, TaskSpec};
