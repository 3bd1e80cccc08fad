//! Progress of the outer loop on standard error: a bar on a terminal, a plain line every few
//! seconds otherwise (nohup, batch jobs), so a long run is never silent.

use super::{Observer, OuterRecord};
use indicatif::{ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// Weight of the newest meta-loss in the smoothed meta-loss (an exponential moving average).
const SMOOTHING: f64 = 0.05;

/// Shows the outer loop's progress: step, elapsed time, outer steps/s, the raw and smoothed
/// meta-loss, the last held-out loss and inner steps/s, and a line at each checkpoint.
pub struct ProgressBar {
    bar: indicatif::ProgressBar,
    /// When stderr is not a terminal: the interval between plain lines and the last one's time.
    plain: Option<(Duration, Instant)>,
    started: Instant,
    first: u64,
    total: u64,
    step: u64,
    smoothed: Option<f64>,
    heldout: Option<f64>,
    message: String,
}

impl ProgressBar {
    /// Progress of a run of `total` outer steps, `done` of which are already complete; when
    /// stderr is not a terminal, a plain line is printed every `plain_every`.
    pub fn new(done: u64, total: u64, plain_every: Duration) -> Self {
        let terminal = io::stderr().is_terminal();
        let target = match terminal {
            true => ProgressDrawTarget::stderr(),
            false => ProgressDrawTarget::hidden(),
        };
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} outer steps [{elapsed_precise}, {per_sec}]  {msg}  ETA {eta}",
            )
            .expect("valid progress template"),
        );
        bar.set_position(done);
        bar.reset_eta();
        let now = Instant::now();
        Self {
            bar,
            plain: (!terminal).then_some((plain_every, now)),
            started: now,
            first: done,
            total,
            step: done,
            smoothed: None,
            heldout: None,
            message: String::new(),
        }
    }

    /// A plain line: step, percentage, elapsed time, the state message and an ETA.
    fn plain_line(&self) -> String {
        let elapsed = self.started.elapsed();
        let done = self.step.saturating_sub(self.first);
        let left = self.total.saturating_sub(self.step);
        let eta = match done {
            0 => "?".to_string(),
            _ => format_duration(elapsed.mul_f64(left as f64 / done as f64)),
        };
        format!(
            "outer step {}/{} ({:.1}%)  elapsed {}  {}  ETA {eta}",
            self.step,
            self.total,
            100.0 * self.step as f64 / self.total.max(1) as f64,
            format_duration(elapsed),
            self.message
        )
    }
}

/// `d` as `1h02m03s`, `2m03s` or `3s`.
fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, sec) => format!("{h}h{min:02}m{sec:02}s"),
    }
}

impl Observer for ProgressBar {
    fn observe(&mut self, r: &OuterRecord) -> io::Result<()> {
        self.step = r.step;
        let smoothed = match self.smoothed {
            Some(s) => s + SMOOTHING * (r.meta_loss - s),
            None => r.meta_loss,
        };
        self.smoothed = Some(smoothed);
        self.heldout = r.heldout_loss.or(self.heldout);
        let heldout = self.heldout.map_or(String::new(), |h| format!("  held-out {h:.4}"));
        self.message = format!(
            "meta-loss {:.4} (smoothed {smoothed:.4}){heldout}  {:.0} inner steps/s",
            r.meta_loss, r.inner_steps_per_sec
        );
        self.bar.set_position(r.step);
        self.bar.set_message(self.message.clone());
        if let Some((every, last)) = self.plain
            && last.elapsed() >= every
        {
            self.plain = Some((every, Instant::now()));
            let _ = writeln!(io::stderr(), "{}", self.plain_line());
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let line = format!("outer step {}: checkpoint", self.step);
        match self.plain {
            Some(_) => {
                let _ = writeln!(io::stderr(), "{line}");
            }
            None => self.bar.println(line),
        }
        Ok(())
    }

    /// Leaves the bar where the run stopped (a stopped run does not show as complete).
    fn finish(&mut self) -> io::Result<()> {
        if self.plain.is_some() {
            let _ = writeln!(io::stderr(), "{}", self.plain_line());
        }
        self.bar.abandon();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_hours_minutes_and_seconds() {
        assert_eq!(format_duration(Duration::from_secs(3)), "3s");
        assert_eq!(format_duration(Duration::from_secs(123)), "2m03s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h02m03s");
    }

    #[test]
    fn the_message_carries_raw_smoothed_and_held_out_losses() {
        let mut bar = ProgressBar::new(0, 10, Duration::from_secs(3600));
        bar.observe(&OuterRecord { step: 1, meta_loss: 1.0, ..Default::default() }).unwrap();
        let record =
            OuterRecord { step: 2, meta_loss: 0.0, heldout_loss: Some(0.25), ..Default::default() };
        bar.observe(&record).unwrap();
        assert_eq!(
            bar.message,
            "meta-loss 0.0000 (smoothed 0.9500)  held-out 0.2500  0 inner steps/s"
        );
        bar.observe(&OuterRecord { step: 3, meta_loss: 0.0, ..Default::default() }).unwrap();
        assert!(bar.message.contains("held-out 0.2500"), "{}", bar.message);
        assert!(bar.plain_line().starts_with("outer step 3/10 (30.0%)  elapsed 0s  meta-loss"));
    }
}
