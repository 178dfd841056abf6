//! `best_of: N`: N candidates of one coding agent, each in a workspace of its own,
//! run at once (each takes a slot of the run's concurrency, and spends from the
//! agent's budget). A candidate's work is kept on a branch of its own, not merged;
//! when the last ends, the winner is the first by: all its checks passed, then the
//! judge's score, then the smallest change, then the lowest number. Only the
//! winner's work is merged; the others' branches stay until the run ends, for a
//! person to look at.

use serde::Serialize;

/// A candidate's work, kept apart.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidacy {
    /// Where its workspace started (the merged work then).
    pub start: String,
    /// Its work, a commit on `branch`.
    pub work: String,
    pub branch: String,
}

/// How one candidate ended, as the report lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Its node id (`agent[0]`).
    pub id: String,
    /// Its number, from 1.
    pub candidate: usize,
    /// All its checks passed (on its last attempt).
    pub passed: bool,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Its work's branch, kept until the run ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Why it did not pass, when it did not.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Its attempts' checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::engine::accept::Checks>,
    pub winner: bool,
    /// Kept for the merge, not reported.
    #[serde(skip)]
    pub work: Option<Candidacy>,
}

/// The winner among `candidates`, and why it won; `None` when none passed.
pub fn choose(candidates: &[Candidate]) -> Option<(usize, String)> {
    let passed: Vec<&Candidate> = candidates.iter().filter(|c| c.passed && c.work.is_some()).collect();
    let best = passed.iter().copied().min_by(|a, b| {
        let score = |c: &Candidate| c.score.unwrap_or(f64::NEG_INFINITY);
        score(b)
            .total_cmp(&score(a))
            .then(a.changed_lines.unwrap_or(u64::MAX).cmp(&b.changed_lines.unwrap_or(u64::MAX)))
            .then(a.candidate.cmp(&b.candidate))
    })?;
    let others: Vec<&&Candidate> = passed.iter().filter(|c| c.candidate != best.candidate).collect();
    let why = if others.is_empty() {
        format!("candidate {} is the only one whose checks all passed", best.candidate)
    } else if others.iter().any(|o| o.score != best.score) && best.score.is_some() {
        let rest: Vec<String> = others.iter().filter_map(|o| o.score.map(|s| format!("{s:.2}"))).collect();
        format!(
            "candidate {}: all checks passed, and the judge scored it highest ({:.2}; others {})",
            best.candidate,
            best.score.unwrap_or_default(),
            rest.join(", ")
        )
    } else if others.iter().any(|o| o.changed_lines != best.changed_lines) {
        let rest: Vec<String> = others.iter().filter_map(|o| o.changed_lines.map(|l| l.to_string())).collect();
        format!(
            "candidate {}: all checks passed, {}and its change is the smallest ({} lines; others {})",
            best.candidate,
            if best.score.is_some() { "the judge scored it as high as any, " } else { "" },
            best.changed_lines.unwrap_or_default(),
            rest.join(", ")
        )
    } else {
        format!("candidate {}: all checks passed, as did others equal to it; the first of them wins", best.candidate)
    };
    Some((best.candidate - 1, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: usize, passed: bool, score: Option<f64>, lines: u64) -> Candidate {
        Candidate {
            id: format!("fix[{}]", n - 1),
            candidate: n,
            passed,
            attempts: 1,
            score,
            changed_lines: Some(lines),
            cost_usd: None,
            branch: None,
            error: String::new(),
            checks: Vec::new(),
            winner: false,
            work: Some(Candidacy { start: "s".into(), work: format!("w{n}"), branch: format!("b{n}") }),
        }
    }

    #[test]
    fn passing_checks_then_score_then_size_decide() {
        let c = [cand(1, false, None, 1), cand(2, true, Some(0.6), 3), cand(3, true, Some(0.9), 30)];
        let (i, why) = choose(&c).unwrap();
        assert_eq!(i, 2);
        assert!(why.contains("scored it highest (0.90; others 0.60)"), "{why}");
        let c = [cand(1, true, None, 40), cand(2, true, None, 4), cand(3, false, None, 1)];
        let (i, why) = choose(&c).unwrap();
        assert_eq!(i, 1);
        assert!(why.contains("smallest (4 lines; others 40)"), "{why}");
        assert_eq!(choose(&[cand(1, false, None, 1)]), None);
        let (i, why) = choose(&[cand(1, false, None, 1), cand(2, true, None, 9)]).unwrap();
        assert_eq!((i, why.contains("only one")), (1, true));
    }
}
