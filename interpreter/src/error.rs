//! The errors a command ends with, and the one place that turns each into a message
//! on standard error and an exit code: 0 ok, 1 plan failed or lint errors, 2 usage,
//! 130 interrupted. A failed agent is not an error here: it is an outcome the engine
//! records; the command ends with `RunFailed` after saying what failed.

use std::path::PathBuf;

use crate::engine::render::TemplateError;
use crate::git::github::GithubError;
use crate::git::GitError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something that cannot be.
    #[error("{0}")]
    Usage(String),
    /// The plan (or issue) has errors; its diagnostics were printed already.
    #[error("the plan has errors")]
    Diagnosed,
    /// The run ran and failed; what failed was printed already.
    #[error("the run failed")]
    RunFailed,
    /// Ctrl-C or `plan stop`; how to resume was printed already.
    #[error("interrupted")]
    Interrupted,
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {detail}")]
    Input { what: String, detail: String },
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A command's own refusal, as one sentence (`--copy` without a map, ...).
    #[error("{0}")]
    Refused(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { action, path: path.into(), source }
    }

    /// Bad input that is not a plan: an issue file, an input record, an answer.
    pub fn input(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error::Input { what: what.into(), detail: detail.to_string() }
    }

    pub fn refused(message: impl std::fmt::Display) -> Self {
        Error::Refused(message.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }

    /// Prints the error (unless it was reported already) and returns its exit code.
    pub fn report(&self) -> i32 {
        if !matches!(self, Error::Diagnosed | Error::RunFailed | Error::Interrupted) {
            eprintln!("error: {self}");
        }
        self.exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_come_from_the_kind() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Interrupted.exit_code(), 130);
        assert_eq!(Error::RunFailed.exit_code(), 1);
        assert_eq!(Error::from(GitError::NoOrigin).exit_code(), 1);
        let io = Error::io("read", "plan.yaml", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(io.to_string().starts_with("cannot read plan.yaml: "), "{io}");
    }
}
