//! What model usage costs: `plan`'s dated price table (`plan_schema::prices`) with the
//! plan's `prices:` over it. A model found nowhere has no price (and the gateway
//! refuses its requests: no budget could count them).

use std::collections::BTreeMap;

use plan_schema::Price;

use crate::store::usage::Usage;

pub struct Prices {
    models: BTreeMap<String, Price>,
    pub as_of: String,
}

impl Prices {
    /// The shipped table with `overrides` (the plan's `prices:`) over it.
    pub fn new<'a>(overrides: impl IntoIterator<Item = (&'a String, &'a Price)>) -> Prices {
        let (as_of, mut models) = plan_schema::prices::table();
        models.extend(overrides.into_iter().map(|(k, v)| (k.clone(), v.clone())));
        Prices { models, as_of }
    }

    /// The price of `model`, if it has one.
    pub fn of(&self, model: &str) -> Option<&Price> {
        plan_schema::prices::lookup(&self.models, model)
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
    fn every_kind_of_token_has_its_price_and_the_plan_overrides() {
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
        let over = [("gpt-5".to_string(), Price { input: 9.0, output: 9.0, ..Price::default() })];
        let p = Prices::new(over.iter().map(|(k, v)| (k, v)));
        assert_eq!(p.of("gpt-5").map(|p| p.input), Some(9.0));
        // Without cache prices, cached tokens cost what input does.
        let mock = [("mock".to_string(), Price { input: 1.0, output: 2.0, ..Price::default() })];
        let p = Prices::new(mock.iter().map(|(k, v)| (k, v)));
        let u = Usage { input_tokens: 1_000_000, cache_read_tokens: 500_000, output_tokens: 0, ..Usage::default() };
        assert_eq!(p.cost("mock", &u), Some(1.0));
    }
}
