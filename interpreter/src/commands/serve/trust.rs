//! Where the plan of an issue came from, and whether it may run without a person.
//!
//! A plan committed to the repository's default branch, unchanged in the checkout,
//! is a person's: it runs. Any other — written by the rules intake or a planner agent
//! from issue text, or found in the checkout but not committed (an agent may have
//! left it there) — is untrusted: it runs at once only if it keeps to the server's
//! policy (`--policy`, the built-in one by default). Otherwise its run waits on a
//! gate before every node, named after the plan, whose message shows what breaks the
//! policy, the plan itself and how it differs from the plan the rules would write.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use plan_compiler::check::policy::check_policy;
use plan_compiler::check::render::{render_human, Style};
use plan_compiler::load::load_str;

use super::api::ApiError;
use super::Server;

/// Where a plan came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Committed to the default branch, unchanged.
    Person,
    /// In the checkout, but not as the default branch holds it.
    Checkout,
    /// Written by the rules intake from the issue.
    Rules,
    /// Written by a planner agent from the issue.
    Planner,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Person => "person",
            Provenance::Checkout => "checkout",
            Provenance::Rules => "rules",
            Provenance::Planner => "planner",
        }
    }

    fn says(self) -> &'static str {
        match self {
            Provenance::Person => "was committed by a person",
            Provenance::Checkout => {
                "is in the checkout but not committed to the default branch (an agent may have written it)"
            }
            Provenance::Rules => "was written by the rules intake from the issue's text",
            Provenance::Planner => "was written by a planner agent from the issue's text",
        }
    }
}

/// How a plan is to run.
pub struct Judged {
    pub provenance: Provenance,
    /// The fingerprint of the plan as judged: the run refuses any other.
    pub hash: String,
    /// The message of its hold, when the plan waits for a person.
    pub hold: Option<PathBuf>,
    /// How many places break the policy.
    pub breaches: usize,
}

/// Judges the plan at `plan`, whose provenance is `provenance`. `rules` gives the
/// plan the rules would write, for the diff; the message of a hold goes to `hold`.
pub fn judge(
    s: &Server,
    plan: &Path,
    provenance: Provenance,
    rules: impl FnOnce() -> Option<String>,
    hold: &Path,
) -> Result<Judged, ApiError> {
    let text = std::fs::read_to_string(plan)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read {}: {e}", plan.display())))?;
    let hash = crate::store::journal::fingerprint(text.as_bytes());
    if provenance == Provenance::Person {
        return Ok(Judged { provenance, hash, hold: None, breaches: 0 });
    }
    let loaded = load_str(plan, text.clone());
    let breaches = check_policy(&loaded, &s.policy);
    if breaches.is_empty() {
        return Ok(Judged { provenance, hash, hold: None, breaches: 0 });
    }
    let found: String = breaches.iter().map(|d| render_human(d, loaded.source.as_ref(), Style::Plain)).collect();
    let mut message = format!(
        "Run the plan {} as it is? It {}, and does more than this server's policy lets such a plan do:\n\n{found}\n\
         Approve to run it; reject to run nothing.\n\nThe plan (fingerprint {hash}):\n\n{}\n",
        plan.display(),
        provenance.says(),
        fenced("yaml", &text)
    );
    if provenance != Provenance::Rules {
        match rules() {
            Some(rules) => message.push_str(&format!(
                "\nHow it differs from the plan the rules would write:\n\n{}\n",
                fenced("diff", &diff(&rules, &text))
            )),
            None => message.push_str("\n(The rules could not write a plan to compare it with.)\n"),
        }
    }
    std::fs::write(hold, message)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write {}: {e}", hold.display())))?;
    Ok(Judged { provenance, hash, hold: Some(hold.to_path_buf()), breaches: breaches.len() })
}

/// A unified diff from the rules' plan to this one.
fn diff(rules: &str, plan: &str) -> String {
    similar::TextDiff::from_lines(rules, plan)
        .unified_diff()
        .context_radius(3)
        .header("the rules' plan", "this plan")
        .to_string()
}

/// `text` in a markdown fence that nothing inside it can close.
fn fenced(lang: &str, text: &str) -> String {
    let longest = text.lines().map(|l| l.trim_start().chars().take_while(|c| *c == '`').count()).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}", text.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_outlasts_what_it_holds() {
        assert_eq!(fenced("yaml", "a: 1\n"), "```yaml\na: 1\n```");
        assert_eq!(fenced("yaml", "x: |\n  ````\n"), "`````yaml\nx: |\n  ````\n`````");
    }

    #[test]
    fn the_diff_shows_what_the_plan_added() {
        let d = diff("a: 1\nb: 2\n", "a: 1\nb: 2\nrun: curl x | sh\n");
        assert!(d.contains("+run: curl x | sh") && d.contains("--- the rules' plan"), "{d}");
    }
}
