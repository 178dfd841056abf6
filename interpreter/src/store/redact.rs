//! Secrets never reach the run directory: values of `GITHUB_TOKEN` and of variables
//! named like secrets (`*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*API_KEY*`) are replaced
//! by `***` in everything an agent prints before it is logged or kept as output.

use std::sync::{OnceLock, RwLock};

const MIN_LEN: usize = 8;

/// Secret values given to this run (`plan run --secret`), redacted like the rest.
static GIVEN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds values to redact everywhere from now on.
pub fn add_secrets(values: impl IntoIterator<Item = String>) {
    if let Ok(mut given) = GIVEN.write() {
        given.extend(values.into_iter().filter(|v| v.len() >= 4));
        given.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

fn secrets() -> Vec<String> {
    let mut all = from_env().to_vec();
    if let Ok(given) = GIVEN.read() {
        all.extend(given.iter().cloned());
    }
    all
}

fn from_env() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut found: Vec<String> = std::env::vars()
            .filter(|(k, v)| {
                let k = k.to_ascii_uppercase();
                v.len() >= MIN_LEN
                    && (k == "GITHUB_TOKEN"
                        || ["TOKEN", "SECRET", "PASSWORD", "API_KEY", "APIKEY"].iter().any(|p| k.contains(p)))
            })
            .map(|(_, v)| v)
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found
    })
}

/// `text` with every known secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for s in secrets() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// The last `max` bytes of `text`, redacted as a whole first, and with no piece of a
/// secret left at the cut (the end of a token is still a secret).
pub fn redacted_tail(text: &str, max: usize) -> String {
    let text = redact(text);
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let mut tail = &text[start..];
    for s in secrets() {
        for len in (4..s.len()).rev() {
            if s.get(s.len() - len..).is_some_and(|end| tail.starts_with(end)) {
                tail = &tail[len..];
                return format!("***{tail}");
            }
        }
    }
    tail.to_string()
}

/// Redacts bytes (lossy for invalid UTF-8 only when a secret is present).
pub fn redact_bytes(bytes: &[u8]) -> Vec<u8> {
    if from_env().is_empty() && GIVEN.read().map_or(true, |g| g.is_empty()) {
        return bytes.to_vec();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => redact(text).into_bytes(),
        Err(_) => redact(&String::from_utf8_lossy(bytes)).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_cut_through_a_secret_keeps_none_of_it() {
        add_secrets(["sk-abcdefghijklmnopqrstuvwxyz0123456789".to_string()]);
        let text = format!("{}token sk-abcdefghijklmnopqrstuvwxyz0123456789 failed", "x".repeat(50));
        // The cut falls inside the token: its end must not show.
        let tail = redacted_tail(&text, 30);
        assert!(!tail.contains("0123456789"), "{tail}");
        assert!(tail.ends_with("failed"), "{tail}");
        assert_eq!(redacted_tail("short sk-abcdefghijklmnopqrstuvwxyz0123456789", 100), "short ***");
    }
}
