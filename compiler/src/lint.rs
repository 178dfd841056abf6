//! Linting: loads a plan, compiles its graph and runs every semantic rule, so that a
//! caller gets all diagnostics at once, sorted and de-duplicated.

use std::path::Path;

use plan_schema::Plan;

use crate::agents::AgentIndex;
use crate::diagnostic::{normalize, Diagnostic};
use crate::graph::{self, PlanGraph};
use crate::load::{load_file, Loaded};
use crate::rules::{check_all, Ctx};
use crate::templates::template_fields;

/// A plan that was loaded and checked.
pub struct Checked {
    pub loaded: Loaded,
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
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
    if let (Some(plan), Some(tree)) = (&loaded.plan, &loaded.tree) {
        let base_dir = loaded.base_dir();
        let agents = AgentIndex::new(plan);
        let expand = glob_expander(&base_dir);
        let graph = graph::build(plan, &expand);
        let templates = template_fields(plan, &agents, &base_dir);
        let file = loaded.path.display().to_string();
        let ctx = Ctx {
            file: &file,
            plan,
            tree,
            agents: &agents,
            graph: &graph,
            base_dir: &base_dir,
            templates: &templates,
        };
        diagnostics.extend(check_all(&ctx));
    }
    normalize(&mut diagnostics);
    Checked {
        loaded,
        diagnostics,
    }
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
            .map(|p| {
                p.strip_prefix(base)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        out.sort();
        out
    }
}
