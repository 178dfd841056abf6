//! Where the scheduler's facts go: the journal (synced before the run moves on),
//! status and output files, and the progress display. Tests use `NullRecorder`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::store::journal::{Entry, JournalWriter};
use crate::store::rundir::RunDir;
pub(crate) use crate::store::state::NodeState;
use crate::store::status::Writer;

pub trait Recorder: Send {
    fn journal(&mut self, entry: Entry);
    /// Makes every journal entry so far durable.
    fn sync(&mut self);
    fn status(&mut self, node: &str, state: NodeState, attempt: u32, message: &str);
    fn output(&mut self, node: &str, value: &Value);
    /// Hands what this turn of the loop recorded to the writers (they wake once a
    /// turn, not once an entry).
    fn send(&mut self) {}
    /// Whether `progress` shows anything (counting costs a pass over every node).
    fn wants_progress(&self) -> bool {
        false
    }
    /// Counts for the progress display.
    fn progress(&mut self, _done: usize, _running: usize, _failed: usize, _total: usize) {}
    /// A node finished (for plain progress lines).
    fn finished(&mut self, _node: &str, _state: NodeState, _duration: Duration, _message: &str) {}
}

/// Records nothing.
#[cfg(test)]
pub struct NullRecorder;

#[cfg(test)]
impl Recorder for NullRecorder {
    fn journal(&mut self, _: Entry) {}
    fn sync(&mut self) {}
    fn status(&mut self, _: &str, _: NodeState, _: u32, _: &str) {}
    fn output(&mut self, _: &str, _: &Value) {}
}

/// Records into a run directory.
pub struct RunRecorder {
    pub journal: JournalWriter,
    dir: RunDir,
    pub writer: Writer,
    pub display: Display,
    started: Instant,
    last_draw: Option<Instant>,
    pub journal_error: Option<String>,
}

/// How progress is shown on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// A live line, redrawn (a terminal).
    Live,
    /// One line per finished agent.
    Lines,
    Quiet,
}

impl Display {
    pub fn detect(quiet: bool) -> Display {
        if quiet {
            Display::Quiet
        } else if std::io::stderr().is_terminal() {
            Display::Live
        } else {
            Display::Lines
        }
    }
}

impl RunRecorder {
    /// `nodes`: how many nodes the run has.
    pub fn new(dir: RunDir, journal: JournalWriter, issue: Option<u64>, nodes: usize, display: Display) -> Self {
        RunRecorder {
            writer: Writer::spawn(dir.clone(), issue, nodes),
            dir,
            journal,
            display,
            started: Instant::now(),
            last_draw: None,
            journal_error: None,
        }
    }

    /// Ends the live line and waits for pending file writes.
    pub fn finish(&mut self) {
        if self.display == Display::Live && self.last_draw.is_some() {
            eprintln!();
        }
        self.writer.flush();
    }
}

impl Recorder for RunRecorder {
    fn journal(&mut self, entry: Entry) {
        self.journal.push(&entry);
    }

    fn sync(&mut self) {
        self.writer.send();
        if let Err(e) = self.journal.wait() {
            self.journal_error.get_or_insert(e);
        }
    }

    fn send(&mut self) {
        self.journal.send();
        self.writer.send();
    }

    fn status(&mut self, node: &str, state: NodeState, attempt: u32, message: &str) {
        self.writer.status(node, state, attempt, message.to_string());
    }

    fn output(&mut self, node: &str, value: &Value) {
        self.writer.output(self.dir.output(node), value);
    }

    fn wants_progress(&self) -> bool {
        self.display == Display::Live
    }

    fn progress(&mut self, done: usize, running: usize, failed: usize, total: usize) {
        let now = Instant::now();
        if self.last_draw.is_some_and(|t| now.duration_since(t) < Duration::from_millis(80)) && done < total {
            return;
        }
        self.last_draw = Some(now);
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K[{done}/{total}] done · {running} running · {failed} failed · {elapsed:.1}s");
        let _ = err.flush();
    }

    fn finished(&mut self, node: &str, state: NodeState, duration: Duration, message: &str) {
        if self.display != Display::Lines {
            return;
        }
        let mark = match state {
            NodeState::Succeeded => "ok",
            NodeState::Failed => "FAILED",
            NodeState::Compensated => "compensated",
            _ => state.as_str(),
        };
        if message.is_empty() {
            eprintln!("{mark:>6} {node} ({:.3}s)", duration.as_secs_f64());
        } else {
            eprintln!("{mark:>6} {node} ({:.3}s): {message}", duration.as_secs_f64());
        }
    }
}
