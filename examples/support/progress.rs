//! Progress of a long run, on stderr, so that stdout holds only the report.
//!
//! On a terminal, one line redrawn in place: how far the run is, the time
//! spent and left, and what runs now. Elsewhere (a CI log, a file), one
//! line per stage, since a redrawn line would fill the log with carriage
//! returns.

use std::{
    cell::{Cell, RefCell},
    io::{self, IsTerminal, Write},
    time::{Duration, Instant},
};

/// Counts the steps of a run whose total is known in advance.
pub(crate) struct Progress {
    /// Steps in the whole run.
    total: usize,
    /// Steps done so far.
    done: Cell<usize>,
    /// When the run began.
    began: Instant,
    /// Whether stderr is a terminal, on which one line is redrawn.
    live: bool,
    /// What runs now, as given to [`Progress::stage`].
    stage: RefCell<String>,
}

impl Progress {
    /// A run of `total` steps, beginning now.
    pub(crate) fn new(total: usize) -> Progress {
        Progress {
            total: total.max(1),
            done: Cell::new(0),
            began: Instant::now(),
            live: io::stderr().is_terminal(),
            stage: RefCell::new(String::new()),
        }
    }

    /// Names what runs next, such as `zipf: papaya`. Off a terminal, prints
    /// it as a line of its own.
    pub(crate) fn stage(&self, stage: String) {
        if !self.live {
            eprintln!("{} {stage}", self.status());
        }
        *self.stage.borrow_mut() = stage;
        self.draw("");
    }

    /// Counts one step done; `step` (such as `2t 95/5`) follows the stage
    /// on a terminal's line.
    pub(crate) fn step(&self, step: &str) {
        self.done.set(self.done.get() + 1);
        self.draw(step);
    }

    /// Clears a terminal's line and says how long the run took.
    pub(crate) fn finish(&self) {
        if self.live {
            eprint!("\r\x1b[2K");
        }
        eprintln!("done in {}", minutes(self.began.elapsed()));
    }

    /// Redraws a terminal's line.
    fn draw(&self, step: &str) {
        if self.live {
            let line = format!("{} {} {step}", self.status(), self.stage.borrow());
            let mut err = io::stderr().lock();
            // Progress is best effort: a failed write to stderr loses only it.
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    /// `[ 37%] 1:23, ~2:10 left`: how far, how long, and how long to go at
    /// the pace so far.
    fn status(&self) -> String {
        let (done, total) = (self.done.get(), self.total);
        let elapsed = self.began.elapsed();
        let left = match done {
            0 => String::new(),
            _ => format!(
                ", ~{} left",
                minutes(elapsed.mul_f64(total.saturating_sub(done) as f64 / done as f64))
            ),
        };
        format!("[{:>3}%] {}{left}", 100 * done / total, minutes(elapsed))
    }
}

/// `m:ss`.
fn minutes(time: Duration) -> String {
    let secs = time.as_secs();
    format!("{}:{:02}", secs / 60, secs % 60)
}
