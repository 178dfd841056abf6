//! Copy-on-write workspaces: an agent's workspace is an overlay of the repository's
//! checkout (read-only, below) and a directory of its own (above), mounted in the
//! agent's own mount namespace by `plan __sandbox`. Making one copies nothing but
//! what its starting commit changed from the run's base; the agent's writes land in
//! its upper directory, which is where they are collected from: a commit on the
//! agent's branch, built in a scratch index (no full-tree walk, no hashing of files
//! the agent did not write).
//!
//! Inside, it is an ordinary git checkout: `.git` is the repository's, seen through
//! the overlay (what the agent's git writes stays in its upper directory), on the
//! agent's own branch. `.plan/` is hidden.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::engine::job::ProcessSpec;
use crate::engine::sandbox::{OverlayMount, SandboxSpec};
use crate::git::tree::{self, ok};
use crate::git::{GitError, Repo};

/// One agent's overlay.
#[derive(Clone, Debug)]
pub struct Overlay {
    /// `<run>/ws/<node>`: everything of this workspace.
    pub dir: PathBuf,
    /// Where the agent sees its workspace (an empty directory outside it).
    pub mount: PathBuf,
    pub branch: String,
    /// The commit the agent starts from.
    pub start: String,
}

impl Overlay {
    fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The mounts of this workspace over `root`; `first`: the agent's own entry,
    /// which deletes what its starting point deleted (later entries see the agent's
    /// files as it left them).
    fn sandbox(&self, root: &Path, first: bool) -> SandboxSpec {
        let deleted = self.dir.join("deleted");
        SandboxSpec {
            overlay: Some(OverlayMount {
                lower: root.to_path_buf(),
                upper: self.upper(),
                work: self.dir.join("work"),
                mount: self.mount.clone(),
                deleted: (first && deleted.exists()).then_some(deleted),
            }),
            hide: vec![self.mount.join(".plan")],
            cd: Some(self.mount.clone()),
            ..SandboxSpec::default()
        }
    }

    /// Makes `spec` run inside the workspace (in its sandbox, if it has one), in
    /// `workdir` (relative to the workspace) if it has one.
    pub fn wrap(&self, root: &Path, spec: &mut ProcessSpec) {
        let mut mounts = self.sandbox(root, true);
        if let Some(d) = spec.workdir.as_ref().filter(|d| d.is_relative()) {
            mounts.cd = Some(self.mount.join(d));
        }
        let sandbox = spec.sandbox.get_or_insert_with(Box::default);
        sandbox.overlay = mounts.overlay;
        sandbox.cd = mounts.cd;
        sandbox.hide.extend(mounts.hide);
        if let Some(c) = &mut sandbox.confine {
            c.rw.push(self.mount.clone());
        }
        spec.workdir = Some(self.mount.clone());
    }
}

/// Whether copy-on-write workspaces can be made here: `plan __workspace --probe`
/// mounts a small overlay under `scratch` (and it is gone when the probe exits).
pub fn available(scratch: &Path) -> bool {
    let dirs = ["lower", "upper", "work", "mount"].map(|d| scratch.join(d));
    if dirs.iter().any(|d| std::fs::create_dir_all(d).is_err()) {
        return false;
    }
    let Ok(exe) = std::env::current_exe() else { return false };
    let [lower, upper, work, mount] = &dirs;
    let ok = std::process::Command::new(exe)
        .arg("__sandbox")
        .args(["--probe", "--lower"])
        .arg(lower)
        .arg("--upper")
        .arg(upper)
        .arg("--work")
        .arg(work)
        .arg("--mount")
        .arg(mount)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let _ = std::fs::remove_dir_all(scratch);
    ok
}

/// Makes the workspace of `node` under `dir`, starting at commit `start` on `branch`.
/// What `start` changed from the run's base is written into the upper directory (and
/// what it deleted is deleted when the workspace is entered); the agent's git sees
/// `start` checked out on `branch`.
pub fn prepare(repo: &Repo, dir: &Path, branch: &str, start: &str) -> Result<Overlay, GitError> {
    let _ = std::fs::remove_dir_all(dir);
    let io = |e: std::io::Error| GitError::Message(e);
    let overlay =
        Overlay { dir: dir.to_path_buf(), mount: dir.join("root"), branch: branch.into(), start: start.into() };
    for d in ["upper", "work", "root"] {
        std::fs::create_dir_all(dir.join(d)).map_err(io)?;
    }
    let upper = overlay.upper();
    let git_dir = upper.join(".git");
    let git_real = PathBuf::from(crate::git::git(&repo.root, &["rev-parse", "--path-format=absolute", "--git-dir"])?);
    std::fs::create_dir_all(git_dir.join("refs/heads").join(branch).parent().unwrap_or(&git_dir)).map_err(io)?;
    std::fs::write(git_dir.join("HEAD"), format!("ref: refs/heads/{branch}\n")).map_err(io)?;
    std::fs::write(git_dir.join("refs/heads").join(branch), format!("{start}\n")).map_err(io)?;
    if start == repo.base {
        return Ok(overlay);
    }
    // The agent starts from merged work: its files above the checkout, and the index
    // (the user's, whose entries for untouched files still match them) updated for them.
    let changed = tree::changes(&repo.root, &repo.base, start)?;
    let mut deleted: Vec<u8> = Vec::new();
    let mut entries = String::new();
    let listing = ok(&repo.root, &["ls-tree", "-r", "-z", start, "--"], &[], &[])?;
    let modes: std::collections::HashMap<&str, (&str, &str)> = listing
        .split('\0')
        .filter_map(|l| {
            let (meta, path) = l.split_once('\t')?;
            let mut m = meta.split(' ');
            Some((path, (m.next()?, m.nth(1)?)))
        })
        .collect();
    for (status, path) in &changed {
        match (status, modes.get(path.as_str())) {
            ('D', _) | (_, None) => {
                deleted.extend_from_slice(path.as_bytes());
                deleted.push(0);
                entries.push_str(&format!("0 {}\t{path}\n", "0".repeat(40)));
            }
            (_, Some((mode, oid))) => {
                let bytes = crate::git::git_bytes(&repo.root, &["cat-file", "blob", oid])?;
                let at = upper.join(path);
                std::fs::create_dir_all(at.parent().unwrap_or(&upper)).map_err(io)?;
                let _ = std::fs::remove_file(&at);
                if *mode == "120000" {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&bytes), &at).map_err(io)?;
                } else {
                    std::fs::write(&at, &bytes).map_err(io)?;
                    if *mode == "100755" {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
                    }
                }
                entries.push_str(&format!("{mode} {oid}\t{path}\n"));
            }
        }
    }
    if !deleted.is_empty() {
        std::fs::write(dir.join("deleted"), deleted).map_err(io)?;
    }
    let index = git_dir.join("index");
    std::fs::copy(git_real.join("index"), &index).map_err(io)?;
    ok(&repo.root, &["update-index", "--index-info"], &[("GIT_INDEX_FILE", index.as_os_str())], entries.as_bytes())?;
    Ok(overlay)
}

/// What the agent wrote, walked in its upper directory: files and links to record,
/// paths it deleted, directories it replaced whole.
#[derive(Default)]
struct Written {
    files: Vec<(String, &'static str)>,
    deleted: Vec<String>,
    replaced: Vec<String>,
}

fn walk(upper: &Path, rel: &Path, out: &mut Written) -> std::io::Result<()> {
    for entry in std::fs::read_dir(upper.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && (name == ".git" || name == ".plan") {
            continue;
        }
        let path = rel.join(&name);
        let text = path.to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(entry.path())?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            out.deleted.push(text);
        } else if kind.is_symlink() {
            out.files.push((text, "120000"));
        } else if kind.is_dir() {
            if opaque(&entry.path()) {
                out.replaced.push(text);
            }
            walk(upper, &path, out)?;
        } else if kind.is_file() {
            let exec = meta.mode() & 0o111 != 0;
            out.files.push((text, if exec { "100755" } else { "100644" }));
        }
    }
    Ok(())
}

/// Whether overlayfs marked `dir` opaque: the agent replaced it, nothing below shows.
fn opaque(dir: &Path) -> bool {
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    ["trusted.overlay.opaque", "user.overlay.opaque"].iter().any(|name| {
        let name = std::ffi::CString::new(*name).unwrap_or_default();
        let mut value = [0u8; 4];
        // SAFETY: both strings are NUL-terminated and `value` is writable for its length.
        let n = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        n > 0 && value[0] == b'y'
    })
}

/// Collects what the agent wrote into a commit on its branch (parent: `start`);
/// `None` when it changed nothing git tracks. Ignored files (a build's output) stay
/// out, by the rules of the workspace's own `.gitignore` files. What it costs follows
/// what the agent wrote: no index of the whole repository, no walk of its files.
pub fn collect(repo: &Repo, overlay: &Overlay, node: &str) -> Result<Option<String>, GitError> {
    let io = |e: std::io::Error| GitError::Message(e);
    // Work left on another branch would be lost without a word: the attempt fails.
    let head = std::fs::read_to_string(overlay.upper().join(".git/HEAD")).unwrap_or_default();
    if head.trim() != format!("ref: refs/heads/{}", overlay.branch) {
        return Err(GitError::Failed {
            command: "collect".into(),
            message: format!(
                "the agent left its workspace on `{}`, not its branch `{}`: its work is not collected; \
                 an agent works on the branch it is given",
                head.trim().trim_start_matches("ref: refs/heads/"),
                overlay.branch
            ),
        });
    }
    let mut written = Written::default();
    walk(&overlay.upper(), Path::new(""), &mut written).map_err(io)?;
    let git_dir = crate::git::git(&repo.root, &["rev-parse", "--path-format=absolute", "--git-dir"])?;
    let in_workspace = |args: &[&str], input: &[u8]| -> Result<std::process::Output, GitError> {
        // Run in the workspace as the agent left it, with the repository's own git
        // directory (never the copy the agent could have changed).
        let exe = std::env::current_exe().map_err(GitError::Spawn)?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(overlay.sandbox(&repo.root, false).args()).arg("--").arg("git").args(crate::git::SAFE).args(args);
        cmd.env("GIT_DIR", &git_dir).env("GIT_WORK_TREE", &overlay.mount);
        cmd.env("GIT_TERMINAL_PROMPT", "0").env("GIT_OPTIONAL_LOCKS", "0").current_dir(&repo.root);
        tree::feed(cmd, input)
    };
    // The plan's inputs, submodules (read-only here: their own repositories) and
    // ignored files are not the agent's work.
    let inputs: std::collections::HashSet<String> = crate::git::inputs().into_iter().collect();
    let modules = submodules(repo, &overlay.start)?;
    let outside = |p: &str| !modules.iter().any(|m| p == m || p.starts_with(&format!("{m}/")));
    written.files.retain(|(p, _)| !inputs.contains(p) && outside(p));
    written.deleted.retain(|p| outside(p));
    written.replaced.retain(|p| outside(p));
    if !written.files.is_empty() {
        let list: Vec<u8> = written.files.iter().flat_map(|(p, _)| p.bytes().chain([0])).collect();
        let out = in_workspace(&["check-ignore", "--no-index", "--stdin", "-z"], &list)?;
        let ignored: Vec<&[u8]> = out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()).collect();
        // A file the repository tracks stays the agent's work, ignored or not.
        let tracked = tracked(repo, &overlay.start, &ignored)?;
        let dropped: std::collections::HashSet<&[u8]> = ignored.into_iter().filter(|p| !tracked.contains(*p)).collect();
        written.files.retain(|(p, _)| !dropped.contains(p.as_bytes()));
    }
    let mut edits: std::collections::BTreeMap<String, tree::Edit> = std::collections::BTreeMap::new();
    if !written.files.is_empty() {
        let paths: String = written.files.iter().map(|(p, _)| format!("{p}\n")).collect();
        let out = in_workspace(&["hash-object", "-w", "--stdin-paths"], paths.as_bytes())?;
        if !out.status.success() {
            let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(GitError::Failed { command: "hash-object".into(), message });
        }
        let oids = String::from_utf8_lossy(&out.stdout);
        for ((path, mode), oid) in written.files.iter().zip(oids.lines()) {
            edits.insert(path.clone(), Some(((*mode).to_string(), oid.to_string())));
        }
    }
    for dir in &written.replaced {
        let below = ok(&repo.root, &["ls-tree", "-r", "--name-only", "-z", &overlay.start, "--", dir], &[], &[])?;
        for p in below.split('\0').filter(|p| !p.is_empty()) {
            edits.entry(p.to_string()).or_insert(None);
        }
    }
    for path in written.deleted {
        edits.entry(path).or_insert(None);
    }
    let start_tree = tree::tree_of(&repo.root, &overlay.start)?;
    let written_tree = tree::edit(&repo.root, &start_tree, &edits)?;
    if written_tree == start_tree {
        return Ok(None);
    }
    let commit = tree::commit_tree(&repo.root, &written_tree, &[&overlay.start], &format!("plan: {node}"))?;
    tree::set_branch(&repo.root, &overlay.branch, &commit)?;
    Ok(Some(commit))
}

/// Of `paths`, those `start` holds.
fn tracked(repo: &Repo, start: &str, paths: &[&[u8]]) -> Result<std::collections::HashSet<Vec<u8>>, GitError> {
    if paths.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(format!("{start}:").as_bytes());
        input.extend_from_slice(p);
        input.push(b'\n');
    }
    let out = ok(&repo.root, &["cat-file", "--batch-check=%(objectname)"], &[], &input)?;
    Ok(out.lines().zip(paths).filter(|(l, _)| !l.ends_with("missing")).map(|(_, p)| p.to_vec()).collect())
}

/// The submodules of `start` (none without a `.gitmodules`).
fn submodules(repo: &Repo, start: &str) -> Result<Vec<String>, GitError> {
    if !repo.root.join(".gitmodules").exists() {
        return Ok(Vec::new());
    }
    let listing = ok(&repo.root, &["ls-tree", "-r", "-z", start], &[], &[])?;
    Ok(listing
        .split('\0')
        .filter(|l| l.starts_with("160000 "))
        .filter_map(|l| l.split_once('\t').map(|(_, p)| p.to_string()))
        .collect())
}

/// Removes a workspace's files.
pub fn remove(overlay: &Overlay) {
    let _ = std::fs::remove_dir_all(&overlay.dir);
}
