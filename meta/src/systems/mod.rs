//! The paper's small unrolled systems, used to reproduce its experiments and to test estimators
//! against known gradients.

mod char_lstm;
mod influence_balancing;
mod linear_quadratic;
mod toy_regression;

pub use char_lstm::{CharLstm, LstmState, TextStart};
pub use influence_balancing::{IbState, InfluenceBalancing};
pub use linear_quadratic::{LinearQuadratic, LqState};
pub use toy_regression::{ToyRegression, ToyState};
