//! The paper's small unrolled systems, used to reproduce its experiments and to test estimators
//! against known gradients.

mod influence_balancing;
mod linear_quadratic;
#[cfg(feature = "mujoco")]
mod swimmer;
mod toy_regression;

pub use influence_balancing::{IbState, InfluenceBalancing};
pub use linear_quadratic::{LinearQuadratic, LqState};
#[cfg(feature = "mujoco")]
pub use swimmer::{Swimmer, SwimmerState};
pub use toy_regression::{ToyRegression, ToyState};
