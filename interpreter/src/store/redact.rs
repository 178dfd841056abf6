//! Secrets never reach the run directory: values of `GITHUB_TOKEN` and of variables
//! named like secrets (`*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*API_KEY*`) are replaced
//! by `***` in everything an agent prints before it is logged or kept as output.

use std::sync::OnceLock;

const MIN_LEN: usize = 8;

fn secrets() -> &'static [String] {
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

/// Redacts bytes (lossy for invalid UTF-8 only when a secret is present).
pub fn redact_bytes(bytes: &[u8]) -> Vec<u8> {
    if secrets().is_empty() {
        return bytes.to_vec();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => redact(text).into_bytes(),
        Err(_) => redact(&String::from_utf8_lossy(bytes)).into_bytes(),
    }
}
