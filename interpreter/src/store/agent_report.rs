//! The report's agents: every node's record as the report shows it — status,
//! attempts, duration, last error, what it spent (metered by the gateway, by model,
//! beside its CLI's own figure) or saved (replayed from the step cache), what its
//! sandbox refused, a gate's decision, its acceptance checks and candidates.

use serde::Serialize;

use crate::store::metrics::human_duration;
use crate::store::state::Record;

/// Every node's record, as the report's map from id to status, attempts, duration,
/// last error, usage and decision. The records themselves: a run of 100,000 agents
/// holds them once.
#[derive(Clone, Debug, Default)]
pub struct Agents(pub Vec<Record>);

impl Serialize for Agents {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for r in &self.0 {
            map.serialize_entry(&r.id, &AgentReport(r))?;
        }
        map.end()
    }
}

/// One record as the report shows it.
struct AgentReport<'a>(&'a Record);

impl Serialize for AgentReport<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("status", r.state.as_str())?;
        map.serialize_entry("attempts", &r.attempts)?;
        map.serialize_entry("duration", &human_duration(r.duration))?;
        // Why the last attempt failed (also when a retry then succeeded).
        if !r.last_error.is_empty() {
            map.serialize_entry("last_error", &r.last_error)?;
        }
        // A coding agent's tokens and cost (cost null when its CLI reports none).
        if let Some(u) = &r.usage {
            let m = r.metering.as_deref();
            let usage = AgentUsage {
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                cache_write_tokens: u.cache_write_tokens,
                cache_read_tokens: u.cache_read_tokens,
                turns: u.turns,
                cost_usd: u.cost_usd,
                metered_by: if m.is_some() { "gateway" } else { "cli" },
                cli_cost_usd: m.and_then(|m| m.cli_cost_usd),
                by_model: m.map(|m| &m.by_model),
                rate_limit_wait: m.map(|_| human_duration(std::time::Duration::from_millis(u.rate_limit_wait_ms))),
                throttled: m.map_or(0, |m| m.throttled),
                notes: m.map(|m| m.notes.as_slice()).unwrap_or_default(),
            };
            map.serialize_entry("usage", &usage)?;
        }
        if let Some(saved) = &r.cached {
            map.serialize_entry("cached", &true)?;
            map.serialize_entry("saved", &Saved { tokens: saved.tokens(), cost_usd: saved.cost_usd })?;
        }
        if !r.blocked.is_empty() {
            map.serialize_entry("blocked", &r.blocked)?;
        }
        if let Some(d) = &r.decision {
            map.serialize_entry("decision", d)?;
        }
        // Each attempt's acceptance checks; a `best_of` node's candidates and why the
        // winner won.
        if let Some(v) = &r.verified {
            if !v.checks.is_empty() {
                map.serialize_entry("checks", &v.checks)?;
            }
            if !v.candidates.is_empty() {
                map.serialize_entry("candidates", &v.candidates)?;
            }
            if let Some(why) = &v.chosen {
                map.serialize_entry("chosen", why)?;
            }
        }
        map.end()
    }
}

/// What a step replayed from the cache did not spend this time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Saved {
    pub tokens: u64,
    pub cost_usd: Option<f64>,
}

/// The step cache in a run: steps replayed, and what they did not spend.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheSummary {
    pub hits: usize,
    pub saved_tokens: u64,
    pub saved_cost_usd: f64,
}

/// A coding agent's spending as the report shows it: metered by the gateway (by
/// model, with the CLI's own figure beside it and the time it waited for rate
/// limits) or as its CLI reported it.
#[derive(Clone, Debug, Serialize)]
pub struct AgentUsage<'a> {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_read_tokens: u64,
    pub turns: u32,
    pub cost_usd: Option<f64>,
    pub metered_by: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cli_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_model: Option<&'a std::collections::BTreeMap<String, crate::store::usage::Usage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_wait: Option<String>,
    #[serde(skip_serializing_if = "is_zero32")]
    pub throttled: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notes: &'a [String],
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero32(n: &u32) -> bool {
    *n == 0
}

pub(crate) fn cache_summary(records: &[crate::store::state::Record]) -> Option<CacheSummary> {
    let mut summary = CacheSummary::default();
    for saved in records.iter().filter_map(|r| r.cached.as_deref()) {
        summary.hits += 1;
        summary.saved_tokens += saved.tokens();
        summary.saved_cost_usd += saved.cost_usd.unwrap_or(0.0);
    }
    (summary.hits > 0).then_some(summary)
}
