//! The run's merged result, kept outside the checkout: a commit that starts at the
//! run's base and takes each agent's branch as the agent finishes (`git merge-tree`:
//! no index, no working tree). The checkout's files change only to a complete merged
//! result (`sync`), before an agent that works in the checkout starts and at the end
//! of the run; a conflict touches nothing. A change of the checkout is recorded
//! before it starts, so a run killed in the middle of one finishes it on `--resume`;
//! the merged result is recorded as it grows, so a resumed run keeps the work of the
//! agents it does not run again.

use std::path::PathBuf;

use crate::git::tree::{self, Merged};
use crate::git::{GitError, Repo};
use crate::store::rundir::RunDir;

/// Work that could not be merged.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{error}")]
pub struct MergeConflict {
    pub node: String,
    pub error: String,
}

/// The merged result and what the checkout's files are.
pub struct Merger {
    repo: Repo,
    /// The scratch index that holds the checkout's files as last recorded.
    index: PathBuf,
    switching: PathBuf,
    /// Where the merged result is recorded.
    record: PathBuf,
    /// Everything merged so far.
    merged: String,
    /// The commit the checkout's files are (plus what ran in it since, if `touched`).
    applied: String,
    /// Something ran in the checkout since it was last recorded.
    touched: bool,
    /// A conflict with the checkout's own work: nothing more is merged into it.
    conflict: Option<MergeConflict>,
}

impl Merger {
    /// The merger of a run in `repo`: a resumed run first finishes a change of the
    /// checkout that was cut short, and counts what its checkout holds as work.
    pub fn open(repo: Repo, dir: &RunDir) -> Result<Merger, GitError> {
        let index = dir.checkout_index();
        let switching = dir.switching();
        if !index.exists() {
            // Whole or not at all (a run killed here finds no index, not half of one).
            let git_dir = crate::git::git(&repo.root, &["rev-parse", "--path-format=absolute", "--git-dir"])?;
            let tmp = index.with_extension("index.tmp");
            std::fs::copy(PathBuf::from(git_dir).join("index"), &tmp).map_err(GitError::Message)?;
            std::fs::rename(&tmp, &index).map_err(GitError::Message)?;
        }
        if let Ok(to) = std::fs::read_to_string(&switching) {
            tree::finish_switch(&repo.root, &index, to.trim())?;
            let _ = std::fs::remove_file(&switching);
        }
        let touched = crate::git::has_changes(&repo.root)?;
        let base = repo.base.clone();
        let record = dir.root.join("merged");
        // What a killed run had merged (an object git still has).
        let merged = std::fs::read_to_string(&record)
            .ok()
            .map(|m| m.trim().to_string())
            .filter(|m| crate::git::git(&repo.root, &["cat-file", "-e", &format!("{m}^{{commit}}")]).is_ok())
            .unwrap_or_else(|| base.clone());
        // What the checkout's files were brought to (a finished run's merged result,
        // which a round of feedback goes on from), else the base.
        let applied = std::fs::read_to_string(dir.root.join("applied"))
            .ok()
            .map(|m| m.trim().to_string())
            .filter(|m| crate::git::git(&repo.root, &["cat-file", "-e", &format!("{m}^{{commit}}")]).is_ok())
            .unwrap_or(base);
        Ok(Merger { repo, index, switching, record, merged, applied, touched, conflict: None })
    }

    /// Records the merged result (whole: a temporary file, then a rename).
    fn keep(&self) {
        let _ = crate::store::rundir::write_atomic(&self.record, self.merged.as_bytes());
    }

    /// Something ran in the checkout.
    pub fn touch(&mut self) {
        self.touched = true;
    }

    /// Takes what ran in the checkout into the merged result; the merged result, which
    /// an agent in a workspace of its own starts from.
    pub fn fold(&mut self) -> Result<String, MergeConflict> {
        if let Some(c) = &self.conflict {
            return Err(c.clone());
        }
        if self.touched {
            let failed = |e: GitError| MergeConflict { node: "(checkout)".into(), error: e.to_string() };
            let root = self.repo.root.clone();
            let on_disk = tree::snapshot(&root, &self.index).map_err(failed)?;
            if on_disk != tree::tree_of(&root, &self.applied).map_err(failed)? {
                let work = tree::commit_tree(&root, &on_disk, &[&self.applied], "plan: work in the checkout")
                    .map_err(failed)?;
                let was = std::mem::replace(&mut self.applied, work.clone());
                if let Err(c) = self.take("(checkout)", &was, &work) {
                    self.conflict = Some(c.clone());
                    return Err(c);
                }
            }
            self.touched = false;
        }
        Ok(self.merged.clone())
    }

    /// Merges `work` (a commit on `start`) of agent `node` into the merged result.
    pub fn take(&mut self, node: &str, start: &str, work: &str) -> Result<(), MergeConflict> {
        let root = &self.repo.root;
        let failed = |e: GitError| MergeConflict { node: node.into(), error: e.to_string() };
        if self.merged == start {
            self.merged = work.to_string();
            self.keep();
            return Ok(());
        }
        match tree::merge(root, start, &self.merged, work).map_err(failed)? {
            Merged::Clean(t) => {
                self.merged = tree::commit_tree(root, &t, &[&self.merged, work], &format!("plan: merge {node}"))
                    .map_err(failed)?;
                self.keep();
                Ok(())
            }
            Merged::Conflict(files) => {
                Err(MergeConflict { node: node.into(), error: self.describe(&files, start, work) })
            }
        }
    }

    /// A conflict as the agent's retry reads it: the files, and both sides of each.
    fn describe(&self, files: &[String], start: &str, work: &str) -> String {
        let root = &self.repo.root;
        let mut text = format!(
            "merge conflict in {}: other agents changed the same lines since this attempt started; \
             the next attempt starts from their merged work. Both sides:\n",
            if files.is_empty() { "(files git could not name)".to_string() } else { files.join(", ") }
        );
        for file in files.iter().take(5) {
            for (who, to) in [("merged so far", self.merged.as_str()), ("this attempt", work)] {
                let diff =
                    crate::git::git(root, &["diff", "--no-color", "-U1", start, to, "--", file]).unwrap_or_default();
                let body: String =
                    diff.lines().skip_while(|l| !l.starts_with("@@")).take(20).collect::<Vec<_>>().join("\n");
                text.push_str(&format!("--- {file} ({who}):\n{body}\n"));
            }
        }
        text
    }

    /// Brings the checkout's files to the merged result (what ran in the checkout
    /// merged in first): only the files that differ are written, and nothing is
    /// written unless the whole result merged.
    pub fn sync(&mut self) -> Result<(), MergeConflict> {
        let merged = self.fold()?;
        if merged == self.applied {
            return Ok(());
        }
        let root = self.repo.root.clone();
        let failed = |e: GitError| MergeConflict { node: "(checkout)".into(), error: e.to_string() };
        let from = tree::tree_of(&root, &self.applied).map_err(failed)?;
        let to = tree::tree_of(&root, &merged).map_err(failed)?;
        std::fs::write(&self.switching, &to).map_err(|e| failed(GitError::Message(e)))?;
        tree::switch(&root, &self.index, &from, &to).map_err(failed)?;
        let applied = self.record.with_file_name("applied");
        let _ = crate::store::rundir::write_atomic(&applied, merged.as_bytes());
        let _ = std::fs::remove_file(&self.switching);
        self.applied = merged;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::git;

    fn repo() -> (tempfile::TempDir, Repo, RunDir) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("work");
        std::fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "--quiet", "-b", "main"]).unwrap();
        for f in ["a", "b"] {
            std::fs::write(root.join(f), "base\n").unwrap();
        }
        git(&root, &["add", "-A"]).unwrap();
        git(&root, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "base"]).unwrap();
        let base = git(&root, &["rev-parse", "HEAD"]).unwrap();
        let run = RunDir { id: "r".into(), root: t.path().join("run") };
        std::fs::create_dir_all(&run.root).unwrap();
        (t, Repo { root, branch: Some("main".into()), base }, run)
    }

    /// A commit on `parent` where every file of `files` says `text`.
    fn work(repo: &Repo, parent: &str, files: &[&str], text: &str) -> String {
        let index = repo.root.join(".git/test-index");
        tree::read_tree(&repo.root, &index, parent).unwrap();
        let env = [("GIT_INDEX_FILE", index.as_os_str())];
        let blob = tree::ok(&repo.root, &["hash-object", "-w", "--stdin"], &[], text.as_bytes()).unwrap();
        for f in files {
            let info = format!("100644,{blob},{f}");
            tree::ok(&repo.root, &["update-index", "--cacheinfo", &info], &env, &[]).unwrap();
        }
        let t = tree::ok(&repo.root, &["write-tree"], &env, &[]).unwrap();
        tree::commit_tree(&repo.root, &t, &[parent], "work").unwrap()
    }

    #[test]
    fn the_checkout_changes_only_to_a_whole_merged_result() {
        let (_t, repo, run) = repo();
        let mut m = Merger::open(repo.clone(), &run).unwrap();
        let one = work(&repo, &repo.base, &["a"], "one\n");
        let two = work(&repo, &repo.base, &["a"], "two\n");
        m.take("one", &repo.base, &one).unwrap();
        let conflict = m.take("two", &repo.base, &two).unwrap_err();
        assert!(conflict.error.starts_with("merge conflict in a:"), "{conflict}");
        assert!(conflict.error.contains("+one") && conflict.error.contains("+two"), "both sides: {conflict}");
        // Nothing reached the files before the sync; then the whole merged result.
        assert_eq!(std::fs::read_to_string(repo.root.join("a")).unwrap(), "base\n");
        m.sync().unwrap();
        assert_eq!(std::fs::read_to_string(repo.root.join("a")).unwrap(), "one\n");
    }

    #[test]
    fn a_change_of_the_checkout_cut_short_is_finished_when_the_run_resumes() {
        let (_t, repo, run) = repo();
        drop(Merger::open(repo.clone(), &run).unwrap());
        let both = work(&repo, &repo.base, &["a", "b"], "merged\n");
        // Killed after writing `a` and before `b`: the record of the change is there.
        std::fs::write(run.switching(), tree::tree_of(&repo.root, &both).unwrap()).unwrap();
        std::fs::write(repo.root.join("a"), "merged\n").unwrap();
        let mut m = Merger::open(repo.clone(), &run).unwrap();
        for f in ["a", "b"] {
            assert_eq!(std::fs::read_to_string(repo.root.join(f)).unwrap(), "merged\n", "{f}");
        }
        assert!(!run.switching().exists());
        // What the checkout now holds is the run's work, merged into what comes next.
        assert_ne!(m.fold().unwrap(), repo.base);
    }
}
