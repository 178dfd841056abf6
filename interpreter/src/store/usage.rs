//! Tokens and cost: metered by the model gateway from the API's own usage fields, or
//! as a CLI reports them. A cost nobody reports stays unknown (`None`): it is never
//! invented; and a reported figure that cannot be a cost (negative, not a number,
//! absurd) is refused, never added (`checked_cost`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    /// Model turns.
    #[serde(default)]
    pub turns: u32,
    /// Of `input_tokens`, those written to the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Of `input_tokens`, those read from the prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
    /// Time its model requests waited for the model gateway's shared rate limiter.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_limit_wait_ms: u64,
}

/// What the model gateway measured of an agent over its attempts, beside its usage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metering {
    /// Tokens, turns and cost by model.
    pub by_model: std::collections::BTreeMap<String, Usage>,
    /// 429s the gateway absorbed for it (its CLI saw slow answers instead).
    pub throttled: u32,
    /// What its CLI said it cost, where it says: kept beside the gateway's figure.
    pub cli_cost_usd: Option<f64>,
    /// Differences worth a look: the CLI's figure more than 1% off the gateway's, a
    /// figure refused.
    pub notes: Vec<String>,
}

/// The model gateway of a run, for the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GatewaySummary {
    /// Model requests it answered (or refused).
    pub exchanges: usize,
    /// 429s from providers it absorbed (agents waited instead).
    pub throttled: u64,
    /// The date of the price table it priced by.
    pub prices_as_of: String,
    /// Where the exchanges are recorded.
    pub recorded: String,
    /// `plan run --replay`: the run whose recording answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_from: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most one attempt of an agent can plausibly cost: a reported figure above it is
/// an error, not spending.
pub const ABSURD_COST_USD: f64 = 100_000.0;

/// A cost figure as reported (by a CLI, or priced from usage), checked: a negative,
/// non-finite or absurd figure is an error naming it, never a cost.
pub fn checked_cost(figure: f64) -> Result<f64, String> {
    if !figure.is_finite() {
        return Err(format!("{figure} is not a number of dollars"));
    }
    if figure < 0.0 {
        return Err(format!("${figure} is negative"));
    }
    if figure > ABSURD_COST_USD {
        return Err(format!("${figure} is more than ${ABSURD_COST_USD} for one attempt"));
    }
    Ok(figure)
}

impl Usage {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// Adds `other`; the sum's cost is known when either part's is.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.turns += other.turns;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.rate_limit_wait_ms += other.rate_limit_wait_ms;
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
    }

    pub fn is_empty(&self) -> bool {
        self.tokens() == 0 && self.cost_usd.is_none() && self.turns == 0
    }

    /// `1,234 tokens, $0.0123` (or `cost unknown`).
    pub fn describe(&self) -> String {
        let cost = self.cost_usd.map_or_else(|| "cost unknown".to_string(), |c| format!("${c:.4}"));
        let waited = match self.rate_limit_wait_ms {
            0 => String::new(),
            ms => format!(", {:.1}s waiting for rate limits", ms as f64 / 1000.0),
        };
        format!("{} tokens, {cost}{waited}", self.tokens())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cost_stays_unknown_until_one_is_reported() {
        let mut u = Usage { input_tokens: 10, output_tokens: 5, turns: 1, ..Usage::default() };
        u.add(&Usage { input_tokens: 1, output_tokens: 1, turns: 1, ..Usage::default() });
        assert_eq!(u.cost_usd, None);
        u.add(&Usage { cost_usd: Some(0.5), ..Usage::default() });
        assert_eq!((u.tokens(), u.cost_usd, u.turns), (17, Some(0.5), 2));
        assert_eq!(u.describe(), "17 tokens, $0.5000");
    }

    #[test]
    fn a_figure_that_cannot_be_a_cost_is_refused() {
        assert_eq!(checked_cost(0.25), Ok(0.25));
        for bad in [-1000.0, f64::NAN, f64::INFINITY, 1e12] {
            assert!(checked_cost(bad).is_err(), "{bad}");
        }
        assert!(checked_cost(-1000.0).unwrap_err().contains("negative"));
    }
}
