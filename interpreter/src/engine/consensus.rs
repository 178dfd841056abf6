//! Scatter-gather votes: answers are compared as canonical JSON; the rule decides
//! whether they agree and on what.

use indexmap::IndexMap;
use plan_schema::Consensus;
use serde::Serialize;
use serde_json::Value;

/// What the gather step (and its agent's `consensus` variable) sees.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Vote {
    /// The agreed value (for `all`, every answer as a list).
    pub value: Value,
    /// Each distinct answer (as JSON text) -> how many gave it, most votes first.
    pub votes: IndexMap<String, usize>,
    pub agreed: bool,
}

/// Decides on `answers`, given in the order they finished.
pub fn decide(rule: Consensus, answers: &[Value]) -> Vote {
    let mut votes: IndexMap<String, (usize, &Value)> = IndexMap::new();
    for a in answers {
        let key = match a {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        votes.entry(key).or_insert((0, a)).0 += 1;
    }
    votes.sort_by(|_, (a, _), _, (b, _)| b.cmp(a));
    let n = answers.len();
    let (top_count, top_value) = votes.values().next().map_or((0, Value::Null), |(c, v)| (*c, (*v).clone()));
    let (value, agreed) = match rule {
        Consensus::Majority => (top_value, top_count * 2 > n),
        Consensus::Unanimous => (top_value, n > 0 && top_count == n),
        Consensus::Quorum(q) => (top_value, top_count >= q as usize),
        Consensus::First => (answers.first().cloned().unwrap_or(Value::Null), n > 0),
        Consensus::All => (Value::Array(answers.to_vec()), true),
    };
    Vote { value, votes: votes.into_iter().map(|(k, (c, _))| (k, c)).collect(), agreed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_decide() {
        let answers = [json!("yes"), json!("no"), json!("yes")];
        let v = decide(Consensus::Majority, &answers);
        assert_eq!((v.value.clone(), v.agreed), (json!("yes"), true));
        assert_eq!(v.votes["yes"], 2);
        assert!(!decide(Consensus::Unanimous, &answers).agreed);
        assert!(decide(Consensus::Quorum(2), &answers).agreed);
        assert!(!decide(Consensus::Quorum(3), &answers).agreed);
        assert_eq!(decide(Consensus::First, &answers).value, json!("yes"));
        assert_eq!(decide(Consensus::All, &answers).value, json!(["yes", "no", "yes"]));
        let split = [json!(1), json!(2)];
        assert!(!decide(Consensus::Majority, &split).agreed);
    }
}
