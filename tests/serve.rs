//! `plan serve`: the JSON API and its live events, decisions and their guards, the
//! page in a real browser (headless Chromium), and what it does against a hostile
//! page or client (another `Host`, big outputs, slow and greedy connections). Its
//! webhooks are in `webhooks.rs`.

use std::time::Duration;

use crate::serve_support::{first_event, http, http_as, Served};
use crate::support::{run_in, Test};

pub(crate) const GATE: &str = r#"version: 1
name: gate
complexity: simple
agent:
  id: release
  pattern: pipeline
  agents:
    - { id: build, run: "echo built" }
    - { id: ok, uses: approval, with: { message: "Ship {{ outputs.build }}?" } }
    - { id: deploy, run: "echo deployed > deployed.txt" }
"#;

/// The token of a server started with `--token`.
const TOKEN: &str = "t0ken-for-the-tests-0123";

pub(crate) fn start_gated(t: &Test, id: &str) {
    run_in(t.dir.path(), &["run", "plan.yaml", "--background", "--run-id", id], &[]).code(0);
}

pub(crate) fn waiting(v: &serde_json::Value) -> bool {
    v["run"]["nodes"]["ok"]["state"] == "waiting"
}

#[test]
fn the_api_shows_runs_live_and_decides_gates() {
    let t = Test::new().file("plan.yaml", GATE);
    start_gated(&t, "r1");
    let s = Served::start(t.dir.path(), &[], &[]);
    let run = s.until("/api/runs/r1", waiting);
    assert!(waiting(&run), "{run}");
    let ids: Vec<&str> = run["graph"]["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["build", "ok", "deploy"]);
    assert_eq!(run["graph"]["edges"], serde_json::json!([[0, 1], [1, 2]]));
    let list = s.get_json("/api/runs");
    assert_eq!((list[0]["run_id"].as_str(), list[0]["state"].as_str()), (Some("r1"), Some("waiting")), "{list}");
    let (event, data) = first_event(&s.addr, "/api/runs/r1/events");
    assert_eq!(event, "state");
    assert!(data.contains(r#""state":"waiting""#), "{data}");
    let gate = s.get_json("/api/runs/r1/nodes/ok");
    assert_eq!(gate["request"]["message"], "Ship built?");

    // Guards: a form post, a foreign page, a rejection without reason, a path out.
    let approve = "/api/runs/r1/nodes/ok/approve";
    assert_eq!(http(&s.addr, "POST", approve, &[("Content-Type", "text/plain")], "{}").0, 415);
    let foreign = [("Content-Type", "application/json"), ("Origin", "http://evil.example")];
    assert_eq!(http(&s.addr, "POST", approve, &foreign, "{}").0, 403);
    assert_eq!(s.post_json("/api/runs/r1/nodes/ok/reject", "{}").0, 400);
    assert_eq!(s.get("/api/runs/r1/nodes/..%2Fjournal").0, 400);
    assert_eq!(s.get("/api/runs/nope").0, 404);
    let huge = format!(r#"{{"text": "{}"}}"#, "x".repeat(2 << 20));
    assert_eq!(s.post_json(approve, &huge).0, 413, "bodies over 1 MB are refused");
    assert_eq!(s.get_json("/api/runs/r1/nodes/ok")["decision"], serde_json::Value::Null, "nothing was decided");

    let (status, body) = s.post_json(approve, r#"{"text": "ship it"}"#);
    assert_eq!(status, 200, "{body}");
    let done = s.until("/api/runs/r1", |v| v["run"]["state"] == "succeeded");
    assert_eq!(done["run"]["state"], "succeeded", "{done}");
    assert!(t.path("deployed.txt").exists());
    assert_eq!(s.post_json(approve, "{}").0, 409, "decided already");
    let decision = s.get_json("/api/runs/r1/nodes/ok")["decision"].clone();
    assert_eq!(decision["comment"], "ship it");
    assert!(decision["by"].as_str().unwrap().ends_with("(web)"), "{decision}");
}

#[test]
fn stop_from_the_api_interrupts_the_run() {
    let t = Test::new()
        .file("plan.yaml", "version: 1\nname: slow\ncomplexity: simple\nagent: { id: slow, run: \"sleep 30\" }\n");
    run_in(t.dir.path(), &["run", "plan.yaml", "--background", "--run-id", "slow"], &[]).code(0);
    let s = Served::start(t.dir.path(), &[], &[]);
    s.until("/api/runs/slow", |v| v["run"]["nodes"]["slow"]["state"] == "running");
    let (status, body) = s.post_json("/api/runs/slow/stop", "{}");
    assert_eq!(status, 200, "{body}");
    let run = s.until("/api/runs/slow", |v| v["run"]["state"] == "interrupted");
    assert_eq!(run["run"]["state"], "interrupted", "{run}");
}

#[test]
fn the_page_shows_a_run_live_and_approves_in_a_browser() {
    assert!(
        std::process::Command::new("chromedriver").arg("--version").output().is_ok(),
        "this test needs Debian's chromium and chromium-driver (.ci/run installs them)"
    );
    let t = Test::new().file("plan.yaml", GATE);
    start_gated(&t, "seen");
    // With a token: the page asks for it, and sends it on every request and stream.
    let s = Served::start(t.dir.path(), &["--token", TOKEN], &[]);
    s.until("/api/runs/seen", waiting);
    let shot = t.path("page.png");
    let script = crate::support::repo().join("tests/browser.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([&format!("http://{}", s.addr), "seen", "ok", "deploy", shot.to_str().unwrap(), TOKEN])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(seen["asked"], "This server wants its token");
    assert_eq!(seen["list"], "waiting", "the run list shows the run");
    assert_eq!(seen["before"], serde_json::json!({"build": "succeeded", "ok": "waiting", "deploy": "pending"}));
    assert_eq!(seen["gate_message"], "Ship built?");
    assert_eq!(seen["after"], serde_json::json!({"build": "succeeded", "ok": "succeeded", "deploy": "succeeded"}));
    assert_eq!(seen["reloaded"], false, "the page changed without a reload");
    // Painted as a browser shows them: waiting blue, pending white, succeeded green.
    assert_eq!(seen["before_fill"]["ok"], "rgb(158, 203, 255)");
    assert_eq!(seen["before_fill"]["deploy"], "rgb(255, 255, 255)");
    assert_eq!(seen["after_fill"]["deploy"], "rgb(183, 228, 199)");
    assert!(seen["screenshot_colours"].as_u64().unwrap() > 32, "the screenshot is not blank: {seen}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    assert!(t.path("deployed.txt").exists());
}

#[test]
fn a_page_of_another_host_is_refused_and_big_outputs_are_capped() {
    let big = "version: 1\nname: big\ncomplexity: simple\nagent: { id: big, run: \"head -c 1000000 /dev/zero | tr '\\\\0' x\" }\n";
    let t = Test::new().file("plan.yaml", GATE).file("big.yaml", big);
    start_gated(&t, "r1");
    run_in(t.dir.path(), &["run", "big.yaml", "--run-id", "big", "-q"], &[]).code(0);
    let s = Served::start(t.dir.path(), &[], &[]);
    s.until("/api/runs/r1", waiting);
    // DNS rebinding: a page at evil.example whose name now points here.
    let rebound = [("Content-Type", "application/json"), ("Origin", "http://evil.example:7070")];
    for (method, path) in [
        ("GET", "/api/runs"),
        ("GET", "/api/runs/r1"),
        ("POST", "/api/runs/r1/nodes/ok/approve"),
        ("POST", "/api/runs/r1/stop"),
    ] {
        let (status, answer) = http_as(&s.addr, "evil.example:7070", method, path, &rebound, "{}");
        assert_eq!(status, 421, "{method} {path}: {answer}");
        assert!(answer.contains("--allowed-host evil.example"), "{answer}");
    }
    let run = s.get_json("/api/runs/r1");
    assert!(waiting(&run), "the gate still waits: {run}");
    assert_eq!(http_as(&s.addr, "localhost:1", "GET", "/api/runs", &[], "").0, 200);
    // A big output comes back cut, saying how big it is.
    let node = s.get_json("/api/runs/big/nodes/big");
    assert_eq!(node["output_bytes"], 1_000_002, "{}", node["output_bytes"]);
    let text = node["output"].as_str().unwrap();
    assert!(text.len() < 300_000 && text.ends_with("bytes in all: the whole output is in the run directory)"));
}

#[test]
fn slow_and_greedy_clients_do_not_take_the_server_down() {
    use std::io::{Read, Write};
    use std::time::Instant;
    let t = Test::new().file("plan.yaml", GATE);
    start_gated(&t, "r1");
    let s = Served::start(t.dir.path(), &[], &[]);
    s.until("/api/runs/r1", waiting);
    // 300 requests whose headers never end (slowloris), and 80 event streams held
    // open, more than the 64 the server serves at once.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
        c.write_all(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").unwrap();
        slow.push(c);
    }
    let mut streams = Vec::new();
    for _ in 0..80 {
        let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
        c.write_all(format!("GET /api/runs/r1/events HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes()).unwrap();
        streams.push(c);
    }
    // The attack holds its connections: a slow request is still open, unanswered.
    slow[0].set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut byte = [0u8; 1];
    let held = slow[0].read(&mut byte);
    assert!(held.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "{held:?}");
    // Yet the server answers at once.
    let started = Instant::now();
    let (status, answer) = http(&s.addr, "GET", "/api/runs", &[], "");
    assert_eq!(status, 200, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    // The streams past the cap were answered 503 and closed, not held.
    let mut refused = 0;
    for c in &mut streams {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).unwrap();
        if &head == b"HTTP/1.1 503" {
            // Answered, then closed: the rest of the answer, then the end.
            let mut rest = Vec::new();
            assert!(c.read_to_end(&mut rest).is_ok(), "a refused stream's connection is closed");
            refused += 1;
        }
    }
    assert_eq!(refused, 80 - 64, "the streams over the cap are closed");
    // Past the header deadline (10 s) the slow requests are closed too.
    std::thread::sleep(Duration::from_secs(11));
    let mut closed = 0;
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        match c.read(&mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            _ => closed += 1,
        }
    }
    assert_eq!(closed, 300, "every slow request was closed at its deadline");
}

#[test]
fn beyond_loopback_the_api_wants_a_token_in_a_header() {
    let t = Test::new().file("plan.yaml", GATE);
    // Listening on every address with no token: refused, saying what to do.
    let run = run_in(t.dir.path(), &["serve", "--port", "0", "--bind", "0.0.0.0"], &[]);
    run.code(2);
    assert!(run.stderr.contains("give --token TOKEN (or PLAN_SERVE_TOKEN), or bind 127.0.0.1"), "{}", run.stderr);
    let short = run_in(t.dir.path(), &["serve", "--port", "0", "--bind", "0.0.0.0", "--token", "abc"], &[]);
    assert!(short.stderr.contains("at least 16 characters"), "{}", short.stderr);
    start_gated(&t, "r1");
    let s = Served::start(t.dir.path(), &["--bind", "0.0.0.0", "--token", TOKEN], &[]);
    let addr = s.addr.replace("0.0.0.0", "127.0.0.1");
    let bearer = format!("Bearer {TOKEN}");
    // The API answers only with the token, in the header: not without it, not with
    // another, not in the URL.
    assert_eq!(http(&addr, "GET", "/api/runs", &[("Authorization", &bearer)], "").0, 200);
    for (path, headers) in [
        ("/api/runs", vec![]),
        ("/api/runs", vec![("Authorization", "Bearer t0ken-for-the-tests-0124")]),
        ("/api/runs?token=t0ken-for-the-tests-0123", vec![]),
        ("/api/runs/r1/events", vec![]),
    ] {
        let (status, body) = http(&addr, "GET", path, &headers, "");
        assert_eq!(status, 401, "{path} {headers:?}: {body}");
    }
    let decide = [("Content-Type", "application/json"), ("Origin", "http://127.0.0.1")];
    assert_eq!(http(&addr, "POST", "/api/runs/r1/nodes/ok/approve", &decide, "{}").0, 401);
    // The page itself holds no data: it loads, and asks for the token.
    let (status, page) = http(&addr, "GET", "/", &[], "");
    assert_eq!((status, page.contains("/assets/app.js")), (200, true));
    assert!(http(&addr, "GET", "/assets/app.js", &[], "").1.contains("wants its token"));
}

#[test]
fn the_page_marks_agents_beyond_the_default_sandbox() {
    let plan = "version: 1\nname: b\ncomplexity: moderate\nagent:\n  id: p\n  pattern: fork-join\n  agents:\n    \
                - { id: open, sandbox: false, run: \"true\" }\n    - { id: gh, network: [api.github.com], run: \"true\" }\n";
    let t = Test::new().file("b.yaml", plan);
    run_in(t.dir.path(), &["run", "b.yaml", "--run-id", "b", "-q"], &[]).code(0);
    let s = Served::start(t.dir.path(), &[], &[]);
    let graph = s.get_json("/api/runs/b")["graph"]["nodes"].clone();
    let mark = |id: &str| graph.as_array().unwrap().iter().find(|n| n["id"] == id).map(|n| n["boundary"].clone());
    assert_eq!(mark("open"), Some(serde_json::json!("no sandbox")), "{graph}");
    assert_eq!(mark("gh"), Some(serde_json::json!("net: api.github.com")), "{graph}");
    assert_eq!(graph.as_array().unwrap().len(), 2, "{graph}");
}
