//! Linting: loads a plan, compiles its graph and runs every semantic rule, so that a
//! caller gets all diagnostics at once, sorted and de-duplicated.

pub mod confine;
pub mod diagnostic;
pub mod policy;
pub mod render;
pub mod rules;
pub mod schema;
pub mod suggest;
pub mod template_env;
mod template_vars;
pub mod templates;

use std::path::Path;

use plan_schema::Plan;

use crate::check::diagnostic::{normalize, Diagnostic};
use crate::check::rules::{check_all, Ctx};
use crate::graph::{self, PlanGraph};
use crate::load::agents::AgentIndex;
use crate::load::{load_file, Loaded};

/// A plan that was loaded and checked.
pub struct Checked {
    pub loaded: Loaded,
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The graph the rules checked.
    graph: Option<PlanGraph>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The graph the rules checked, when the plan has no errors (taken: what runs it
    /// needs not build it again).
    pub fn take_graph(&mut self) -> Option<PlanGraph> {
        if self.has_errors() {
            None
        } else {
            self.graph.take()
        }
    }

    /// The plan when it has no errors.
    pub fn plan(&self) -> Option<&Plan> {
        if self.has_errors() {
            None
        } else {
            self.loaded.plan.as_ref()
        }
    }
}

/// Loads and lints the plan file at `path`.
pub fn check_file(path: &Path) -> Checked {
    check_loaded(load_file(path))
}

/// Lints a loaded plan.
pub fn check_loaded(loaded: Loaded) -> Checked {
    let mut diagnostics = loaded.diagnostics.clone();
    let mut checked_graph = None;
    if let Some(plan) = &loaded.plan {
        let base_dir = loaded.base_dir();
        let agents = AgentIndex::new(plan);
        let expand = glob_expander(&base_dir);
        let graph = graph::build(plan, &expand);
        let file = loaded.path.display().to_string();
        let ctx = Ctx { file: &file, plan, loaded: &loaded, agents: &agents, graph: &graph, base_dir: &base_dir };
        diagnostics.extend(check_all(&ctx));
        checked_graph = Some(graph);
    }
    normalize(&mut diagnostics);
    Checked { loaded, diagnostics, graph: checked_graph }
}

/// Compiles a checked plan into its DAG.
pub fn compile(checked: &Checked) -> Option<PlanGraph> {
    let plan = checked.plan()?;
    let base = checked.loaded.base_dir();
    let expand = glob_expander(&base);
    Some(graph::build(plan, &expand))
}

/// Expands globs relative to `base`, sorted, as paths relative to `base`.
pub fn glob_expander(base: &Path) -> impl Fn(&str) -> Vec<String> + '_ {
    move |pattern: &str| {
        let full = base.join(pattern);
        let Ok(paths) = glob::glob(&full.to_string_lossy()) else {
            return Vec::new();
        };
        let mut out: Vec<String> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .map(|p| p.strip_prefix(base).unwrap_or(&p).to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lint_text(text: String) -> Checked {
        check_loaded(crate::load::load_str(Path::new("fuzz.yaml"), text))
    }

    /// Fragments of real plans, so that random documents get past the parser often.
    fn plan_like() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("version: 1\n".to_string()),
            Just("name: x\n".to_string()),
            Just("complexity: moderate\n".to_string()),
            Just("agent:\n".to_string()),
            Just("  id: a\n".to_string()),
            Just("  pattern: fork-join\n".to_string()),
            Just("  agents:\n".to_string()),
            Just("    - { id: b, run: \"echo {{ outputs.a }}\" }\n".to_string()),
            Just("    - { id: c, needs: [b, a], prompt: \"{{ issue.title\" }\n".to_string()),
            Just("  map: { over: { lines_of: b }, agent: { id: m, run: x } }\n".to_string()),
            Just("  join: { id: j, uses: noop }\n".to_string()),
            Just("  gather: { consensus: quorum(2) }\n".to_string()),
            Just("  timeout: 5x\n".to_string()),
            Just("&x [*x]\n".to_string()),
            Just("- - - [\n".to_string()),
            "[ -~]{0,20}\n",
        ];
        proptest::collection::vec(token, 0..24).prop_map(|parts| parts.concat())
    }

    /// Pieces the fuzzer splices into plans.
    const MUTATIONS: [&str; 16] =
        ["\0", "\t", "\n", ":", "- ", "{", "}", "[", "]", "{{", "{%", "*a", "&a ", "<<: ", "1e23", "\u{1F600}"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let checked = lint_text(String::from_utf8_lossy(&bytes).into_owned());
            for d in &checked.diagnostics {
                prop_assert!(d.span.start.line >= 1 && d.span.start.col >= 1);
            }
        }

        /// The shipped example plans with random edits (bytes replaced, inserted or cut,
        /// with YAML's and templates' own characters among them): linting them never
        /// panics, never hangs, and every diagnostic points into the file.
        #[test]
        fn mutated_examples_never_panic(
            which in 0usize..64,
            edits in proptest::collection::vec((any::<u16>(), 0u8..3, proptest::sample::select(MUTATIONS.to_vec())), 1..12),
        ) {
            let examples = crate::example_plans::example_plans();
            let mut text: Vec<u8> = examples[which % examples.len()].clone().into_bytes();
            for (at, kind, piece) in edits {
                let at = usize::from(at) % (text.len() + 1);
                match kind {
                    0 => { text.splice(at..at, piece.bytes()); }
                    1 if at < text.len() => { text.splice(at..(at + piece.len()).min(text.len()), piece.bytes()); }
                    _ => { text.drain(at..(at + piece.len()).min(text.len())); }
                }
            }
            let text = String::from_utf8_lossy(&text).into_owned();
            let lines = text.lines().count().max(1);
            let started = std::time::Instant::now();
            let checked = lint_text(text);
            prop_assert!(started.elapsed() < std::time::Duration::from_secs(5), "lint took {:?}", started.elapsed());
            for d in &checked.diagnostics {
                prop_assert!(d.span.start.line >= 1 && d.span.start.line <= lines + 1, "{:?}", d);
            }
            if checked.plan().is_some() {
                if let Some(graph) = compile(&checked) {
                    let _ = crate::draw::mermaid::to_mermaid(checked.plan().unwrap(), &graph, None);
                }
            }
        }

        #[test]
        fn random_plans_never_panic(text in plan_like()) {
            let checked = lint_text(text);
            if checked.plan().is_some() {
                let graph = compile(&checked).unwrap();
                let _ = crate::draw::dot::to_dot(checked.plan().unwrap(), &graph, None);
            }
        }
    }
}
