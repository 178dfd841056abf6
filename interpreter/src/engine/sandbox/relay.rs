//! Inside a sandbox's network namespace (run by its PID 1, before the agent starts):
//! loopback listeners that relay each connection to `plan`'s proxy through a Unix
//! socket — the proxy port the agent's `HTTPS_PROXY` names, and the loopback ports of
//! model servers, kept at the same numbers. Each connection starts with a line that
//! names the sandbox (its token) and what is asked; the proxy decides.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Starts the listeners, each on a thread of its own.
pub fn start(socket: &Path, token: &str, proxy_port: Option<u16>, forwards: &[u16]) -> std::io::Result<()> {
    let mut listeners: Vec<(TcpListener, String)> = Vec::new();
    if let Some(port) = proxy_port {
        listeners.push((TcpListener::bind(("127.0.0.1", port))?, "proxy".into()));
    }
    for &port in forwards {
        listeners.push((TcpListener::bind(("127.0.0.1", port))?, format!("port {port}")));
        // `localhost` is `::1` first for some clients.
        if let Ok(l) = TcpListener::bind(("::1", port)) {
            listeners.push((l, format!("port {port}")));
        }
    }
    for (listener, what) in listeners {
        let header = format!("T {token} {what}\n");
        let socket = socket.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (header, socket) = (header.clone(), socket.clone());
                std::thread::spawn(move || relay(conn, &socket, &header));
            }
        });
    }
    Ok(())
}

fn relay(tcp: TcpStream, socket: &PathBuf, header: &str) {
    let Ok(mut unix) = UnixStream::connect(socket) else { return };
    if unix.write_all(header.as_bytes()).is_err() {
        return;
    }
    let (Ok(tcp_in), Ok(unix_in)) = (tcp.try_clone(), unix.try_clone()) else { return };
    let up = std::thread::spawn(move || copy(tcp_in, unix_in));
    copy(unix, tcp);
    let _ = up.join();
}

/// Copies until either side ends, then ends the other.
fn copy<R: Read + Shut, W: Write + Shut>(mut from: R, mut to: W) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    to.shut(Shutdown::Write);
    from.shut(Shutdown::Read);
}

trait Shut {
    fn shut(&self, how: Shutdown);
}

impl Shut for TcpStream {
    fn shut(&self, how: Shutdown) {
        let _ = self.shutdown(how);
    }
}

impl Shut for UnixStream {
    fn shut(&self, how: Shutdown) {
        let _ = self.shutdown(how);
    }
}
