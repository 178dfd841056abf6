//! One rate limiter per provider and key, shared by every agent of the run: requests
//! wait for a slot instead of failing. The number of requests in flight is a window
//! that grows by one per answer until the provider first says 429 (slow start); a 429
//! halves it (multiplicative decrease) and sets a ceiling just below the number in
//! flight that met it. Below the ceiling the window grows back by one per answer (it
//! is known to be served); at the ceiling it stays, and only after many answers
//! without a 429 probes one above it (additive increase). The request that met a 429
//! waits its `retry-after` and goes again. What the provider announces —
//! `anthropic-ratelimit-*-remaining`/`-reset`, `x-ratelimit-remaining-*`/`-reset-*` —
//! is obeyed: with nothing remaining, nothing is sent until the reset.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use tokio::sync::Notify;

pub struct Limiter {
    state: std::sync::Mutex<State>,
    changed: Notify,
}

struct State {
    window: f64,
    in_flight: u32,
    /// Below the in-flight count that met the last 429 (none yet: slow start).
    ceiling: Option<u32>,
    /// Answers at the ceiling since it was set: enough of them probe one above it.
    at_ceiling: u32,
    /// Requests the provider says remain, until when.
    allowance: Option<(u64, Instant)>,
    throttled: u64,
}

/// Requests in flight before anything is known of the provider's limits.
const INITIAL_WINDOW: f64 = 2.0;
/// The most requests in flight per provider and key.
const MAX_WINDOW: f64 = 256.0;
/// Answers without a 429 before the window may grow past the ceiling again.
const PROBE_AFTER: u32 = 200;
/// The wait after a 429 without `retry-after`.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);
/// The longest wait the gateway accepts from a `retry-after` or a reset.
const LONGEST_WAIT: Duration = Duration::from_secs(120);

/// A slot: given back when dropped.
pub struct Slot {
    limiter: std::sync::Arc<Limiter>,
    /// Requests in flight when it was taken (itself included).
    pub in_flight: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut s) = self.limiter.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.limiter.changed.notify_waiters();
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            state: std::sync::Mutex::new(State {
                window: INITIAL_WINDOW,
                in_flight: 0,
                ceiling: None,
                at_ceiling: 0,
                allowance: None,
                throttled: 0,
            }),
            changed: Notify::new(),
        }
    }
}

impl Limiter {
    /// Waits for a slot.
    pub async fn slot(self: &std::sync::Arc<Self>) -> Slot {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let Ok(mut s) = self.state.lock() else { return Slot { limiter: self.clone(), in_flight: 0 } };
                let now = Instant::now();
                if s.allowance.is_some_and(|(_, reset)| reset <= now) {
                    s.allowance = None;
                }
                match s.allowance {
                    Some((0, reset)) => Some(reset - now),
                    _ if f64::from(s.in_flight) < s.window.floor().max(1.0) => {
                        s.in_flight += 1;
                        if let Some((left, _)) = &mut s.allowance {
                            *left -= 1;
                        }
                        return Slot { limiter: self.clone(), in_flight: s.in_flight };
                    }
                    _ => None,
                }
            };
            match wait {
                Some(d) => {
                    let _ = tokio::time::timeout(d.min(LONGEST_WAIT), notified).await;
                }
                None => notified.await,
            }
        }
    }

    /// An answer that was not a 429: the window grows; what the provider announced is
    /// kept.
    pub fn answered(&self, headers: &HeaderMap, in_flight: u32) {
        let Ok(mut s) = self.state.lock() else { return };
        match s.ceiling {
            None => s.window += 1.0,
            Some(c) => {
                s.window += if s.window < f64::from(c) { 1.0 } else { 1.0 / s.window };
                if s.window >= f64::from(c) {
                    s.at_ceiling += 1;
                    if s.at_ceiling >= PROBE_AFTER {
                        (s.ceiling, s.at_ceiling) = (Some(c + 1), 0);
                    }
                    s.window = s.window.min(f64::from(s.ceiling.unwrap_or(c)));
                }
            }
        }
        s.window = s.window.min(MAX_WINDOW);
        if let Some((left, reset)) = announced(headers) {
            // What it counted may not include the requests still in flight.
            let left = left.saturating_sub(u64::from(in_flight.saturating_sub(1)));
            s.allowance = Some((left, Instant::now() + reset.min(LONGEST_WAIT)));
        }
        drop(s);
        self.changed.notify_waiters();
    }

    /// A 429: the window halves and stays below what met it; how long the request
    /// waits before it goes again.
    pub fn throttled(&self, headers: &HeaderMap, in_flight: u32) -> Duration {
        let wait = retry_after(headers).or_else(|| announced(headers).map(|(_, reset)| reset)).unwrap_or(DEFAULT_WAIT);
        if let Ok(mut s) = self.state.lock() {
            s.throttled += 1;
            let ceiling = in_flight.saturating_sub(1).max(1);
            s.ceiling = Some(s.ceiling.map_or(ceiling, |c| c.min(ceiling)));
            s.at_ceiling = 0;
            s.window = (s.window / 2.0).max(1.0);
        }
        wait.min(LONGEST_WAIT)
    }

    /// 429s met so far.
    pub fn throttled_count(&self) -> u64 {
        self.state.lock().map_or(0, |s| s.throttled)
    }
}

/// `retry-after`: seconds (or `retry-after-ms`).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    text("retry-after").and_then(|v| v.parse::<f64>().ok()).map(|s| Duration::from_secs_f64(s.max(0.0)))
}

/// The fewest requests or tokens the provider says remain, and when that resets.
fn announced(headers: &HeaderMap) -> Option<(u64, Duration)> {
    let text = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let pairs = [
        ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
        ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
        ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
        ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
        ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ];
    pairs
        .iter()
        .filter_map(|(name, reset)| {
            let left = text(name)?.parse::<u64>().ok()?;
            let reset = text(reset).and_then(reset_in).unwrap_or(DEFAULT_WAIT);
            // Tokens remaining are not requests: only none left stops sending.
            (name.contains("requests") || left == 0).then_some((left, reset))
        })
        .min_by_key(|(left, _)| *left)
}

/// A reset as providers give it: an RFC 3339 time (Anthropic), or a duration such as
/// `1s`, `6m0s`, `20ms` (OpenAI), or seconds.
fn reset_in(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    if text.contains('T') {
        let at = rfc3339_seconds(text)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        return Some(Duration::from_secs_f64((at - now).max(0.0)));
    }
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += n * unit;
    }
    number.is_empty().then(|| Duration::from_secs_f64(total))
}

/// Seconds since the epoch of `2026-12-04T20:00:01.5Z` (UTC, or with an offset).
fn rfc3339_seconds(text: &str) -> Option<f64> {
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => (&time[..i], &time[i..]),
        None => (time, "Z"),
    };
    let mut c = clock.split(':');
    let (h, min, s): (f64, f64, f64) = (c.next()?.parse().ok()?, c.next()?.parse().ok()?, c.next()?.parse().ok()?);
    let offset = match offset.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let (oh, om) = offset[1..].split_once(':')?;
            let o = oh.parse::<f64>().ok()? * 3600.0 + om.parse::<f64>().ok()? * 60.0;
            if sign == '+' {
                -o
            } else {
                o
            }
        }
        _ => 0.0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn resets_read_as_providers_write_them() {
        assert_eq!(reset_in("1s"), Some(Duration::from_secs(1)));
        assert_eq!(reset_in("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(reset_in("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(reset_in("2"), Some(Duration::from_secs(2)));
        assert_eq!(rfc3339_seconds("1970-01-02T00:00:01Z"), Some(86_401.0));
        assert_eq!(rfc3339_seconds("2026-12-04T20:00:00+01:00"), rfc3339_seconds("2026-12-04T19:00:00Z"));
        assert_eq!(retry_after(&headers(&[("retry-after", "3")])), Some(Duration::from_secs(3)));
    }

    #[tokio::test]
    async fn slow_start_until_a_429_then_never_above_what_met_it() {
        let l = std::sync::Arc::new(Limiter::default());
        let none = HeaderMap::new();
        // Slow start: 2, 3, 4 slots as answers come.
        for want in 2..=4u32 {
            let slots: Vec<Slot> = futures_util::future::join_all((0..want).map(|_| l.slot())).await;
            assert_eq!(slots.iter().map(|s| s.in_flight).max(), Some(want));
            l.answered(&none, want);
            drop(slots);
        }
        // 4 at once met a 429: the window halves, grows back by one per answer to 3,
        // and stays there.
        assert_eq!(l.throttled(&headers(&[("retry-after", "2")]), 4), Duration::from_secs(2));
        assert_eq!(l.state.lock().unwrap().window, 2.5);
        l.answered(&none, 1);
        assert_eq!(l.state.lock().unwrap().window, 3.0);
        for _ in 0..50 {
            l.answered(&none, 1);
        }
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(l.slot().await);
        }
        let fourth = tokio::time::timeout(Duration::from_millis(50), l.slot()).await;
        assert!(fourth.is_err(), "a fourth slot while three are in flight");
        assert_eq!(l.throttled_count(), 1);
    }

    #[tokio::test]
    async fn nothing_is_sent_while_the_provider_says_none_remain() {
        let l = std::sync::Arc::new(Limiter::default());
        l.answered(&headers(&[("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "300ms")]), 1);
        let started = Instant::now();
        let _slot = l.slot().await;
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    }
}
