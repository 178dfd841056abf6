//! A small builder for running the `plan` binary in a temporary directory (or the
//! repository) and checking what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_plan"))
}

pub struct Test {
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    pub fn new() -> Test {
        Test { dir: tempfile::tempdir().expect("tempdir"), args: Vec::new(), cwd: None, env: Vec::new() }
    }

    /// Writes a file into the temporary directory.
    pub fn file(self, name: &str, contents: &str) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, contents).expect("write");
        self
    }

    pub fn env_var(&mut self, k: &str, v: &str) -> &mut Test {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Test {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    /// Makes the directory a git repository with its files committed on `main`: plans
    /// a person wrote.
    pub fn committed(self) -> Test {
        for args in [
            &["init", "--quiet", "-b", "main"][..],
            &["-c", "user.name=Test", "-c", "user.email=test@example.com", "add", "-A"],
            &["-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "plans"],
        ] {
            let out = Command::new("git").current_dir(self.dir.path()).args(args).output().expect("git");
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        self
    }

    /// Runs in the repository instead of the temporary directory.
    pub fn in_repo(mut self) -> Test {
        self.cwd = Some(repo());
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn run(&self) -> Run {
        self.run_with(&[])
    }

    /// Runs with `extra` arguments after the builder's.
    pub fn run_with(&self, extra: &[&str]) -> Run {
        let args: Vec<&str> = self.args.iter().map(String::as_str).chain(extra.iter().copied()).collect();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_in(self.cwd.as_deref().unwrap_or(self.dir.path()), &args, &env)
    }
}

/// Runs `plan args` in `dir` with `env` added (and NO_COLOR).
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out: Output = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run plan");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(self.code, expected, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Every example plan, as paths relative to the repository.
pub fn example_plans() -> Vec<String> {
    let mut plans: Vec<String> = std::fs::read_dir(repo().join("plans"))
        .expect("plans/")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| format!("plans/{n}"))
        .collect();
    plans.sort();
    plans
}

/// Makes `work` (inside `root`) a git repository with its files committed on `main`,
/// and a bare `origin.git` in `root` that has `main`.
pub fn git_repo(root: &Path, work: &Path) {
    let git = |cwd: &Path, args: &[&str]| {
        let out = Command::new("git").current_dir(cwd).args(args).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(root, &["init", "--quiet", "--bare", "origin.git"]);
    git(work, &["init", "--quiet", "-b", "main"]);
    git(work, &["config", "user.name", "Test"]);
    git(work, &["config", "user.email", "test@example.com"]);
    git(work, &["add", "-A"]);
    git(work, &["commit", "--quiet", "-m", "initial"]);
    git(work, &["remote", "add", "origin", root.join("origin.git").to_str().expect("utf-8 path")]);
    git(work, &["push", "--quiet", "-u", "origin", "main"]);
}

/// What `git args` prints in `dir`.
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").current_dir(dir).args(args).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
