//! How an agent fans out: a mapreduce's `map` (what it maps over, the agent that
//! handles one item) and a scatter-gather's `gather` (how answers are agreed).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::Agent;

/// mapreduce: what to map over and the agent that handles one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// The items: a list, `{glob: ...}`, `{lines_of: <agent id>}` or a template rendering to a JSON list.
    pub over: Over,
    /// The template variable that holds the current item.
    #[serde(rename = "as", default = "default_item_var")]
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub var: String,
    /// The agent run once per item.
    pub agent: Agent,
}

fn default_item_var() -> String {
    "item".to_string()
}

/// The items of a map: a list, `{glob: PATTERN}`, `{lines_of: AGENT}` (one key, no
/// other), or a template that renders to a JSON list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Over {
    /// A literal list of items.
    List(Vec<Value>),
    /// Files matching a glob, relative to the plan file's directory.
    #[schemars(extend("additionalProperties" = false))]
    Glob {
        /// e.g. `src/**/*.rs`
        glob: String,
    },
    /// The non-empty lines of an earlier agent's output (known only at run time).
    #[schemars(extend("additionalProperties" = false))]
    LinesOf {
        /// Id of the agent whose output is split into lines.
        lines_of: String,
    },
    /// A template that renders to a JSON list.
    Template(String),
}

/// scatter-gather: the consensus rule and an optional agent that decides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gather {
    /// How answers are combined: majority, unanimous, quorum(N), first or all.
    #[serde(default)]
    pub consensus: Consensus,
    /// An agent that runs after the vote; sees `consensus` (value, votes, agreed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
}

/// How the answers of a scatter-gather are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Consensus {
    /// More than half of the answers agree.
    #[default]
    Majority,
    /// Every answer agrees.
    Unanimous,
    /// At least N answers agree.
    Quorum(u32),
    /// The first answer to arrive wins.
    First,
    /// Every answer is kept, as a list.
    All,
}

impl fmt::Display for Consensus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Consensus::Majority => f.write_str("majority"),
            Consensus::Unanimous => f.write_str("unanimous"),
            Consensus::Quorum(n) => write!(f, "quorum({n})"),
            Consensus::First => f.write_str("first"),
            Consensus::All => f.write_str("all"),
        }
    }
}

impl FromStr for Consensus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "majority" => Ok(Consensus::Majority),
            "unanimous" => Ok(Consensus::Unanimous),
            "first" => Ok(Consensus::First),
            "all" => Ok(Consensus::All),
            _ => s
                .strip_prefix("quorum(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n > 0)
                .map(Consensus::Quorum)
                .ok_or_else(|| {
                    format!("invalid consensus `{s}`: expected majority, unanimous, quorum(N), first or all")
                }),
        }
    }
}

impl Serialize for Consensus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Consensus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Consensus {
    fn schema_name() -> Cow<'static, str> {
        "Consensus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How answers are combined: majority, unanimous, quorum(N), first or all.",
            "anyOf": [
                { "type": "string", "enum": ["majority", "unanimous", "first", "all"] },
                { "type": "string", "pattern": r"^quorum\([1-9][0-9]*\)$" }
            ]
        })
    }
}
