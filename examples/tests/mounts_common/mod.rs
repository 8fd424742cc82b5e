//! Mounts for tests, never visible to the host: [`in_private_mounts`] runs
//! a body in a mount namespace (and a network namespace) of its own thread,
//! with `/` made private first, so nothing it mounts propagates out and
//! everything goes away with the thread.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Run `body` on a thread of its own in a new mount namespace (with `/`
/// made private, recursively, so no mount propagates out) and a new network
/// namespace. The processes and threads it starts inherit both.
pub fn in_private_mounts<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: unshare takes only flags.
            let rc = unsafe { libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "unshare(CLONE_NEWNS|CLONE_NEWNET): {} (the privileged tests run as root)",
                std::io::Error::last_os_error()
            );
            mount("", Path::new("/"), "", libc::MS_PRIVATE | libc::MS_REC, "");
            body()
        });
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

pub fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("a path without NUL")
}

/// mount(2); an empty `src`, `fstype` or `data` is NULL.
pub fn mount(src: &str, target: &Path, fstype: &str, flags: libc::c_ulong, data: &str) {
    let opt = |s: &str| (!s.is_empty()).then(|| CString::new(s).expect("no NUL"));
    let (s, f, d) = (opt(src), opt(fstype), opt(data));
    let t = cstr(target);
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: NUL-terminated strings (or NULL) alive for the call.
    let rc = unsafe { libc::mount(ptr(&s), t.as_ptr(), ptr(&f), flags, ptr(&d).cast()) };
    assert_eq!(
        rc,
        0,
        "mount {src:?} on {} ({fstype:?}, {flags:#x}, {data:?}): {}",
        target.display(),
        std::io::Error::last_os_error()
    );
}

/// A bind mount of `src` (a file: a namespace's) on `target`, created as an
/// empty file.
pub fn bind_file(src: &Path, target: &Path) {
    std::fs::File::create(target).expect("create the mount point");
    mount(&src.display().to_string(), target, "", libc::MS_BIND, "");
}

/// Detach the mount at `p` (gone from this namespace at once, even if the
/// kernel still holds a reference to it).
pub fn detach(p: &Path) {
    let c = cstr(p);
    // SAFETY: a NUL-terminated path alive for the call.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    assert_eq!(
        rc,
        0,
        "umount {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// What `ip netns del` does to a path: detach the mount, remove the file.
pub fn unmount_and_remove(p: &Path) {
    detach(p);
    std::fs::remove_file(p).expect("remove the mount point");
}

/// Whether `p` is (a bind mount of) a network namespace: setns-able.
pub fn is_netns(p: &Path) -> bool {
    let c = cstr(p);
    // SAFETY: a zeroed statfs is a valid out-parameter; `c` is alive.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && st.f_type == libc::NSFS_MAGIC
}
