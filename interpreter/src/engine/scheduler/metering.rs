//! The scheduler's side of spending: the run's `Spending` (shared with the model
//! gateway), starting the gateway when the first agent that uses it starts, an
//! attempt's pass through it, and what the gateway measured of an attempt once it
//! has ended — which then stands for the attempt's usage, the CLI's own figure kept
//! beside it.

use std::sync::{Arc, MutexGuard};

use plan_compiler::resolve::{Step, Work};

use super::Scheduler;
use crate::engine::budget::Spending;
use crate::engine::gateway::{self, Gateway, Pass};
use crate::engine::job::{JobKey, Outcome, Ran};
use crate::store::recorder::Recorder;
use crate::store::usage::Metering;

/// How far the CLI's own cost may be from the gateway's before it is pointed out.
const CLI_COST_TOLERANCE: f64 = 0.01;

impl<R: Recorder> Scheduler<R> {
    pub(super) fn spent(&self) -> MutexGuard<'_, Spending> {
        self.spending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gateway, started on first use.
    fn gateway(&mut self) -> Result<Arc<Gateway>, String> {
        if self.gateway.is_none() {
            let ctx = &self.ctx;
            let started = Gateway::start(gateway::Options {
                plan: &ctx.plan,
                spending: self.spending.clone(),
                record: ctx.dir.exchanges(),
                secrets: &ctx.given_secrets,
                replay: self.options.replay.clone(),
                run_root: ctx.dir.root.clone(),
            })
            .map(Arc::new)
            .map_err(|e| format!("plan's model gateway cannot start: {e}"));
            if let Err(e) = &started {
                eprintln!("error: {e}");
            }
            self.gateway = Some(started);
        }
        self.gateway.clone().unwrap_or_else(|| Err("no gateway".into()))
    }

    /// The gateway, for the report, if it started.
    pub(super) fn gateway_summary(&self) -> Option<crate::store::usage::GatewaySummary> {
        let Some(Ok(g)) = &self.gateway else { return None };
        Some(
            g.summary(
                self.options
                    .replay
                    .as_ref()
                    .and_then(|(_, root)| root.file_name())
                    .map(|n| n.to_string_lossy().into_owned()),
            ),
        )
    }

    /// An attempt's pass through the gateway, for a coding agent that uses it.
    pub(super) fn gateway_pass(&mut self, step: &Step<'_>, node: &str, agent: &str, attempt: u32) -> Option<Pass> {
        if self.ctx.dry_run {
            return None;
        }
        let own = match &step.work {
            Work::Coding(coding) if step.gateway => Some(coding.cli),
            _ => None,
        };
        // A judge (a built-in CLI's own command) spends through the attempt it judges.
        let defaults = self.ctx.plan.defaults.as_ref().and_then(|d| d.gateway);
        let judge = step
            .judge
            .filter(|j| j.entry.is_none_or(|r| r.command.is_none()))
            .filter(|_| step.agent.gateway.or(defaults).unwrap_or(true))
            .map(|j| j.cli);
        let clis: Vec<_> = own.into_iter().chain(judge).collect();
        if clis.is_empty() {
            return None;
        }
        let gateway = self.gateway().ok()?;
        let pass = gateway.admit(&clis, node, agent, attempt, step.budget, step.turns);
        if let (None, Some(cli), true) = (&pass, own, attempt <= 1) {
            eprintln!(
                "warning: agent `{agent}`: plan holds no key for {}'s model API, so it uses the CLI's own login, outside \
                 the gateway (its cost is what the CLI reports)",
                cli.as_str()
            );
        }
        pass
    }

    /// What the gateway measured of the attempt that ended, if it went through it:
    /// it becomes the attempt's usage; a request the gateway refused fails the
    /// attempt, naming why. A CLI's figure that cannot be a cost fails an attempt the
    /// gateway did not meter (its spending is unknown). Whether the gateway metered it.
    pub(super) fn metered(&mut self, key: JobKey, ran: &mut Ran) -> bool {
        let id = self.id(key);
        let attempt = self.attempts.get(&key).map_or(1, |a| a.count.max(1));
        let closed = match &self.gateway {
            Some(Ok(g)) => g.close(&id, attempt),
            _ => None,
        };
        // Replayed from the cache: it asked the model nothing.
        if ran.cached.is_some() {
            return false;
        }
        let Some(m) = closed else {
            if let Some(why) = ran.cost_error.take() {
                ran.outcome = Outcome::Failed {
                    error: format!("{why}; with no other measure of what it spent, the attempt fails"),
                };
                ran.no_retry = true;
            }
            return false;
        };
        let cli = ran.usage.and_then(|u| u.cost_usd);
        let mut notes = Vec::new();
        if let Some(why) = ran.cost_error.take() {
            notes.push(why);
        }
        if let (Some(theirs), Some(ours)) = (cli, m.usage.cost_usd) {
            if (theirs - ours).abs() > CLI_COST_TOLERANCE * ours.max(theirs) {
                notes.push(format!("the CLI reported ${theirs:.6}, the gateway metered ${ours:.6}"));
            }
        }
        let metering = self.attempts.entry(key, 1).agent_mut().metering.get_or_insert_with(Metering::default);
        for (model, u) in &m.by_model {
            metering.by_model.entry(model.clone()).or_default().add(u);
        }
        metering.throttled += m.throttled;
        metering.cli_cost_usd = match (metering.cli_cost_usd, cli) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        metering.notes.extend(notes);
        let mut usage = m.usage;
        if usage.cost_usd.is_none() {
            usage.cost_usd = Some(0.0);
        }
        usage.rate_limit_wait_ms = m.waited.as_millis() as u64;
        ran.usage = Some(usage);
        if let Some(why) = m.refused {
            let retry = why.contains("turns budget");
            ran.outcome = Outcome::Failed { error: why };
            ran.no_retry |= !retry;
        }
        true
    }
}
