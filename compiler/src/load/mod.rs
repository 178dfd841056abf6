//! Loading: file -> text -> YAML tree with positions -> schema check -> typed plan.
//! Every problem becomes a diagnostic at the offending node; nothing here panics on
//! bad input.
//!
//! A valid plan is typed agent by agent while it is parsed (`fold.rs`), so a plan
//! of 100,000 agents is never held whole as YAML or JSON. Any other is read the
//! ordinary way below, where each stage consumes the one before it (the tree becomes
//! the JSON value, the value becomes the plan) and every problem is explained. Positions are
//! needed only for diagnostics: one is found by scanning the text up to it
//! (`locate.rs`); past a few, the tree is parsed again and kept.

pub mod agents;
mod fold;
pub mod locate;
pub mod source;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use plan_schema::Plan;
use serde_json::Value;

use crate::check::diagnostic::Diagnostic;
use crate::check::schema;
use crate::load::fold::load_folded;
use crate::load::locate::{locate, Located};
use crate::load::source::{Source, Span};
use crate::load::yaml::{pointer_segments, Node, YamlProblem};

/// Plans larger than this are refused before parsing (a 10,000-agent plan is ~1 MB).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A plan file as far as it could be loaded.
#[derive(Debug)]
pub struct Loaded {
    /// The path as the user gave it; diagnostics name it.
    pub path: PathBuf,
    pub source: Option<Source>,
    /// The YAML tree with positions, built again from `source` on first use.
    tree: OnceLock<Option<Node>>,
    /// Positions found by scanning the text so far.
    scans: AtomicUsize,
    /// The typed plan, when the file is valid YAML that matches the schema.
    pub plan: Option<Plan>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// A loaded file; `tree` is the tree if one was kept (or known not to exist).
    fn new(
        path: &Path,
        source: Option<Source>,
        tree: OnceLock<Option<Node>>,
        plan: Option<Plan>,
        diagnostics: Vec<Diagnostic>,
    ) -> Loaded {
        Loaded { path: path.to_path_buf(), source, tree, scans: AtomicUsize::new(0), plan, diagnostics }
    }

    /// The YAML tree with positions (none when the text is not YAML).
    pub fn tree(&self) -> Option<&Node> {
        self.tree.get_or_init(|| self.source.as_ref().and_then(|s| yaml::parse(s).0)).as_ref()
    }

    /// The span of the value at a JSON pointer (its nearest existing ancestor if absent).
    pub fn value_span(&self, pointer: &str) -> Span {
        self.find(pointer).map_or_else(Span::default, |l| l.value)
    }

    /// The span of the key that names the value at a JSON pointer (the value's span for
    /// sequence items).
    pub fn key_span(&self, pointer: &str) -> Span {
        self.find(pointer).map_or_else(Span::default, |l| l.key.unwrap_or(l.value))
    }

    /// Where a value is: a scan of the text for the first few diagnostics (it stops at
    /// the value, and builds nothing), the tree for more, or when the tree exists.
    fn find(&self, pointer: &str) -> Option<Located> {
        let segments = pointer_segments(pointer);
        const SCANS: usize = 16;
        if self.tree.get().is_none() && self.scans.fetch_add(1, Ordering::Relaxed) < SCANS {
            if let Some(found) = self.source.as_ref().and_then(|s| locate(s, &segments)) {
                return Some(found);
            }
        }
        let (node, key) = self.tree()?.lookup(&segments);
        Some(Located { value: node.span, key: key.map(|k| k.span) })
    }

    /// The directory that relative paths in the plan are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Reads and loads a plan file.
pub fn load_file(path: &Path) -> Loaded {
    let display = path.display().to_string();
    let fail = |code: &'static str, message: String, help: &str| {
        let d = Diagnostic::error(code, &display, Span::new(1, 1, 1), message).help(help);
        Loaded::new(path, None, OnceLock::from(None), None, vec![d])
    };
    match std::fs::metadata(path) {
        Err(e) => {
            return fail(
                "unreadable-file",
                format!("cannot read plan file: {}", io_reason(&e)),
                "check the path; `plan lint plans/*.yaml` lints every example",
            )
        }
        Ok(m) if m.is_dir() => {
            return fail("unreadable-file", "is a directory, not a plan file".into(), "name a .yaml file inside it")
        }
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return fail(
                "file-too-large",
                format!(
                    "plan file is {} MB; the limit is {} MB",
                    m.len() / (1024 * 1024),
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
                "split the work into several plans, or generate agents with `mapreduce`",
            )
        }
        Ok(_) => {}
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                "unreadable-file",
                format!("cannot read plan file: {}", io_reason(&e)),
                "check the file's permissions",
            )
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => load_str(path, text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.into_bytes()[..offset]).into_owned();
            let line = text.matches('\n').count() + 1;
            let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let mut loaded = fail(
                "not-utf8",
                format!("plan file is not UTF-8 text (invalid byte at offset {offset})"),
                "a plan is a YAML text file; save it as UTF-8",
            );
            loaded.diagnostics[0].span = Span::new(line, col, 1);
            loaded
        }
    }
}

/// A value the schema allows but the types cannot hold (a number too large, a
/// `quorum(N)` past any count): at that value, in words rather than Rust types.
fn type_error(file: &str, root: Option<&Node>, e: &serde_path_to_error::Error<serde_json::Error>) -> Diagnostic {
    use serde_path_to_error::Segment;
    let segments: Vec<String> = e
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect();
    let span = root.map_or_else(Span::default, |r| r.lookup(&segments).0.span);
    let field = segments.iter().rev().find(|s| s.parse::<usize>().is_err()).cloned().unwrap_or_default();
    let mut message = e.inner().to_string();
    for (rust, words) in
        [("u64", "a whole number up to 18446744073709551615"), ("u32", "a whole number up to 4294967295")]
    {
        message = message.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    message = message.replace("floating point", "number");
    Diagnostic::error("invalid-value", file, span, format!("invalid `{field}`: {message}"))
        .help("see `plan schema` for the expected shape")
}

/// Loads a plan from text already read; `path` names it in diagnostics.
pub fn load_str(path: &Path, text: String) -> Loaded {
    let display = path.display().to_string();
    // YAML allows no control characters but tab and line breaks; a parser would stop
    // at a NUL and take the rest of the file for gone.
    if let Some((offset, c)) = text.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let source = Source::new(display.clone(), text.clone());
        let d = Diagnostic::error(
            "control-character",
            &display,
            Span::new(line, col, 1),
            format!("plan file has a control character (U+{:04X}) at line {line}, column {col}", u32::from(c)),
        )
        .help("remove it: a plan is YAML text, and YAML allows only tabs and line breaks");
        return Loaded::new(path, Some(source), OnceLock::from(None), None, vec![d]);
    }
    let source = Source::new(display.clone(), text);
    match load_folded(&source) {
        Some(plan) => Loaded::new(path, Some(source), OnceLock::new(), Some(plan), Vec::new()),
        None => load_whole(path, source),
    }
}

/// Loads a plan from its whole YAML tree, explaining every problem.
pub(crate) fn load_whole(path: &Path, source: Source) -> Loaded {
    let display = source.path.clone();
    let (tree, problems) = yaml::parse(&source);
    let mut diagnostics: Vec<Diagnostic> = problems.into_iter().map(|p| yaml_diagnostic(&display, p)).collect();
    let cell = OnceLock::new();
    let mut plan = None;
    if let Some(root) = tree {
        // A tree with problems is kept for their positions; a clean one is consumed.
        let mut value = if diagnostics.is_empty() {
            root.into_json()
        } else {
            let value = root.clone().into_json();
            let _ = cell.set(Some(root));
            value
        };
        without_extensions(&mut value);
        let positions = || cell.get_or_init(|| yaml::parse(&source).0).as_ref();
        let schema_diags = schema::check(&display, positions, &value);
        let schema_ok = schema_diags.is_empty();
        diagnostics.extend(schema_diags);
        if schema_ok {
            // Tracking the path costs an allocation per key: only a failure, read
            // again from the tree, pays for it.
            match serde_json::from_value::<Plan>(value) {
                Ok(p) => plan = Some(p),
                Err(plain) => {
                    let tree = positions();
                    let mut again = tree.map_or(Value::Null, |t| t.clone().into_json());
                    without_extensions(&mut again);
                    let d = match serde_path_to_error::deserialize::<_, Plan>(again) {
                        Err(e) => type_error(&display, tree, &e),
                        Ok(_) => Diagnostic::error("invalid-value", &display, Span::default(), plain.to_string())
                            .help("see `plan schema` for the expected shape"),
                    };
                    diagnostics.push(d);
                }
            }
        }
    } else {
        let _ = cell.set(None);
    }
    Loaded::new(path, Some(source), cell, plan, diagnostics)
}

/// Drops top-level `x-...` keys: they hold anchors to merge elsewhere (as in Compose
/// files).
fn without_extensions(value: &mut Value) {
    if let Some(map) = value.as_object_mut() {
        map.retain(|k, _| !k.starts_with("x-"));
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn yaml_diagnostic(file: &str, problem: YamlProblem) -> Diagnostic {
    match problem {
        YamlProblem::Syntax { span, message } => {
            Diagnostic::error("yaml-syntax", file, span, format!("invalid YAML: {message}"))
                .help("check indentation, quotes and colons around this position")
        }
        YamlProblem::DuplicateKey { key, span, first } => {
            Diagnostic::error("duplicate-key", file, span, format!("duplicate key `{key}`"))
                .label(first, format!("`{key}` is first defined here"))
                .help("remove one of them; YAML keeps only one value per key")
        }
        YamlProblem::TooDeep { span } => {
            Diagnostic::error("too-deep", file, span, format!("nesting deeper than {} levels", yaml::MAX_DEPTH))
                .help("a plan is never this deep; is this the right file?")
        }
        YamlProblem::TooLarge { span } => Diagnostic::error(
            "too-large",
            file,
            span,
            format!("document expands to more than {} nodes", yaml::MAX_NODES),
        )
        .help("aliases that repeat aliases multiply; write the plan out or use `mapreduce`"),
        YamlProblem::MultipleDocuments { span } => {
            Diagnostic::error("multiple-documents", file, span, "a plan file holds one YAML document")
                .help("remove the `---` separator, or split the plans into files")
        }
        YamlProblem::Empty => Diagnostic::error("empty-plan", file, Span::new(1, 1, 1), "plan file is empty")
            .help("start from an example in plans/, or run `plan new`"),
    }
}
