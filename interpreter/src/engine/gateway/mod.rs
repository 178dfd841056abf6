//! The model gateway: a loopback HTTP server of the run through which coding agents
//! reach their model — Anthropic Messages, OpenAI Responses and Chat Completions,
//! streamed answers passed on as they come. An agent is given the gateway's address
//! and a placeholder key of its own attempt; the real key stays in `plan`
//! (`forward.rs` puts it on the way out). On the way, each request is checked against
//! the agent's and the run's budgets and turns (`admit`), waits for the shared rate
//! limiter of its provider and key (`limiter.rs`), and its answer is metered from the
//! API's own usage fields (`api.rs`) and priced (`prices.rs`); every exchange is kept
//! (`store::exchanges`), which `plan run --replay` answers from.

pub mod api;
mod forward;
pub mod limiter;
pub mod prices;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plan_schema::{AgentCli, Budget};

use crate::engine::budget::Spending;
use crate::store::exchanges::{Exchange, ExchangeLog};
use crate::store::usage::Usage;
use api::{KeyHeader, Provider};
use limiter::Limiter;
use prices::Prices;

/// Where a provider's requests go, with which key.
struct Upstream {
    base: String,
    key: Option<(String, KeyHeader)>,
}

/// What one attempt of an agent did through the gateway.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metered {
    /// Tokens, turns (requests) and cost, priced by the gateway.
    pub usage: Usage,
    /// The same by model.
    pub by_model: BTreeMap<String, Usage>,
    /// Time its requests waited for the rate limiter (and 429s it absorbed).
    pub waited: Duration,
    pub throttled: u32,
    /// Why a request of it was answered without being sent (a spent budget).
    pub refused: Option<String>,
}

/// One attempt of an agent, admitted: whose it is and what bounds it.
struct Ticket {
    node: String,
    agent: String,
    attempt: u32,
    budget: Option<Budget>,
    turns: u32,
    requests: u32,
    metered: Metered,
    open: bool,
}

/// What an agent's CLI is given: base URLs by provider and its placeholder key.
#[derive(Clone, Debug)]
pub struct Pass {
    pub key: String,
    pub bases: BTreeMap<Provider, String>,
    pub port: u16,
}

pub struct Gateway {
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    upstreams: HashMap<Provider, Upstream>,
    tickets: Mutex<HashMap<String, Ticket>>,
    by_attempt: Mutex<HashMap<(String, u32), String>>,
    prices: Prices,
    spending: Arc<Mutex<Spending>>,
    limiters: Mutex<HashMap<String, Arc<Limiter>>>,
    log: ExchangeLog,
    /// `plan run --replay`: answers from a recording, never the network.
    replay: Option<forward::Replay>,
    /// The run's directory: agents' logs tell of their waits.
    run: crate::store::rundir::RunDir,
}

/// How a run's gateway is set up.
pub struct Options<'a> {
    pub plan: &'a plan_schema::Plan,
    pub spending: Arc<Mutex<Spending>>,
    /// Where exchanges are recorded (the run directory's `gateway/exchanges.jsonl`).
    pub record: PathBuf,
    /// Secrets given with `--secret` (looked at before `plan`'s environment).
    pub secrets: &'a BTreeMap<String, String>,
    /// The recording of an earlier run to answer from, and that run's directory.
    pub replay: Option<(PathBuf, PathBuf)>,
    /// This run's directory (replayed answers name it instead of the recorded one).
    pub run_root: PathBuf,
}

impl Gateway {
    /// Binds 127.0.0.1 on a free port and serves there (on the current tokio runtime).
    pub fn start(options: Options<'_>) -> std::io::Result<Gateway> {
        let mut upstreams = HashMap::new();
        for provider in Provider::ALL {
            let (var, default) = provider.upstream();
            let base = std::env::var(var).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string());
            let key = provider.keys().iter().find_map(|(name, header)| {
                let value = options.secrets.get(*name).cloned().or_else(|| std::env::var(name).ok())?;
                (!value.trim().is_empty()).then_some((value, *header))
            });
            upstreams.insert(provider, Upstream { base: base.trim_end_matches('/').to_string(), key });
        }
        crate::store::redact::add_secrets(upstreams.values().filter_map(|u| u.key.as_ref().map(|k| k.0.clone())));
        let replay = options.replay.map(|(file, old_root)| forward::Replay::load(&file, &old_root, &options.run_root));
        let shared = Arc::new(Shared {
            upstreams,
            tickets: Mutex::new(HashMap::new()),
            by_attempt: Mutex::new(HashMap::new()),
            prices: Prices::new(&options.plan.prices),
            spending: options.spending,
            limiters: Mutex::new(HashMap::new()),
            log: ExchangeLog::open(&options.record),
            replay,
            run: crate::store::rundir::RunDir::at(&options.run_root),
        });
        let port = forward::serve(shared.clone())?;
        Ok(Gateway { port, shared })
    }

    /// Admits one attempt of an agent whose CLIs are `clis` (its own, and its judge's):
    /// its pass, or `None` when `plan` holds no key for their providers (a CLI then
    /// uses its own login, outside the gateway). A CLI that speaks both (aider) is
    /// given every provider `plan` holds a key for.
    pub fn admit(
        &self,
        clis: &[AgentCli],
        node: &str,
        agent: &str,
        attempt: u32,
        budget: Option<&Budget>,
        turns: u32,
    ) -> Option<Pass> {
        let mut wanted: Vec<Provider> = Vec::new();
        for cli in clis {
            let providers: &[Provider] = match cli {
                AgentCli::Claude => &[Provider::Anthropic],
                AgentCli::Codex => &[Provider::OpenAi],
                AgentCli::Aider => &[Provider::OpenAi, Provider::Anthropic],
            };
            for p in providers {
                if !wanted.contains(p) {
                    wanted.push(*p);
                }
            }
        }
        let replaying = self.shared.replay.is_some();
        let usable: Vec<Provider> = wanted
            .iter()
            .copied()
            .filter(|p| replaying || self.shared.upstreams.get(p).is_some_and(|u| u.key.is_some()))
            .collect();
        if usable.is_empty() {
            return None;
        }
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let ticket = Ticket {
            node: node.to_string(),
            agent: agent.to_string(),
            attempt,
            budget: budget.cloned(),
            turns,
            requests: 0,
            metered: Metered::default(),
            open: true,
        };
        self.shared.tickets.lock().ok()?.insert(token.clone(), ticket);
        self.shared.by_attempt.lock().ok()?.insert((node.to_string(), attempt), token.clone());
        let bases = usable
            .into_iter()
            .map(|p| (p, format!("http://127.0.0.1:{}/{token}/{}", self.port, p.agent_suffix())))
            .collect();
        Some(Pass { key: format!("plan-gateway-{token}"), bases, port: self.port })
    }

    /// Ends an attempt: its pass no longer works; what it did.
    pub fn close(&self, node: &str, attempt: u32) -> Option<Metered> {
        let token = self.shared.by_attempt.lock().ok()?.remove(&(node.to_string(), attempt))?;
        let mut tickets = self.shared.tickets.lock().ok()?;
        let ticket = tickets.get_mut(&token)?;
        ticket.open = false;
        Some(ticket.metered.clone())
    }

    /// What it did, for the report.
    pub fn summary(&self, replayed_from: Option<String>) -> crate::store::usage::GatewaySummary {
        let s = &self.shared;
        crate::store::usage::GatewaySummary {
            exchanges: s.log.count(),
            throttled: s.limiters.lock().map_or(0, |l| l.values().map(|l| l.throttled_count()).sum()),
            prices_as_of: s.prices.as_of.clone(),
            recorded: s.log.path.display().to_string(),
            replayed_from,
        }
    }
}

impl Shared {
    /// Whether a model request of `token`'s attempt may be sent: `Ok` with its place
    /// among the attempt's requests, or the refusal to answer.
    fn admit_request(&self, token: &str, model: Option<&str>, turn: bool) -> Result<(Owner, u32), String> {
        let mut tickets = self.tickets.lock().map_err(|_| "the gateway is shutting down".to_string())?;
        let t = tickets
            .get_mut(token)
            .filter(|t| t.open)
            .ok_or_else(|| "unknown or finished agent attempt: this key is not valid".to_string())?;
        let who = Owner { node: t.node.clone(), agent: t.agent.clone(), attempt: t.attempt };
        let n = t.requests;
        if !turn {
            t.requests += 1;
            return Ok((who, n));
        }
        let refuse = |t: &mut Ticket, why: String| {
            t.metered.refused.get_or_insert(why.clone());
            Err(why)
        };
        let turns_taken = t.metered.usage.turns;
        if turns_taken >= t.turns {
            let why = format!(
                "agent `{}` reached its turns budget: {} model requests in attempt {}",
                t.agent, t.turns, t.attempt
            );
            return refuse(t, why);
        }
        if let Some(m) = model {
            if self.replay.is_none() && self.prices.of(m).is_none() {
                let why = format!(
                    "plan's model gateway has no price for model `{m}`, so no budget can count it: add it under `prices:` in the plan (US dollars per million tokens)"
                );
                return refuse(t, why);
            }
        }
        let spent = self.spending.lock().ok().and_then(|s| s.exceeded(&t.agent, t.budget.as_ref()));
        if let Some(why) = spent {
            return refuse(t, format!("{why}: the model request was not sent"));
        }
        t.requests += 1;
        Ok((who, n))
    }

    /// Counts what an answered request used (priced) against its agent, and records
    /// the exchange.
    fn settle(
        &self,
        token: &str,
        mut exchange: Exchange,
        model: Option<String>,
        usage: Option<Usage>,
        waited: Duration,
        throttled: u32,
    ) {
        let model = model.or(exchange.model.take());
        let usage = usage.map(|mut u| {
            u.turns = 1;
            u.cost_usd = model.as_deref().and_then(|m| self.prices.cost(m, &u));
            u
        });
        if let Ok(mut tickets) = self.tickets.lock() {
            if let Some(t) = tickets.get_mut(token) {
                let m = &mut t.metered;
                m.waited += waited;
                m.throttled += throttled;
                if let Some(u) = &usage {
                    m.usage.add(u);
                    m.by_model.entry(model.clone().unwrap_or_else(|| "unknown".into())).or_default().add(u);
                }
            }
        }
        if let (Some(u), Ok(mut spending)) = (&usage, self.spending.lock()) {
            spending.add(&exchange.agent, u);
        }
        exchange.model = model;
        exchange.usage = usage;
        exchange.waited_ms = waited.as_millis() as u64;
        exchange.throttled = throttled;
        self.log.append(&exchange);
    }

    /// A line in an agent's log (what `plan status` and the web view show as what it
    /// is doing now).
    fn note(&self, node: &str, line: &str) {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(self.run.log(node)) {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }

    /// The limiter of a provider and key: a provider is where its requests go (its
    /// upstream's scheme, host and port), so two APIs served by one server with one
    /// key share one limit; the key is told apart by a hash, never kept.
    fn limiter(&self, provider: Provider) -> Arc<Limiter> {
        use std::hash::{Hash, Hasher};
        let upstream = self.upstreams.get(&provider);
        let base = upstream.map_or("", |u| u.base.as_str());
        let authority: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        upstream.and_then(|u| u.key.as_ref()).map(|k| k.0.as_str()).hash(&mut h);
        let key = format!("{authority} {:016x}", h.finish());
        let mut all = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(key).or_default().clone()
    }
}

/// Whose a request is.
struct Owner {
    node: String,
    agent: String,
    attempt: u32,
}
