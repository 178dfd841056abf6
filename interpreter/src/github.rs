//! GitHub's REST API through octocrab: reading an issue. The token comes from the
//! environment only (`GITHUB_TOKEN`), `GITHUB_API_URL` points at GitHub Enterprise or
//! a stand-in; every failure becomes one clear line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use octocrab::Octocrab;

/// The API base: `GITHUB_API_URL`, else api.github.com.
pub fn api_url() -> String {
    std::env::var("GITHUB_API_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "https://api.github.com".into())
}

fn client(base: &str) -> Result<Octocrab, String> {
    let mut builder = Octocrab::builder()
        .base_uri(base)
        .map_err(|e| format!("GITHUB_API_URL `{base}` is not a valid address: {e}"))?
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)));
    if let Some(token) = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()) {
        builder = builder.personal_token(token);
    }
    builder.build().map_err(|e| format!("cannot set up the GitHub client: {e}"))
}

/// The JSON text of issue `number` of `repo` (`owner/name`).
pub async fn fetch_issue(repo: &str, number: u64) -> Result<String, String> {
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
        StatusCode::NOT_FOUND => format!("issue #{number} not found in {repo} (or GITHUB_TOKEN cannot see it)"),
        StatusCode::UNAUTHORIZED => "GitHub rejected the credentials (401 Bad credentials): check GITHUB_TOKEN".into(),
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            if header("x-ratelimit-remaining").as_deref() == Some("0") || header("retry-after").is_some() =>
        {
            format!(
                "GitHub rate limit reached ({}); {}",
                status.as_u16(),
                reset_hint(header("x-ratelimit-reset"), header("retry-after"))
            )
        }
        StatusCode::FORBIDDEN => format!("GitHub refused access (403): {message}"),
        other => format!("GitHub answered {}: {message}", other.as_u16()),
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
            let clock = crate::clock::timestamp(UNIX_EPOCH + Duration::from_secs(at));
            format!(
                "it resets at {} UTC (in {}s); set GITHUB_TOKEN for a higher limit",
                &clock[11..19],
                at.saturating_sub(now)
            )
        }
        None => "wait a while, or set GITHUB_TOKEN for a higher limit".into(),
    }
}

fn describe_error(e: &octocrab::Error, base: &str, repo: &str, number: u64) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => match source.status_code {
            StatusCode::NOT_FOUND => format!("issue #{number} not found in {repo} (or GITHUB_TOKEN cannot see it)"),
            StatusCode::UNAUTHORIZED => {
                "GitHub rejected the credentials (401 Bad credentials): check GITHUB_TOKEN".into()
            }
            s => format!("GitHub answered {}: {}", s.as_u16(), source.message),
        },
        other => {
            let mut msg = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            format!("cannot reach GitHub at {base}: {msg}")
        }
    }
}

async fn post(route: &str, body: &serde_json::Value) -> Result<serde_json::Value, String> {
    let base = api_url();
    let gh = client(&base)?;
    let url = format!("{}{route}", base.trim_end_matches('/'));
    let response = gh._post(url.as_str(), Some(body)).await.map_err(|e| describe_post_error(&e, &base))?;
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
        StatusCode::UNAUTHORIZED => "GitHub rejected the credentials (401 Bad credentials): check GITHUB_TOKEN".into(),
        StatusCode::NOT_FOUND => {
            format!("GitHub answered 404 for {route}: is the repository right, and may GITHUB_TOKEN write to it?")
        }
        s => format!("GitHub answered {}: {message}{details}", s.as_u16()),
    })
}

fn describe_post_error(e: &octocrab::Error, base: &str) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    format!("cannot reach GitHub at {base}: {msg}")
}

/// Opens a pull request; returns its web address.
pub async fn create_pr(
    repo: &str,
    title: &str,
    body: &str,
    head: &str,
    base: &str,
    draft: bool,
) -> Result<String, String> {
    let answer = post(
        &format!("/repos/{repo}/pulls"),
        &serde_json::json!({ "title": title, "body": body, "head": head, "base": base, "draft": draft }),
    )
    .await?;
    answer
        .get("html_url")
        .and_then(|u| u.as_str())
        .map(str::to_string)
        .ok_or_else(|| "GitHub's answer has no `html_url`".into())
}

/// Comments on an issue; returns the comment's web address.
pub async fn comment(repo: &str, number: u64, body: &str) -> Result<String, String> {
    let answer = post(&format!("/repos/{repo}/issues/{number}/comments"), &serde_json::json!({ "body": body })).await?;
    Ok(answer.get("html_url").and_then(|u| u.as_str()).unwrap_or_default().to_string())
}
