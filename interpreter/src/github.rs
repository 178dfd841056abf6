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
