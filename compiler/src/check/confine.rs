//! Where a plan may read templates and write files: inside the repository that holds
//! it (the nearest directory up from the plan with a `.git`), else inside the working
//! directory when the plan is there, else the plan's own directory. An absolute path,
//! `..` or a symbolic link that leads out of it is refused, at lint time where the path
//! is written in the plan, and at run time for anything rendered.

use std::path::{Path, PathBuf};

use crate::check::templates::normalize;

/// The directory that `plan_dir`'s plan is confined to (absolute).
pub fn root(plan_dir: &Path) -> PathBuf {
    // `repo/../elsewhere` is not in `repo`: `..` resolved before looking up.
    let abs = normalize(&absolute(plan_dir));
    if let Some(repo) = abs.ancestors().find(|d| d.join(".git").exists()) {
        return canonical(repo);
    }
    let cwd = std::env::current_dir().map(|d| canonical(&d)).unwrap_or_default();
    let dir = canonical(&abs);
    if !cwd.as_os_str().is_empty() && dir.starts_with(&cwd) {
        cwd
    } else {
        dir
    }
}

/// Whether `path` (relative to `base`, or absolute) stays inside `root`, following
/// whatever of it exists on disk.
pub fn inside(root: &Path, base: &Path, path: &Path) -> bool {
    let full = normalize(&absolute(&base.join(path)));
    // The longest part that exists decides where links lead.
    let mut existing = full.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(name)) => {
                rest.push(name.to_os_string());
                existing = p;
            }
            _ => break,
        }
    }
    let mut resolved = canonical(existing);
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    resolved.starts_with(root)
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_root_are_refused() {
        let dir = std::env::temp_dir().join(format!("plan-confine-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("repo/.git")).unwrap();
        std::fs::create_dir_all(dir.join("repo/plans")).unwrap();
        let root = root(&dir.join("repo/plans"));
        assert_eq!(root, std::fs::canonicalize(dir.join("repo")).unwrap());
        let base = dir.join("repo/plans");
        assert!(inside(&root, &base, Path::new("../prompts/task.md.j2")));
        assert!(inside(&root, &base, Path::new("out/new/file.md")));
        assert!(!inside(&root, &base, Path::new("../../x")));
        assert!(!inside(&root, &base, Path::new("/etc/passwd")));
        std::os::unix::fs::symlink("/etc", dir.join("repo/etc")).unwrap();
        assert!(!inside(&root, &base, Path::new("../etc/passwd")), "a link out of the repository");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
