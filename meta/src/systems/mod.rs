//! The paper's small unrolled systems, used to reproduce its experiments and to test estimators
//! against known gradients.

mod char_lstm;
mod influence_balancing;
mod linear_quadratic;
mod mnist_schedule;
#[cfg(feature = "mujoco")]
mod swimmer;
mod toy_regression;

pub use char_lstm::{CharLstm, LstmState, TextStart};
pub use influence_balancing::{IbState, InfluenceBalancing};
pub use linear_quadratic::{LinearQuadratic, LqState};
pub use mnist_schedule::{MnistSchedule, ScheduleRun};
#[cfg(feature = "mujoco")]
pub use swimmer::{Swimmer, SwimmerState};
pub use toy_regression::{ToyRegression, ToyState};
