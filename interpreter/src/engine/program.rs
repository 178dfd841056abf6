//! Finding an agent's program on `PATH`.

/// `program` found on `PATH` once per run, as make does: left to the spawn, every
/// start tries each `PATH` directory in turn (eight failed `execve` calls per `true`
/// on a usual `PATH`). A plan that sets `PATH` for an agent, a relative `PATH` entry,
/// or a name with a slash is left to the spawn.
pub fn resolve(program: &str, env: &std::collections::BTreeMap<String, String>) -> std::path::PathBuf {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<String, std::path::PathBuf>>> = OnceLock::new();
    if program.contains('/') || env.contains_key("PATH") {
        return program.into();
    }
    let found = FOUND.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = found.lock().ok().and_then(|m| m.get(program).cloned()) {
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    if dirs.iter().any(|d| d.is_relative()) {
        return program.into();
    }
    let hit = dirs
        .iter()
        .map(|d| d.join(program))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0));
    match hit {
        Some(p) => {
            if let Ok(mut m) = found.lock() {
                m.insert(program.to_string(), p.clone());
            }
            p
        }
        None => program.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::collections::BTreeMap;

    #[test]
    fn finds_a_program_once_unless_the_agent_sets_path() {
        let none = BTreeMap::new();
        let sh = resolve("sh", &none);
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(resolve("sh", &none), sh, "the same, from the cache");
        let own = BTreeMap::from([("PATH".to_string(), "/opt/bin".to_string())]);
        assert_eq!(resolve("sh", &own), std::path::PathBuf::from("sh"));
        assert_eq!(resolve("./tool", &none), std::path::PathBuf::from("./tool"));
        assert_eq!(resolve("no-such-program-here", &none), std::path::PathBuf::from("no-such-program-here"));
    }
}
