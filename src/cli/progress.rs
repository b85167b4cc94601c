//! A progress bar on stderr for long runs: draws done, rate and ETA. Nothing is drawn when
//! stderr is not a terminal, with `--quiet`, or for runs that finish within about a second.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of a long computation in units (draws, model runs).
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: Mutex<bool>,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` units named `what` (e.g. "draws"); silent when `quiet`.
    pub fn new(total: u64, what: &str, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:40}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, ETA {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let enabled = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress { bar, started: Instant::now(), shown: Mutex::new(false), enabled }
    }

    /// Records that `done` units are finished (callable from any thread).
    pub fn update(&self, done: u64) {
        if !self.enabled {
            return;
        }
        if self.started.elapsed() > Duration::from_millis(800) {
            let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
            if !*shown {
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
                *shown = true;
            }
        }
        self.bar.set_position(done.max(self.bar.position()));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
