//! Git, run as the `git` command: checks before a run (a repository, a clean tree, an
//! `origin`), worktrees for isolated agents and merging them back, and the final
//! branch, commit and push. The run directory `.plan/` is never committed.

pub(crate) mod github;

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
    #[error("merge conflict in {files} (worktree kept at {}, branch {branch})", .worktree.display())]
    Conflict { files: String, worktree: PathBuf, branch: String },
    #[error("a git task stopped: {0}")]
    Task(String),
}

/// Paths `plan` keeps out of commits and of the "dirty tree" check: its run
/// directory, and the caches coding agents leave in the repository (aider's).
const EXCLUDE: &str = ":(exclude).plan";
const EXCLUDE_AGENTS: &str = ":(exclude).aider*";

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

/// Checks that `dir` is in a git repository with a clean tree (and an `origin` when
/// `need_origin`), before anything runs. A resumed run's tree holds its own agents'
/// changes, so `resuming` allows changes.
pub fn preflight(dir: &Path, need_origin: bool, resuming: bool) -> Result<Repo, GitError> {
    let root = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|_| GitError::NotARepository(dir.to_path_buf()))?;
    let root = PathBuf::from(root);
    let dirty = git(&root, &["status", "--porcelain", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    if !dirty.is_empty() && !resuming {
        let files: Vec<&str> = dirty.lines().take(5).map(|l| l.get(3..).unwrap_or(l)).collect();
        return Err(GitError::Dirty(files.join(", ")));
    }
    if need_origin && git(&root, &["remote", "get-url", "origin"]).is_err() {
        return Err(GitError::NoOrigin);
    }
    let base = git(&root, &["rev-parse", "HEAD"]).map_err(|_| GitError::NoCommit)?;
    let branch = git(&root, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    Ok(Repo { root, branch, base })
}

/// Whether anything outside `.plan/` changed.
pub fn has_changes(root: &Path) -> Result<bool, GitError> {
    Ok(!git(root, &["status", "--porcelain", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?.is_empty())
}

/// Stages every change outside `.plan/` and summarises it (`git diff --stat`), for
/// the approval of a push.
pub fn staged_summary(root: &Path) -> Result<String, GitError> {
    git(root, &["add", "-A", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    git(root, &["diff", "--cached", "--stat=100"])
}

/// Creates `branch` at HEAD (keeping the working tree's changes) and commits them
/// with `message`; returns the commit id.
pub fn branch_and_commit(root: &Path, branch: &str, message: &str) -> Result<String, GitError> {
    git(root, &["check-ref-format", "--branch", branch]).map_err(|_| GitError::BadBranch(branch.to_string()))?;
    git(root, &["checkout", "-b", branch])?;
    commit_all(root, message)
}

/// Commits every change outside `.plan/` with `message`; returns the commit id.
pub fn commit_all(root: &Path, message: &str) -> Result<String, GitError> {
    git(root, &["add", "-A", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    let file = std::env::temp_dir().join(format!("plan-commit-{}.txt", std::process::id()));
    std::fs::write(&file, message).map_err(GitError::Message)?;
    let result = git(root, &["commit", "--quiet", "-F", &file.display().to_string()]);
    let _ = std::fs::remove_file(&file);
    result?;
    git(root, &["rev-parse", "HEAD"])
}

pub fn push(root: &Path, branch: &str) -> Result<(), GitError> {
    git(root, &["push", "--quiet", "-u", "origin", branch]).map(|_| ())
}

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

/// An agent's worktree: where it is and the branch it commits to.
#[derive(Clone, Debug)]
pub struct Worktree {
    pub path: PathBuf,
    pub branch: String,
    /// The commit the agent started from: the run's base plus what earlier agents
    /// merged back.
    pub start: String,
}

/// Adds a worktree for node `node` of run `run_id` at `base`, under `worktrees`.
pub fn add_worktree(repo: &Repo, worktrees: &Path, run_id: &str, node: &str) -> Result<Worktree, GitError> {
    let safe: String =
        node.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    let path = worktrees.join(&safe);
    let branch = format!("plan/{run_id}/{safe}");
    if path.exists() {
        // A resumed run: start the agent afresh.
        let _ = git(&repo.root, &["worktree", "remove", "--force", &path.display().to_string()]);
        let _ = git(&repo.root, &["branch", "-D", &branch]);
    }
    git(&repo.root, &["worktree", "add", "--quiet", "-b", &branch, &path.display().to_string(), &repo.base])?;
    // What earlier agents merged into the main checkout is the agent's starting point.
    git(&repo.root, &["add", "-A", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    let pending = git_bytes(&repo.root, &["diff", "--cached", "--binary", &repo.base])?;
    if !pending.is_empty() {
        apply(&path, &pending, &["apply", "--index", "-"])?;
        commit_as_plan(&path, "plan: start from merged work")?;
    }
    let start = git(&path, &["rev-parse", "HEAD"])?;
    Ok(Worktree { path, branch, start })
}

/// Commits the index of a worktree as `plan` (worktree commits never reach the user's
/// history: only their diff is merged back).
fn commit_as_plan(dir: &Path, message: &str) -> Result<(), GitError> {
    git(dir, &["-c", "user.name=plan", "-c", "user.email=plan@localhost", "commit", "--quiet", "-m", message])
        .map(|_| ())
}

/// The raw stdout of `git args` in `dir` (for binary diffs).
fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
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

/// Feeds `patch` to `git args` in `dir`.
fn apply(dir: &Path, patch: &[u8], args: &[&str]) -> Result<std::process::Output, GitError> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(patch);
    }
    let out = child.wait_with_output().map_err(GitError::Spawn)?;
    if out.status.success() || args.contains(&"--3way") {
        Ok(out)
    } else {
        Err(GitError::Failed {
            command: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Commits what the agent changed in its worktree; whether it changed anything.
pub fn commit_worktree(wt: &Worktree, node: &str) -> Result<bool, GitError> {
    git(&wt.path, &["add", "-A", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    if git(&wt.path, &["diff", "--cached", "--name-only"])?.is_empty() {
        return Ok(false);
    }
    commit_as_plan(&wt.path, &format!("plan: {node}")).map(|()| true)
}

/// Every file changed since `base` (committed or not, untracked included), outside
/// `.plan/`: `(status, path)` with git's status letters, `?` for untracked.
pub fn changes_since(root: &Path, base: &str) -> Result<Vec<(String, String)>, GitError> {
    let mut files: Vec<(String, String)> =
        git(root, &["diff", "--name-status", "--no-renames", base, "--", ".", EXCLUDE, EXCLUDE_AGENTS])?
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, p)| (s.to_string(), p.to_string()))
            .collect();
    let untracked = git(root, &["ls-files", "--others", "--exclude-standard", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    files.extend(untracked.lines().map(|p| ("?".to_string(), p.to_string())));
    Ok(files)
}

/// The state of the working tree outside `.plan/` (changed and untracked files and
/// their differences): two equal states mean nothing changed in between.
pub fn tree_state(root: &Path) -> Result<String, GitError> {
    let status = git(root, &["status", "--porcelain=v1", "--untracked-files=all", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    let diff = git(root, &["diff", "HEAD", "--", ".", EXCLUDE, EXCLUDE_AGENTS])?;
    Ok(format!("{status}\n{diff}"))
}

/// Applies the worktree branch's changes to the main checkout. On a conflict the
/// error names the conflicting files, and the worktree is kept for inspection.
pub fn merge_back(repo: &Repo, wt: &Worktree) -> Result<(), GitError> {
    let diff = git_bytes(&repo.root, &["diff", "--binary", &wt.start, &wt.branch])?;
    if diff.is_empty() {
        return Ok(());
    }
    let out = apply(&repo.root, &diff, &["apply", "--3way", "--whitespace=nowarn", "-"])?;
    if out.status.success() {
        return Ok(());
    }
    let mut files: Vec<String> = git(&repo.root, &["diff", "--name-only", "--diff-filter=U"])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    if files.is_empty() {
        // Both sides created or removed the file: git names it in its complaints.
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            if let Some((file, _)) = line.strip_prefix("error: ").and_then(|l| l.split_once(": ")) {
                if !file.contains(' ') && !files.iter().any(|f| f == file) {
                    files.push(file.to_string());
                }
            }
        }
    }
    Err(GitError::Conflict { files: files.join(", "), worktree: wt.path.clone(), branch: wt.branch.clone() })
}

/// Removes a merged worktree and its branch.
pub fn remove_worktree(repo: &Repo, wt: &Worktree) {
    let _ = git(&repo.root, &["worktree", "remove", "--force", &wt.path.display().to_string()]);
    let _ = git(&repo.root, &["branch", "-D", &wt.branch]);
}
