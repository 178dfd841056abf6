//! Starting a process in its sandbox, from `plan`'s side: the `plan __sandbox`
//! command line, the cgroups that hold its limits, its way through the proxy — and
//! giving them back when it has ended.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{proxy, SandboxSpec};

/// A started sandbox's resources outside it: its proxy registration and cgroups,
/// given back when the process has ended.
pub struct Started {
    token: Option<String>,
    cgroups: Vec<PathBuf>,
}

impl Started {
    /// Ends it; what its network was refused.
    pub fn finish(self) -> Vec<String> {
        for group in &self.cgroups {
            let _ = std::fs::remove_dir(group);
        }
        match (self.token, proxy::global()) {
            (Some(token), Some(p)) => p.unregister(&token),
            _ => Vec::new(),
        }
    }
}

/// Rewrites `argv` to start inside `spec`'s sandbox; sets what the process needs in
/// `env` (its proxy). Must run in the engine's tokio runtime (the proxy lives there).
pub fn start(
    spec: &SandboxSpec,
    argv: &mut Vec<String>,
    env: &mut BTreeMap<String, String>,
) -> Result<Started, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut wrapped = vec![exe.display().to_string()];
    wrapped.extend(spec.args());
    let mut started = Started { token: None, cgroups: Vec::new() };
    if let Some(confine) = &spec.confine {
        started.cgroups = cgroups(confine.memory, confine.pids);
        for group in &started.cgroups {
            wrapped.extend(["--cgroup".into(), group.display().to_string()]);
        }
        if let Some(net) = &confine.network {
            let proxy = proxy::global().ok_or("cannot start the sandboxes' proxy")?;
            let token = proxy.register(net.clone());
            let port: u16 = if net.forwards.contains(&3128) { 3129 } else { 3128 };
            wrapped.extend([
                "--net".into(),
                proxy.socket.display().to_string(),
                "--proxy-port".into(),
                port.to_string(),
            ]);
            for f in &net.forwards {
                wrapped.extend(["--forward".into(), f.to_string()]);
            }
            env.insert("PLAN_SANDBOX_TOKEN".into(), token.clone());
            let url = format!("http://127.0.0.1:{port}");
            for k in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"] {
                env.insert(k.into(), url.clone());
            }
            for k in ["NO_PROXY", "no_proxy"] {
                env.insert(k.into(), "127.0.0.1,localhost,::1".into());
            }
            started.token = Some(token);
        }
    }
    wrapped.push("--".into());
    wrapped.append(argv);
    *argv = wrapped;
    Ok(started)
}

/// A cgroup per limit, as this machine has them (v2's one directory, or v1's memory
/// and pids hierarchies), when `plan` may make them; none otherwise.
fn cgroups(memory: u64, pids: u32) -> Vec<PathBuf> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!("plan-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let root = Path::new("/sys/fs/cgroup");
    let make = |dir: PathBuf, limits: &[(&str, String)]| -> Option<PathBuf> {
        std::fs::create_dir(&dir).ok()?;
        for (file, value) in limits {
            if std::fs::write(dir.join(file), value).is_err() {
                let _ = std::fs::remove_dir(&dir);
                return None;
            }
        }
        Some(dir)
    };
    if root.join("cgroup.controllers").exists() {
        let limits = [("memory.max", memory.to_string()), ("pids.max", pids.to_string())];
        return make(root.join(name), &limits).into_iter().collect();
    }
    let v1 = [("memory", "memory.limit_in_bytes", memory.to_string()), ("pids", "pids.max", pids.to_string())];
    v1.into_iter()
        .filter_map(|(hierarchy, file, value)| make(root.join(hierarchy).join(&name), &[(file, value)]))
        .collect()
}
