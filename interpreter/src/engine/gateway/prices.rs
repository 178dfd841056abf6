//! What model usage costs: `prices.json` (dated, kept in the repository; `plan prices`
//! prints it) with the plan's `prices:` over it. A model is found by its name, else by
//! the longest entry its name starts with followed by `-`, `@` or `[` (a dated
//! snapshot such as `claude-sonnet-4-5-20250929`, a variant such as
//! `claude-opus-4-8[1m]`); a model found nowhere has no price.

use std::collections::BTreeMap;

use plan_schema::Price;
use serde::Deserialize;

use crate::store::usage::Usage;

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

pub struct Prices {
    models: BTreeMap<String, Price>,
    pub as_of: String,
}

impl Prices {
    /// The shipped table with `overrides` (the plan's `prices:`) over it.
    pub fn new<'a>(overrides: impl IntoIterator<Item = (&'a String, &'a Price)>) -> Prices {
        // The table is part of the binary: a unit test proves it parses.
        let table: Table =
            serde_json::from_str(TABLE).unwrap_or(Table { as_of: String::new(), models: BTreeMap::new() });
        let mut models: BTreeMap<String, Price> = table
            .models
            .into_iter()
            .map(|(k, e)| {
                (k, Price { input: e.input, output: e.output, cache_write: e.cache_write, cache_read: e.cache_read })
            })
            .collect();
        models.extend(overrides.into_iter().map(|(k, v)| (k.clone(), v.clone())));
        Prices { models, as_of: table.as_of }
    }

    /// The price of `model`, if it has one.
    pub fn of(&self, model: &str) -> Option<&Price> {
        if let Some(p) = self.models.get(model) {
            return Some(p);
        }
        self.models
            .iter()
            .filter(|(name, _)| model.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(['-', '@', '['])))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| p)
    }

    /// What `usage` of `model` cost, if the model has a price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let p = self.of(model)?;
        let cached = usage.cache_write_tokens + usage.cache_read_tokens;
        let fresh = usage.input_tokens.saturating_sub(cached) as f64;
        let dollars = fresh * p.input
            + usage.cache_write_tokens as f64 * p.cache_write.unwrap_or(p.input)
            + usage.cache_read_tokens as f64 * p.cache_read.unwrap_or(p.input)
            + usage.output_tokens as f64 * p.output;
        Some(dollars / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_prices_every_kind_of_token() {
        let t: Table = serde_json::from_str(TABLE).expect("prices.json parses");
        assert!(t.as_of.len() == 10 && t.models.len() > 10);
        let p = Prices::new([]);
        let u = Usage {
            input_tokens: 1_000_000 + 400_000,
            cache_write_tokens: 100_000,
            cache_read_tokens: 300_000,
            output_tokens: 10_000,
            ..Usage::default()
        };
        // 1M fresh x $5 + 0.1M x $6.25 + 0.3M x $0.50 + 0.01M x $25
        let cost = p.cost("claude-opus-4-8", &u).unwrap();
        assert!((cost - (5.0 + 0.625 + 0.15 + 0.25)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn snapshots_and_variants_find_their_model_and_the_plan_overrides() {
        let mock = Price { input: 1.0, output: 2.0, ..Price::default() };
        let over =
            [("mock".to_string(), mock), ("gpt-5".to_string(), Price { input: 9.0, output: 9.0, ..Price::default() })];
        let p = Prices::new(over.iter().map(|(k, v)| (k, v)));
        assert_eq!(p.of("claude-sonnet-4-5-20250929").map(|p| p.input), Some(3.0));
        assert_eq!(p.of("claude-opus-4-8[1m]").map(|p| p.output), Some(25.0));
        assert_eq!(p.of("gpt-5").map(|p| p.input), Some(9.0));
        // gpt-5.5 is its own entry, not gpt-5's.
        assert_eq!(p.of("gpt-5.5").map(|p| p.input), Some(1.25));
        assert_eq!(p.of("mock").map(|p| p.output), Some(2.0));
        assert!(p.of("gpt-50").is_none() && p.of("unknown").is_none());
    }
}
