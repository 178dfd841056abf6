//! `plan serve`'s GitHub webhooks: signed deliveries feeding a durable queue, comments
//! deciding gates, and what an attacker's deliveries cannot do (another repository,
//! an outsider's label, a replay, two events at once).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::serve::{waiting, GATE};
use crate::serve_support::{http, Served};
use crate::support::Test;

pub(crate) const SECRET: &str = "webhook-s3cret";

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends a webhook as GitHub does: signed, under a delivery id of its own.
pub(crate) fn hook(s: &Served, event: &str, body: &str, signature: Option<&str>) -> (u16, String) {
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

pub(crate) fn hook_as(s: &Served, event: &str, body: &str, signature: Option<&str>, delivery: &str) -> (u16, String) {
    let mut headers = vec![("Content-Type", "application/json"), ("X-GitHub-Event", event)];
    let good = sign(body);
    headers.push(("X-Hub-Signature-256", signature.unwrap_or(&good)));
    headers.push(("X-GitHub-Delivery", delivery));
    http(&s.addr, "POST", "/webhooks/github", &headers, body)
}

/// An `issues` event shaped like GitHub's.
pub(crate) fn labeled(number: u64, title: &str, label: &str) -> String {
    issue_event("labeled", "org/repo", number, title, label, "alice")
}

pub(crate) fn issue_event(action: &str, repo: &str, number: u64, title: &str, label: &str, sender: &str) -> String {
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

pub(crate) fn comment(number: u64, user: &str, body: &str) -> String {
    serde_json::json!({
        "action": "created",
        "issue": { "number": number, "title": "t" },
        "comment": { "body": body, "user": { "login": user } },
        "repository": { "full_name": "org/repo" }
    })
    .to_string()
}

pub(crate) async fn permissions() -> MockServer {
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

pub(crate) fn queue(s: &Served) -> Vec<serde_json::Value> {
    s.get_json("/api/queue").as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_queue_runs_durably_and_comments_decide_gates() {
    let api = permissions().await;
    let t = Test::new().file("plans/issue-42.yaml", GATE).file(
        "plans/issue-43.yaml",
        "version: 1\nname: quick\ncomplexity: simple\nagent: { id: quick, run: \"echo quick > quick.txt\" }\n",
    );
    let t = t.committed();
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
    // A plan that keeps to the default policy: it runs without a person.
    let plan =
        "version: 1\nname: greet\ncomplexity: simple\nagent: { id: greet, uses: sleep, with: { duration: 10ms } }\n";
    let t = Test::new().file("planner.sh", &format!("echo '=== request' >&2; cat >&2\nprintf '%s' '{plan}'\n"));
    let env = [("PLAN_WEBHOOK_SECRET", SECRET), ("GITHUB_API_URL", &api.uri())];
    tokio::task::block_in_place(|| planner_writes_plans(&t, &env));
}

fn planner_writes_plans(t: &Test, env: &[(&str, &str)]) {
    let planner = format!("sh {}", t.path("planner.sh").display());
    let args = ["--planner", &planner, "--repo", "org/repo"];
    let s = Served::start(t.dir.path(), &args, env);
    let (status, answer) = hook(&s, "issues", &labeled(8, "Say hi", "plan"), None);
    assert_eq!(status, 202, "{answer}");
    let written = std::fs::read_to_string(t.path("plans/issue-8.yaml")).unwrap();
    assert!(written.starts_with(&format!("# Written by the planner `{planner}` in 1 round(s)")), "{written}");
    let log = std::fs::read_to_string(t.path(".plan/planner.log")).unwrap();
    assert!(log.contains("=== request") && log.contains("\"title\": \"Say hi\""), "{log}");
    let items = s.until("/api/queue", |q| q[0]["state"] == "finished");
    assert_eq!((items[0]["outcome"].as_str(), items[0]["provenance"].as_str()), (Some("succeeded"), Some("planner")));
    assert!(items[0].get("hold").is_none(), "{items}");
}

/// A plan that leaves a canary file when it runs: what an attack would run.
pub(crate) const CANARY: &str =
    "version: 1\nname: canary\ncomplexity: simple\nagent: { id: canary, run: \"echo ran >> canary.txt\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_act_once_for_their_repository_and_writers_only() {
    let api = permissions().await;
    let t = Test::new().file("plans/issue-21.yaml", CANARY).file("plans/issue-22.yaml", CANARY).committed();
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
