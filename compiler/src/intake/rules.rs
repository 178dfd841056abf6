//! The classification rules: keywords, weights and thresholds, loaded from a YAML file
//! that users own (`prompts/intake-rules.yaml`; `plan new --rules FILE`).

use indexmap::IndexMap;
use plan_schema::{Complexity, Pattern};
use serde::Deserialize;

/// The rules shipped with `plan`, used when no rules file is found.
pub const DEFAULT_RULES: &str = include_str!("../../../prompts/intake-rules.yaml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default = "two")]
    pub title_weight: u32,
    pub tiers: IndexMap<Complexity, Indicators>,
    pub structure: Structure,
    /// Tiers an issue reaches at least when it names one of these (an integration
    /// described in prose is never a one-agent job).
    #[serde(default)]
    pub at_least: IndexMap<Complexity, Vec<String>>,
    /// Tiers the keywords may give at most when the issue names one of these (moving
    /// CI to another service is no enterprise migration). Work items still count.
    #[serde(default)]
    pub at_most: IndexMap<Complexity, Vec<String>>,
    pub patterns: Vec<PatternRule>,
}

fn two() -> u32 {
    2
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicators {
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Structure {
    pub moderate_items: usize,
    pub complex_items: usize,
    pub enterprise_items: usize,
    pub long_body_chars: usize,
    /// Most agents a plan gets (default 40): more work items than fit run as the
    /// copies of one map over them.
    #[serde(default = "Structure::default_max_agents")]
    pub max_agents: usize,
    /// The least keyword score that makes an issue enterprise (default 3); below it,
    /// an enterprise word alone ("migrate" in the title) gives complex.
    #[serde(default = "Structure::default_enterprise_score")]
    pub enterprise_score: u32,
}

impl Structure {
    fn default_max_agents() -> usize {
        40
    }

    fn default_enterprise_score() -> u32 {
        3
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    pub pattern: Pattern,
    pub keywords: Vec<String>,
}

impl Rules {
    /// Parses a rules file; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Rules, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_parse() {
        let r = Rules::parse(DEFAULT_RULES).unwrap();
        assert_eq!(r.tiers.len(), 5);
        assert_eq!(r.patterns[0].pattern, Pattern::Saga);
        assert!(Rules::parse("tiers: {}\nstructure: {}\n").is_err());
    }
}
