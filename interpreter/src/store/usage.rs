//! Tokens and cost as the CLIs report them. A cost the CLI does not report stays
//! unknown (`None`): it is never invented.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    /// Model turns.
    #[serde(default)]
    pub turns: u32,
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
        format!("{} tokens, {cost}", self.tokens())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cost_stays_unknown_until_one_is_reported() {
        let mut u = Usage { input_tokens: 10, output_tokens: 5, cost_usd: None, turns: 1 };
        u.add(&Usage { input_tokens: 1, output_tokens: 1, cost_usd: None, turns: 1 });
        assert_eq!(u.cost_usd, None);
        u.add(&Usage { cost_usd: Some(0.5), ..Usage::default() });
        assert_eq!((u.tokens(), u.cost_usd, u.turns), (17, Some(0.5), 2));
        assert_eq!(u.describe(), "17 tokens, $0.5000");
    }
}
