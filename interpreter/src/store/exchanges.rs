//! The model gateway's record: one JSON line per exchange — which agent and attempt,
//! what it asked (keys never recorded, secrets redacted), what came back whole, the
//! usage and cost metered from it, how long it waited for rate limits, and what the
//! gateway refused. It is the ledger of what agents spent through the gateway
//! (`--resume` counts it again) and what `plan run --replay` answers from.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::usage::Usage;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Exchange {
    pub node: String,
    /// The agent whose budget it counts against.
    pub agent: String,
    pub attempt: u32,
    /// Its place among the attempt's requests, from 0.
    pub n: u32,
    pub provider: String,
    /// The path after the provider's base URL (`/v1/messages?beta=true`).
    pub path: String,
    pub model: Option<String>,
    pub status: u16,
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// What the CLI was answered without the provider being asked (a budget, no
    /// price, an unknown agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Time spent waiting for the shared rate limiter, and 429s absorbed.
    pub waited_ms: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled: u32,
    /// From the request's arrival to the answer's last byte.
    pub ms: u64,
    /// The request body: JSON when it is, else text.
    pub request: Value,
    /// The answer as the CLI received it.
    pub response: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Appends exchanges; each is one write of one line, so a killed run leaves whole
/// lines (and at most a torn last one, which readers skip).
pub struct ExchangeLog {
    file: Mutex<Option<std::fs::File>>,
    pub path: PathBuf,
    count: std::sync::atomic::AtomicUsize,
}

impl ExchangeLog {
    pub fn open(path: &Path) -> ExchangeLog {
        let file = path
            .parent()
            .map(std::fs::create_dir_all)
            .and_then(|_| std::fs::OpenOptions::new().create(true).append(true).open(path).ok());
        ExchangeLog { file: Mutex::new(file), path: path.to_path_buf(), count: Default::default() }
    }

    /// Exchanges appended by this process.
    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn append(&self, exchange: &Exchange) {
        let Ok(mut line) = serde_json::to_vec(exchange) else { return };
        line.push(b'\n');
        self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut file) = self.file.lock() {
            if let Some(f) = file.as_mut() {
                let _ = f.write_all(&line);
            }
        }
    }
}

/// Every whole exchange recorded at `path`.
pub fn read(path: &Path) -> Vec<Exchange> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// What each attempt of each node spent through the gateway, from its record.
pub fn spent(path: &Path) -> Vec<((String, u32), Usage)> {
    let mut by_attempt: HashMap<(String, u32), Usage> = HashMap::new();
    for e in read(path) {
        if let Some(u) = e.usage {
            by_attempt.entry((e.node, e.attempt)).or_default().add(&u);
        }
    }
    let mut spent: Vec<((String, u32), Usage)> = by_attempt.into_iter().collect();
    spent.sort_by(|a, b| a.0.cmp(&b.0));
    spent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_skipped_and_spending_adds_up_by_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway/exchanges.jsonl");
        let log = ExchangeLog::open(&path);
        let usage = Usage { input_tokens: 10, output_tokens: 5, cost_usd: Some(0.5), turns: 1, ..Usage::default() };
        for n in 0..2 {
            log.append(&Exchange { node: "fix".into(), attempt: 1, n, usage: Some(usage), ..Exchange::default() });
        }
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"node\":\"fi").unwrap();
        assert_eq!(read(&path).len(), 2);
        let spent = spent(&path);
        assert_eq!(spent.len(), 1);
        assert_eq!(spent[0].0, ("fix".to_string(), 1));
        assert_eq!((spent[0].1.tokens(), spent[0].1.cost_usd, spent[0].1.turns), (30, Some(1.0), 2));
    }
}
