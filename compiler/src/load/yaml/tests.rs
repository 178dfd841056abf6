//! Tests of `yaml.rs`.

use super::*;

fn parse_ok(text: &str) -> Node {
    let (node, problems) = parse(&Source::new("t.yaml", text));
    assert!(problems.is_empty(), "{problems:?}");
    node.unwrap()
}

#[test]
fn positions_are_one_based() {
    let root = parse_ok("name: x\nagent:\n  id: \"a-b\"\n");
    let (id, key) = root.lookup(&pointer_segments("/agent/id"));
    assert_eq!(id.span, Span::new(3, 7, 5));
    assert_eq!(key.unwrap().span, Span::new(3, 3, 2));
    assert_eq!(root.clone().into_json()["agent"]["id"], "a-b");
}

#[test]
fn scalars_resolve_like_yaml_1_2() {
    let root = parse_ok("a: 1\nb: true\nc: ~\nd: 1.5\ne: 1_000\nf: '1'\ng: 0x1f\n");
    assert_eq!(
        root.clone().into_json(),
        serde_json::json!({"a":1,"b":true,"c":null,"d":1.5,"e":"1_000","f":"1","g":31})
    );
}

#[test]
fn duplicate_keys_point_at_the_second() {
    let (_, problems) = parse(&Source::new("t", "a: 1\nb: 2\na: 3\n"));
    assert_eq!(
        problems,
        vec![YamlProblem::DuplicateKey { key: "a".into(), span: Span::new(3, 1, 1), first: Span::new(1, 1, 1) }]
    );
}

#[test]
fn refuses_deep_nesting_and_several_documents() {
    let deep = "[".repeat(10_000);
    let (_, problems) = parse(&Source::new("t", deep));
    assert!(matches!(&problems[0], YamlProblem::TooDeep { .. } | YamlProblem::Syntax { .. }), "{problems:?}");
    let (_, problems) = parse(&Source::new("t", "a: 1\n---\nb: 2\n"));
    assert!(matches!(problems[0], YamlProblem::MultipleDocuments { .. }));
}

#[test]
fn a_tab_is_reported_where_it_is() {
    let source = Source::new("t.yaml", "agent:\n  id: fix\n\trun: echo\n");
    let (_, problems) = parse(&source);
    match &problems[0] {
        YamlProblem::Syntax { span, .. } => assert_eq!((span.start.line, span.start.col), (3, 1)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn merge_keys_add_what_the_mapping_does_not_set() {
    let node = parse_ok("base: &b { a: 1, b: 2 }\nmore: &m { c: 3 }\nx: { <<: [*b, *m], b: 9 }\n");
    let x = node.get("x").unwrap().clone().into_json();
    assert_eq!(x, serde_json::json!({"b": 9, "a": 1, "c": 3}));
}

#[test]
fn alias_bombs_are_stopped() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
            p = i - 1
        ));
    }
    let (_, problems) = parse(&Source::new("t", text));
    assert!(matches!(problems[0], YamlProblem::TooLarge { .. }));
}
