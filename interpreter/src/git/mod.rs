//! Git, run as the `git` command: checks before a run (a repository, a clean tree, an
//! `origin`), worktrees for isolated agents and merging them back, and the final
//! branch, commit and push. The run directory `.plan/` is never committed.

pub(crate) mod github;
pub(crate) mod tree;
pub(crate) mod worktree;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What went wrong with git, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("`git {command}` failed: {message}")]
    Failed { command: String, message: String },
    #[error("{} is not inside a git repository; --commit, --pr and `workspace: worktree` need one", .0.display())]
    NotARepository(PathBuf),
    #[error("the working tree has uncommitted changes ({0}); commit or stash them first")]
    Dirty(String),
    #[error("the repository has no `origin` remote to push to; add one with `git remote add origin URL`")]
    NoOrigin,
    #[error("the repository has no commit yet; commit something first")]
    NoCommit,
    #[error("`{0}` is not a valid branch name")]
    BadBranch(String),
    #[error("cannot write the commit message: {0}")]
    Message(#[source] std::io::Error),
    #[error("a git task stopped: {0}")]
    Task(String),
}

/// What `plan` adds to the repository's own exclude file (`.git/info/exclude`) on
/// its first run: its run directory, and the caches coding agents leave (aider's).
/// Ignored, they are out of `git status`, commits and snapshots, with no pathspec
/// that git could complain about.
const IGNORED: [&str; 2] = [".plan/", ".aider*"];

/// The plan file and templates a run reads: its inputs, not changes to the
/// repository. Set once, before the run (`preflight`).
static INPUTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The run's inputs, relative to the repository's root.
pub fn inputs() -> Vec<String> {
    INPUTS.get().cloned().unwrap_or_default()
}

/// The pathspec of "the repository's files": everything, but the run's inputs.
pub fn scope() -> Vec<String> {
    let mut spec = vec![".".to_string()];
    spec.extend(INPUTS.get().into_iter().flatten().map(|p| format!(":(exclude,literal){p}")));
    spec
}

/// `git args... -- <scope>`.
fn scoped(root: &Path, args: &[&str]) -> Result<String, GitError> {
    let scope = scope();
    let mut all: Vec<&str> = args.to_vec();
    all.push("--");
    all.extend(scope.iter().map(String::as_str));
    git(root, &all)
}

/// Adds `.plan/` and agents' caches to the repository's exclude file, once.
fn exclude_plan_files(root: &Path) -> Result<(), GitError> {
    let file = PathBuf::from(git(root, &["rev-parse", "--path-format=absolute", "--git-path", "info/exclude"])?);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<&str> = IGNORED.into_iter().filter(|p| !text.lines().any(|l| l.trim() == *p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# added by plan: its run directory and agents' caches\n");
    for p in missing {
        out.push_str(p);
        out.push('\n');
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(GitError::Message)?;
    }
    std::fs::write(&file, out).map_err(GitError::Message)
}

/// Runs `git args` in `dir`; its trimmed stdout, or stderr as the error.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    git_bytes(dir, args).map(|out| String::from_utf8_lossy(&out).trim_end().to_string())
}

/// The repository `plan run` works in, as checked before any agent starts.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
    /// The branch the run started from (`None` when HEAD is detached).
    pub branch: Option<String>,
    /// The commit the run started from; worktrees branch from it.
    pub base: String,
}

/// The repository `dir` is in, for a run that does not use git but whose step cache
/// hashes its files: its inputs set (they are not files steps read) and `.plan/`
/// excluded; `None` outside a repository.
pub fn for_cache(dir: &Path, inputs: &[PathBuf]) -> Option<PathBuf> {
    let root = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"]).ok()?);
    adopt(&root, inputs).ok()?;
    Some(root)
}

/// Records the run's inputs (relative to `root`) and keeps `plan`'s own files out of
/// git's view (`exclude_plan_files`).
fn adopt(root: &Path, inputs: &[PathBuf]) -> Result<(), GitError> {
    let real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let relative: Vec<String> = inputs
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter_map(|p| p.strip_prefix(&real).ok().map(|r| r.to_string_lossy().into_owned()))
        .collect();
    let _ = INPUTS.set(relative);
    exclude_plan_files(root)
}

/// Checks that `dir` is in a git repository with a clean tree (and an `origin` when
/// `need_origin`), before anything runs. A resumed run's tree holds its own agents'
/// changes, so `resuming` allows changes.
/// `inputs` are the plan file and the templates it reads: uncommitted, they do not
/// count as changes (and are never committed or merged as the agents' work).
pub fn preflight(dir: &Path, need_origin: bool, resuming: bool, inputs: &[PathBuf]) -> Result<Repo, GitError> {
    let root = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|_| GitError::NotARepository(dir.to_path_buf()))?;
    let root = PathBuf::from(root);
    adopt(&root, inputs)?;
    let dirty = scoped(&root, &["status", "--porcelain", "--untracked-files=all"])?;
    if !dirty.is_empty() && !resuming {
        let files: Vec<&str> = dirty.lines().take(5).map(|l| l.get(3..).unwrap_or(l)).collect();
        let more = dirty.lines().count().saturating_sub(5);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        return Err(GitError::Dirty(format!("{}{more}", files.join(", "))));
    }
    match git(&root, &["remote", "get-url", "--push", "origin"]) {
        Ok(url) => {
            let _ = PUSH_URL.set(url);
        }
        Err(_) if need_origin => return Err(GitError::NoOrigin),
        Err(_) => {}
    }
    let base = git(&root, &["rev-parse", "HEAD"]).map_err(|_| GitError::NoCommit)?;
    let branch = git(&root, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    Ok(Repo { root, branch, base })
}

/// Whether anything outside `.plan/` changed.
pub fn has_changes(root: &Path) -> Result<bool, GitError> {
    Ok(!scoped(root, &["status", "--porcelain"])?.is_empty())
}

/// Stages every change outside `.plan/` and summarises it (`git diff --stat`), for
/// the approval of a push.
pub fn staged_summary(root: &Path) -> Result<String, GitError> {
    scoped(root, &["add", "-A"])?;
    git(root, &["diff", "--cached", "--stat=100"])
}

/// Creates `branch` at HEAD (keeping the working tree's changes) and commits them
/// with `message`; returns the commit id.
pub fn branch_and_commit(root: &Path, branch: &str, message: &str) -> Result<String, GitError> {
    git(root, &["check-ref-format", "--branch", branch]).map_err(|_| GitError::BadBranch(branch.to_string()))?;
    // A run killed after making the branch (and before committing) resumes on it.
    let current = git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"]).unwrap_or_default();
    if current != branch {
        git(root, &["checkout", "-b", branch])?;
    }
    commit_all(root, message)
}

/// Commits every change outside `.plan/` with `message`; returns the commit id.
pub fn commit_all(root: &Path, message: &str) -> Result<String, GitError> {
    scoped(root, &["add", "-A"])?;
    let file = std::env::temp_dir().join(format!("plan-commit-{}.txt", std::process::id()));
    std::fs::write(&file, message).map_err(GitError::Message)?;
    let result = git(root, &["commit", "--quiet", "-F", &file.display().to_string()]);
    let _ = std::fs::remove_file(&file);
    result?;
    git(root, &["rev-parse", "HEAD"])
}

/// Pushes `branch` to the address `origin` had before any agent ran (an agent that
/// repoints `origin` is caught here, and nothing is pushed). Exactly once: when
/// `origin` has the branch at this commit already (a run resumed after a kill that
/// followed its push), nothing is pushed again; whether it pushed.
pub fn push(root: &Path, branch: &str) -> Result<bool, GitError> {
    let now = git(root, &["remote", "get-url", "--push", "origin"])?;
    let url = PUSH_URL.get().cloned().unwrap_or_else(|| now.clone());
    if now != url {
        return Err(GitError::Failed {
            command: "push".into(),
            message: format!("origin's push address changed during the run (was {url}, now {now}): nothing pushed"),
        });
    }
    let refname = format!("refs/heads/{branch}");
    let local = git(root, &["rev-parse", "--verify", "--quiet", &refname])?;
    let remote = git(root, &["ls-remote", &url, &refname])?;
    if remote.split_whitespace().next() == Some(local.as_str()) {
        return Ok(false);
    }
    git(root, &["push", "--quiet", &url, &format!("{refname}:{refname}")]).map(|_| true)
}

/// The commit a killed run already made on `branch` (checked out, nothing changed
/// since, and ahead of `base`): a resumed commit step finds it instead of committing
/// nothing.
pub fn committed_on(root: &Path, branch: &str, base: &str) -> Result<Option<String>, GitError> {
    let current = git(root, &["symbolic-ref", "--quiet", "--short", "HEAD"]).unwrap_or_default();
    if current != branch || has_changes(root)? {
        return Ok(None);
    }
    let head = git(root, &["rev-parse", "HEAD"])?;
    Ok((head != base).then_some(head))
}

/// `origin`'s push address as the run found it (`preflight`).
static PUSH_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The options every git command of `plan`'s runs with: no hooks and no file-system
/// monitor, which a repository's config could point at a program.
pub const SAFE: [&str; 4] = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"];

/// `owner/name` of `origin`, when it is a GitHub address.
pub fn origin_repo(root: &Path) -> Option<String> {
    let url = git(root, &["remote", "get-url", "origin"]).ok()?;
    let path = url.trim_end_matches(".git");
    let path = path.rsplit_once("github.com/").or_else(|| path.rsplit_once("github.com:"))?.1;
    let mut parts = path.split('/');
    Some(format!("{}/{}", parts.next()?, parts.next()?))
}

/// The repository's default branch as this checkout knows it: `origin`'s HEAD, else
/// `origin/main` or `origin/master`, else the local `main` or `master`.
pub fn default_branch(root: &Path) -> Option<String> {
    if let Ok(head) = git(root, &["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"]) {
        return Some(head);
    }
    ["refs/remotes/origin/main", "refs/remotes/origin/master", "refs/heads/main", "refs/heads/master"]
        .into_iter()
        .find(|r| git(root, &["rev-parse", "--verify", "--quiet", &format!("{r}^{{commit}}")]).is_ok())
        .map(str::to_string)
}

/// Whether `file` (relative to `root`) is, byte for byte, what the default branch
/// holds at that path: a person committed it. A file an agent wrote or changed in
/// the checkout is not.
pub fn committed_on_default(root: &Path, file: &Path) -> bool {
    let (Some(branch), Some(path)) = (default_branch(root), file.to_str()) else { return false };
    let Ok(prefix) = git(root, &["rev-parse", "--show-prefix"]) else { return false };
    let Ok(committed) = git_bytes(root, &["cat-file", "blob", &format!("{branch}:{prefix}{path}")]) else {
        return false;
    };
    std::fs::read(root.join(file)).is_ok_and(|here| here == committed)
}

/// The raw stdout of `git args` in `dir` (for binary diffs).
pub(crate) fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .args(SAFE)
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        // `git status` then never takes the index lock that another git step holds.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(GitError::Failed {
            command: args.join(" "),
            message: if err.is_empty() { out.status.to_string() } else { err },
        })
    }
}

/// Every file changed since `base` (committed or not, untracked included), outside
/// `.plan/`: `(status, path)` with git's status letters, `?` for untracked.
pub fn changes_since(root: &Path, base: &str) -> Result<Vec<(String, String)>, GitError> {
    let mut files: Vec<(String, String)> = scoped(root, &["diff", "--name-status", "--no-renames", base])?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(s, p)| (s.to_string(), p.to_string()))
        .collect();
    let untracked = scoped(root, &["ls-files", "--others", "--exclude-standard"])?;
    files.extend(untracked.lines().map(|p| ("?".to_string(), p.to_string())));
    Ok(files)
}

/// The state of the working tree outside `.plan/` (changed and untracked files and
/// their differences): two equal states mean nothing changed in between.
pub fn tree_state(root: &Path) -> Result<String, GitError> {
    let status = scoped(root, &["status", "--porcelain=v1", "--untracked-files=all"])?;
    let diff = scoped(root, &["diff", "HEAD"])?;
    Ok(format!("{status}\n{diff}"))
}
