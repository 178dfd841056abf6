//! `plan`'s dated price table (`prices.json`, shipped in the binary; `plan prices`
//! prints it) and how a model name finds its row: its own name, else the longest
//! entry it starts with followed by `-`, `@` or `[` (a dated snapshot such as
//! `claude-sonnet-4-5-20250929`, a variant such as `claude-opus-4-8[1m]`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Price;

/// The table as shipped.
pub const TABLE: &str = include_str!("prices.json");

#[derive(Deserialize)]
struct Table {
    as_of: String,
    models: BTreeMap<String, Entry>,
}

/// A row of the table (its `source`, where a row has one, is for readers).
#[derive(Deserialize)]
struct Entry {
    input: f64,
    output: f64,
    cache_write: Option<f64>,
    cache_read: Option<f64>,
}

/// The shipped table: its date and its prices by model.
pub fn table() -> (String, BTreeMap<String, Price>) {
    // Part of the binary: a unit test proves it parses.
    let Ok(table) = serde_json::from_str::<Table>(TABLE) else { return (String::new(), BTreeMap::new()) };
    let models = table
        .models
        .into_iter()
        .map(|(k, e)| {
            (k, Price { input: e.input, output: e.output, cache_write: e.cache_write, cache_read: e.cache_read })
        })
        .collect();
    (table.as_of, models)
}

/// The row of `model` in `models`, if it has one.
pub fn lookup<'a>(models: &'a BTreeMap<String, Price>, model: &str) -> Option<&'a Price> {
    if let Some(p) = models.get(model) {
        return Some(p);
    }
    models
        .iter()
        .filter(|(name, _)| model.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(['-', '@', '['])))
        .max_by_key(|(name, _)| name.len())
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_snapshots_find_their_model() {
        let (as_of, models) = table();
        assert!(as_of.len() == 10 && models.len() > 10, "{as_of}");
        assert_eq!(lookup(&models, "claude-sonnet-4-5-20250929").map(|p| p.input), Some(3.0));
        assert_eq!(lookup(&models, "claude-opus-4-8[1m]").map(|p| p.output), Some(25.0));
        // gpt-5.5 is its own entry, not gpt-5's; a longer name is not a snapshot.
        assert_eq!(lookup(&models, "gpt-5.5").map(|p| p.input), Some(1.25));
        assert!(lookup(&models, "gpt-50").is_none() && lookup(&models, "unknown").is_none());
    }
}
