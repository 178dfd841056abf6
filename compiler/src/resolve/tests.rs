use super::*;

fn plan(yaml: &str) -> Plan {
    serde_yaml::from_str(yaml).unwrap()
}

const BASE: &str = "version: 1\nname: t\ncomplexity: simple\n";

#[test]
fn defaults_are_applied_once_here() {
    let p = plan(&format!(
        "{BASE}defaults: {{ runner: claude, timeout: 5m, workspace: worktree, pass_env: [DB_TOKEN], retry: {{ \
         attempts: 3 }} }}\nbudget: {{ turns: 7 }}\nagent: {{ id: a, prompt: hi, timeout: 1m }}\n"
    ));
    let s = step(&p, &p.agent).unwrap();
    assert!(matches!(s.work, Work::Coding(CodingAgent { cli: AgentCli::Claude, runner: "claude", entry: None })));
    assert_eq!(s.timeout, Some(Duration::from_millis(60_000)));
    assert_eq!(s.workspace, Workspace::Worktree);
    assert_eq!(s.retry.map(|r| r.attempts), Some(3));
    assert_eq!(s.turns, 7);
    // The model gateway holds the model key: it is not passed to the agent.
    assert!(s.gateway && s.env.pass == ["DB_TOKEN"], "{:?}", s.env.pass);
    let mut off = p.clone();
    off.defaults.as_mut().unwrap().gateway = Some(false);
    let s = step(&off, &off.agent).unwrap();
    assert!(!s.gateway && s.env.pass.contains(&"ANTHROPIC_API_KEY"), "{:?}", s.env.pass);
}

#[test]
fn a_gate_is_never_retried_and_its_arguments_are_typed() {
    let p = plan(&format!(
        "{BASE}defaults: {{ retry: {{ attempts: 3 }} }}\nagent: {{ id: g, uses: approval, with: {{ message: \
         ok?, timeout: 2h, on_timeout: approve }} }}\n"
    ));
    let s = step(&p, &p.agent).unwrap();
    assert!(s.retry.is_none());
    let Work::Action(Action::Approval { message, timeout, approve_on_timeout }) = s.work else { panic!() };
    assert_eq!((message, timeout, approve_on_timeout), ("ok?", Some(Duration::from_millis(7_200_000)), true));
}

#[test]
fn problems_name_what_is_wrong() {
    let cases = [
        ("agent: { id: a, prompt: hi }", Problem::NoRunner),
        (
            "defaults: { runner: cluade }\nagent: { id: a, prompt: hi }",
            Problem::UnknownRunner { name: "cluade".into(), from_defaults: true },
        ),
        (
            "runners: { mine: { model: x } }\nagent: { id: a, prompt: hi, runner: mine }",
            Problem::RunnerWithoutCommand { name: "mine".into() },
        ),
        ("agent: { id: a, uses: slep }", Problem::UnknownAction { name: "slep".into() }),
        ("agent: { id: a, uses: github.pr }", Problem::MissingArguments { action: "github.pr", args: vec!["title"] }),
        (
            "agent: { id: a, uses: sleep, with: { duration: soon } }",
            Problem::InvalidArgument { action: "sleep", arg: "duration", expected: "a duration (500ms, 30s, 5m, 1h)" },
        ),
    ];
    for (yaml, want) in cases {
        let p = plan(&format!("{BASE}{yaml}\n"));
        assert_eq!(step(&p, &p.agent).unwrap_err(), want, "{yaml}");
    }
}

#[test]
fn a_runner_entry_layers_its_environment_and_may_name_a_cli() {
    let p = plan(&format!(
        "{BASE}defaults: {{ env: {{ A: d, B: d }} }}\nrunners: {{ cheap: {{ cli: codex, env: {{ B: r }}, \
         pass_env: [X_TOKEN] }}, own: {{ command: [my-llm] }} }}\nagent: {{ id: a, prompt: hi, runner: cheap, \
         env: {{ C: a }} }}\n"
    ));
    let s = step(&p, &p.agent).unwrap();
    assert!(matches!(s.work, Work::Coding(CodingAgent { cli: AgentCli::Codex, runner: "cheap", entry: Some(_) })));
    let keys = |m: Option<&IndexMap<String, String>>| m.map(|m| m.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(s.env.defaults), Some(vec!["A".to_string(), "B".to_string()]));
    assert_eq!(s.env.runner.map(|m| m["B"].as_str()), Some("r"));
    assert_eq!(keys(s.env.agent), Some(vec!["C".to_string()]));
    assert!(s.env.pass.contains(&"X_TOKEN") && !s.env.pass.contains(&"OPENAI_API_KEY"));
    // A runner of its own command is not driven through the gateway.
    let mut own = p.clone();
    own.runners.get_mut("cheap").unwrap().command = Some(plan_schema::Command::Argv(vec!["my-codex".into()]));
    let s = step(&own, &own.agent).unwrap();
    assert!(!s.gateway && s.env.pass.contains(&"OPENAI_API_KEY"));
    let mut p2 = p.clone();
    p2.agent.runner = Some("own".into());
    assert!(matches!(step(&p2, &p2.agent).unwrap().work, Work::Runner { name: "own", .. }));
}
