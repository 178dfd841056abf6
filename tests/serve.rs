//! `plan serve`: the JSON API and its live events, decisions and their guards, the
//! page in a real browser (headless Chromium), and GitHub webhooks feeding a
//! durable queue.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::serve_support::{first_event, http, http_as, Served};
use crate::support::{run_in, Test};

const GATE: &str = r#"version: 1
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

fn start_gated(t: &Test, id: &str) {
    run_in(t.dir.path(), &["run", "plan.yaml", "--background", "--run-id", id], &[]).code(0);
}

fn waiting(v: &serde_json::Value) -> bool {
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
    let s = Served::start(t.dir.path(), &[], &[]);
    s.until("/api/runs/seen", waiting);
    let shot = t.path("page.png");
    let script = crate::support::repo().join("tests/browser.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args([&format!("http://{}", s.addr), "seen", "ok", "deploy", shot.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();
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

const SECRET: &str = "webhook-s3cret";

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends a webhook as GitHub does: signed, under a delivery id of its own.
fn hook(s: &Served, event: &str, body: &str, signature: Option<&str>) -> (u16, String) {
    static DELIVERIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = DELIVERIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    hook_as(
        s,
        event,
        body,
        signature,
        &format!("72d3162e-cc78-11e3-81ab-{:012x}", (u64::from(std::process::id()) << 20) + n),
    )
}

fn hook_as(s: &Served, event: &str, body: &str, signature: Option<&str>, delivery: &str) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/json"), ("X-GitHub-Event", event)];
    let good = sign(body);
    headers.push(("X-Hub-Signature-256", signature.unwrap_or(&good)));
    headers.push(("X-GitHub-Delivery", delivery));
    http(&s.addr, "POST", "/webhooks/github", &headers, body)
}

/// An `issues` event shaped like GitHub's.
fn labeled(number: u64, title: &str, label: &str) -> String {
    issue_event("labeled", "org/repo", number, title, label, "alice")
}

fn issue_event(action: &str, repo: &str, number: u64, title: &str, label: &str, sender: &str) -> String {
    serde_json::json!({
        "action": action,
        "label": { "name": label },
        "issue": { "number": number, "title": title, "body": "Add a greeting to the README.", "labels": [{ "name": label }],
                   "html_url": format!("https://github.com/{repo}/issues/{number}"), "state": "open" },
        "repository": { "full_name": repo },
        "sender": { "login": sender }
    })
    .to_string()
}

fn comment(number: u64, user: &str, body: &str) -> String {
    serde_json::json!({
        "action": "created",
        "issue": { "number": number, "title": "t" },
        "comment": { "body": body, "user": { "login": user } },
        "repository": { "full_name": "org/repo" }
    })
    .to_string()
}

async fn permissions() -> MockServer {
    let server = MockServer::start().await;
    for (user, permission) in [("alice", "write"), ("mallory", "read")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/org/repo/collaborators/{user}/permission")))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "permission": permission })))
            .mount(&server)
            .await;
    }
    server
}

fn queue(s: &Served) -> Vec<serde_json::Value> {
    s.get_json("/api/queue").as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_queue_runs_durably_and_comments_decide_gates() {
    let api = permissions().await;
    let t = Test::new().file("plans/issue-42.yaml", GATE).file(
        "plans/issue-43.yaml",
        "version: 1\nname: quick\ncomplexity: simple\nagent: { id: quick, run: \"echo quick > quick.txt\" }\n",
    );
    let env = [("PLAN_WEBHOOK_SECRET", SECRET), ("GITHUB_API_URL", &api.uri()), ("GITHUB_TOKEN", "ghp_test")];
    let args = ["--max-runs", "1", "--repo", "org/repo"];
    tokio::task::block_in_place(|| {
        let s = Served::start(t.dir.path(), &args, &env);
        // Badly signed and unsigned payloads do nothing.
        let body = labeled(42, "Ship it", "plan");
        assert_eq!(hook(&s, "issues", &body, Some("sha256=00")).0, 401);
        assert_eq!(hook(&s, "issues", &body, Some("")).0, 401);
        assert!(queue(&s).is_empty());
        // Another label is ignored; the `plan` label queues the issue's run.
        assert_eq!(hook(&s, "issues", &labeled(42, "Ship it", "bug"), None).0, 200);
        assert!(queue(&s).is_empty());
        let (status, answer) = hook(&s, "issues", &body, None);
        assert_eq!(status, 202, "{answer}");
        let first: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let r42 = first["queued"]["run_id"].as_str().unwrap().to_string();
        assert_eq!(hook(&s, "issues", &body, None).0, 200, "a redelivery queues nothing more");
        s.until(&format!("/api/runs/{r42}"), waiting);
        // One run at a time: issue 43 waits in the queue, also across a restart.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(hook(&s, "issues", &labeled(43, "Quick", "plan"), None).0, 202);
        std::thread::sleep(Duration::from_millis(1500));
        let states: Vec<String> = queue(&s).iter().map(|i| i["state"].as_str().unwrap().to_string()).collect();
        assert_eq!(states, ["started", "queued"]);
        s.kill();

        let s = Served::start(t.dir.path(), &args, &env);
        std::thread::sleep(Duration::from_millis(1500));
        let states: Vec<String> = queue(&s).iter().map(|i| i["state"].as_str().unwrap().to_string()).collect();
        assert_eq!(states, ["started", "queued"], "the queue outlived the server");
        // Only someone who may write decides.
        let (status, answer) = hook(&s, "issue_comment", &comment(42, "mallory", "/approve"), None);
        assert_eq!(status, 403, "{answer}");
        assert!(waiting(&s.get_json(&format!("/api/runs/{r42}"))));
        assert_eq!(hook(&s, "issue_comment", &comment(42, "alice", "/reject"), None).0, 422, "a reason is needed");
        let (status, answer) = hook(&s, "issue_comment", &comment(42, "alice", "/approve looks good"), None);
        assert_eq!(status, 200, "{answer}");
        let run = s.until(&format!("/api/runs/{r42}"), |v| v["run"]["state"] == "succeeded");
        assert_eq!(run["run"]["state"], "succeeded", "{run}");
        let decision = s.get_json(&format!("/api/runs/{r42}/nodes/ok"))["decision"].clone();
        assert_eq!(
            (decision["by"].as_str(), decision["comment"].as_str()),
            (Some("alice (GitHub)"), Some("looks good"))
        );
        // Then issue 43 runs.
        let items = s.until("/api/queue", |q| q.as_array().is_some_and(|a| a.iter().all(|i| i["state"] == "finished")));
        let outcomes: Vec<&str> =
            items.as_array().unwrap().iter().map(|i| i["outcome"].as_str().unwrap_or("")).collect();
        assert_eq!(outcomes, ["succeeded", "succeeded"], "{items}\n{}", s.said());
        assert!(t.path("quick.txt").exists());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_issue_without_a_plan_gets_one() {
    let api = permissions().await;
    let t = Test::new().file("bin/claude", "#!/bin/sh\necho 'no model here' >&2\nexit 3\n");
    std::fs::set_permissions(t.path("bin/claude"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", t.path("bin").display(), std::env::var("PATH").unwrap_or_default());
    let env = [("PLAN_WEBHOOK_SECRET", SECRET), ("PATH", &path), ("GITHUB_API_URL", &api.uri())];
    tokio::task::block_in_place(|| labelled_issue_without_a_plan(&t, &env));
}

fn labelled_issue_without_a_plan(t: &Test, env: &[(&str, &str)]) {
    let s = Served::start(t.dir.path(), &["--repo", "org/repo"], env);
    let (status, answer) = hook(&s, "issues", &labeled(7, "Add a greeting", "plan"), None);
    assert_eq!(status, 202, "{answer}");
    let plan = std::fs::read_to_string(t.path("plans/issue-7.yaml")).unwrap();
    assert!(plan.contains("Add a greeting") && plan.contains("repo: org/repo"), "{plan}");
    // The run started (its stand-in agent fails and waits to retry): stop it.
    let items = s.until("/api/queue", |q| q[0]["state"] == "started");
    let id = items[0]["run_id"].as_str().unwrap().to_string();
    let run = s.until(&format!("/api/runs/{id}"), |v| v["run"]["nodes"]["implement"]["attempt"] == 1);
    assert_eq!(run["run"]["plan"].as_str().map(|p| p.ends_with("plans/issue-7.yaml")), Some(true), "{run}");
    assert_eq!(s.post_json(&format!("/api/runs/{id}/stop"), "{}").0, 200);
    let items = s.until("/api/queue", |q| q[0]["state"] == "finished");
    assert_eq!(items[0]["outcome"], "interrupted", "{items}");
    let (status, _) = hook(&s, "ping", "{}", None);
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_writes_the_plans_of_labelled_issues() {
    let api = permissions().await;
    let plan = "version: 1\nname: greet\ncomplexity: simple\nagent: { id: greet, run: \"echo hi > hi.txt\" }\n";
    let t = Test::new().file("planner.sh", &format!("cat > request.txt\nprintf '%s' '{plan}'\n"));
    let env = [("PLAN_WEBHOOK_SECRET", SECRET), ("GITHUB_API_URL", &api.uri())];
    tokio::task::block_in_place(|| planner_writes_plans(&t, &env));
}

fn planner_writes_plans(t: &Test, env: &[(&str, &str)]) {
    let args = ["--planner", "sh planner.sh", "--repo", "org/repo"];
    let s = Served::start(t.dir.path(), &args, env);
    let (status, answer) = hook(&s, "issues", &labeled(8, "Say hi", "plan"), None);
    assert_eq!(status, 202, "{answer}");
    let written = std::fs::read_to_string(t.path("plans/issue-8.yaml")).unwrap();
    assert!(written.starts_with("# Written by the planner `sh planner.sh` in 1 round(s)"), "{written}");
    assert!(std::fs::read_to_string(t.path("request.txt")).unwrap().contains("\"title\": \"Say hi\""));
    let items = s.until("/api/queue", |q| q[0]["state"] == "finished");
    assert_eq!(items[0]["outcome"], "succeeded", "{items}");
    assert!(t.path("hi.txt").exists());
}

/// A plan that leaves a canary file when it runs: what an attack would run.
const CANARY: &str =
    "version: 1\nname: canary\ncomplexity: simple\nagent: { id: canary, run: \"echo ran >> canary.txt\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_act_once_for_their_repository_and_writers_only() {
    let api = permissions().await;
    let t = Test::new().file("plans/issue-21.yaml", CANARY).file("plans/issue-22.yaml", CANARY);
    let env = [("PLAN_WEBHOOK_SECRET", SECRET), ("GITHUB_API_URL", &api.uri()), ("GITHUB_TOKEN", "ghp_test")];
    tokio::task::block_in_place(|| {
        let s = Served::start(t.dir.path(), &["--repo", "org/repo"], &env);
        // Another repository's webhook, signed with the secret, is refused: issue 21 of
        // `mallory/sandbox` never runs `org/repo`'s plan for issue 21.
        let foreign = issue_event("labeled", "mallory/sandbox", 21, "Pwn", "plan", "mallory");
        let (status, answer) = hook(&s, "issues", &foreign, None);
        assert_eq!(status, 403, "{answer}");
        assert!(answer.contains("mallory/sandbox is not a repository this server serves"), "{answer}");
        // A label set by someone who cannot write (an issue template's label, say), or
        // a reopen by the issue's author, starts nothing.
        for action in ["labeled", "opened", "reopened"] {
            let (status, answer) =
                hook(&s, "issues", &issue_event(action, "org/repo", 21, "Pwn", "plan", "mallory"), None);
            assert_eq!(status, 403, "{action}: {answer}");
            assert!(answer.contains("mallory has no write access"), "{answer}");
        }
        assert!(queue(&s).is_empty(), "nothing queued");
        // A writer's label runs it once.
        let body = labeled(21, "Fix", "plan");
        assert_eq!(hook(&s, "issues", &body, None).0, 202);
        s.until("/api/queue", |q| q[0]["state"] == "finished");
        assert_eq!(std::fs::read_to_string(t.path("canary.txt")).unwrap(), "ran\n", "the run ran once");
        // The same delivery replayed after its run finished — under its own id, or
        // under a new one (the signature covers only the body) — does nothing.
        let (status, answer) = hook_as(&s, "issues", &body, None, "replayed-0001");
        assert_eq!((status, answer.contains("duplicate")), (200, true), "{answer}");
        let (status, answer) = hook(&s, "issues", &body, None);
        assert_eq!((status, answer.contains("duplicate")), (200, true), "{answer}");
        // `opened` and `labeled` delivered at once queue one run.
        let opened = issue_event("opened", "org/repo", 22, "Both", "plan", "alice");
        let labelled = labeled(22, "Both", "plan");
        let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
            let a = scope.spawn(|| hook(&s, "issues", &opened, None));
            let b = scope.spawn(|| hook(&s, "issues", &labelled, None));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        let queued = answers.iter().filter(|(status, _)| *status == 202).count();
        assert_eq!(queued, 1, "{answers:?}");
        let items = s.until("/api/queue", |q| q.as_array().is_some_and(|a| a.iter().all(|i| i["state"] == "finished")));
        assert_eq!(items.as_array().unwrap().len(), 2, "{items}");
        assert_eq!(std::fs::read_to_string(t.path("canary.txt")).unwrap(), "ran\nran\n", "issue 22 ran once");
    });
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
