//! Tests of `items.rs`: what is work in an issue, and what is not.

use super::*;

#[test]
fn done_items_references_and_figures_are_no_work() {
    let body = "- [x] Add the flag\n- [ ] Write the docs\n- [X] Yes\n- [ ] #123\n- [ ] Test the parser";
    assert_eq!(work_items(body).0, ["Write the docs", "Test the parser"]);
    let done = "- [x] I searched existing issues\n- [x] Yes\n\nThe button is broken.\n";
    assert_eq!(work_items(done).0, Vec::<String>::new());
    let timings = "- 12.3 ms\n- 45 ms\n- https://example.com/log\n";
    assert!(work_items(timings).0.is_empty());
    let parts = "- Parser: accept tabs\n- Docs: say so\n";
    assert_eq!(work_items(parts).0, ["Parser: accept tabs", "Docs: say so"]);
}

#[test]
fn code_blocks_of_failing_tests_or_files_are_items() {
    let run = "Four tests fail:\n\n```\nFAILED tests/test_io.py::test_read - AssertionError\n                   FAILED tests/test_io.py::test_write - KeyError\n--- FAIL: TestParse (0.00s)\n                   collected 40 items\n```\n";
    assert_eq!(code_items(run), ["tests/test_io.py::test_read", "tests/test_io.py::test_write", "TestParse"]);
    let files = "Change these:\n```\nsrc/a.rs\nsrc/b/c.rs\n```\n";
    assert_eq!(code_items(files), ["src/a.rs", "src/b/c.rs"]);
    assert!(code_items("```\nfn main() {}\nlet x = 1;\n```").is_empty(), "code is no list");
    assert!(code_items("src/a.rs\nsrc/b.rs\n").is_empty(), "only inside code blocks");
}

#[test]
fn finds_work_items() {
    let (items, seq) = work_items("Intro\n- [ ] Parser `tokens`\n- [x] **Lexer** rules.\n- note\n");
    assert_eq!((items, seq), (vec!["Parser tokens".to_string()], false), "a done item is no work");
    let (items, seq) = work_items("Steps:\n1. Build\n2. Test\n3. Ship\n");
    assert_eq!((items.len(), seq), (3, true));
    assert_eq!(work_items("just prose"), (Vec::new(), false));
}
#[test]
fn template_sections_requirements_and_chores_are_no_work() {
    let bug = "### Steps To Reproduce\n\n1. Open Settings\n2. Click About\n3. Crash\n\n### Requirements\n\n- e.g. Fix crash that occurs when...\n- Fix it\n";
    assert_eq!(work_items(bug), (Vec::new(), false));
    let bold = "**To reproduce**\n1. Go to Settings\n2. Click on About\n\n**System Information**\n - OS Version: Windows 10\n - App version: v1.5\n";
    assert_eq!(work_items(bold), (Vec::new(), false));
    let reqs = "- The gateway must emit traces\n- Traces must go to the collector\n- Use the SDK\n";
    assert!(work_items(reqs).0.is_empty(), "a list of requirements");
    let chores = "Approach\n- read the quickstart guide\n- create a new branch to work on\n- port the Travis steps to Actions\n- add a job for the docs\n- commit the changes and push them\n- ask the team for reviews\n";
    assert_eq!(work_items(chores).0, ["port the Travis steps to Actions", "add a job for the docs"]);
    let learn = "- Learn about [tracing](https://x.io)\n- Add tracing to the Python services\n- Add tracing to the Java services\n";
    assert_eq!(work_items(learn).0.len(), 2);
    let reads = "- Read the config from the environment\n- Read the quickstart guide\n- Write the loader\n";
    assert_eq!(work_items(reads).0, ["Read the config from the environment", "Write the loader"]);
    let fixes = "- Fix test_a that fails on Windows\n- Fix test_b that fails on macOS\n";
    assert_eq!(work_items(fixes).0.len(), 2, "fixing what fails is work");
    let code =
        "- Push metrics to Prometheus\n- Commit the transaction in batches\n- Ask for confirmation before deleting\n";
    assert_eq!(work_items(code).0.len(), 3, "verbs of chores are work in code");
    let answers = "## Steps to Reproduce\nNone\n## Settings\n- Version:\nNone\n- OS:\nNone\n";
    assert!(work_items(answers).0.is_empty());
    let struck = "* [ ] ~~cut a minor release~~\n* [x] #64\n* [x] cut major v2.0.0\n";
    assert!(work_items(struck).0.is_empty(), "struck through and done");
}

#[test]
fn sections_are_matched_by_their_words() {
    assert!(
        not_work_section("steps to reproduce")
            && not_work_section("log file")
            && not_work_section("system information")
    );
    for work in ["checklist", "tasks", "conversion plan", "login page", "catalog"] {
        assert!(!not_work_section(work), "{work}");
    }
    let tasks = "## Checklist\n- [ ] Port the parser\n- [ ] Port the printer\n";
    assert_eq!(work_items(tasks).0.len(), 2);
}

#[test]
fn lists_are_ordered_only_when_the_text_orders_them() {
    assert!(!work_items("1. Parser\n2. Lexer\n3. Checker\n").1, "an enumeration");
    assert!(work_items("Steps:\n1. Extract the module\n2. Move it\n").1);
    assert!(work_items("1. Add the schema\n2. Then migrate the data\n").1);
    let either = "We should then either:\n\n1. fix the issue\n2. pin pytest back until it is fixed\n";
    assert_eq!(work_items(either), (Vec::new(), false), "alternatives are not steps");
}

#[test]
fn an_item_keeps_the_line_it_wraps_onto_and_a_pull_request_task_stays() {
    let body = "- [ ] Move the parser to the new library and keep\n  its error messages as they are\n- [ ] Remove the old library\n\nA paragraph after.\n";
    assert_eq!(
        work_items(body).0,
        ["Move the parser to the new library and keep its error messages as they are", "Remove the old library"]
    );
    let body = "- [ ] https://github.com/org/repo/pull/12\n- [ ] Write the migration guide\n";
    assert_eq!(
        work_items(body).0,
        ["Finish pull request https://github.com/org/repo/pull/12", "Write the migration guide"]
    );
    // An unindented line after a list is prose, not the item's.
    let body = "1. Add the flag\nThanks!\n2. Document it\n";
    assert_eq!(work_items(body).0, ["Add the flag", "Document it"]);
}

#[test]
fn placeholders_link_only_bullets_facts_and_constraints_are_no_work() {
    // An empty bug template: its placeholders and unanswered questions.
    let body = "### Steps to Reproduce\n\n1.\n2.\n\n### Basic Information\n\n- Version with issue:\n- Platform you use:\n\n**Desktop (please complete the following information):**\n - OS: [e.g. iOS]\n - Browser [e.g. chrome, safari]\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    // Reading given as links.
    let body = "- [Porting Python 2 code to Python 3](https://docs.python.org/3/howto/pyporting.html)\n- [Porting with 2to3](http://example.org/2to3.html)\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    // A fact about the code beside the work.
    let body = "- replace every use of moment with date-fns\n- uninstall moment from the packages\n- date-fns is already installed\n";
    assert_eq!(work_items(body).0, ["replace every use of moment with date-fns", "uninstall moment from the packages"]);
    // A constraint on the work beside it is no agent of its own.
    let body = "- reproduce the Travis steps in GitHub Actions\n- add a badge to the README\n- CI must still run when a pull request is opened\n";
    assert_eq!(work_items(body).0, ["reproduce the Travis steps in GitHub Actions", "add a badge to the README"]);
}

#[test]
fn steps_in_a_code_block_and_a_trackers_instructions_are_no_work() {
    // "Example:" inside a code block is no heading that ends the steps' section.
    let body = "### Steps to Reproduce\n\n```\nExample:\n1. Log in\n2. Tap the left drawer\n```\n### Actual and Expected Result\n\nIt crashes.\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    let body = "### Sub-Issues ###\n- [ ] *Add a checkbox for each sub-issue here.*\n\n### Assignee ###\n- [ ] Select **engineer(s)** or **no engineer** required\n\n### Labels ###\n- [ ] Select **priority**\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
}

#[test]
fn a_list_of_states_the_result_is_in_is_no_work() {
    let body = "The release process should say:\n- Every issue aimed at the release is on the board\n- At each stage, the board has no ticket in the wrong state\n- At the end, no issue is left open in the milestone\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    let body = "- Add the board to the release process\n- Check the milestone at each stage\n";
    assert_eq!(work_items(body).0.len(), 2);
}

#[test]
fn sentences_set_out_as_bullets_are_no_work() {
    let body = "It brings a lot:\n\n- .NET 6 is much faster than .NET Framework, and can bundle the runtime with the app\n- Migrating prepares the project for modern platforms, native Windows Arm64 among them\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    let body = "- Add tracing to the Python services, using the existing Flask and SQLAlchemy integrations\n- Add tracing to the Java services\n";
    assert_eq!(work_items(body).0.len(), 2);
}

#[test]
fn the_reasons_for_the_work_are_no_work() {
    let body = "## Goal\n\nLive updates.\n\n## Why Now?\n\n1. **Stale data**: the UI needs a refresh\n2. **Performance**: polling wastes bandwidth\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
}

#[test]
fn use_cases_examples_and_template_blanks_are_no_work() {
    let body = "### Use Cases\n- Track who approved content\n- Investigate unauthorized changes\n\n### Technical Considerations\n- Audit_logs table\n- Trigger-based or application-level logging\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    let body = "A page listing every action, including:\n1. Logging in\n2. Approving a failure mode\n3. Changing permissions\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
    let body = "### Code Changes Required:\n1. **Primary issue location**: [Identify the file(s) where the leak occurs]\n2. **Secondary issue locations**: [List related files]\n";
    assert_eq!(work_items(body).0, Vec::<String>::new());
}
