//! Plan file types (serde + schemars): the contract of docs/format.md, and the JSON
//! Schema generated from them. First stage of the pipeline's data: everything after
//! loading works on these types.

mod accept;
mod agent;
mod coding;
mod duration;
mod fanout;
mod plan;
mod policy;
pub mod prices;
mod sandbox;
mod state;

pub use accept::{Accept, Commands, Judge};
pub use agent::{Agent, Command, Pattern, Workspace, AGENT_ID_PATTERN};
pub use coding::{AgentCli, Budget, Expect, Price};
pub use duration::{Duration, DurationError, DURATION_PATTERN};
pub use fanout::{Consensus, Gather, MapSpec, Over};
pub use plan::{
    Backoff, Complexity, Defaults, Git, Issue, Limits, Merge, OnConflict, Plan, PullRequest, Retry, Runner,
};
pub use policy::Policy;
pub use sandbox::{parse_memory, AnyHost, Network, Resources};
pub use state::{NodeState, RunStatus};

/// The JSON Schema of a plan file (draft-07, which every validator and
/// yaml-language-server understand), as a JSON value.
pub fn json_schema() -> serde_json::Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.meta_schema = Some("http://json-schema.org/draft-07/schema#".into());
    let schema = settings.into_generator().into_root_schema_for::<Plan>();
    let mut value = schema.to_value();
    strip_null(&mut value);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("title".into(), "plan file, version 1".into());
    }
    value
}

/// An absent optional field is simply left out, so `null` is not a plan value: turns
/// schemars' `anyOf: [T, null]` and `type: [t, "null"]` for `Option<T>` into `T`.
fn strip_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(obj) => {
            if let Some(Value::Array(types)) = obj.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    obj.insert("type".into(), only);
                }
            }
            let inner = match obj.get("anyOf") {
                Some(Value::Array(branches))
                    if branches.len() == 2 && branches.iter().any(|b| b == &serde_json::json!({"type": "null"})) =>
                {
                    branches.iter().find(|b| *b != &serde_json::json!({"type": "null"})).cloned()
                }
                _ => None,
            };
            if let Some(Value::Object(inner)) = inner {
                obj.remove("anyOf");
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
            obj.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// The schema as the pretty JSON text committed in `schema/plan.schema.json`.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is what the types generate; regenerate with
    /// `cargo run -p plan -- schema > schema/plan.schema.json`.
    #[test]
    fn committed_schema_is_in_sync() {
        let committed = include_str!("../plan.schema.json");
        assert_eq!(
            committed,
            json_schema_text(),
            "schema/plan.schema.json is stale: run `cargo run -p plan -- schema > schema/plan.schema.json`"
        );
    }

    #[test]
    fn schema_is_a_valid_draft07_schema() {
        let schema = json_schema();
        assert!(jsonschema::meta::is_valid(&schema));
        assert!(jsonschema::draft7::new(&schema).is_ok());
    }

    #[test]
    fn schema_accepts_a_plan_and_rejects_an_unknown_field() {
        let validator = jsonschema::draft7::new(&json_schema()).unwrap();
        let good = serde_json::json!({
            "version": 1, "name": "x", "complexity": "atomic",
            "agent": {"id": "a", "run": "true", "timeout": "30s"}
        });
        assert!(validator.is_valid(&good));
        let bad = serde_json::json!({
            "version": 1, "name": "x", "complexity": "atomic",
            "agent": {"id": "a", "runn": "true"}
        });
        assert!(!validator.is_valid(&bad));
        let bad_duration = serde_json::json!({
            "version": 1, "name": "x", "complexity": "atomic",
            "agent": {"id": "a", "run": "true", "timeout": "30 seconds"}
        });
        assert!(!validator.is_valid(&bad_duration));
    }
}
