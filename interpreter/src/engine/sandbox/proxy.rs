//! `plan`'s side of sandboxes' networks: a Unix socket every sandbox's relay
//! connects to (`relay.rs`), serving each connection under the network policy of the
//! sandbox whose token opens it — an HTTP proxy (`CONNECT host:port`, or an
//! absolute-form request) to the hosts the plan lists, and the loopback ports of the
//! model servers its runner needs. Everything else is refused and recorded as the
//! agent's blocked actions. Names are resolved here: a sandbox has no DNS.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixListener, UnixStream};

use super::Network;

/// The proxy of this process.
pub struct Proxy {
    pub socket: PathBuf,
    sandboxes: Mutex<HashMap<String, Sandbox>>,
}

struct Sandbox {
    net: Network,
    /// What it tried and was refused.
    blocked: Arc<Mutex<Vec<String>>>,
}

static PROXY: OnceLock<Option<Arc<Proxy>>> = OnceLock::new();

/// The proxy, started on first use (in the current tokio runtime).
pub fn global() -> Option<Arc<Proxy>> {
    PROXY
        .get_or_init(|| {
            let socket = std::env::temp_dir().join(format!("plan-net-{}.sock", std::process::id()));
            let _ = std::fs::remove_file(&socket);
            let listener = UnixListener::bind(&socket).ok()?;
            let proxy = Arc::new(Proxy { socket, sandboxes: Mutex::new(HashMap::new()) });
            tokio::spawn(serve(listener, proxy.clone()));
            Some(proxy)
        })
        .clone()
}

impl Proxy {
    /// Lets a sandbox in under `net`; its token.
    pub fn register(&self, net: Network) -> String {
        let token = random_token();
        if let Ok(mut s) = self.sandboxes.lock() {
            s.insert(token.clone(), Sandbox { net, blocked: Arc::new(Mutex::new(Vec::new())) });
        }
        token
    }

    /// Closes a sandbox's way out; what it was refused.
    pub fn unregister(&self, token: &str) -> Vec<String> {
        let gone = self.sandboxes.lock().ok().and_then(|mut s| s.remove(token));
        gone.and_then(|s| s.blocked.lock().ok().map(|b| b.clone())).unwrap_or_default()
    }

    fn lookup(&self, token: &str) -> Option<(Network, Arc<Mutex<Vec<String>>>)> {
        let s = self.sandboxes.lock().ok()?;
        s.get(token).map(|s| (s.net.clone(), s.blocked.clone()))
    }
}

/// 128 random bits, in hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    hex::encode(bytes)
}

async fn serve(listener: UnixListener, proxy: Arc<Proxy>) {
    while let Ok((conn, _)) = listener.accept().await {
        tokio::spawn(handle(conn, proxy.clone()));
    }
}

async fn handle(conn: UnixStream, proxy: Arc<Proxy>) {
    let mut conn = BufReader::new(conn);
    let mut header = String::new();
    if conn.read_line(&mut header).await.is_err() {
        return;
    }
    let mut words = header.split_whitespace();
    let (Some("T"), Some(token)) = (words.next(), words.next()) else { return };
    let Some((net, blocked)) = proxy.lookup(token) else { return };
    let refuse = |what: String| {
        if let Ok(mut b) = blocked.lock() {
            b.push(what);
        }
    };
    match (words.next(), words.next().and_then(|p| p.parse::<u16>().ok())) {
        (Some("port"), Some(port)) => {
            if !net.forwards.contains(&port) {
                return refuse(format!("connect to 127.0.0.1:{port}"));
            }
            if let Ok(out) = TcpStream::connect(("127.0.0.1", port)).await {
                pipe(conn, out, Vec::new()).await;
            }
        }
        (Some("proxy"), _) => {
            let Some((head, target, tunnel)) = request_head(&mut conn).await else { return };
            let Some((host, port)) = target else {
                let _ = conn.get_mut().write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                return;
            };
            if !net.allows(&host, port) {
                refuse(format!("connect to {host}:{port}"));
                let body = format!("{host}:{port} is not a host this agent's plan lets it reach\n");
                let reply = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.get_mut().write_all(reply.as_bytes()).await;
                return;
            }
            let Ok(out) = TcpStream::connect((host.as_str(), port)).await else {
                let _ = conn.get_mut().write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                return;
            };
            if tunnel {
                if conn.get_mut().write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                    return;
                }
                pipe(conn, out, Vec::new()).await;
            } else {
                pipe(conn, out, head).await;
            }
        }
        _ => {}
    }
}

/// The request head (at most 16 KiB), the host and port it asks for, and whether it
/// is a `CONNECT`.
async fn request_head(conn: &mut BufReader<UnixStream>) -> Option<(Vec<u8>, Option<(String, u16)>, bool)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        let n = conn.read_line(&mut line).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let first = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
    let mut parts = first.split_whitespace();
    let (method, uri) = (parts.next()?, parts.next()?);
    if method.eq_ignore_ascii_case("CONNECT") {
        return Some((head, host_port(uri, 443), true));
    }
    let rest = uri.strip_prefix("http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    Some((head, host_port(authority, 80), false))
}

fn host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || p.parse::<u16>().is_ok() => (h, p.parse().ok()?),
        _ => (authority, default),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    (!host.is_empty()).then_some((host, port))
}

/// Relays both ways (what was read of the request first), until both ends close.
async fn pipe(conn: BufReader<UnixStream>, mut out: TcpStream, head: Vec<u8>) {
    let buffered = conn.buffer().to_vec();
    let mut conn = conn.into_inner();
    if out.write_all(&head).await.is_err() || out.write_all(&buffered).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut out).await;
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn targets() {
        assert_eq!(host_port("api.github.com:443", 80), Some(("api.github.com".into(), 443)));
        assert_eq!(host_port("Example.COM", 80), Some(("example.com".into(), 80)));
        assert_eq!(host_port("[::1]:8080", 80), Some(("::1".into(), 8080)));
        assert_eq!(host_port(":443", 80), None);
    }
}
