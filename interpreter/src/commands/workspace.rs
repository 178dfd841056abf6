//! `plan __workspace`: what an agent with a copy-on-write workspace is started
//! through. In a mount namespace of its own (and a user namespace, when not root) it
//! mounts an overlay — the repository's checkout read-only below, the agent's own
//! directory above — hides `.plan/` behind an empty directory, deletes the files the
//! agent's starting point removed, and becomes the agent (`exec`: same process, same
//! group, so timeouts and signals reach it as any agent). The mount lives as long as
//! the namespace: when the agent's processes end, it is gone; what the agent wrote is
//! in the upper directory, where `plan` collects it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cli::WorkspaceArgs;
use crate::error::Error;

pub fn enter(args: &WorkspaceArgs) -> Result<(), Error> {
    let fail =
        |what: &str| Error::refused(format!("cannot make the workspace: {what}: {}", std::io::Error::last_os_error()));
    // SAFETY: geteuid/getegid read the process's ids.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let flags = if uid == 0 { libc::CLONE_NEWNS } else { libc::CLONE_NEWNS | libc::CLONE_NEWUSER };
    // SAFETY: unshare changes this (single-threaded) process's namespaces only.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(fail("unshare"));
    }
    if uid != 0 {
        // The same user inside as outside: files it writes are the user's.
        let write = |file: &str, text: String| std::fs::write(file, text).map_err(|e| Error::io("write", file, e));
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    // Nothing mounted here reaches the rest of the system.
    mount(None, Path::new("/"), None, libc::MS_REC | libc::MS_PRIVATE, None).map_err(|()| fail("make / private"))?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}{}",
        escape(&args.lower),
        escape(&args.upper),
        escape(&args.work),
        if uid == 0 { "" } else { ",userxattr" }
    );
    mount(Some("overlay"), &args.mount, Some("overlay"), 0, Some(&options)).map_err(|()| fail("mount the overlay"))?;
    for hidden in &args.hide {
        let at = args.mount.join(hidden);
        if at.is_dir() {
            mount(Some("tmpfs"), &at, Some("tmpfs"), libc::MS_RDONLY, Some("size=4k")).map_err(|()| fail("hide"))?;
        }
    }
    if let Some(list) = &args.deleted {
        let text = std::fs::read(list).map_err(|e| Error::io("read", list, e))?;
        for path in text.split(|b| *b == 0).filter(|p| !p.is_empty()) {
            let at = args.mount.join(std::ffi::OsStr::from_bytes(path));
            let _ = std::fs::remove_file(&at).or_else(|_| std::fs::remove_dir_all(&at));
        }
    }
    if args.probe {
        return Ok(());
    }
    let dir = args.cd.as_ref().map_or_else(|| args.mount.clone(), |d| args.mount.join(d));
    std::env::set_current_dir(&dir).map_err(|e| Error::io("enter", &dir, e))?;
    let Some(program) = args.command.first() else {
        return Err(Error::Usage("__workspace: no command given".into()));
    };
    let err = std::os::unix::process::CommandExt::exec(std::process::Command::new(program).args(&args.command[1..]));
    Err(Error::refused(format!("cannot start `{program}`: {err}")))
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
