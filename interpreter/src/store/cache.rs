//! The step cache: what a step that succeeded left — its output, the change it made
//! to its workspace (a binary git patch), what it spent, its session — stored under a
//! key that names everything it depended on (`engine::cache` makes the key). Entries
//! are files `<dir>/<2 hex>/<key>.json`, each written whole to a temporary file and
//! renamed (a reader sees a whole entry or none, also after `kill -9`, also with runs
//! sharing the directory), each carrying a checksum of itself: a damaged entry is
//! reported and ignored, never used. A hit refreshes the entry's time (pruning keeps
//! what is used).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::usage::Usage;

/// The cache's directory when none is given: in the repository's `.plan/`.
pub const DEFAULT_DIR: &str = ".plan/cache";

/// The most the cache keeps when a run ends (least recently used go first).
pub const DEFAULT_MAX_SIZE: &str = "5GiB";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    /// Seconds since the epoch when it was stored.
    pub created: u64,
    /// The agent and plan that stored it (for `plan cache ls`).
    pub agent: String,
    pub plan: String,
    /// What its key was made of, readably (`plan cache show`).
    pub made_of: Vec<String>,
    /// What the step printed: its output.
    pub stdout: String,
    /// Its change to its workspace (`git diff --binary` from where it started), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// What producing it spent (a hit reports it as saved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The coding agent's session, for a later retry to continue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// SHA-256 of the entry with this field empty.
    #[serde(default)]
    pub checksum: String,
}

impl Entry {
    fn digest(&self) -> String {
        let mut bare = self.clone();
        bare.checksum = String::new();
        let bytes = serde_json::to_vec(&bare).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }
}

/// What a look-up found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Box<Entry>),
    Miss,
    /// An entry that is not whole or not itself: ignored, with why.
    Damaged(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    pub dir: PathBuf,
}

/// One stored entry, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct Listed {
    pub key: String,
    pub agent: String,
    pub plan: String,
    pub created: u64,
    pub used: u64,
    pub bytes: u64,
}

impl Cache {
    pub fn at(dir: &Path) -> Cache {
        Cache { dir: dir.to_path_buf() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2.min(key.len())]).join(format!("{key}.json"))
    }

    pub fn get(&self, key: &str) -> Lookup {
        let path = self.path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => return Lookup::Damaged(format!("{}: {e}", path.display())),
        };
        let entry: Entry = match serde_json::from_slice(&bytes) {
            Ok(e) => e,
            Err(e) => return Lookup::Damaged(format!("{} is not a whole entry ({e})", path.display())),
        };
        if entry.key != key || entry.checksum != entry.digest() {
            return Lookup::Damaged(format!("{} does not match its checksum", path.display()));
        }
        // Used now: pruning by age keeps it.
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Lookup::Hit(Box::new(entry))
    }

    /// Stores `entry` whole (a temporary file, then a rename).
    pub fn put(&self, mut entry: Entry) -> std::io::Result<()> {
        entry.created = now();
        entry.checksum = entry.digest();
        let path = self.path(&entry.key);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.{}.{n}.tmp", entry.key, std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(&entry)?)?;
        std::fs::rename(&tmp, &path)
    }

    /// Every entry's file, last use and size (no entry read), oldest use first.
    fn files(&self) -> Vec<(PathBuf, u64, u64)> {
        let mut out = Vec::new();
        let Ok(shards) = std::fs::read_dir(&self.dir) else { return out };
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else { continue };
            for f in files.flatten() {
                let path = f.path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let meta = f.metadata().ok();
                let used = meta.as_ref().and_then(|m| m.modified().ok()).map_or(0, secs);
                out.push((path, used, meta.map_or(0, |m| m.len())));
            }
        }
        out.sort_by_key(|(_, used, _)| *used);
        out
    }

    /// Every entry, oldest use first.
    pub fn list(&self) -> Vec<(Listed, PathBuf)> {
        self.files()
            .into_iter()
            .map(|(path, used, bytes)| {
                let entry: Option<Entry> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
                let key = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let (agent, plan, created) =
                    entry.map_or((String::from("?"), String::new(), 0), |e| (e.agent, e.plan, e.created));
                (Listed { key, agent, plan, created, used, bytes }, path)
            })
            .collect()
    }

    /// Removes entries unused for `older_than`, then the least recently used until the
    /// rest fit in `max_bytes`; what it removed and the bytes freed.
    pub fn prune(&self, older_than: Option<Duration>, max_bytes: Option<u64>) -> (usize, u64) {
        let entries = self.files();
        let mut total: u64 = entries.iter().map(|(_, _, b)| b).sum();
        let (mut removed, mut freed) = (0, 0);
        let cutoff = older_than.map(|d| now().saturating_sub(d.as_secs()));
        for (path, used, bytes) in entries {
            let old = cutoff.is_some_and(|c| used < c);
            let over = max_bytes.is_some_and(|m| total > m);
            if (old || over) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
                freed += bytes;
                total -= bytes;
            }
        }
        (removed, freed)
    }
}

fn now() -> u64 {
    secs(SystemTime::now())
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The key of what `parts` name: SHA-256, hex.
pub fn key(parts: &[String]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry { key: key.into(), agent: "fix".into(), stdout: "done".into(), ..Entry::default() }
    }

    #[test]
    fn an_entry_comes_back_whole_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let k = key(&["a".into(), "b".into()]);
        assert_ne!(k, key(&["ab".into()]), "parts are told apart");
        assert!(matches!(cache.get(&k), Lookup::Miss));
        cache.put(entry(&k)).unwrap();
        match cache.get(&k) {
            Lookup::Hit(e) => assert_eq!(e.stdout, "done"),
            other => panic!("{other:?}"),
        }
        let path = cache.path(&k);
        let text = std::fs::read_to_string(&path).unwrap().replace("done", "evil");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(cache.get(&k), Lookup::Damaged(why) if why.contains("checksum")));
        std::fs::write(&path, "{\"key\":").unwrap();
        assert!(matches!(cache.get(&k), Lookup::Damaged(why) if why.contains("not a whole entry")));
    }

    #[test]
    fn pruning_drops_the_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::at(dir.path());
        let keys: Vec<String> = (0..3).map(|i| key(&[i.to_string()])).collect();
        for (i, k) in keys.iter().enumerate() {
            cache.put(entry(k)).unwrap();
            let f = std::fs::File::options().append(true).open(cache.path(k)).unwrap();
            f.set_modified(UNIX_EPOCH + Duration::from_secs(1_000 + i as u64)).unwrap();
        }
        let one = cache.files()[0].2;
        let (removed, _) = cache.prune(None, Some(one * 2));
        assert_eq!(removed, 1);
        assert!(matches!(cache.get(&keys[0]), Lookup::Miss), "the oldest went");
        let (removed, _) = cache.prune(Some(Duration::from_secs(3600)), None);
        assert_eq!(removed, 2, "the rest were last used in 1970");
    }
}
