//! The sandbox, played by an agent that tries to get out. Each attempt is made (its
//! own output shows it ran) and each is refused by the kernel: nothing outside the
//! workspace changes, no secret or credential is read, no undeclared host is reached,
//! limits hold (small ones here, so that the suite does not starve the tests beside
//! it: the defaults are 4GiB and 512), and the run records what was blocked. A declared host stays reachable.
//! (Claude Code, Codex and aider edit inside the sandbox: `agents.rs`.)

use crate::git::{git, plan_in, repo};

/// One escape attempt per agent; each prints what it got and succeeds, so that every
/// attempt runs and its result is read from its output. (`--noproxy ''`: loopback
/// names go through the proxy too, as any other host would.)
fn escapes(outside: &str, port: u16) -> String {
    format!(
        r#"version: 1
name: escapes
complexity: complex
agent:
  id: primary
  pattern: fork-join
  agents:
    - {{ id: write-abs, run: "echo pwned > {outside}/abs.txt 2>&1 || echo refused" }}
    - {{ id: write-up, run: "echo pwned > ../up.txt 2>&1 || echo refused" }}
    - {{ id: symlink, run: "ln -s {outside}/link-target.txt link && (echo pwned > link 2>&1 || echo refused); rm -f link" }}
    - {{ id: git-commit, run: "git -c user.name=x -c user.email=x@x commit --allow-empty -qm pwned 2>&1 || echo refused" }}
    - {{ id: git-config, run: "git config core.fsmonitor 'touch {outside}/fsmonitor.txt' 2>&1 || echo refused" }}
    - {{ id: hook, run: "(echo 'touch {outside}/hook.txt' > .git/hooks/pre-commit) 2>&1 || echo refused" }}
    - {{ id: ssh-key, run: "cat $HOME/.ssh/id_rsa 2>&1 || echo refused" }}
    - {{ id: environ, run: "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c canary-secret-value; ls /proc | grep -c '^[0-9]'" }}
    - {{ id: undeclared, run: "curl -s -m 5 --noproxy '' -o /dev/null -w '%{{http_code}}' http://localhost:{port}/other 2>&1; echo; curl -s -m 5 --noproxy '*' http://127.0.0.1:{port}/direct 2>&1 || echo refused" }}
    - {{ id: dns, run: "getent hosts example.com || echo refused" }}
    - {{ id: fork-bomb, resources: {{ pids: 64 }}, run: "python3 -c 'import os\nfor i in range(12):\n  try:\n    if os.fork() == 0: continue\n  except OSError:\n    print(1); break\nwhile True:\n  try: os.wait()\n  except ChildProcessError: break' | grep -c 1" }}
    - {{ id: memory, resources: {{ memory: 256MiB }}, run: "python3 -c 'x = bytearray(1 << 30); x[::4096] = bytes(1 << 18); print(len(x))' 2>&1 || echo refused" }}
    - {{ id: kill-all, run: "kill -9 -1 2>&1; echo tried" }}
    - {{ id: declared, network: ["localhost:{port}"], run: "curl -s -m 5 --noproxy '' http://localhost:{port}/ok" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_get_out_of_its_sandbox() {
    let web = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/ok"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("reachable"))
        .mount(&web)
        .await;
    let port = web.address().port();
    tokio::task::block_in_place(|| {
        let t = repo("");
        let outside = t.dir.path().canonicalize().unwrap();
        let home = outside.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_rsa"), "-----BEGIN FAKE KEY-----\n").unwrap();
        let work = t.path("work");
        std::fs::write(work.join("plan.yaml"), escapes(&outside.display().to_string(), port)).unwrap();
        let env = [("HOME", home.to_str().unwrap()), ("GITHUB_TOKEN", "canary-secret-value")];
        let run = crate::support::run_in(&work, &["run", "plan.yaml", "--json", "--concurrency", "4"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = run.json();
        assert_eq!(report["implementation_summary"]["sandbox"], "on", "{report}");
        let dir = work.join(".plan/runs").join(report["run_id"].as_str().unwrap());
        let out = |id: &str| std::fs::read_to_string(dir.join(format!("outputs/{id}.json"))).unwrap_or_default();
        for id in ["write-abs", "write-up", "symlink", "git-commit", "git-config", "hook", "dns", "memory"] {
            assert!(out(id).contains("refused"), "{id}: {}", out(id));
        }
        assert!(out("ssh-key").contains("No such file") || out("ssh-key").contains("refused"), "{}", out("ssh-key"));
        // No process outside the sandbox is visible, and no secret it withholds.
        let environ = out("environ");
        let counts: Vec<u32> = environ.trim_matches('"').split("\\n").filter_map(|l| l.parse().ok()).collect();
        assert_eq!(counts.first(), Some(&0), "a secret was read: {environ}");
        assert!(counts.get(1).is_some_and(|n| *n < 10), "it sees only its own processes: {environ}");
        // The fork bomb hit the process limit; kill -9 -1 reached nothing outside.
        assert!(out("fork-bomb").trim_matches('"').parse::<u32>().unwrap_or(0) > 0, "{}", out("fork-bomb"));
        assert!(out("kill-all").contains("tried"));
        // The undeclared port was refused by the proxy (403) and without the proxy there
        // is no route; the declared host answered.
        assert!(out("undeclared").starts_with("\"403"), "{}", out("undeclared"));
        assert!(out("undeclared").contains("refused"), "{}", out("undeclared"));
        assert_eq!(out("declared"), "\"reachable\"");
        let blocked = report["agents"]["undeclared"]["blocked"].to_string();
        assert!(blocked.contains(&format!("connect to localhost:{port}")), "recorded: {report}");
        // Nothing outside the workspace changed; the repository's config and hooks are
        // as they were; no commit was added.
        for file in ["abs.txt", "up.txt", "link-target.txt", "fsmonitor.txt", "hook.txt"] {
            assert!(!outside.join(file).exists(), "{file}");
        }
        assert!(!work.join(".git/hooks/pre-commit").exists());
        assert!(!std::fs::read_to_string(work.join(".git/config")).unwrap().contains("fsmonitor"));
        assert_eq!(git(&work, &["rev-list", "--count", "HEAD"]), "1");
    });
}

#[test]
fn a_workspace_git_directory_an_agent_rewrites_is_never_obeyed() {
    // In a copy-on-write workspace the agent's git writes its own copy of `.git`:
    // a file-system monitor set there must not run when plan collects the work.
    let t = repo("");
    let outside = t.dir.path().canonicalize().unwrap();
    let plan = format!(
        "version: 1\nname: git\ncomplexity: simple\nagent:\n  id: a\n  workspace: worktree\n  \
         run: \"git config core.fsmonitor 'touch {o}/pwned.txt' && git config --get core.fsmonitor && echo work > w.txt\"\n",
        o = outside.display()
    );
    std::fs::write(t.path("work/plan.yaml"), plan).unwrap();
    let run = plan_in(&t, &["run", "plan.yaml", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = t.path("work/.plan/runs").join(run.json()["run_id"].as_str().unwrap());
    let said = std::fs::read_to_string(dir.join("outputs/a.json")).unwrap();
    assert!(said.contains("pwned.txt"), "the agent set it in its copy: {said}");
    assert!(!outside.join("pwned.txt").exists(), "plan's git obeyed the agent's config");
    assert_eq!(std::fs::read_to_string(t.path("work/w.txt")).unwrap(), "work\n");
}

#[test]
fn sandbox_false_opts_out_and_require_sandbox_then_has_nothing_to_refuse() {
    let t = repo("version: 1\nname: out\ncomplexity: simple\nagent: { id: a, sandbox: false, run: \"echo x > ../outside.txt\" }\n");
    let run = plan_in(&t, &["run", "plan.yaml", "--json", "--require-sandbox"], None);
    assert_eq!(run.code, 0, "no agent asks for a sandbox: {}", run.stderr);
    assert!(t.path("outside.txt").exists(), "`sandbox: false` runs as plan does");
    assert!(run.json()["implementation_summary"].get("sandbox").is_none());
}

#[test]
fn work_left_on_another_branch_fails_the_attempt_clearly() {
    let plan = "version: 1\nname: branch\ncomplexity: simple\nagent:\n  id: a\n  workspace: worktree\n  \
                run: \"git checkout -q -b elsewhere && echo work > w.txt\"\n";
    let t = repo(plan);
    let run = plan_in(&t, &["run", "plan.yaml"], None);
    run.code(1);
    assert!(run.stderr.contains("left its workspace on `elsewhere`"), "{}", run.stderr);
    assert!(!t.path("work/w.txt").exists());
}
