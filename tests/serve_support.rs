//! A `plan serve` process for tests, and a small HTTP/1.1 client over a plain TCP
//! stream (requests are few and small; no client crate needed).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Served {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
    /// `Authorization: Bearer ...` for a server started with `--token`.
    auth: Option<String>,
}

impl Served {
    /// Starts `plan serve --port 0 ARGS` in `dir` and reads the address it prints.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut child = Command::new(crate::support::bin())
            .current_dir(dir)
            .args(["serve", "--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start plan serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("plan serve said: {first}"))
            .to_string();
        // Keep reading what it says (a closed pipe would fail its writes).
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let auth = args.iter().position(|a| *a == "--token").map(|i| format!("Bearer {}", args[i + 1]));
        Served { child, addr, log, auth }
    }

    /// What the server printed so far.
    pub fn said(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let auth: Vec<(&str, &str)> = self.auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        http(&self.addr, "GET", path, &auth, "")
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        let mut headers = vec![("Content-Type", "application/json")];
        headers.extend(self.auth.iter().map(|a| ("Authorization", a.as_str())));
        http(&self.addr, "POST", path, &headers, body)
    }

    /// Polls `path` until `done` holds of its JSON (or 20 s pass).
    pub fn until(&self, path: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, body) = self.get(path);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if done(&v) || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the server the hard way (SIGKILL): nothing it was doing may be lost.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on its own connection; the status and the body (chunks joined).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    http_as(addr, addr, method, path, headers, body)
}

/// As [`http`], naming `host` in the `Host` header (as a browser at another name does).
pub fn http_as(
    addr: &str,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(rest) } else { rest.to_string() };
    (status, body)
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The first server-sent event of `path`: its name and data.
pub fn first_event(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(event) = seen.split("\r\n\r\n").nth(1).filter(|e| e.contains("\n\n")) {
            let field = |name: &str| {
                event.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
            };
            return (field("event:"), field("data:"));
        }
    }
    panic!("no event from {path}: {seen}");
}
