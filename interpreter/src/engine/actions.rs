//! Built-in steps that act without a process: git and GitHub actions (`uses:
//! git.*`, `github.*`) and `template.render`'s write. Git runs on tokio's blocking pool.

use crate::engine::job::{Action, Outcome};

/// Runs a built-in git or GitHub step.
pub async fn run(action: Action) -> Outcome {
    let result = match action {
        Action::GitBranch { root, name } => {
            blocking(move || crate::git::git(&root, &["checkout", "-b", &name]).map(|_| name)).await
        }
        Action::GitCommit { root, message } => blocking(move || crate::git::commit_all(&root, &message)).await,
        Action::GithubPr { root, repo, title, body, base, draft } => {
            let head = blocking(move || {
                let head = crate::git::git(&root, &["symbolic-ref", "--quiet", "--short", "HEAD"])?;
                crate::git::push(&root, &head)?;
                Ok(head)
            })
            .await;
            match head {
                Ok(head) => crate::git::github::create_pr(&repo, &title, &body, &head, &base, draft)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            }
        }
        Action::GithubComment { repo, number, body, key } => {
            crate::git::github::comment(&repo, number, &body, &key).await.map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(out) => Outcome::Succeeded { stdout: out },
        Err(error) => Outcome::Failed { error },
    }
}

/// Runs blocking git on tokio's blocking pool; its error as text for the outcome.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::git::GitError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `template.render`: writes the rendered text.
pub fn write_file(path: &std::path::Path, contents: &str) -> Outcome {
    let result = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(path, contents));
    match result {
        Ok(()) => Outcome::Succeeded { stdout: path.display().to_string() },
        Err(e) => Outcome::Failed { error: format!("cannot write {}: {e}", path.display()) },
    }
}
