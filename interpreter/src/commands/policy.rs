//! Reading a trust policy file (`plan lint --policy`, `plan serve --policy`): YAML of
//! `plan_schema::Policy`, every field optional (the default fills the rest). A
//! mistake is one line naming the file, the line and the field.

use std::path::Path;

use plan_schema::Policy;

use crate::error::Error;

/// The policy in `path`, or the built-in one for `default`.
pub fn load(path: &Path) -> Result<Policy, Error> {
    if path == Path::new("default") {
        return Ok(Policy::default());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read the policy", path, e))?;
    plan_compiler::check::policy::parse_policy(&text).map_err(|(at, e)| {
        Error::refused(format!(
            "{}{at}: {e}; a policy's fields are listed in docs/serve.md (`--policy default` is the built-in one)",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_overrides_what_it_names_and_its_mistakes_name_their_line() {
        let dir = std::env::temp_dir().join(format!("plan-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("policy.yaml");
        std::fs::write(&file, "max_cost_usd: 2\nrunners: [codex]\n").unwrap();
        let p = load(&file).unwrap();
        assert_eq!((p.max_cost_usd, p.runners.len(), p.max_concurrency), (2.0, 1, Policy::default().max_concurrency));
        std::fs::write(&file, "max_cost_usd: 2\nallow_everything: true\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("policy.yaml:2:") && e.contains("allow_everything"), "{e}");
        assert_eq!(load(Path::new("default")).unwrap(), Policy::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
