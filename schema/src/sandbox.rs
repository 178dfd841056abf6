//! What an agent may do outside its workspace: the sandbox it runs in, the hosts it
//! may reach, the memory and processes it may use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hosts an agent may reach: `any`, or a list of `host`, `host:port` or
/// `*.domain` (every subdomain). Without a port, 443 and 80. Its runner's model API is
/// always reachable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Network {
    /// `any`: no limit (lint warns with `pass_env`).
    Any(AnyHost),
    /// Only these hosts.
    Hosts(Vec<String>),
}

/// The word `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnyHost {
    Any,
}

/// Memory and processes an agent may use (its sandbox's cgroup).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Most memory, e.g. `4GiB`, `512MiB` (default 4GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+([KMGT]i?B?)?$"))]
    pub memory: Option<String>,
    /// Most processes and threads at once (default 512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pids: Option<u32>,
}

impl Resources {
    pub const DEFAULT_MEMORY: u64 = 4 << 30;
    pub const DEFAULT_PIDS: u32 = 512;
}

/// Bytes of a memory size: `4GiB`, `512MiB`, `2G`, `1048576`.
pub fn parse_memory(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().ok()?;
    let unit = text[digits.len()..].trim_end_matches('B').trim_end_matches('i');
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("4GiB"), Some(4 << 30));
        assert_eq!(parse_memory("512MiB"), Some(512 << 20));
        assert_eq!(parse_memory("2G"), Some(2 << 30));
        assert_eq!(parse_memory("1024"), Some(1024));
        assert_eq!(parse_memory("lots"), None);
        assert_eq!(parse_memory("3PiB"), None);
    }
}
