//! Progress bars on stderr (indicatif).
//!
//! Drawn only when stderr is a terminal or `--progress` was given, so logs
//! and pipes stay clean; redrawn at most ten times a second.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar for a byte count or a count of items.
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar for `total` bytes (open-ended when `None`) labelled `label`;
    /// drawn if `forced` or stderr is a terminal.
    pub fn new(label: &'static str, total: Option<u64>, forced: bool) -> Self {
        Progress::build(label, total, forced, Progress::bytes_template(total))
    }

    fn bytes_template(total: Option<u64>) -> &'static str {
        if total.is_some() {
            "{prefix:<7} [{bar:30}] {percent:>3}% {binary_bytes}/{binary_total_bytes} \
             {binary_bytes_per_sec} ETA {eta}"
        } else {
            "{prefix:<7} {binary_bytes} {binary_bytes_per_sec}"
        }
    }

    /// A bar counting `total` items called `unit` instead of bytes.
    pub fn counting(label: &'static str, unit: &'static str, total: u64, forced: bool) -> Self {
        let template = format!(
            "{{prefix:<7}} [{{bar:30}}] {{percent:>3}}% {{pos}}/{{len}} {unit} ETA {{eta}}"
        );
        Progress::build(label, Some(total), forced, &template)
    }

    /// Two byte bars drawn together, one above the other (a copy and the
    /// verification that follows it); the second can be moved to another
    /// thread.
    pub fn pair(
        labels: [&'static str; 2],
        total: Option<u64>,
        forced: bool,
    ) -> (Progress, Progress) {
        let multi = MultiProgress::with_draw_target(Progress::target(forced));
        let [a, b] = labels.map(|label| {
            let bar = Progress::bar(label, total, Progress::bytes_template(total));
            Progress(multi.add(bar))
        });
        (a, b)
    }

    fn target(forced: bool) -> ProgressDrawTarget {
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr_with_hz(10)
        } else if forced {
            // indicatif hides bars on a non-terminal stderr; --progress asks
            // for them anyway, drawn through console's stderr handle.
            ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 10)
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    fn build(label: &'static str, total: Option<u64>, forced: bool, template: &str) -> Self {
        let bar = Progress::bar(label, total, template);
        bar.set_draw_target(Progress::target(forced));
        Progress(bar)
    }

    /// A styled bar, not drawn anywhere yet.
    fn bar(label: &'static str, total: Option<u64>, template: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(template)
            .expect("the templates above are valid")
            .progress_chars("#> ");
        bar.set_style(style);
        bar.set_prefix(label);
        bar
    }

    /// Records `n` more bytes (or items) done.
    pub fn add(&mut self, n: u64) {
        self.0.inc(n);
    }

    /// Removes a bar that had nothing to show (a verification that can't
    /// run).
    pub fn clear(&mut self) {
        self.0.finish_and_clear();
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        self.0.finish();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A bar of a failed operation stays where it stopped, on its own line.
        if !self.0.is_finished() {
            self.0.abandon();
        }
    }
}
