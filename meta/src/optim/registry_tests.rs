//! Every registered family and every member of the built-in suites trains under Adam.

use super::{Adam, Schedule};
use crate::inner::train_task;
use pesto_tasks::{Suite, TaskSpec, registry};

/// Every family at its defaults, then every member of every built-in suite.
fn every_task() -> Vec<TaskSpec> {
    let defaults = registry::families().iter().map(|f| TaskSpec {
        family: f.name().into(),
        config: Default::default(),
        seed: 11,
    });
    let members = Suite::names().into_iter().flat_map(|name| Suite::named(name).unwrap().members());
    defaults.chain(members).collect()
}

#[test]
fn fifty_adam_steps_reduce_every_tasks_loss_and_stay_finite() {
    for spec in every_task() {
        let mut task = registry::build(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        let adam = Adam::new(Schedule::Constant(1e-2));
        let curve = train_task(task.as_mut(), &adam, 5, 50, 50, &mut ());
        let [(_, start), (_, end)] = curve.heldout[..] else { panic!("two evaluations expected") };
        assert!(curve.train.iter().all(|l| l.is_finite()), "{spec}: non-finite training loss");
        assert!(end.is_finite() && end < start, "{spec}: held-out loss {start} -> {end}");
    }
}
