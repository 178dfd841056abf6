//! `plan __sandbox`: what every sandboxed agent is started through (and what mounts a
//! copy-on-write workspace). In namespaces of its own — mount, PID, IPC, network, and a
//! user namespace when not root — it:
//!
//! 1. joins the agent's cgroup (memory and process limits), when it has one;
//! 2. mounts the workspace overlay, makes paths read-only (the checkout's `.git`),
//!    hides paths (credential files, the run directory) behind empty ones;
//! 3. forks PID 1 of the new PID namespace, which mounts a `/proc` of its own (no
//!    other process is visible), brings up loopback and relays the agent's TCP
//!    connections to `plan`'s proxy (`--net`: the only way out of the namespace), and
//!    confines itself with Landlock: writes only beneath `--rw` paths;
//! 4. runs the agent as PID 1's child and exits with its status.
//!
//! Everything before the agent starts is `plan`'s own code; the agent inherits the
//! confinement and cannot undo it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// `plan __sandbox` (hidden): how `plan` starts a sandboxed process.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// The overlay's read-only layer: the repository's checkout.
    #[arg(long)]
    pub lower: Option<PathBuf>,
    /// Where the overlay's writes go.
    #[arg(long)]
    pub upper: Option<PathBuf>,
    /// The overlay's work directory (same file system as `upper`).
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Where the overlay is mounted.
    #[arg(long)]
    pub mount: Option<PathBuf>,
    /// A file of NUL-separated paths to delete in the overlay before the command.
    #[arg(long)]
    pub deleted: Option<PathBuf>,
    /// Paths made read-only (repeat).
    #[arg(long)]
    pub ro: Vec<PathBuf>,
    /// Paths hidden behind empty ones (repeat).
    #[arg(long)]
    pub hide: Vec<PathBuf>,
    /// Confine the command: its own PID namespace and `/proc`, Landlock.
    #[arg(long)]
    pub confine: bool,
    /// With `--confine`: the paths the command may write beneath (repeat).
    #[arg(long)]
    pub rw: Vec<PathBuf>,
    /// Its own network namespace, whose only way out is `plan`'s proxy at this socket.
    #[arg(long)]
    pub net: Option<PathBuf>,
    /// The port of the HTTP proxy inside the sandbox (`HTTPS_PROXY`).
    #[arg(long)]
    pub proxy_port: Option<u16>,
    /// A loopback port relayed to the same port outside (a model server; repeat).
    #[arg(long)]
    pub forward: Vec<u16>,
    /// The cgroups to join (memory and process limits; repeat).
    #[arg(long)]
    pub cgroup: Vec<PathBuf>,
    /// The command's working directory.
    #[arg(long)]
    pub cd: Option<PathBuf>,
    /// Only check that a sandbox can be made here (exit 0 if so).
    #[arg(long)]
    pub probe: bool,
    /// The command and its arguments.
    #[arg(last = true)]
    pub command: Vec<String>,
}

fn fail(what: &str) -> Error {
    Error::refused(format!("cannot make the sandbox: {what}: {}", std::io::Error::last_os_error()))
}

pub fn enter(args: &SandboxArgs) -> Result<(), Error> {
    for group in &args.cgroup {
        let procs = group.join("cgroup.procs");
        std::fs::write(&procs, std::process::id().to_string()).map_err(|e| Error::io("join", procs, e))?;
    }
    // SAFETY: geteuid/getegid read the process's ids.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // A confined process gets a user namespace even under root: its capabilities
    // then hold only inside (no module loading, no raw devices, no undoing mounts).
    let userns = uid != 0 || args.confine;
    let mut flags = libc::CLONE_NEWNS;
    if userns {
        flags |= libc::CLONE_NEWUSER;
    }
    if args.confine {
        flags |= libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
    }
    if args.net.is_some() {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare changes this (single-threaded) process's namespaces only.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(fail("unshare"));
    }
    if userns {
        // The same user inside as outside: files it writes are the user's.
        let write = |file: &str, text: String| std::fs::write(file, text).map_err(|e| Error::io("write", file, e));
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    // Nothing mounted here reaches the rest of the system.
    mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(|()| fail("make / private"))?;
    if let (Some(lower), Some(upper), Some(work), Some(at)) = (&args.lower, &args.upper, &args.work, &args.mount) {
        let options = format!(
            "lowerdir={},upperdir={},workdir={}{}",
            escape(lower),
            escape(upper),
            escape(work),
            if userns { ",userxattr" } else { "" }
        );
        mount(Some("overlay"), at, Some("overlay"), 0, Some(&options)).map_err(|()| fail("mount the overlay"))?;
        if let Some(list) = &args.deleted {
            delete_listed(list, at)?;
        }
    }
    for path in args.ro.iter().filter(|p| p.exists()) {
        let source = path.to_string_lossy();
        mount(Some(&source), path, None, libc::MS_BIND | libc::MS_REC, None).map_err(|()| fail("bind read-only"))?;
        let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        mount(None, path, None, ro, None).map_err(|()| fail("make read-only"))?;
    }
    for path in &args.hide {
        hide(path)?;
    }
    if args.probe {
        return Ok(());
    }
    let Some(program) = args.command.first().cloned() else {
        return Err(Error::Usage("__sandbox: no command given".into()));
    };
    if !args.confine {
        let dir = args.cd.clone().or_else(|| args.mount.clone());
        if let Some(dir) = dir {
            std::env::set_current_dir(&dir).map_err(|e| Error::io("enter", &dir, e))?;
        }
        let err =
            std::os::unix::process::CommandExt::exec(std::process::Command::new(&program).args(&args.command[1..]));
        return Err(Error::refused(format!("cannot start `{program}`: {err}")));
    }
    // PID 1 of the new namespace is a child: the namespace holds it and what it starts.
    // SAFETY: this process is single-threaded here; the child continues in Rust.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(fail("fork"));
    }
    if pid > 0 {
        std::process::exit(wait_for(pid));
    }
    std::process::exit(match init(args, &program) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            126
        }
    })
}

/// PID 1 of the sandbox: its `/proc`, its network, its confinement, then the agent.
fn init(args: &SandboxArgs, program: &str) -> Result<i32, Error> {
    let proc_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    mount(Some("proc"), Path::new("/proc"), Some("proc"), proc_flags, None).map_err(|()| fail("mount /proc"))?;
    // Nothing in the sandbox may read this process's memory or environment.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let token = std::env::var("PLAN_SANDBOX_TOKEN").unwrap_or_default();
    std::env::remove_var("PLAN_SANDBOX_TOKEN");
    if let Some(socket) = &args.net {
        loopback_up()?;
        crate::engine::sandbox::relay::start(socket, &token, args.proxy_port, &args.forward)
            .map_err(|e| Error::io("listen in", "the sandbox", e))?;
    }
    confine(&args.rw)?;
    let dir = args.cd.clone().or_else(|| args.mount.clone());
    let mut cmd = std::process::Command::new(program);
    cmd.args(&args.command[1..]);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().map_err(|e| Error::refused(format!("cannot start `{program}`: {e}")))?;
    Ok(wait_for(child.id() as i32))
}

/// Waits for `pid` (reaping any other child on the way: PID 1 adopts orphans) and
/// returns its exit code, 128 + the signal that killed it.
fn wait_for(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status it is given.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got < 0 {
            return 1;
        }
        if got == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            return 128 + libc::WTERMSIG(status);
        }
    }
}

/// Landlock: read and run anything, write only beneath `rw`.
fn confine(rw: &[PathBuf]) -> Result<(), Error> {
    use landlock::{path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, ABI};
    let abi = ABI::V5;
    let landlocked = |e: landlock::RulesetError| Error::refused(format!("cannot confine the agent (Landlock): {e}"));
    Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(landlocked)?
        .create()
        .map_err(landlocked)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))
        .map_err(landlocked)?
        .add_rules(path_beneath_rules(rw, AccessFs::from_all(abi)))
        .map_err(landlocked)?
        .restrict_self()
        .map_err(landlocked)?;
    Ok(())
}

/// Brings up `lo` in the new network namespace.
fn loopback_up() -> Result<(), Error> {
    // SAFETY: an ioctl on a socket this function owns, with a zeroed ifreq whose
    // name is "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(fail("socket"));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        libc::close(fd);
        if rc != 0 {
            return Err(fail("bring up loopback"));
        }
    }
    Ok(())
}

/// Hides `path`: an empty read-only directory over a directory, `/dev/null` over a file.
fn hide(path: &Path) -> Result<(), Error> {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(()) };
    if meta.is_dir() {
        let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        mount(Some("tmpfs"), path, Some("tmpfs"), flags, Some("size=4k,mode=755")).map_err(|()| fail("hide"))
    } else if meta.is_file() {
        mount(Some("/dev/null"), path, None, libc::MS_BIND, None).map_err(|()| fail("hide a file"))
    } else {
        Ok(())
    }
}

/// Deletes what the workspace's starting point deleted (overlayfs records whiteouts).
fn delete_listed(list: &Path, at: &Path) -> Result<(), Error> {
    let text = std::fs::read(list).map_err(|e| Error::io("read", list, e))?;
    for path in text.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let target = at.join(std::ffi::OsStr::from_bytes(path));
        let _ = std::fs::remove_file(&target).or_else(|_| std::fs::remove_dir_all(&target));
    }
    Ok(())
}

/// `mount(2)`.
fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), ()> {
    let c = |s: &str| CString::new(s).map_err(|_| ());
    let source = source.map(c).transpose()?;
    let target = CString::new(target.as_os_str().as_bytes()).map_err(|_| ())?;
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or null.
    let rc =
        unsafe { libc::mount(ptr(&source), target.as_ptr(), ptr(&fstype), flags, ptr(&data).cast::<libc::c_void>()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// A path in overlay options: `,` and `:` and `\` escaped.
fn escape(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
