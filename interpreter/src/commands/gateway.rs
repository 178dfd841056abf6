//! `plan __gateway`: the model gateway alone, started as a run starts it (upstreams
//! and keys from the environment, the shipped price table), with one pass for a
//! pseudo agent: what `bench/gateway.py` measures against a direct connection, and a
//! way to try a CLI through the gateway by hand.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::engine::budget::Spending;
use crate::engine::gateway::{self, Gateway};
use crate::error::Error;

#[derive(clap::Args, Debug)]
pub struct GatewayArgs {
    /// Where the exchanges are recorded.
    #[arg(long, value_name = "FILE")]
    pub record: PathBuf,
    /// The CLI the pass is for (its providers): claude, codex or aider.
    #[arg(long, default_value = "aider")]
    pub cli: String,
}

pub fn run(args: &GatewayArgs) -> Result<(), Error> {
    let cli = plan_schema::AgentCli::named(&args.cli)
        .ok_or_else(|| Error::Usage(format!("`{}` is not claude, codex or aider", args.cli)))?;
    let plan: plan_schema::Plan = serde_json::from_value(serde_json::json!({
        "version": 1, "name": "gateway", "complexity": "simple",
        "budget": {"cost_usd": 1000}, "agent": {"id": "gateway", "run": "true"}
    }))
    .map_err(|e| Error::Usage(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?;
    let root = args.record.parent().map(PathBuf::from).unwrap_or_default();
    let spending = Arc::new(Mutex::new(Spending::new(&plan)));
    let secrets = std::collections::BTreeMap::new();
    let _guard = runtime.enter();
    let gateway = Gateway::start(gateway::Options {
        plan: &plan,
        spending,
        record: args.record.clone(),
        secrets: &secrets,
        replay: None,
        run_root: root,
    })
    .map_err(|e| Error::Usage(format!("the gateway cannot start: {e}")))?;
    let pass = gateway
        .admit(&[cli], "gateway", "gateway", 1, None, u32::MAX)
        .ok_or_else(|| Error::Usage("no model key in the environment for this CLI's provider".into()))?;
    let bases: serde_json::Map<String, serde_json::Value> =
        pass.bases.iter().map(|(p, url)| (p.segment().to_string(), url.clone().into())).collect();
    println!("{}", serde_json::json!({"port": pass.port, "key": pass.key, "bases": bases}));
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    Ok(())
}
