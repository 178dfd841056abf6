//! Secrets never reach the run directory: the values of variables that are secrets
//! by `plan_compiler::resolve::secret` (named like one, passed with `pass_env`, given with
//! `--secret`) are replaced by `***` in everything an agent prints before it is
//! logged or kept as output.

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

/// Calls `f` with every known secret, longest first within each source, until it
/// returns `false`; nothing is copied (this runs for every line an agent prints).
fn each_secret(mut f: impl FnMut(&str) -> bool) {
    for s in from_env() {
        if !f(s) {
            return;
        }
    }
    if let Ok(given) = GIVEN.read() {
        for s in given.iter() {
            if !f(s) {
                return;
            }
        }
    }
}

fn from_env() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut found: Vec<String> = std::env::vars()
            .filter(|(k, v)| v.len() >= MIN_LEN && plan_compiler::resolve::secret::looks_secret(k))
            .map(|(_, v)| v)
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found
    })
}

/// `text` with every known secret replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    each_secret(|s| {
        if out.contains(s) {
            out = out.replace(s, "***");
        }
        true
    });
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
    let tail = &text[start..];
    // The longest end of any secret that the tail starts with.
    let mut cut = 0;
    each_secret(|s| {
        for len in (4.max(cut + 1)..s.len()).rev() {
            if s.get(s.len() - len..).is_some_and(|end| tail.starts_with(end)) {
                cut = len;
                break;
            }
        }
        true
    });
    if cut == 0 {
        tail.to_string()
    } else {
        format!("***{}", &tail[cut..])
    }
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
