//! Retries: the delay before each further attempt. Which policy an agent has is
//! resolved with it (`plan_compiler::resolve`).

use plan_schema::Retry;

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
