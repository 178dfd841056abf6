//! Reading an issue from what users have: GitHub REST JSON, the JSON of
//! `gh issue view N --json number,title,body,labels,url`, or a markdown file whose
//! first heading is the title.

use serde_json::Value;

/// The parts of an issue that intake uses. The text is data, never a template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IssueText {
    pub number: Option<u64>,
    pub repo: Option<String>,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SourceError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("the JSON has no `title`: expected an issue from GitHub's REST API or `gh issue view --json number,title,body,labels,url`")]
    NotAnIssue,
    #[error("the input is empty")]
    Empty,
}

/// Parses `text`; JSON when it starts with `{`, markdown otherwise.
pub fn parse_issue(text: &str) -> Result<IssueText, SourceError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(SourceError::Empty);
    }
    if trimmed.starts_with('{') {
        let v: Value = serde_json::from_str(trimmed).map_err(|e| SourceError::Json(e.to_string()))?;
        return from_json(&v);
    }
    Ok(from_markdown(trimmed))
}

fn from_json(v: &Value) -> Result<IssueText, SourceError> {
    let title = v.get("title").and_then(Value::as_str).ok_or(SourceError::NotAnIssue)?;
    let labels = v
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().or_else(|| l.get("name").and_then(Value::as_str)))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let url = v.get("html_url").or_else(|| v.get("url")).and_then(Value::as_str).map(str::to_string);
    let repo = v
        .get("repository_url")
        .and_then(Value::as_str)
        .and_then(|u| u.split("/repos/").nth(1))
        .map(str::to_string)
        .or_else(|| url.as_deref().and_then(repo_from_html_url));
    Ok(IssueText {
        number: v.get("number").and_then(Value::as_u64),
        repo,
        title: title.trim().to_string(),
        body: v.get("body").and_then(Value::as_str).unwrap_or("").to_string(),
        labels,
        url: url.filter(|u| !u.contains("api.")),
    })
}

/// `https://github.com/org/repo/issues/4` -> `org/repo`
fn repo_from_html_url(url: &str) -> Option<String> {
    let path = url.split("://").nth(1)?.split_once('/')?.1;
    let mut parts = path.split('/');
    let (owner, name, kind) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "issues" || kind == "pull").then(|| format!("{owner}/{name}"))
}

fn from_markdown(text: &str) -> IssueText {
    let mut title = String::new();
    let mut body_lines = Vec::new();
    for line in text.lines() {
        if title.is_empty() {
            if let Some(h) = line.trim_start().strip_prefix('#') {
                title = h.trim_start_matches('#').trim().to_string();
                continue;
            }
            if !line.trim().is_empty() && body_lines.is_empty() {
                // No heading first: the first line is the title.
                title = line.trim().to_string();
                continue;
            }
        }
        body_lines.push(line);
    }
    IssueText { title, body: body_lines.join("\n").trim().to_string(), ..IssueText::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_format() {
        let rest = r#"{"number": 42, "title": "Fix it", "body": "text", "labels": [{"name": "bug"}],
            "html_url": "https://github.com/org/repo/issues/42", "repository_url": "https://api.github.com/repos/org/repo"}"#;
        let i = parse_issue(rest).unwrap();
        assert_eq!(
            (i.number, i.repo.as_deref(), i.labels.clone()),
            (Some(42), Some("org/repo"), vec!["bug".to_string()])
        );
        let gh = r#"{"number": 7, "title": "T", "body": "", "labels": [{"id": "x", "name": "docs"}], "url": "https://github.com/a/b/issues/7"}"#;
        let i = parse_issue(gh).unwrap();
        assert_eq!((i.repo.as_deref(), i.labels[0].as_str()), (Some("a/b"), "docs"));
        let md = parse_issue("# Add a flag\n\nWe need `--verbose`.\n").unwrap();
        assert_eq!((md.title.as_str(), md.body.as_str()), ("Add a flag", "We need `--verbose`."));
        assert_eq!(parse_issue("{\"x\": 1}"), Err(SourceError::NotAnIssue));
        assert!(matches!(parse_issue("{oops"), Err(SourceError::Json(_))));
        assert_eq!(parse_issue("  \n"), Err(SourceError::Empty));
    }
}
