//! Status on disk, written by a background thread so the scheduler never waits for
//! the file system:
//!
//! - `status.json`: every node's state and attempt in one file, rewritten (atomically)
//!   at most once a second while the run goes on, and at its end — what `cat` and
//!   `jq` read for a run of any size;
//! - `status/<node>.json` (`agent_id, issue, progress, message, data, timestamp,
//!   pid`): for the nodes worth watching one by one — those still running after
//!   [`WATCH_AFTER`], and those that failed or wait to retry. A node that succeeds
//!   sooner (a built-in step, a quick command, most copies of a big map) gets none:
//!   creating a file per node was most of a 100,000-node run's time and disk.
//!
//! `plan status`, `plan logs` and the web view read the journal, so they show every
//! node either way. Output files go through the same thread, in order.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{json, Value};

use crate::store::clock;
use crate::store::rundir::{write_atomic, write_atomic_with, RunDir};
use crate::store::state::NodeState;
use std::io::Write as _;

/// A node running this long gets its own status file.
pub const WATCH_AFTER: Duration = Duration::from_millis(200);
/// `status.json` is rewritten at most this often.
const BOARD_EVERY: Duration = Duration::from_secs(1);

/// A status file.
#[derive(Serialize)]
struct Status<'a> {
    agent_id: &'a str,
    issue: Option<u64>,
    progress: u8,
    message: &'a str,
    data: Value,
    timestamp: String,
    pid: u32,
}

/// One state change of a node.
pub struct Change {
    pub node: String,
    pub state: NodeState,
    pub attempt: u32,
    pub message: String,
    pub at: SystemTime,
}

enum Write {
    Status(Box<Change>),
    Plain(PathBuf, Vec<u8>),
    /// What the scheduler recorded in one turn of its loop.
    Batch(Vec<Write>),
    Flush(mpsc::Sender<()>),
}

/// What the writer thread knows.
struct Board {
    dir: RunDir,
    issue: Option<u64>,
    /// Every node's latest state and attempt, for `status.json`.
    nodes: IndexMap<Box<str>, (NodeState, u32)>,
    /// Nodes that have their own status file.
    files: HashSet<String>,
    /// Running nodes without a file yet, since when.
    watched: HashMap<String, (Instant, Box<Change>)>,
    dirty: bool,
    board_written: Option<Instant>,
}

impl Board {
    fn change(&mut self, c: Box<Change>) {
        match self.nodes.get_mut(c.node.as_str()) {
            Some(entry) => *entry = (c.state, c.attempt),
            None => {
                self.nodes.insert(c.node.as_str().into(), (c.state, c.attempt));
            }
        }
        self.dirty = true;
        if self.files.contains(&c.node) {
            self.write_file(&c);
            return;
        }
        match c.state {
            NodeState::Running => {
                let since = self.watched.get(&c.node).map_or_else(Instant::now, |w| w.0);
                self.watched.insert(c.node.clone(), (since, c));
            }
            NodeState::Failed | NodeState::Retrying | NodeState::Waiting => {
                self.watched.remove(&c.node);
                self.files.insert(c.node.clone());
                self.write_file(&c);
            }
            _ => {
                self.watched.remove(&c.node);
            }
        }
    }

    /// Gives nodes running for [`WATCH_AFTER`] their own file.
    fn promote(&mut self, now: Instant) {
        let due: Vec<String> =
            self.watched.iter().filter(|(_, (since, _))| now - *since >= WATCH_AFTER).map(|(k, _)| k.clone()).collect();
        for node in due {
            if let Some((_, c)) = self.watched.remove(&node) {
                self.files.insert(node);
                self.write_file(&c);
            }
        }
    }

    fn write_file(&self, c: &Change) {
        let progress = match c.state {
            NodeState::Succeeded | NodeState::Failed | NodeState::Compensated => 100,
            NodeState::Running | NodeState::Retrying => 50,
            _ => 0,
        };
        let status = Status {
            agent_id: &c.node,
            issue: self.issue,
            progress,
            message: &c.message,
            data: json!({ "state": c.state.as_str(), "attempt": c.attempt }),
            timestamp: clock::timestamp(c.at),
            pid: std::process::id(),
        };
        if let Ok(bytes) = serde_json::to_vec_pretty(&status) {
            let _ = write_atomic(&self.dir.status(&c.node), &bytes);
        }
    }

    /// Rewrites `status.json`: `{run_id, updated_at, counts, nodes: {id: {state, attempt}}}`,
    /// streamed to the file.
    fn write_board(&mut self) {
        #[derive(Serialize)]
        struct Node {
            state: &'static str,
            attempt: u32,
        }
        /// The nodes, serialized as they are held (no copy of 100,000 entries).
        struct Nodes<'a>(&'a IndexMap<Box<str>, (NodeState, u32)>);
        impl Serialize for Nodes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(
                    self.0.iter().map(|(id, (state, attempt))| (id, Node { state: state.as_str(), attempt: *attempt })),
                )
            }
        }
        #[derive(Serialize)]
        struct Board<'a> {
            run_id: &'a str,
            updated_at: String,
            counts: IndexMap<&'static str, usize>,
            nodes: Nodes<'a>,
        }
        let mut counts = IndexMap::new();
        for (state, _) in self.nodes.values() {
            *counts.entry(state.as_str()).or_default() += 1;
        }
        let board = Board { run_id: &self.dir.id, updated_at: clock::now(), counts, nodes: Nodes(&self.nodes) };
        let _ = write_atomic_with(&self.dir.board(), |out| {
            serde_json::to_writer(&mut *out, &board)?;
            out.write_all(b"\n")
        });
        self.dirty = false;
        self.board_written = Some(Instant::now());
    }

    fn take(&mut self, w: Write) {
        match w {
            Write::Status(c) => self.change(c),
            Write::Plain(p, b) => {
                let _ = write_atomic(&p, &b);
            }
            Write::Batch(ws) => ws.into_iter().for_each(|w| self.take(w)),
            Write::Flush(done) => {
                self.promote(Instant::now());
                if self.dirty {
                    self.write_board();
                }
                let _ = done.send(());
            }
        }
    }

    fn tick(&mut self) {
        self.promote(Instant::now());
        if self.dirty && self.board_written.is_none_or(|t| t.elapsed() >= BOARD_EVERY) {
            self.write_board();
        }
    }
}

/// A background thread that writes status and output files in order.
pub struct Writer {
    tx: mpsc::Sender<Write>,
    /// Writes of this turn of the scheduler's loop, sent together (one wake-up of the
    /// thread rather than one per node).
    pending: Vec<Write>,
}

impl Writer {
    /// `nodes`: how many nodes the run has, for the room `status.json`'s list takes.
    pub fn spawn(dir: RunDir, issue: Option<u64>, nodes: usize) -> Writer {
        let (tx, rx) = mpsc::channel::<Write>();
        std::thread::spawn(move || {
            let mut board = Board {
                dir,
                issue,
                nodes: IndexMap::with_capacity(nodes),
                files: HashSet::new(),
                watched: HashMap::new(),
                dirty: false,
                board_written: None,
            };
            loop {
                let next = if board.watched.is_empty() && !board.dirty {
                    rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
                } else {
                    rx.recv_timeout(Duration::from_millis(50))
                };
                match next {
                    Ok(w) => {
                        // Take what queued up meanwhile in one go.
                        for w in std::iter::once(w).chain(rx.try_iter()) {
                            board.take(w);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
                board.tick();
            }
        });
        Writer { tx, pending: Vec::new() }
    }

    /// Queues a node's new state (written after the next `send`).
    pub fn status(&mut self, node: &str, state: NodeState, attempt: u32, message: String) {
        let change = Change { node: node.to_string(), state, attempt, message, at: SystemTime::now() };
        self.queue(Write::Status(Box::new(change)));
    }

    /// A turn that records a great deal (a map of thousands) streams it.
    fn queue(&mut self, w: Write) {
        self.pending.push(w);
        if self.pending.len() >= 256 {
            self.send();
        }
    }

    /// Queues an output file (written after the next `send`).
    pub fn output(&mut self, path: PathBuf, value: &Value) {
        if let Ok(bytes) = serde_json::to_vec_pretty(value) {
            self.queue(Write::Plain(path, bytes));
        }
    }

    /// Hands what is queued to the writing thread.
    pub fn send(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.tx.send(Write::Batch(std::mem::take(&mut self.pending)));
        }
    }

    /// Waits until everything queued so far is written, `status.json` included.
    pub fn flush(&mut self) {
        self.send();
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Write::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(dir: &std::path::Path) -> Board {
        std::fs::create_dir_all(dir.join("status")).unwrap();
        Board {
            dir: RunDir { id: "r".into(), root: dir.to_path_buf() },
            issue: Some(7),
            nodes: IndexMap::new(),
            files: HashSet::new(),
            watched: HashMap::new(),
            dirty: false,
            board_written: None,
        }
    }

    fn change(node: &str, state: NodeState) -> Box<Change> {
        Box::new(Change { node: node.into(), state, attempt: 1, message: String::new(), at: SystemTime::now() })
    }

    #[test]
    fn only_slow_and_failed_nodes_get_their_own_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = board(tmp.path());
        for (node, state) in [("quick", NodeState::Running), ("slow", NodeState::Running), ("bad", NodeState::Running)]
        {
            b.change(change(node, state));
        }
        b.change(change("quick", NodeState::Succeeded));
        b.change(change("bad", NodeState::Failed));
        b.promote(Instant::now() + WATCH_AFTER);
        b.change(change("slow", NodeState::Succeeded));
        b.write_board();
        let file = |n: &str| tmp.path().join(format!("status/{n}.json"));
        assert!(!file("quick").exists());
        let slow: Value = serde_json::from_slice(&std::fs::read(file("slow")).unwrap()).unwrap();
        assert_eq!((slow["data"]["state"].as_str(), slow["progress"].as_u64()), (Some("succeeded"), Some(100)));
        assert_eq!(slow["issue"], 7);
        assert!(file("bad").exists());
        let all: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("status.json")).unwrap()).unwrap();
        assert_eq!(all["run_id"], "r");
        assert_eq!(all["nodes"]["quick"], json!({"state": "succeeded", "attempt": 1}));
        assert_eq!(all["counts"], json!({"succeeded": 2, "failed": 1}));
    }

    #[test]
    fn queued_writes_reach_the_disk_at_a_flush_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("status")).unwrap();
        let mut w = Writer::spawn(RunDir { id: "r".into(), root: tmp.path().to_path_buf() }, None, 300);
        // More than one batch's worth: the first 256 stream before the flush.
        for i in 0..300 {
            w.status(&format!("n{i}"), NodeState::Running, 1, String::new());
        }
        w.status("n0", NodeState::Succeeded, 1, String::new());
        w.output(tmp.path().join("out.json"), &json!({"ok": true}));
        w.flush();
        let all: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("status.json")).unwrap()).unwrap();
        assert_eq!(all["nodes"].as_object().unwrap().len(), 300);
        assert_eq!(all["nodes"]["n0"]["state"], "succeeded", "the later change wins");
        assert!(tmp.path().join("out.json").exists());
    }
}
