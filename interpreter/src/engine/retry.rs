//! Retries: an agent's policy (its own, else the plan's defaults) and the delay
//! before each further attempt.

use plan_schema::Retry;

use crate::engine::tree::AgentMeta;

/// The retry policy of an agent (its own, else the defaults, else one attempt).
pub fn retry_of(meta: AgentMeta<'_>, defaults: Option<&plan_schema::Defaults>) -> Option<Retry> {
    // A person's decision is final: a gate is never retried.
    if meta.agent.uses.as_deref() == Some("approval") {
        return None;
    }
    meta.agent.retry.as_deref().cloned().or_else(|| defaults.and_then(|d| d.retry.clone()))
}

/// How long to wait before attempt `next` (2 = the first retry).
pub fn backoff_delay(retry: &Retry, next: u32) -> std::time::Duration {
    let base = retry.delay.as_std();
    let mut d = match retry.backoff {
        plan_schema::Backoff::Fixed => base,
        plan_schema::Backoff::Exponential => base.saturating_mul(2u32.saturating_pow(next.saturating_sub(2))),
    };
    if let Some(max) = retry.max_delay {
        d = d.min(max.as_std());
    }
    if retry.jitter && !d.is_zero() {
        let factor = 0.75 + fastrand::f64() * 0.5;
        d = d.mul_f64(factor);
        if let Some(max) = retry.max_delay {
            d = d.min(max.as_std());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan_schema::{Backoff, Duration};

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let r = Retry {
            attempts: 5,
            backoff: Backoff::Exponential,
            delay: Duration::from_millis(100),
            max_delay: Some(Duration::from_millis(300)),
            jitter: false,
        };
        let ms: Vec<u128> = (2..=5).map(|n| backoff_delay(&r, n).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 300, 300]);
        let fixed = Retry { backoff: Backoff::Fixed, jitter: true, max_delay: None, ..r };
        for _ in 0..50 {
            let d = backoff_delay(&fixed, 4).as_millis();
            assert!((75..=125).contains(&d), "{d}");
        }
    }
}
