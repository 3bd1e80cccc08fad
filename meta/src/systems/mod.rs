//! The paper's small unrolled systems, used to reproduce its experiments and to test estimators
//! against known gradients.

mod influence_balancing;
mod linear_quadratic;
mod mnist_schedule;
mod toy_regression;

pub use influence_balancing::{IbState, InfluenceBalancing};
pub use linear_quadratic::{LinearQuadratic, LqState};
pub use mnist_schedule::{MnistSchedule, ScheduleRun};
pub use toy_regression::{ToyRegression, ToyState};
