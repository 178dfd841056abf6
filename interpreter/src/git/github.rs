//! GitHub's REST API through octocrab: reading an issue, asking whether a user may
//! write to a repository, opening a pull request, commenting. The token comes from the
//! environment only (`GITHUB_TOKEN`), `GITHUB_API_URL` points at GitHub Enterprise or
//! a stand-in; every failure becomes one clear line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use octocrab::Octocrab;

/// What went wrong talking to GitHub, in one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GITHUB_API_URL `{base}` is not a valid address: {message}")]
    BadAddress { base: String, message: String },
    #[error("cannot set up the GitHub client: {0}")]
    Client(String),
    #[error("issue #{number} not found in {repo} (or GITHUB_TOKEN cannot see it)")]
    IssueNotFound { repo: String, number: u64 },
    #[error("GitHub rejected the credentials (401 Bad credentials): check GITHUB_TOKEN")]
    Unauthorized,
    #[error("GitHub rate limit reached ({status}); {hint}")]
    RateLimited { status: u16, hint: String },
    #[error("GitHub refused access (403): {0}")]
    Forbidden(String),
    #[error("GitHub answered 404 for {0}: is the repository right, and may GITHUB_TOKEN write to it?")]
    RouteNotFound(String),
    #[error("GitHub answered {status}: {message}")]
    Answered { status: u16, message: String },
    #[error("cannot reach GitHub at {base}: {message}")]
    Unreachable { base: String, message: String },
    #[error("GitHub's answer has no `html_url`")]
    NoHtmlUrl,
}

/// The API base: `GITHUB_API_URL`, else api.github.com.
pub fn api_url() -> String {
    std::env::var("GITHUB_API_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "https://api.github.com".into())
}

fn client(base: &str) -> Result<Octocrab, GithubError> {
    let mut builder = Octocrab::builder()
        .base_uri(base)
        .map_err(|e| GithubError::BadAddress { base: base.to_string(), message: e.to_string() })?
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)));
    if let Some(token) = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()) {
        builder = builder.personal_token(token);
    }
    builder.build().map_err(|e| GithubError::Client(e.to_string()))
}

/// The JSON text of issue `number` of `repo` (`owner/name`).
pub async fn fetch_issue(repo: &str, number: u64) -> Result<String, GithubError> {
    let base = api_url();
    let gh = client(&base)?;
    let route = format!("{}/repos/{repo}/issues/{number}", base.trim_end_matches('/'));
    let response = gh._get(route.as_str()).await.map_err(|e| describe_error(&e, &base, repo, number))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = gh.body_to_string(response).await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    Err(match status {
        StatusCode::NOT_FOUND => GithubError::IssueNotFound { repo: repo.to_string(), number },
        StatusCode::UNAUTHORIZED => GithubError::Unauthorized,
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            if header("x-ratelimit-remaining").as_deref() == Some("0") || header("retry-after").is_some() =>
        {
            GithubError::RateLimited {
                status: status.as_u16(),
                hint: reset_hint(header("x-ratelimit-reset"), header("retry-after")),
            }
        }
        StatusCode::FORBIDDEN => GithubError::Forbidden(message),
        other => GithubError::Answered { status: other.as_u16(), message },
    })
}

/// "it resets at 12:34:56 UTC (in 95s)" from the rate-limit headers.
fn reset_hint(reset: Option<String>, retry_after: Option<String>) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let at = reset
        .and_then(|r| r.parse::<u64>().ok())
        .or_else(|| retry_after.and_then(|r| r.parse::<u64>().ok()).map(|s| now + s));
    match at {
        Some(at) => {
            let clock = crate::store::clock::timestamp(UNIX_EPOCH + Duration::from_secs(at));
            format!(
                "it resets at {} UTC (in {}s); set GITHUB_TOKEN for a higher limit",
                &clock[11..19],
                at.saturating_sub(now)
            )
        }
        None => "wait a while, or set GITHUB_TOKEN for a higher limit".into(),
    }
}

fn describe_error(e: &octocrab::Error, base: &str, repo: &str, number: u64) -> GithubError {
    match e {
        octocrab::Error::GitHub { source, .. } => match source.status_code {
            StatusCode::NOT_FOUND => GithubError::IssueNotFound { repo: repo.to_string(), number },
            StatusCode::UNAUTHORIZED => GithubError::Unauthorized,
            s => GithubError::Answered { status: s.as_u16(), message: source.message.clone() },
        },
        other => unreachable_error(other, base),
    }
}

/// "cannot reach GitHub": the error and every cause under it, on one line.
fn unreachable_error(e: &octocrab::Error, base: &str) -> GithubError {
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message = format!("{message}: {s}");
        src = s.source();
    }
    GithubError::Unreachable { base: base.to_string(), message }
}

async fn post(route: &str, body: &serde_json::Value) -> Result<serde_json::Value, GithubError> {
    let base = api_url();
    let gh = client(&base)?;
    let url = format!("{}{route}", base.trim_end_matches('/'));
    let response = gh._post(url.as_str(), Some(body)).await.map_err(|e| unreachable_error(&e, &base))?;
    let status = response.status();
    let text = gh.body_to_string(response).await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(json);
    }
    let message = json.get("message").and_then(|m| m.as_str()).unwrap_or("").to_string();
    let details = json
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errs| {
            errs.iter().filter_map(|e| e.get("message").and_then(|m| m.as_str())).collect::<Vec<_>>().join("; ")
        })
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    Err(match status {
        StatusCode::UNAUTHORIZED => GithubError::Unauthorized,
        StatusCode::NOT_FOUND => GithubError::RouteNotFound(route.to_string()),
        s => GithubError::Answered { status: s.as_u16(), message: format!("{message}{details}") },
    })
}

/// `GET route`: the answer, or what went wrong.
async fn get(route: &str) -> Result<serde_json::Value, GithubError> {
    let base = api_url();
    let gh = client(&base)?;
    let url = format!("{}{route}", base.trim_end_matches('/'));
    let response = gh._get(url.as_str()).await.map_err(|e| unreachable_error(&e, &base))?;
    let status = response.status();
    let text = gh.body_to_string(response).await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    match status {
        s if s.is_success() => Ok(json),
        StatusCode::UNAUTHORIZED => Err(GithubError::Unauthorized),
        StatusCode::NOT_FOUND => Err(GithubError::RouteNotFound(route.to_string())),
        s => Err(GithubError::Answered {
            status: s.as_u16(),
            message: json.get("message").and_then(|m| m.as_str()).unwrap_or("").to_string(),
        }),
    }
}

/// Whether `user` may write to `repo` (admin, maintain or write permission).
pub async fn can_write(repo: &str, user: &str) -> Result<bool, GithubError> {
    let answer = get(&format!("/repos/{repo}/collaborators/{user}/permission")).await?;
    let permission = answer.get("permission").and_then(|p| p.as_str()).unwrap_or("none");
    Ok(matches!(permission, "admin" | "maintain" | "write"))
}

/// Opens a pull request; returns its web address. Exactly once: when the branch has
/// a pull request already (a run resumed after a kill that followed its creation),
/// that one's address is the answer.
pub async fn create_pr(
    repo: &str,
    title: &str,
    body: &str,
    head: &str,
    base: &str,
    draft: bool,
) -> Result<String, GithubError> {
    let owner = repo.split('/').next().unwrap_or_default();
    let open = get(&format!("/repos/{repo}/pulls?head={owner}:{head}&state=all")).await?;
    if let Some(url) =
        open.as_array().and_then(|prs| prs.first()).and_then(|pr| pr.get("html_url")).and_then(|u| u.as_str())
    {
        return Ok(url.to_string());
    }
    let answer = post(
        &format!("/repos/{repo}/pulls"),
        &serde_json::json!({ "title": title, "body": body, "head": head, "base": base, "draft": draft }),
    )
    .await?;
    answer.get("html_url").and_then(|u| u.as_str()).map(str::to_string).ok_or(GithubError::NoHtmlUrl)
}

/// Comments on an issue; returns the comment's web address. Exactly once: the comment
/// carries its idempotency key in a hidden marker (`<!-- plan:KEY -->`), and a comment
/// that has it already is the answer (a run resumed after a kill that followed it).
pub async fn comment(repo: &str, number: u64, body: &str, key: &str) -> Result<String, GithubError> {
    let marker = format!("<!-- plan:{key} -->");
    let route = format!("/repos/{repo}/issues/{number}/comments");
    let seen = get(&format!("{route}?per_page=100")).await?;
    let earlier = seen
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c.get("body").and_then(|b| b.as_str()).is_some_and(|b| b.contains(&marker)));
    if let Some(c) = earlier {
        return Ok(c.get("html_url").and_then(|u| u.as_str()).unwrap_or_default().to_string());
    }
    let answer = post(&route, &serde_json::json!({ "body": format!("{body}\n\n{marker}") })).await?;
    Ok(answer.get("html_url").and_then(|u| u.as_str()).unwrap_or_default().to_string())
}

/// The comments of review `review` on pull request `pr`, as `path:line: body` lines.
pub async fn review_comments(repo: &str, pr: u64, review: u64) -> Result<Vec<String>, GithubError> {
    let answer = get(&format!("/repos/{repo}/pulls/{pr}/reviews/{review}/comments?per_page=100")).await?;
    Ok(answer
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let path = c.get("path").and_then(|p| p.as_str()).unwrap_or("");
            let line = c.get("line").or(c.get("original_line")).and_then(|l| l.as_u64());
            let body = c.get("body").and_then(|b| b.as_str()).unwrap_or("");
            match line {
                Some(l) => format!("{path}:{l}: {body}"),
                None => format!("{path}: {body}"),
            }
        })
        .collect())
}

/// The check runs of check suite `suite` that did not pass: `(name, output)`.
pub async fn failed_checks(repo: &str, suite: u64) -> Result<Vec<(String, String)>, GithubError> {
    let answer = get(&format!("/repos/{repo}/check-suites/{suite}/check-runs?per_page=100")).await?;
    Ok(answer
        .get("check_runs")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter(|r| matches!(r.get("conclusion").and_then(|c| c.as_str()), Some("failure" | "timed_out")))
        .map(|r| {
            let name = r.get("name").and_then(|n| n.as_str()).unwrap_or("check").to_string();
            (name, check_output(&r["output"]))
        })
        .collect())
}

/// What a check run says of itself: its output's title, summary and text.
pub fn check_output(output: &serde_json::Value) -> String {
    ["title", "summary", "text"]
        .iter()
        .filter_map(|k| output.get(*k).and_then(|v| v.as_str()))
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}
