//! Budgets: what coding agents spent, per agent and for the run, against the plan's
//! `budget` (default $10) and each agent's own. Spending comes from the model
//! gateway, request by request (it checks before sending each one), else from the
//! CLIs' own reports; what was spent before a `--resume` counts too. The scheduler
//! and the gateway share one `Spending`.

use std::collections::HashMap;

use plan_schema::{Budget, Plan};

use crate::store::usage::Usage;

/// The run's spending, as the scheduler and the gateway share it.
pub type Shared = std::sync::Arc<std::sync::Mutex<Spending>>;

pub struct Spending {
    plan: Budget,
    total: Usage,
    by_agent: HashMap<String, Usage>,
}

impl Spending {
    pub fn new(plan: &Plan) -> Self {
        let mut limit = plan.budget.clone().unwrap_or_default();
        if limit.cost_usd.is_none() && limit.tokens.is_none() {
            limit.cost_usd = Some(Budget::DEFAULT_COST_USD);
        }
        Spending { plan: limit, total: Usage::default(), by_agent: HashMap::new() }
    }

    /// Counts what `agent` spent.
    pub fn add(&mut self, agent: &str, usage: &Usage) {
        self.total.add(usage);
        self.by_agent.entry(agent.to_string()).or_default().add(usage);
    }

    pub fn total(&self) -> Usage {
        self.total
    }

    pub fn of(&self, agent: &str) -> Usage {
        self.by_agent.get(agent).copied().unwrap_or_default()
    }

    /// Dollars left for the next attempt of `agent`: the smaller of what the run's and
    /// the agent's budgets leave.
    pub fn cost_left(&self, agent: &str, own: Option<&Budget>) -> Option<f64> {
        let run = self.plan.cost_usd.map(|c| c - self.total.cost_usd.unwrap_or(0.0));
        let mine = own.and_then(|b| b.cost_usd).map(|c| c - self.of(agent).cost_usd.unwrap_or(0.0));
        match (run, mine) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The budget that is spent, if one is: the agent's own, else the run's, with what
    /// spent it.
    pub fn exceeded(&self, agent: &str, own: Option<&Budget>) -> Option<String> {
        if let Some(b) = own {
            if let Some(what) = over(b, &self.of(agent)) {
                return Some(format!("agent `{agent}`'s budget is spent: {what}"));
            }
        }
        let what = over(&self.plan, &self.total)?;
        let mut spenders: Vec<(&String, &Usage)> = self.by_agent.iter().collect();
        spenders.sort_by(|a, b| {
            let cost = |u: &Usage| u.cost_usd.unwrap_or(0.0);
            cost(b.1).total_cmp(&cost(a.1)).then(b.1.tokens().cmp(&a.1.tokens())).then(a.0.cmp(b.0))
        });
        let by: Vec<String> = spenders.iter().take(5).map(|(id, u)| format!("{id} {}", u.describe())).collect();
        Some(format!("the run's budget is spent: {what}; spent by {}", by.join(", ")))
    }
}

/// `cost_usd $0.0100 (spent $0.0123)` when `spent` is over a limit of `budget`.
fn over(budget: &Budget, spent: &Usage) -> Option<String> {
    if let (Some(limit), Some(cost)) = (budget.cost_usd, spent.cost_usd) {
        if cost >= limit {
            return Some(format!("cost_usd ${limit:.4} (spent ${cost:.4})"));
        }
    }
    match budget.tokens {
        Some(limit) if spent.tokens() >= limit => Some(format!("tokens {limit} (spent {})", spent.tokens())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(budget: Option<Budget>) -> Plan {
        let mut p: Plan =
            serde_yaml::from_str("version: 1\nname: t\ncomplexity: simple\nagent: { id: a, run: x }").unwrap();
        p.budget = budget;
        p
    }

    #[test]
    fn the_run_budget_defaults_to_ten_dollars_and_names_who_spent_it() {
        let mut s = Spending::new(&plan(None));
        s.add("fix", &Usage { input_tokens: 10, output_tokens: 5, cost_usd: Some(6.0), turns: 2, ..Usage::default() });
        assert_eq!(s.exceeded("fix", None), None);
        assert_eq!(s.cost_left("fix", None), Some(4.0));
        s.add("test", &Usage { cost_usd: Some(4.5), ..Usage::default() });
        let msg = s.exceeded("test", None).unwrap();
        assert_eq!(msg, "the run's budget is spent: cost_usd $10.0000 (spent $10.5000); spent by fix 15 tokens, $6.0000, test 0 tokens, $4.5000");
    }

    #[test]
    fn an_agent_budget_counts_tokens_over_its_attempts() {
        let mut s = Spending::new(&plan(Some(Budget { tokens: Some(1000), ..Budget::default() })));
        let own = Budget { tokens: Some(100), ..Budget::default() };
        s.add("a", &Usage { input_tokens: 60, ..Usage::default() });
        assert_eq!(s.exceeded("a", Some(&own)), None);
        s.add("a", &Usage { input_tokens: 50, ..Usage::default() });
        assert_eq!(s.exceeded("a", Some(&own)).unwrap(), "agent `a`'s budget is spent: tokens 100 (spent 110)");
        // A token budget alone replaces the default cost budget.
        assert_eq!(s.cost_left("a", Some(&own)), None);
    }
}
