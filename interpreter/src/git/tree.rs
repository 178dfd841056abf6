//! Git on trees and scratch indexes: how agents' work is merged without touching the
//! user's checkout until the merged result is complete. Every index here is a file
//! of the run's (`GIT_INDEX_FILE`); the user's own index is never written.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{git, GitError};

/// The author and committer of `plan`'s own commits (agents' branches and merges,
/// which reach the user's history only as the diff `--commit` commits).
const AS_PLAN: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "plan"),
    ("GIT_AUTHOR_EMAIL", "plan@localhost"),
    ("GIT_COMMITTER_NAME", "plan"),
    ("GIT_COMMITTER_EMAIL", "plan@localhost"),
];

/// Runs `git args` in `dir` with `env`, feeding `input`; the whole output, whatever
/// the exit status (callers say which statuses are answers).
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)], input: &[u8]) -> Result<Output, GitError> {
    let mut cmd = Command::new("git");
    cmd.args(super::SAFE).arg("-C").arg(dir).args(args).env("GIT_TERMINAL_PROMPT", "0").env("GIT_OPTIONAL_LOCKS", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    feed(cmd, input)
}

/// Runs `cmd` with `input` on its standard input (none when empty) and its output
/// read whole.
pub fn feed(mut cmd: Command, input: &[u8]) -> Result<Output, GitError> {
    let mut child = cmd
        .stdin(if input.is_empty() { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        // Written beside the reads: a large input never waits on a full stdout pipe.
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
    }
    child.wait_with_output().map_err(GitError::Spawn)
}

/// `run`, where only exit status 0 is an answer: its trimmed stdout.
pub fn ok(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)], input: &[u8]) -> Result<String, GitError> {
    let out = run(dir, args, env, input)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(GitError::Failed {
        command: args.join(" "),
        message: if err.is_empty() { out.status.to_string() } else { err },
    })
}

fn index_env(index: &Path) -> [(&'static str, &std::ffi::OsStr); 1] {
    [("GIT_INDEX_FILE", index.as_os_str())]
}

/// The tree of `commit`.
pub fn tree_of(root: &Path, commit: &str) -> Result<String, GitError> {
    git(root, &["rev-parse", &format!("{commit}^{{tree}}")])
}

/// A commit of `tree` with `parents`, made by `plan`.
pub fn commit_tree(root: &Path, tree: &str, parents: &[&str], message: &str) -> Result<String, GitError> {
    let mut args = vec!["commit-tree", tree];
    for p in parents {
        args.extend(["-p", p]);
    }
    args.extend(["-m", message]);
    let env: Vec<(&str, &std::ffi::OsStr)> = AS_PLAN.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(v))).collect();
    ok(root, &args, &env, &[])
}

/// What merging two lines of work gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Merged {
    /// The merged tree.
    Clean(String),
    /// The files both changed in ways that do not merge.
    Conflict(Vec<String>),
}

/// Merges `theirs` into `ours` from their common start `base`, in no working tree
/// and no index (`git merge-tree --write-tree`): a conflict touches nothing.
pub fn merge(root: &Path, base: &str, ours: &str, theirs: &str) -> Result<Merged, GitError> {
    let args =
        ["merge-tree", "--write-tree", "--name-only", "--no-messages", &format!("--merge-base={base}"), ours, theirs];
    let out = run(root, &args, &[], &[])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let tree = lines.next().unwrap_or_default().trim().to_string();
    match out.status.code() {
        Some(0) => Ok(Merged::Clean(tree)),
        Some(1) => {
            let mut files: Vec<String> = lines.map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
            files.dedup();
            Ok(Merged::Conflict(files))
        }
        _ => Err(GitError::Failed {
            command: "merge-tree".into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
    }
}

/// The tree of the checkout at `root` as it is on disk (tracked and untracked files,
/// not the ignored ones, not the plan's inputs), recorded in the scratch `index`.
pub fn snapshot(root: &Path, index: &Path) -> Result<String, GitError> {
    let mut args = vec!["add", "-A", "--"];
    let scope = super::scope();
    args.extend(scope.iter().map(String::as_str));
    ok(root, &args, &index_env(index), &[])?;
    ok(root, &["write-tree"], &index_env(index), &[])
}

/// `base` with `patch` (a `git diff --binary` from it) applied, as a commit on it: the
/// work a step replayed from the cache leaves (no file of the checkout is touched).
pub fn apply_patch(root: &Path, index: &Path, base: &str, patch: &str, message: &str) -> Result<String, GitError> {
    ok(root, &["read-tree", base], &index_env(index), &[])?;
    ok(root, &["apply", "--cached", "--binary", "-"], &index_env(index), patch.as_bytes())?;
    let tree = ok(root, &["write-tree"], &index_env(index), &[])?;
    let _ = std::fs::remove_file(index);
    commit_tree(root, &tree, &[base], message)
}

/// The change from `from` to `to`, as a patch `apply_patch` takes.
pub fn patch(root: &Path, from: &str, to: &str) -> Result<String, GitError> {
    let out = run(root, &["diff", "--binary", "--full-index", "--no-color", "--no-ext-diff", from, to], &[], &[])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fills the scratch `index` with `tree` (no file is read or written).
#[cfg(test)]
pub fn read_tree(root: &Path, index: &Path, tree: &str) -> Result<(), GitError> {
    ok(root, &["read-tree", tree], &index_env(index), &[]).map(|_| ())
}

/// Changes the checkout's files from `from` (what the scratch `index` holds) to `to`:
/// only the files that differ are written. A file changed on disk since `from` stops
/// it before anything is written.
pub fn switch(root: &Path, index: &Path, from: &str, to: &str) -> Result<(), GitError> {
    ok(root, &["read-tree", "-m", "-u", from, to], &index_env(index), &[]).map(|_| ())
}

/// Makes the checkout's tracked files `to`, whatever a switch that was cut short left
/// (the index says what it had got to).
pub fn finish_switch(root: &Path, index: &Path, to: &str) -> Result<(), GitError> {
    ok(root, &["read-tree", "--reset", "-u", to], &index_env(index), &[]).map(|_| ())
}

/// The files that differ between two trees or commits: `(status letter, path)`.
pub fn changes(root: &Path, from: &str, to: &str) -> Result<Vec<(char, String)>, GitError> {
    let out = ok(root, &["diff-tree", "-r", "--no-renames", "-z", "--name-status", from, to], &[], &[])?;
    let mut parts = out.split('\0').filter(|p| !p.is_empty());
    let mut files = Vec::new();
    while let (Some(status), Some(path)) = (parts.next(), parts.next()) {
        files.push((status.chars().next().unwrap_or('M'), path.to_string()));
    }
    Ok(files)
}

/// What a path becomes in `edit`: an entry (`mode`, object id), or nothing.
pub type Edit = Option<(String, String)>;

/// The tree `tree` with `edits` made (paths relative to it), built one directory at
/// a time (`ls-tree` and `mktree` of the directories on the edited paths only): what
/// it costs follows the edits, not the size of the repository. Empty directories go.
pub fn edit(root: &Path, tree: &str, edits: &std::collections::BTreeMap<String, Edit>) -> Result<String, GitError> {
    let edits: Vec<(&str, &Edit)> = edits.iter().map(|(p, e)| (p.as_str(), e)).collect();
    Ok(edit_dir(root, Some(tree), &edits)?.unwrap_or_else(|| EMPTY_TREE.to_string()))
}

/// The empty tree's id.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

fn edit_dir(root: &Path, tree: Option<&str>, edits: &[(&str, &Edit)]) -> Result<Option<String>, GitError> {
    // name -> (mode, type, oid)
    let mut entries: std::collections::BTreeMap<String, (String, String, String)> = std::collections::BTreeMap::new();
    if let Some(tree) = tree {
        for line in ok(root, &["ls-tree", "-z", tree], &[], &[])?.split('\0').filter(|l| !l.is_empty()) {
            let Some((meta, name)) = line.split_once('\t') else { continue };
            let mut m = meta.split(' ');
            let (Some(mode), Some(kind), Some(oid)) = (m.next(), m.next(), m.next()) else { continue };
            entries.insert(name.to_string(), (mode.into(), kind.into(), oid.into()));
        }
    }
    let mut i = 0;
    while i < edits.len() {
        let (path, change) = edits[i];
        match path.split_once('/') {
            None => {
                match change {
                    Some((mode, oid)) => {
                        entries.insert(path.to_string(), (mode.clone(), "blob".into(), oid.clone()));
                    }
                    None => {
                        entries.remove(path);
                    }
                }
                i += 1;
            }
            Some((dir, _)) => {
                // Every edit below `dir/` (sorted: they are together).
                let prefix = format!("{dir}/");
                let mut below: Vec<(&str, &Edit)> = Vec::new();
                while i < edits.len() && edits[i].0.starts_with(&prefix) {
                    below.push((&edits[i].0[prefix.len()..], edits[i].1));
                    i += 1;
                }
                let sub = entries.get(dir).filter(|(_, kind, _)| kind == "tree").map(|(_, _, oid)| oid.clone());
                match edit_dir(root, sub.as_deref(), &below)? {
                    Some(oid) => {
                        entries.insert(dir.to_string(), ("040000".into(), "tree".into(), oid));
                    }
                    None => {
                        entries.remove(dir);
                    }
                }
            }
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let listing: String =
        entries.iter().map(|(name, (mode, kind, oid))| format!("{mode} {kind} {oid}\t{name}\0")).collect();
    ok(root, &["mktree", "-z"], &[], listing.as_bytes()).map(Some)
}

/// Points branch `name` at `commit`.
pub fn set_branch(root: &Path, name: &str, commit: &str) -> Result<(), GitError> {
    git(root, &["update-ref", &format!("refs/heads/{name}"), commit]).map(|_| ())
}

/// Removes branch `name` (gone already is fine).
pub fn delete_branch(root: &Path, name: &str) {
    let _ = git(root, &["update-ref", "-d", &format!("refs/heads/{name}")]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, std::path::PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_path_buf();
        git(&root, &["init", "--quiet", "-b", "main"]).unwrap();
        std::fs::write(root.join("f"), "a\n").unwrap();
        std::fs::write(root.join("g"), "x\n").unwrap();
        git(&root, &["add", "-A"]).unwrap();
        let tree = git(&root, &["write-tree"]).unwrap();
        let base = commit_tree(&root, &tree, &[], "base").unwrap();
        git(&root, &["reset", "--quiet", &base]).unwrap();
        (t, root)
    }

    /// A commit on `parent` with `file` set to `text`.
    fn change(root: &Path, parent: &str, file: &str, text: &str) -> String {
        let index = root.join(".git/scratch");
        read_tree(root, &index, parent).unwrap();
        let blob = ok(root, &["hash-object", "-w", "--stdin"], &[], text.as_bytes()).unwrap();
        ok(root, &["update-index", "--add", "--cacheinfo", &format!("100644,{blob},{file}")], &index_env(&index), &[])
            .unwrap();
        let tree = ok(root, &["write-tree"], &index_env(&index), &[]).unwrap();
        commit_tree(root, &tree, &[parent], file).unwrap()
    }

    #[test]
    fn merges_in_no_tree_and_names_conflicts() {
        let (_t, root) = repo();
        let base = git(&root, &["rev-parse", "HEAD"]).unwrap();
        let one = change(&root, &base, "f", "b\n");
        let two = change(&root, &base, "h", "new\n");
        let Merged::Clean(tree) = merge(&root, &base, &one, &two).unwrap() else { panic!("clean") };
        let files: Vec<String> = changes(&root, &base, &tree).unwrap().into_iter().map(|(_, p)| p).collect();
        assert_eq!(files, ["f", "h"]);
        let three = change(&root, &base, "f", "c\n");
        assert_eq!(merge(&root, &base, &one, &three).unwrap(), Merged::Conflict(vec!["f".into()]));
        // Nothing of either reached the checkout.
        assert_eq!(std::fs::read_to_string(root.join("f")).unwrap(), "a\n");
        assert!(!root.join("h").exists());
    }

    #[test]
    fn a_deletion_against_a_change_and_binary_files_name_their_files() {
        let (_t, root) = repo();
        let base = git(&root, &["rev-parse", "HEAD"]).unwrap();
        let index = root.join(".git/scratch");
        read_tree(&root, &index, &base).unwrap();
        ok(&root, &["update-index", "--force-remove", "g"], &index_env(&index), &[]).unwrap();
        let tree = ok(&root, &["write-tree"], &index_env(&index), &[]).unwrap();
        let deleted = commit_tree(&root, &tree, &[&base], "delete g").unwrap();
        let changed = change(&root, &base, "g", "y\n");
        assert_eq!(merge(&root, &base, &deleted, &changed).unwrap(), Merged::Conflict(vec!["g".into()]));
        let one = change(&root, &base, "bin", "\0\x01one");
        let two = change(&root, &base, "bin", "\0\x02two");
        assert_eq!(merge(&root, &base, &one, &two).unwrap(), Merged::Conflict(vec!["bin".into()]));
    }

    #[test]
    fn a_tree_is_edited_one_directory_at_a_time() {
        let (_t, root) = repo();
        let base = git(&root, &["rev-parse", "HEAD"]).unwrap();
        let blob = ok(&root, &["hash-object", "-w", "--stdin"], &[], b"deep\n").unwrap();
        let mut edits = std::collections::BTreeMap::new();
        edits.insert("a/b/c.txt".to_string(), Some(("100644".to_string(), blob.clone())));
        edits.insert("g".to_string(), None);
        let tree = edit(&root, &tree_of(&root, &base).unwrap(), &edits).unwrap();
        let files = ok(&root, &["ls-tree", "-r", "--name-only", &tree], &[], &[]).unwrap();
        assert_eq!(files, "a/b/c.txt\nf");
        // Removing the only file of a directory removes the directory.
        let mut gone = std::collections::BTreeMap::new();
        gone.insert("a/b/c.txt".to_string(), None);
        let back = edit(&root, &tree, &gone).unwrap();
        assert_eq!(ok(&root, &["ls-tree", "-r", "--name-only", &back], &[], &[]).unwrap(), "f");
    }

    #[test]
    fn a_switch_writes_only_what_differs_and_refuses_to_lose_an_edit() {
        let (_t, root) = repo();
        let base = git(&root, &["rev-parse", "HEAD"]).unwrap();
        let index = root.join(".git/checkout-index");
        let from = snapshot(&root, &index).unwrap();
        let to = change(&root, &base, "h", "new\n");
        switch(&root, &index, &from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("h")).unwrap(), "new\n");
        // An edit made since the snapshot is not overwritten.
        let next = change(&root, &to, "h", "newer\n");
        std::fs::write(root.join("h"), "edited\n").unwrap();
        assert!(switch(&root, &index, &to, &next).is_err());
        assert_eq!(std::fs::read_to_string(root.join("h")).unwrap(), "edited\n");
        finish_switch(&root, &index, &next).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("h")).unwrap(), "newer\n");
    }
}
