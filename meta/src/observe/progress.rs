//! A terminal progress bar: step, meta-loss, inner steps/s and ETA.

use super::{Observer, OuterRecord};
use indicatif::{ProgressDrawTarget, ProgressStyle};
use std::io;

/// Shows the outer loop's progress on standard error (hidden when it is not a terminal).
pub struct ProgressBar(indicatif::ProgressBar);

impl ProgressBar {
    /// A bar for a run of `total` outer steps, `done` of which are already complete.
    pub fn new(done: u64, total: u64) -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} outer steps  {msg}  ETA {eta}")
                .expect("valid progress template"),
        );
        bar.set_position(done);
        bar.reset_eta();
        Self(bar)
    }
}

impl Observer for ProgressBar {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        self.0.set_position(r.step);
        self.0.set_message(format!(
            "meta-loss {:.4}  {:.0} inner steps/s",
            r.meta_loss, r.inner_steps_per_sec
        ));
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.0.finish();
        Ok(())
    }
}
