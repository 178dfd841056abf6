//! The step cache from the engine's side: a step's key, and using or filling the
//! cache around a job. The key names everything the step's work depends on — the
//! resolved step (its kind, runner, model and the CLI's version), its rendered prompt
//! or command and environment, the outputs it was given, and the files it may read
//! (its `reads:` globs, else every file its workspace starts with; never the plan
//! file or its templates, whose part is in the rendered prompt), and the keys of the
//! steps before it. Editing one agent's prompt changes its key and so the keys of
//! every step after it; nothing else.
//!
//! A hit in a workspace of its own applies the stored patch to where the workspace
//! would start and merges that, as the agent's work would have been; in the shared
//! checkout only steps that changed no file are stored. Without git only steps that
//! ask (`cache: true`) are cached.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use plan_compiler::resolve::{Step, Work};
use sha2::{Digest, Sha256};

use crate::store::cache::{self, Cache, Entry, Lookup};
use crate::store::usage::Usage;

/// What a job needs to use the cache: its key so far (all but its files) and where
/// it may read.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub cache: Arc<Cache>,
    pub parts: Vec<String>,
    pub reads: Vec<String>,
    pub agent: String,
    pub plan: String,
    /// The repository whose files the key covers (none: not in one).
    pub root: Option<PathBuf>,
    /// Where scratch indexes go (the run directory).
    pub scratch: PathBuf,
}

/// A job replayed from the cache.
pub struct Replayed {
    pub stdout: String,
    pub saved: Option<Usage>,
    pub session: Option<String>,
    pub patch: Option<String>,
    pub key: String,
}

impl Ticket {
    /// The ticket of a step whose work is rendered as `work` (its prompt, or its
    /// command), given `inputs` (its upstream outputs and map item, as text).
    pub fn new(
        cache: Arc<Cache>,
        plan: &str,
        step: &Step<'_>,
        work: &[String],
        inputs: Vec<String>,
        (root, scratch): (Option<PathBuf>, PathBuf),
    ) -> Ticket {
        let mut parts = vec!["plan step cache v1".to_string()];
        match &step.work {
            Work::Coding(c) => {
                parts.push(format!("coding {} via {}", c.cli.as_str(), c.runner));
                parts.push(cli_version(c.cli.as_str()));
                parts.push(serde_json::to_string(&c.entry).unwrap_or_default());
            }
            Work::Runner { name, command } => {
                parts.push(format!("runner {name}"));
                parts.push(serde_json::to_string(command).unwrap_or_default());
            }
            Work::Command(_) => parts.push("command".into()),
            Work::Action(_) | Work::Nothing => parts.push("other".into()),
        }
        let env = &step.env;
        for layer in [env.defaults, env.runner, env.agent].into_iter().flatten() {
            parts.push(serde_json::to_string(layer).unwrap_or_default());
        }
        parts.push(step.agent.workdir.as_deref().unwrap_or_default().to_string());
        // What it was held to: a change kept under other checks is not this one's.
        parts.push(serde_json::to_string(&step.accept).unwrap_or_default());
        parts.extend(work.iter().cloned());
        parts.extend(inputs);
        Ticket {
            cache,
            parts,
            reads: step.reads.to_vec(),
            agent: step.agent.id.clone(),
            plan: plan.to_string(),
            root,
            scratch,
        }
    }

    /// The key, once the files it reads are known (`files`: their hash).
    pub fn key(&self, files: &str) -> String {
        let mut parts = self.parts.clone();
        parts.push(files.to_string());
        cache::key(&parts)
    }

    /// What the cache holds for `key`; a damaged entry is said and ignored.
    pub fn look(&self, key: &str, log: Option<&Path>) -> Option<Replayed> {
        match self.cache.get(key) {
            Lookup::Hit(e) => Some(Replayed {
                stdout: e.stdout,
                saved: e.usage,
                session: e.session,
                patch: e.patch,
                key: key.to_string(),
            }),
            Lookup::Miss => None,
            Lookup::Damaged(why) => {
                let line = format!("warning: the step cache's entry is damaged and was ignored: {why}");
                eprintln!("{line}");
                note(log, &line);
                None
            }
        }
    }

    /// Stores what a successful job left.
    pub fn store(&self, key: &str, stdout: &str, patch: Option<String>, usage: Option<Usage>, session: Option<String>) {
        let entry = Entry {
            key: key.to_string(),
            agent: self.agent.clone(),
            plan: self.plan.clone(),
            made_of: self.parts.iter().map(|p| p.chars().take(200).collect()).collect(),
            stdout: stdout.to_string(),
            patch,
            usage,
            session,
            ..Entry::default()
        };
        if let Err(e) = self.cache.put(entry) {
            eprintln!("warning: the step cache could not store `{}`: {e}", self.agent);
        }
    }
}

/// A line in a job's log.
pub fn note(log: Option<&Path>, line: &str) {
    use std::io::Write as _;
    if let Some(Ok(mut f)) = log.map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p)) {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// `CLI --version`, asked once per run: a new CLI may do the same work differently.
fn cli_version(cli: &str) -> String {
    static SEEN: OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    if let Some(v) = seen.lock().ok().and_then(|s| s.get(cli).cloned()) {
        return v;
    }
    let version = std::process::Command::new(cli)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "not installed".into());
    if let Ok(mut s) = seen.lock() {
        s.insert(cli.to_string(), version.clone());
    }
    version
}

/// The hash of the files of `tree` a step may read: those matching `reads` (all when
/// empty), less the run's inputs.
pub fn files_of(root: &Path, tree: &str, reads: &[String]) -> Result<String, crate::git::GitError> {
    let listing = crate::git::git(root, &["ls-tree", "-r", "--full-tree", tree])?;
    let inputs = crate::git::inputs();
    let mut globs = globset::GlobSetBuilder::new();
    for r in reads {
        if let Ok(g) = globset::GlobBuilder::new(r).literal_separator(true).build() {
            globs.add(g);
        }
    }
    let globs = globs.build().ok();
    let mut h = Sha256::new();
    for line in listing.lines() {
        let Some((_, path)) = line.split_once('\t') else { continue };
        if inputs.iter().any(|i| i == path) {
            continue;
        }
        if !reads.is_empty() && !globs.as_ref().is_some_and(|g| g.is_match(path)) {
            continue;
        }
        h.update(line.as_bytes());
        h.update(b"\n");
    }
    Ok(hex::encode(h.finalize()))
}

/// The text of an output, for a key.
pub fn output_text(id: &str, value: &serde_json::Value) -> String {
    format!("{id}={value}")
}

/// A job's outcome when it was replayed: its output, its session, what it saved.
pub fn replayed(hit: Replayed) -> crate::engine::job::Ran {
    let mut ran: crate::engine::job::Ran = crate::engine::job::Outcome::Succeeded { stdout: hit.stdout }.into();
    ran.session = hit.session;
    ran.cache_key = Some(hit.key.clone());
    ran.cached = Some((hit.key, hit.saved));
    ran
}

/// What a successful run of a job leaves for the cache: its output and session, and
/// what it spent.
pub fn keep(ticket: &Ticket, key: &str, ran: &crate::engine::job::Ran, patch: Option<String>) {
    if let crate::engine::job::Outcome::Succeeded { stdout } = &ran.outcome {
        ticket.store(key, stdout, patch, ran.usage, ran.session.clone());
    }
}

/// A job the cache may replay, in a checkout all jobs share: looked up by the
/// checkout's files, and stored only when it changed none (its changes could not be
/// told from other agents').
pub async fn in_checkout(
    ticket: Ticket,
    root: &Path,
    job: crate::engine::job::Job,
    executor: &dyn crate::engine::job::Executor,
    cancel: tokio::sync::watch::Receiver<crate::engine::job::Cancel>,
) -> crate::engine::job::Ran {
    use crate::engine::job::Outcome;
    let index = ticket.scratch.join(format!("cache-{}.index", job.id.replace(['/', '[', ']'], "-")));
    let snapshot = |index: PathBuf| {
        let (root, reads) = (root.to_path_buf(), ticket.reads.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let tree = crate::git::tree::snapshot(&root, &index)?;
                let _ = std::fs::remove_file(&index);
                files_of(&root, &tree, &reads).map(|files| (tree, files))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        }
    };
    let Ok((before, files)) = snapshot(index.clone()).await else { return executor.execute(job, cancel).await };
    let key = ticket.key(&files);
    if let Some(hit) = ticket.look(&key, job.log.as_deref()).filter(|h| h.patch.is_none()) {
        return replayed(hit);
    }
    let log = job.log.clone();
    let mut ran = executor.execute(job, cancel).await;
    ran.cache_key = Some(key.clone());
    if matches!(ran.outcome, Outcome::Succeeded { .. }) {
        match snapshot(index).await {
            Ok((after, _)) if after == before => keep(&ticket, &key, &ran, None),
            _ => note(
                log.as_deref(),
                "step cache: not stored (it changed files of the shared checkout; `workspace: worktree` lets its work be cached)",
            ),
        }
    }
    ran
}
