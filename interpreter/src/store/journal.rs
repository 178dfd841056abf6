//! The journal `journal.jsonl`: append-only events of a run, written as they come and
//! synced before the run starts work that depends on them, replayed by `--resume`. A
//! torn last line (a crash in the middle of a write) is tolerated and cut off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    RunStarted {
        run_id: String,
        /// The plan file, absolute.
        plan: String,
        plan_hash: String,
        vars: IndexMap<String, Value>,
        at: String,
        /// Nodes in the compiled graph (run-time copies come on top).
        #[serde(default)]
        nodes: usize,
        /// The process running it.
        #[serde(default)]
        pid: u32,
        /// What the run publishes after its agents (its graph's trailing steps).
        #[serde(default, skip_serializing_if = "no_publishing")]
        publish: plan_compiler::graph::Publish,
        /// `plan run --hold`: the message of the gate before every node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hold: Option<String>,
        /// The commit and branch the run started from (a resumed run starts from its
        /// own commits, and must know where it began).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<(String, Option<String>)>,
    },
    NodeStarted {
        node: String,
        attempt: u32,
        at: String,
    },
    NodeSucceeded {
        node: String,
        output: Value,
        attempts: u32,
        duration_ms: u64,
    },
    NodeFailed {
        node: String,
        attempt: u32,
        error: String,
        will_retry: bool,
    },
    /// What an attempt of a coding agent spent (also when it failed): budgets count
    /// it again after `--resume`.
    Spent {
        node: String,
        attempt: u32,
        usage: crate::store::usage::Usage,
        /// Metered by the model gateway, whose record (`store::exchanges`) also has
        /// it request by request.
        #[serde(default)]
        metered: bool,
    },
    /// A node replayed from the step cache (its `NodeSucceeded` follows): the entry's
    /// key, and what producing it had spent — saved this time.
    Cached {
        node: String,
        key: String,
        saved: Option<crate::store::usage::Usage>,
    },
    /// What an attempt's acceptance checks found (its `NodeSucceeded` or `NodeFailed`
    /// follows).
    Checked {
        node: String,
        checks: Box<crate::engine::accept::Checks>,
    },
    /// A coding agent's session after an attempt: a later attempt (a retry, a round
    /// of feedback) continues it.
    Session {
        node: String,
        session: String,
    },
    /// A finished run's step re-entered with feedback on its pull request (a failed
    /// check, a reviewer's request): `reopened` (it and what follows it) run again.
    Reentered {
        node: String,
        round: u32,
        /// `check_run`, `check_suite`, `review`, `review_comment` or `manual`.
        kind: String,
        /// Where it came from (a check's or review's address), when known.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        feedback: String,
        reopened: Vec<String>,
        at: String,
    },
    Compensated {
        agent: String,
        ok: bool,
        error: Option<String>,
    },
    RunFinished {
        status: crate::store::state::RunStatus,
        at: String,
    },
}

fn no_publishing(p: &plan_compiler::graph::Publish) -> bool {
    !p.any()
}

pub struct Journal {
    file: File,
    buf: Vec<u8>,
}

impl Journal {
    /// Opens (creating) the journal for appending; a torn last line is cut off first.
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        if let Some(last) = text.iter().rposition(|b| *b == b'\n') {
            if last + 1 != text.len() {
                file.set_len((last + 1) as u64)?;
            }
        } else if !text.is_empty() {
            file.set_len(0)?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok(Journal { file, buf: Vec::with_capacity(4096) })
    }

    /// Queues an entry; nothing is durable until `sync`.
    pub fn push(&mut self, entry: &Entry) {
        if serde_json::to_writer(&mut self.buf, entry).is_ok() {
            self.buf.push(b'\n');
        }
    }

    /// Writes the queued entries and waits until they are on disk.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        self.file.sync_data()
    }

    /// Writes whole lines (the disk gets them at the next sync).
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(bytes)
    }
}

/// The journal on a thread of its own: entries are written as they come, in batches,
/// and synced to the disk when the run asks (before it starts work that depends on
/// what the entries say, and at the end) and at least every [`SYNC_EVERY`]. A
/// written entry survives `plan` being killed; the sync is for the machine going
/// down. (Syncing every batch cost a 1,000-agent run 700 `fdatasync` calls.)
/// Batches on disk so far, and the first write error; with the condition variable
/// that announces progress.
type Synced = std::sync::Arc<(std::sync::Mutex<(u64, Option<String>)>, std::sync::Condvar)>;

/// The longest a written entry waits for its sync.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

pub struct JournalWriter {
    /// Batches of entries; an empty one asks for a sync.
    tx: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    /// Entries of this turn of the scheduler's loop, sent together (one wake-up of
    /// the thread rather than one per entry).
    pending: Vec<u8>,
    sent: u64,
    state: Synced,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JournalWriter {
    pub fn spawn(mut journal: Journal) -> JournalWriter {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let state: Synced = std::sync::Arc::new((std::sync::Mutex::new((0u64, None)), std::sync::Condvar::new()));
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let mut unsynced = 0u64;
            let mut last_sync = std::time::Instant::now();
            loop {
                let first = if unsynced > 0 {
                    match rx.recv_timeout(SYNC_EVERY.saturating_sub(last_sync.elapsed())) {
                        Ok(m) => Some(m),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                } else {
                    match rx.recv() {
                        Ok(m) => Some(m),
                        Err(_) => break,
                    }
                };
                let mut batch = Vec::new();
                let mut asked = first.is_none();
                // Gather what arrives within a moment: one write for a burst. A sync
                // asked for ends the gathering: someone waits for it.
                let until = std::time::Instant::now() + std::time::Duration::from_millis(2);
                let mut next = first;
                while let Some(m) = next.take() {
                    if m.is_empty() {
                        asked = true;
                        break;
                    }
                    batch.extend_from_slice(&m);
                    unsynced += 1;
                    next = rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now())).ok();
                }
                let mut result = journal.write(&batch);
                let due = asked || last_sync.elapsed() >= SYNC_EVERY;
                let mut synced = 0;
                if due && unsynced > 0 {
                    result = result.and_then(|()| journal.file.sync_data());
                    synced = std::mem::take(&mut unsynced);
                    last_sync = std::time::Instant::now();
                }
                let (lock, cvar) = &*shared;
                if let Ok(mut st) = lock.lock() {
                    st.0 += synced;
                    if let Err(e) = result {
                        st.1.get_or_insert_with(|| format!("cannot write the journal: {e}"));
                    }
                }
                cvar.notify_all();
            }
            // The run is over: what is written goes to the disk.
            let result = journal.file.sync_data();
            let (lock, cvar) = &*shared;
            if let Ok(mut st) = lock.lock() {
                st.0 += unsynced;
                if let Err(e) = result {
                    st.1.get_or_insert_with(|| format!("cannot write the journal: {e}"));
                }
            }
            cvar.notify_all();
        });
        JournalWriter { tx: Some(tx), pending: Vec::new(), sent: 0, state, thread: Some(thread) }
    }

    /// Queues an entry; it reaches the disk shortly (after the next `send`), in order.
    pub fn push(&mut self, entry: &Entry) {
        if serde_json::to_writer(&mut self.pending, entry).is_ok() {
            self.pending.push(b'\n');
        }
        // A turn that records a great deal (a map of thousands) streams it.
        if self.pending.len() >= 64 * 1024 {
            self.send();
        }
    }

    /// Hands the queued entries to the writing thread.
    pub fn send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        if let Some(tx) = &self.tx {
            if tx.send(batch).is_ok() {
                self.sent += 1;
            }
        }
    }

    /// Waits until every entry queued so far is on disk.
    pub fn wait(&mut self) -> Result<(), String> {
        self.send();
        let (lock, cvar) = &*self.state;
        let Ok(mut st) = lock.lock() else { return Err("the journal writer stopped".into()) };
        if st.0 < self.sent {
            if let Some(tx) = &self.tx {
                let _ = tx.send(Vec::new());
            }
        }
        while st.0 < self.sent && st.1.is_none() {
            st = match cvar.wait(st) {
                Ok(s) => s,
                Err(_) => return Err("the journal writer stopped".into()),
            };
        }
        st.1.clone().map_or(Ok(()), Err)
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.send();
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every complete entry of a journal, in order; unreadable lines are skipped.
pub fn replay(path: &Path) -> std::io::Result<Vec<Entry>> {
    let text = std::fs::read(path)?;
    Ok(text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).filter_map(|l| serde_json::from_slice(l).ok()).collect())
}

/// FNV-1a, 64 bits: a stable fingerprint of the plan file.
pub fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torn_last_line_is_cut_and_replay_skips_it() {
        let dir = std::env::temp_dir().join(format!("plan-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut j = Journal::open(&path).unwrap();
        j.push(&Entry::NodeStarted { node: "a".into(), attempt: 1, at: "t".into() });
        j.sync().unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"node_succ").unwrap();
        drop(f);
        assert_eq!(replay(&path).unwrap().len(), 1);
        let mut j = Journal::open(&path).unwrap();
        j.push(&Entry::RunFinished { status: crate::store::state::RunStatus::Succeeded, at: "t".into() });
        j.sync().unwrap();
        assert_eq!(replay(&path).unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writer_thread_makes_entries_durable_in_order() {
        let dir = std::env::temp_dir().join(format!("plan-journal-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut w = JournalWriter::spawn(Journal::open(&path).unwrap());
        for i in 0..100 {
            w.push(&Entry::NodeStarted { node: format!("n{i}"), attempt: 1, at: "t".into() });
        }
        w.wait().unwrap();
        let entries = replay(&path).unwrap();
        assert_eq!(entries.len(), 100);
        assert_eq!(entries[99], Entry::NodeStarted { node: "n99".into(), attempt: 1, at: "t".into() });
        drop(w);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_a_turn_queued_is_written_when_sent_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut w = JournalWriter::spawn(Journal::open(&path).unwrap());
        w.push(&Entry::NodeStarted { node: "a".into(), attempt: 1, at: "t".into() });
        w.send();
        w.push(&Entry::NodeStarted { node: "b".into(), attempt: 1, at: "t".into() });
        // Not sent: the writer still writes it when it is dropped.
        drop(w);
        let nodes: Vec<_> = replay(&path)
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Entry::NodeStarted { node, .. } => node,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(nodes, ["a", "b"]);
    }
}
