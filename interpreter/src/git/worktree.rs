//! The fallback workspace: a `git worktree` of the agent's starting commit, on a
//! branch of its own, where copy-on-write workspaces cannot be made (no overlayfs or
//! no namespaces). A full checkout per agent: it costs what the repository weighs.

use std::path::{Path, PathBuf};

use super::{git, GitError, Repo};

/// An agent's worktree: where it is and the branch it commits to.
#[derive(Clone, Debug)]
pub struct Worktree {
    pub path: PathBuf,
}

/// Adds a worktree at `path` on a new branch `branch` at commit `start` (a resumed
/// run's leftover of the same name is removed first: the agent starts afresh).
pub fn add(repo: &Repo, path: &Path, branch: &str, start: &str) -> Result<Worktree, GitError> {
    if path.exists() {
        let _ = git(&repo.root, &["worktree", "remove", "--force", &path.display().to_string()]);
    }
    let _ = git(&repo.root, &["branch", "-D", branch]);
    git(&repo.root, &["worktree", "add", "--quiet", "-b", branch, &path.display().to_string(), start])?;
    Ok(Worktree { path: path.to_path_buf() })
}

/// Commits what the agent changed in its worktree on its branch; the commit, or
/// `None` when it changed nothing.
pub fn commit(wt: &Worktree, node: &str) -> Result<Option<String>, GitError> {
    let scope = super::scope();
    let mut add = vec!["add", "-A", "--"];
    add.extend(scope.iter().map(String::as_str));
    git(&wt.path, &add)?;
    if git(&wt.path, &["diff", "--cached", "--name-only"])?.is_empty() {
        return Ok(None);
    }
    let message = format!("plan: {node}");
    git(&wt.path, &["-c", "user.name=plan", "-c", "user.email=plan@localhost", "commit", "--quiet", "-m", &message])?;
    git(&wt.path, &["rev-parse", "HEAD"]).map(Some)
}

/// Removes a worktree (its branch stays: the caller decides).
pub fn remove(repo: &Repo, wt: &Worktree) {
    let _ = git(&repo.root, &["worktree", "remove", "--force", &wt.path.display().to_string()]);
}
