//! A small progress bar on stderr.
//!
//! Drawn only when stderr is a terminal or `--progress` was given, so logs
//! and pipes stay clean; redrawn at most ten times a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::util::human_bytes;

const WIDTH: usize = 30;
const REDRAW: Duration = Duration::from_millis(100);

/// A progress bar for `total` bytes (or an open-ended count when `total` is
/// `None`).
pub struct Progress {
    label: &'static str,
    total: Option<u64>,
    done: u64,
    start: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
    /// Bytes (with rates) or plain counts of `unit`.
    unit: Option<&'static str>,
}

impl Progress {
    /// A bar labelled `label`; drawn if `forced` or stderr is a terminal.
    pub fn new(label: &'static str, total: Option<u64>, forced: bool) -> Self {
        Progress {
            label,
            total,
            done: 0,
            start: Instant::now(),
            last_draw: None,
            enabled: forced || std::io::stderr().is_terminal(),
            unit: None,
        }
    }

    /// A bar counting `total` items called `unit` instead of bytes.
    pub fn counting(label: &'static str, unit: &'static str, total: u64, forced: bool) -> Self {
        Progress {
            unit: Some(unit),
            ..Progress::new(label, Some(total), forced)
        }
    }

    fn amount(&self, n: u64) -> String {
        match self.unit {
            Some(_) => n.to_string(),
            None => human_bytes(n),
        }
    }

    fn rate(&self, per_sec: f64) -> String {
        match self.unit {
            Some(unit) => format!("{per_sec:.1} {unit}/s"),
            None => format!("{}/s", human_bytes(per_sec as u64)),
        }
    }

    /// Records `n` more bytes done.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last_draw
            .is_none_or(|t| now.duration_since(t) >= REDRAW)
        {
            self.last_draw = Some(now);
            self.draw(now);
        }
    }

    fn draw(&self, now: Instant) {
        let secs = now.duration_since(self.start).as_secs_f64().max(1e-9);
        let rate = self.done as f64 / secs;
        let line = match self.total {
            Some(total) if total > 0 => {
                let frac = (self.done as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (frac * WIDTH as f64) as usize;
                let eta = if rate > 0.0 {
                    format!("{:.0}s", total.saturating_sub(self.done) as f64 / rate)
                } else {
                    "?".to_owned()
                };
                format!(
                    "{:<7} [{}{}] {:>3.0}% {}/{} {} ETA {eta}",
                    self.label,
                    "#".repeat(filled),
                    " ".repeat(WIDTH - filled),
                    frac * 100.0,
                    self.amount(self.done),
                    self.amount(total),
                    self.rate(rate),
                )
            }
            _ => format!(
                "{:<7} {} {}",
                self.label,
                self.amount(self.done),
                self.rate(rate)
            ),
        };
        let mut err = std::io::stderr().lock();
        // A failed write to stderr must not fail the operation itself.
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw(Instant::now());
            eprintln!();
            self.enabled = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Leave the terminal on a fresh line even when the work failed.
        if self.enabled && self.last_draw.is_some() {
            eprintln!();
        }
    }
}
