//! Sandboxes: what an agent's process may do, decided by the plan and enforced by the
//! kernel. A sandboxed process is started through `plan __sandbox`
//! (`commands/sandbox.rs`): its own mount, PID, IPC and network namespaces; writes
//! only beneath its workspace and a temporary directory of its own (Landlock);
//! credential files and the run directory's records hidden; the checkout's `.git`
//! read-only; a cgroup with memory and process limits; and no network but `plan`'s
//! proxy (`proxy.rs`), which lets it reach the hosts its plan lists and its runner's
//! model server, and nothing else.

pub mod proxy;
pub mod relay;
mod start;

pub use start::start;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plan_schema::AgentCli;

use crate::engine::context::RunContext;

/// Hosts and loopback ports a sandbox may reach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// `host`, `host:port` or `*.domain`; without a port, 443 and 80.
    pub hosts: Vec<String>,
    /// Loopback ports relayed to the same ports outside (model servers).
    pub forwards: Vec<u16>,
}

impl Network {
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        self.hosts.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let (name, ports) = match entry.rsplit_once(':').and_then(|(n, p)| Some((n, p.parse::<u16>().ok()?))) {
                Some((n, p)) => (n.to_string(), vec![p]),
                None => (entry.clone(), vec![443, 80]),
            };
            let named = match name.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host == name,
            };
            named && ports.contains(&port)
        })
    }
}

/// A copy-on-write workspace mounted in the sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OverlayMount {
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub mount: PathBuf,
    /// Paths to delete once mounted (what the starting commit deleted).
    pub deleted: Option<PathBuf>,
}

/// How a process is started: which mounts, and how it is confined.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxSpec {
    pub overlay: Option<OverlayMount>,
    /// Made read-only.
    pub ro: Vec<PathBuf>,
    /// Hidden behind empty ones.
    pub hide: Vec<PathBuf>,
    /// Its working directory (inside the overlay, once mounted).
    pub cd: Option<PathBuf>,
    /// `None`: only the mounts (a workspace, no sandbox).
    pub confine: Option<Confine>,
}

/// What a confined process may do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confine {
    /// Where it may write.
    pub rw: Vec<PathBuf>,
    /// `None`: any host.
    pub network: Option<Network>,
    pub memory: u64,
    pub pids: u32,
}

impl SandboxSpec {
    /// The `plan __sandbox` options of this spec (the network's come at start).
    pub fn args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let mut a = vec!["__sandbox".to_string()];
        if let Some(o) = &self.overlay {
            for (flag, p) in [("--lower", &o.lower), ("--upper", &o.upper), ("--work", &o.work), ("--mount", &o.mount)]
            {
                a.extend([flag.to_string(), path(p)]);
            }
            if let Some(d) = &o.deleted {
                a.extend(["--deleted".into(), path(d)]);
            }
        }
        for p in &self.ro {
            a.extend(["--ro".into(), path(p)]);
        }
        for p in &self.hide {
            a.extend(["--hide".into(), path(p)]);
        }
        if let Some(d) = &self.cd {
            a.extend(["--cd".into(), path(d)]);
        }
        if let Some(c) = &self.confine {
            a.push("--confine".into());
            for p in &c.rw {
                a.extend(["--rw".into(), path(p)]);
            }
        }
        a
    }
}

/// Whether sandboxes can be made here; why not. Asked once per process: `plan
/// __sandbox --probe --confine` makes one and exits.
pub fn availability() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            if !cfg!(target_os = "linux") {
                return Err("sandboxes need Linux namespaces and Landlock".into());
            }
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let out = std::process::Command::new(exe)
                .args(["__sandbox", "--probe", "--confine", "--", "true"])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                let why = String::from_utf8_lossy(&out.stderr);
                Err(why.lines().last().unwrap_or("the kernel refused").trim_start_matches("error: ").to_string())
            }
        })
        .clone()
}

/// Files and directories of a user's home that hold credentials: hidden.
const CREDENTIALS: [&str; 12] = [
    ".ssh",
    ".aws",
    ".config/gh",
    ".config/gcloud",
    ".azure",
    ".docker",
    ".kube",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
];

/// Where coding-agent CLIs keep their state in a home: writable.
const CLI_STATE: [&str; 8] =
    [".claude", ".claude.json", ".codex", ".cache", ".npm", ".config/claude", ".local/state", ".aider"];

/// How an agent's process reaches its model: the CLI it runs, and the model
/// gateway's port when it goes through it (then that port is all it may reach of
/// its model: no vendor host, no other server).
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelRoute {
    pub cli: Option<AgentCli>,
    pub gateway: Option<u16>,
}

/// The sandbox of an agent's process, from its resolved policy: `None` when it runs
/// without one (`sandbox: false`, or the kernel cannot make one). Sets `TMPDIR` to a
/// directory of its own. Its workspace is added where it is known (`workspace.rs`).
pub fn for_agent(
    policy: &plan_compiler::resolve::Sandbox<'_>,
    run: &RunContext,
    node: &str,
    model: ModelRoute,
    env: &mut BTreeMap<String, String>,
) -> Option<SandboxSpec> {
    let cli = model.cli;
    if !policy.on || availability().is_err() || run.dry_run {
        return None;
    }
    let safe: String = node.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let tmp = run.dir.root.join("tmp").join(safe);
    let _ = std::fs::create_dir_all(&tmp);
    let tmp = std::fs::canonicalize(&tmp).unwrap_or(tmp);
    env.insert("TMPDIR".into(), tmp.display().to_string());
    let home = env.get("HOME").cloned().or_else(|| std::env::var("HOME").ok()).map(PathBuf::from);
    let mut rw = vec![tmp, PathBuf::from("/dev")];
    let mut hide = Vec::new();
    if let Some(home) = &home {
        // The CLI's own state directory, made now: a rule is for a path that exists.
        let own: &[&str] = match cli {
            Some(AgentCli::Claude) => &[".claude"],
            Some(AgentCli::Codex) => &[".codex"],
            Some(AgentCli::Aider) => &[".aider", ".cache"],
            None => &[],
        };
        for dir in own {
            let _ = std::fs::create_dir_all(home.join(dir));
        }
        rw.extend(CLI_STATE.iter().map(|p| home.join(p)));
        rw.extend(env.get("CODEX_HOME").or(std::env::var("CODEX_HOME").ok().as_ref()).map(PathBuf::from));
        hide.extend(CREDENTIALS.iter().map(|p| home.join(p)));
    }
    if cli.is_some() {
        let last = run.dir.agent_last_message(node);
        let _ = std::fs::write(&last, b"");
        rw.push(last);
    }
    hide.extend(private_records(run));
    let network = policy.hosts.as_ref().map(|hosts| {
        let mut net = Network { hosts: hosts.iter().map(|h| h.to_string()).collect(), forwards: Vec::new() };
        match (model.gateway, cli) {
            (Some(port), _) => net.forwards.push(port),
            (None, Some(cli)) => model_endpoints(cli, env, &mut net),
            (None, None) => {}
        }
        net
    });
    Some(SandboxSpec {
        confine: Some(Confine { rw, network, memory: policy.memory, pids: policy.pids }),
        hide,
        ..SandboxSpec::default()
    })
}

/// The secret variables of this environment a process started outside an agent's
/// step (the planner, a judge) must not see: every variable named like a secret, but
/// those it is given and its CLI's `keys`.
pub fn secrets_but(pass: &[String], keys: &[&str]) -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| plan_compiler::resolve::secret::looks_secret(k))
        .filter(|k| !pass.contains(k) && !keys.contains(&k.as_str()))
        .collect()
}

/// The planner's sandbox: it writes only its scratch copy and its CLI's state, sees
/// no credential file (its network is its model's: not limited here).
pub fn for_planner(scratch: &Path) -> Option<SandboxSpec> {
    availability().ok()?;
    let mut rw = vec![scratch.to_path_buf(), PathBuf::from("/dev")];
    let mut hide = Vec::new();
    if let Ok(home) = std::env::var("HOME").map(PathBuf::from) {
        rw.extend(CLI_STATE.iter().map(|p| home.join(p)));
        hide.extend(CREDENTIALS.iter().map(|p| home.join(p)));
    }
    rw.extend(std::env::var("CODEX_HOME").ok().map(PathBuf::from));
    let resources = plan_schema::Resources::DEFAULT_MEMORY;
    let confine = Confine { rw, network: None, memory: resources, pids: plan_schema::Resources::DEFAULT_PIDS };
    Some(SandboxSpec { confine: Some(confine), hide, ..SandboxSpec::default() })
}

/// What an agent must not read of the run directory (and of other runs): the
/// journal, approvals, other agents' workspaces, outputs and logs, the merging index.
/// Listed once: a process runs one run, and its agents share the list.
fn private_records(run: &RunContext) -> Vec<PathBuf> {
    static LISTED: OnceLock<Vec<PathBuf>> = OnceLock::new();
    LISTED.get_or_init(|| list_private_records(run)).clone()
}

fn list_private_records(run: &RunContext) -> Vec<PathBuf> {
    let root = std::fs::canonicalize(&run.dir.root).unwrap_or_else(|_| run.dir.root.clone());
    let mut hide: Vec<PathBuf> =
        ["journal.jsonl", "approvals", "outputs", "logs", "status", "checkout.index", "gateway"]
            .map(|p| root.join(p))
            .to_vec();
    if let Some(runs) = root.parent() {
        if let Ok(rd) = std::fs::read_dir(runs) {
            hide.extend(rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| *p != root));
        }
    }
    hide
}

/// The model server a CLI talks to: `*_BASE_URL` / `*_API_BASE` of its environment
/// (and Codex's `base_url` in its config), else its vendor's API host. A loopback
/// server is relayed by port; any other is a host it may reach.
fn model_endpoints(cli: AgentCli, env: &BTreeMap<String, String>, net: &mut Network) {
    let mut urls: Vec<String> = Vec::new();
    let mut seen = |k: &str, v: &str| {
        if k.ends_with("_BASE_URL") || k.ends_with("_API_BASE") {
            urls.push(v.to_string());
        }
    };
    for (k, v) in env {
        seen(k, v);
    }
    for (k, v) in std::env::vars() {
        if !env.contains_key(&k) {
            seen(&k, &v);
        }
    }
    if cli == AgentCli::Codex {
        let home = env.get("CODEX_HOME").cloned().or_else(|| std::env::var("CODEX_HOME").ok());
        let home =
            home.map(PathBuf::from).or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".codex")));
        let config = home.and_then(|h| std::fs::read_to_string(h.join("config.toml")).ok()).unwrap_or_default();
        for line in config.lines() {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "base_url" {
                    urls.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    let vendor: &[&str] = match cli {
        AgentCli::Claude => &["api.anthropic.com", "statsig.anthropic.com"],
        AgentCli::Codex => &["api.openai.com", "chatgpt.com"],
        AgentCli::Aider => &["api.openai.com", "api.anthropic.com", "openrouter.ai"],
    };
    net.hosts.extend(vendor.iter().map(|h| h.to_string()));
    for url in urls {
        let rest = url.split("://").nth(1).unwrap_or(&url);
        let authority = rest.split('/').next().unwrap_or_default();
        let https = url.starts_with("https");
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p.parse().unwrap_or(if https { 443 } else { 80 })),
            None => (authority.to_string(), if https { 443 } else { 80 }),
        };
        if matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1") {
            if !net.forwards.contains(&port) {
                net.forwards.push(port);
            }
        } else if !host.is_empty() {
            net.hosts.push(format!("{host}:{port}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_allowed_by_name_port_and_domain() {
        let net = Network {
            hosts: vec!["api.github.com".into(), "registry.npmjs.org:443".into(), "*.example.com".into()],
            forwards: vec![],
        };
        assert!(net.allows("api.github.com", 443) && net.allows("API.GITHUB.COM", 80));
        assert!(!net.allows("api.github.com", 22));
        assert!(net.allows("registry.npmjs.org", 443) && !net.allows("registry.npmjs.org", 80));
        assert!(
            net.allows("a.example.com", 443) && !net.allows("example.com", 443) && !net.allows("evilexample.com", 443)
        );
        assert!(!net.allows("evil.example", 443));
    }

    #[test]
    fn a_model_server_on_loopback_is_relayed_by_port() {
        let mut net = Network::default();
        let env: BTreeMap<String, String> =
            [("ANTHROPIC_BASE_URL".to_string(), "http://127.0.0.1:4321".to_string())].into();
        model_endpoints(AgentCli::Claude, &env, &mut net);
        assert!(net.forwards.contains(&4321));
        assert!(net.allows("api.anthropic.com", 443));
    }
}
