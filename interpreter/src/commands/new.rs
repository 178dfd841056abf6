//! `plan new`: reads an issue (GitHub, a file or stdin), classifies it, builds the
//! plan, lints it, and only then writes it. Every failure is one clear line and a
//! non-zero exit, with no file written.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use plan_compiler::intake::{
    classify, generate, parse_issue, render_plan, Classification, IssueText, Rules, TemplatePaths,
};
use plan_compiler::{check_loaded, load::load_str};
use plan_schema::{AgentCli, Complexity, Pattern};

use crate::cli::NewArgs;
use crate::commands::lint::print_human;
use crate::error::Error;

/// Default templates, written into `prompts/` when the project has none.
const DEFAULT_TEMPLATES: [(&str, &str); 4] = [
    ("task.md.j2", include_str!("../../../prompts/task.md.j2")),
    ("task-item.md.j2", include_str!("../../../prompts/task-item.md.j2")),
    ("commit.txt.j2", include_str!("../../../prompts/commit.txt.j2")),
    ("pr.md.j2", include_str!("../../../prompts/pr.md.j2")),
];

pub fn run(args: &NewArgs) -> Result<(), Error> {
    let mut issue = read_issue(args)?;
    if let (Some(n), None) = (args.issue, issue.number) {
        issue.number = Some(n);
    }
    if let (Some(r), None) = (&args.repo, &issue.repo) {
        issue.repo = Some(r.clone());
    }
    if issue.title.trim().is_empty() {
        return Err(Error::refused("the issue has no title"));
    }
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = issue
            .number
            .map_or_else(|| plan_compiler::check::template_env::slug(&issue.title), |n| format!("issue-{n}"));
        PathBuf::from("plans").join(format!("{stem}.yaml"))
    });
    if output.exists() && !args.force && !args.print {
        return Err(Error::refused(format!("{} exists; pass --force to overwrite it", output.display())));
    }
    let rules = load_rules(args.rules.as_deref())?;
    let mut c = classify(&issue, &rules);
    if let Some(cmd) = &args.classifier {
        match ask_classifier(cmd, &issue) {
            Ok((complexity, pattern, agents)) => {
                c.reasons.push(format!("classifier `{cmd}` answered {complexity}, {pattern}"));
                c.complexity = complexity;
                c.pattern = pattern;
                if let Some(items) = agents {
                    c.items = items;
                }
            }
            Err(msg) => return Err(Error::refused(format!("classifier `{cmd}`: {msg}"))),
        }
    }
    // A planner starts from the rules' plan; when it writes none, the rules' is written.
    if let Some(planner) = args.planner.as_deref().filter(|p| !p.is_empty() && !args.rules_only) {
        let mut draft_c = c.clone();
        let (draft, draft_text) = write_plan(&issue, &mut draft_c, &output, args.runner.into(), Mode::Draft)?;
        match write_planned(planner, &issue, args, &output, (&draft, &draft_text)) {
            Ok(()) => return Ok(()),
            Err(e) => {
                eprintln!("warning: the planner `{planner}` wrote no plan: {e}; the rules' plan is written instead")
            }
        }
    }
    let mode = if args.print { Mode::Print } else { Mode::Write };
    let (plan, _) = write_plan(&issue, &mut c, &output, args.runner.into(), mode)?;
    let pattern = plan_compiler::intake::top_pattern(&plan).map_or("one agent".to_string(), |p| p.to_string());
    if args.explain {
        // The plan as written: its tier may have moved to fit the agents generated.
        eprintln!("tier: {}, pattern: {pattern}", plan.complexity);
        for r in &c.reasons {
            eprintln!("  - {r}");
        }
    }
    say_review(&issue, &plan);
    if args.print {
        return Ok(());
    }
    eprintln!(
        "wrote {} ({}, {pattern}) · check it with `plan run {} --dry-run`",
        output.display(),
        plan.complexity,
        output.display()
    );
    Ok(())
}

/// `--planner`: the planner's clean plan (the rules' `draft` its start), with a header
/// that says who wrote it; with `--explain`, what it changed of the draft.
fn write_planned(
    planner: &str,
    issue: &IssueText,
    args: &NewArgs,
    output: &Path,
    draft: (&plan_schema::Plan, &str),
) -> Result<(), Error> {
    let allow = super::planner::Allowance {
        rounds: args.planner_rounds,
        budget_usd: args.planner_budget,
        pass: &args.planner_pass,
    };
    let planned = super::planner::plan(planner, issue, args.runner.into(), output, &allow, draft.1)?;
    let spent = if planned.usage.is_empty() { String::new() } else { format!(" · {}", planned.usage.describe()) };
    let header =
        format!("# Written by the planner `{planner}` in {} round(s); `plan lint` found it clean.\n", planned.rounds);
    let text = format!("{header}{}", planned.text);
    // Still clean with its header (comments only), as everything written is.
    let checked = check_loaded(load_str(output, text.clone()));
    if !checked.diagnostics.is_empty() {
        print_human(&checked);
        return Err(Error::refused("the planner's plan does not lint clean; nothing was written"));
    }
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(output, text))
        .map_err(|e| Error::io("write", output, e))?;
    if let Some(plan) = checked.plan() {
        if args.explain {
            eprintln!("the planner `{planner}` changed the rules' draft:");
            for change in super::planner::changes(draft.0, plan) {
                eprintln!("  - {change}");
            }
        }
        say_review(issue, plan);
    }
    let shape = checked.plan().map_or_else(String::new, |plan| {
        let pattern = plan_compiler::intake::top_pattern(plan).map_or("one agent".to_string(), |p| p.to_string());
        format!(" ({}, {pattern})", plan.complexity)
    });
    eprintln!(
        "wrote {}{shape} · planner `{planner}`: {} round(s){spent} · check it with `plan run {} --dry-run`",
        output.display(),
        planned.rounds,
        output.display()
    );
    Ok(())
}

/// The intake review of a plan written for `issue`, as warnings to read before
/// running it.
fn say_review(issue: &IssueText, plan: &plan_schema::Plan) {
    for f in plan_compiler::intake::review(issue, plan) {
        let whom = if f.agent.is_empty() { String::new() } else { format!("agent `{}`: ", f.agent) };
        eprintln!("review: warning[{}]: {whom}{}", f.code, f.message);
    }
}

fn read_issue(args: &NewArgs) -> Result<IssueText, Error> {
    if let Some(from) = &args.from {
        let (name, text) = if from.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| Error::io("read", "standard input", e))?;
            ("standard input".to_string(), text)
        } else {
            let text = std::fs::read_to_string(from).map_err(|e| Error::io("read", from, e))?;
            (from.display().to_string(), text)
        };
        return parse_issue(&text).map_err(|e| Error::input(name, e));
    }
    let (Some(number), Some(repo)) = (args.issue, &args.repo) else {
        return Err(Error::Usage("give --issue N --repo owner/name, or --from FILE".into()));
    };
    if repo.split('/').filter(|p| !p.is_empty()).count() != 2 {
        return Err(Error::Usage(format!("--repo `{repo}` should be owner/name")));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)?;
    let json = runtime.block_on(crate::git::github::fetch_issue(repo, number))?;
    if !json.trim_start().starts_with('{') {
        return Err(Error::input(
            "GitHub's answer is not an issue",
            "it is not JSON (is GITHUB_API_URL the API's address?)",
        ));
    }
    let mut issue = parse_issue(&json).map_err(|e| Error::input("GitHub's answer is not an issue", e))?;
    issue.repo = Some(repo.clone());
    Ok(issue)
}

fn load_rules(path: Option<&Path>) -> Result<Rules, Error> {
    let default_file = Path::new("prompts/intake-rules.yaml");
    let (name, text) = match path {
        Some(p) => (p.display().to_string(), std::fs::read_to_string(p).map_err(|e| Error::io("read", p, e))?),
        None if default_file.is_file() => (
            default_file.display().to_string(),
            std::fs::read_to_string(default_file).map_err(|e| Error::io("read", default_file, e))?,
        ),
        None => ("the built-in rules".to_string(), plan_compiler::intake::DEFAULT_RULES.to_string()),
    };
    Rules::parse(&text).map_err(|e| Error::input(name, e))
}

/// Runs the classifier command with the issue as JSON on stdin; validates its answer.
fn ask_classifier(cmd: &str, issue: &IssueText) -> Result<(Complexity, Pattern, Option<Vec<String>>), String> {
    let input = serde_json::json!({
        "number": issue.number, "repo": issue.repo, "title": issue.title, "body": issue.body, "labels": issue.labels, "url": issue.url,
    });
    let spec = crate::engine::job::ProcessSpec {
        argv: plan_schema::Command::Shell(cmd.to_string()).argv(),
        stdin: Some(input.to_string()),
        ..Default::default()
    };
    let timeout = Some(crate::commands::planner::PLANNER_TIMEOUT);
    let stdout = match crate::engine::process::run_blocking(spec, timeout, None).outcome {
        crate::engine::job::Outcome::Succeeded { stdout } => stdout,
        other => return Err(other.error_text()),
    };
    let answer: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("answer is not JSON ({e}); expected {{\"complexity\", \"pattern\", \"agents\"}}"))?;
    let complexity: Complexity = serde_json::from_value(answer["complexity"].clone()).map_err(|_| {
        format!(
            "`complexity` must be one of atomic, simple, moderate, complex, enterprise; got {}",
            answer["complexity"]
        )
    })?;
    let pattern: Pattern = serde_json::from_value(answer["pattern"].clone()).map_err(|_| {
        format!(
            "`pattern` must be one of pipeline, fork-join, mapreduce, scatter-gather, saga; got {}",
            answer["pattern"]
        )
    })?;
    let agents = match &answer["agents"] {
        serde_json::Value::Null => None,
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or("`agents` must be a list of strings (work items)".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        other => return Err(format!("`agents` must be a list of strings (work items); got {other}")),
    };
    Ok((complexity, pattern, agents))
}

/// `to` relative to directory `from` (both relative to the working directory or both absolute).
fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| {
        let p = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
        p.components().fold(PathBuf::new(), |mut acc, c| {
            match c {
                Component::ParentDir => {
                    acc.pop();
                }
                Component::CurDir => {}
                other => acc.push(other),
            }
            acc
        })
    };
    let (from, to) = (abs(from), abs(to));
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in from.components().skip(common) {
        rel.push("..");
    }
    for c in to.components().skip(common) {
        rel.push(c);
    }
    rel.display().to_string()
}

/// What `write_plan` does with the plan.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Write,
    Print,
    /// A draft for a planner: made and returned, nothing written.
    Draft,
}

/// Writes the plan, and returns it with its text.
fn write_plan(
    issue: &IssueText,
    c: &mut Classification,
    output: &Path,
    runner: AgentCli,
    mode: Mode,
) -> Result<(plan_schema::Plan, String), Error> {
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // The templates live where the plan may read them: the project's `prompts/`, or,
    // for a plan written outside this directory (`--output ../elsewhere/x.yaml`), a
    // `prompts/` beside the plan.
    let here = std::env::current_dir().and_then(std::fs::canonicalize).unwrap_or_default();
    let outside = std::fs::canonicalize(dir).is_ok_and(|d| !d.starts_with(&here));
    let prompts_dir = if outside { dir.join("prompts") } else { PathBuf::from("prompts") };
    let prompts = prompts_dir.as_path();
    let schema = if Path::new("schema/plan.schema.json").is_file() {
        PathBuf::from("schema/plan.schema.json")
    } else {
        let p = PathBuf::from(".plan/plan.schema.json");
        std::fs::create_dir_all(".plan")
            .and_then(|()| std::fs::write(&p, plan_schema::json_schema_text()))
            .map_err(|e| Error::io("write", &p, e))?;
        p
    };
    let t = TemplatePaths {
        task: relative(dir, &prompts.join("task.md.j2")),
        item: relative(dir, &prompts.join("task-item.md.j2")),
        commit: relative(dir, &prompts.join("commit.txt.j2")),
        pr: relative(dir, &prompts.join("pr.md.j2")),
    };
    let mut plan = generate(issue, c, &t, runner);
    // The project's templates the plan uses, created from the defaults when missing
    // (only those: a file the plan does not read would be an uncommitted change).
    let used = plan_compiler::check::templates::template_files(&plan, dir);
    for (name, text) in DEFAULT_TEMPLATES {
        let path = prompts.join(name);
        let wanted = used.iter().any(|u| u.file_name() == path.file_name());
        if wanted && !path.exists() && mode != Mode::Draft {
            // Beside a plan written elsewhere: the project's own template, if it has one.
            let own = Path::new("prompts").join(name);
            let text = if outside {
                std::fs::read_to_string(&own).unwrap_or_else(|_| text.to_string())
            } else {
                text.to_string()
            };
            std::fs::create_dir_all(prompts)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| Error::io("write", &path, e))?;
        }
    }
    // The reasons describe the plan as generated.
    let top = plan_compiler::intake::top_pattern(&plan);
    if top != Some(c.pattern) {
        c.reasons.retain(|r| !r.starts_with("pattern "));
        c.reasons.push(match top {
            None => "one agent: no separate pieces of work to give to several".to_string(),
            Some(p) => format!("pattern `{p}` at the top level, as the tier's tree is built"),
        });
    }
    let schema = relative(dir, &schema);
    let (text, checked) = fit_tier(&mut plan, c, output, &schema)?;
    if mode == Mode::Draft {
        return Ok((plan, text));
    }
    // Errors write nothing; warnings are shown, and the plan is written.
    print_human(&checked);
    if checked.has_errors() {
        return Err(Error::refused("the generated plan has errors; nothing was written (please report this)"));
    }
    if mode == Mode::Print {
        crate::commands::stdout(&text);
        return Ok((plan, text));
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(output, &text))
        .map_err(|e| Error::io("write", output, e))?;
    Ok((plan, text))
}

/// Renders and lints the plan under the tier that fits the agents it has: the
/// classified one if it fits, else the nearest that does (said in the reasons, so
/// the header and `--explain` describe the plan as written).
fn fit_tier(
    plan: &mut plan_schema::Plan,
    c: &mut Classification,
    output: &Path,
    schema: &str,
) -> Result<(String, plan_compiler::Checked), Error> {
    const TIERS: [Complexity; 5] =
        [Complexity::Atomic, Complexity::Simple, Complexity::Moderate, Complexity::Complex, Complexity::Enterprise];
    let chosen = c.complexity;
    let at = TIERS.iter().position(|t| *t == chosen).unwrap_or(0);
    let mut order: Vec<Complexity> = TIERS.to_vec();
    order.sort_by_key(|t| TIERS.iter().position(|x| x == t).unwrap_or(0).abs_diff(at));
    let render = |plan: &plan_schema::Plan, c: &Classification| -> Result<(String, plan_compiler::Checked), Error> {
        let text = render_plan(plan, c, schema).map_err(|e| Error::refused(format!("cannot write the plan: {e}")))?;
        let checked = check_loaded(load_str(output, text.clone()));
        Ok((text, checked))
    };
    let first = render(plan, c)?;
    if !first.1.diagnostics.iter().any(|d| d.code == "tier-fit") {
        return Ok(first);
    }
    for tier in order.into_iter().skip(1) {
        plan.complexity = tier;
        let (_, checked) = render(plan, c)?;
        if !checked.diagnostics.iter().any(|d| d.code == "tier-fit") {
            c.reasons.push(format!("tier `{tier}`, not `{chosen}`: the tier that fits the agents generated"));
            c.complexity = tier;
            return render(plan, c);
        }
    }
    plan.complexity = chosen;
    Ok(first)
}
