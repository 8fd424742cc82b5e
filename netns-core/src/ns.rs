//! Network namespaces: open, create, name, delete, enter on a helper thread,
//! and start processes inside, the way `ip netns` does.
//!
//! The calling thread never changes namespace. Whatever must happen "inside" a
//! namespace (opening a netlink socket, running a closure, starting a process,
//! creating a namespace) happens on a short-lived helper thread that enters it
//! and then exits, so a thread pool, an async runtime or a Go program calling
//! through the C ABI is never left in the wrong namespace.
//!
//! Named namespaces live in a *netns directory* ([`NetnsDir`]), by default
//! `/run/netns` as for `ip netns`; `/run/docker/netns` or a test's temporary
//! directory work the same way.
//!
//! # References
//! [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html),
//! [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
//! [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
//! [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html),
//! [mount_namespaces(7)](https://man7.org/linux/man-pages/man7/mount_namespaces.7.html),
//! iproute2's ip/ipnetns.c.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{Error, Result};

/// The default netns directory, as used by `ip netns`.
pub const DEFAULT_NETNS_DIR: &str = "/run/netns";
/// Where `ip netns exec` finds per-namespace configuration files.
pub const NETNS_ETC_DIR: &str = "/etc/netns";

/// `NS_GET_NSTYPE`, `_IO(0xb7, 0x3)` from linux/nsfs.h.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// An open network namespace.
///
/// Holds the namespace's file descriptor: an anonymous namespace made by
/// [`NetNs::create`] lives as long as this value (or a process or mount keeps
/// it). Two `NetNs` compare equal when they refer to the same namespace (same
/// nsfs device and inode), however they were opened.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    dev: u64,
    ino: u64,
    name: Option<String>,
}

impl PartialEq for NetNs {
    fn eq(&self, other: &Self) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

impl Eq for NetNs {}

impl std::hash::Hash for NetNs {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dev.hash(state);
        self.ino.hash(state);
    }
}

impl AsRawFd for NetNs {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl NetNs {
    /// The calling thread's network namespace.
    ///
    /// Equivalent to opening `/proc/thread-self/ns/net`.
    pub fn current() -> Result<NetNs> {
        Self::open_as("netns_current", Path::new("/proc/thread-self/ns/net"))
    }

    /// Open the network namespace file at `path` (an nsfs bind mount such as
    /// `/run/netns/NAME`, or `/proc/PID/ns/net`).
    ///
    /// A file that is not a network namespace is refused with an
    /// invalid-argument error; a missing file with ENOENT.
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs> {
        Self::open_as("netns_open", path.as_ref())
    }

    fn open_as(op: &'static str, path: &Path) -> Result<NetNs> {
        Self::open_flags(op, path, 0)
    }

    /// Open `path` read-only without blocking (a FIFO planted where a
    /// namespace should be must not hang the caller) and check it is a
    /// network namespace; `extra` adds O_NOFOLLOW for names in a shared
    /// directory.
    fn open_flags(op: &'static str, path: &Path, extra: libc::c_int) -> Result<NetNs> {
        let shown = || path.display().to_string();
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY | extra)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) if extra & libc::O_NOFOLLOW != 0 => Error::invalid(
                    op,
                    shown(),
                    "a symbolic link, not a namespace name (not followed)",
                ),
                _ => Error::io(op, shown(), e),
            })?;
        Self::from_fd(op, &shown(), OwnedFd::from(file))
    }

    /// Take ownership of `fd`, checking that it is a network namespace.
    pub fn from_owned_fd(fd: OwnedFd) -> Result<NetNs> {
        let shown = format!("fd {}", fd.as_raw_fd());
        Self::from_fd("netns_from_fd", &shown, fd)
    }

    fn from_fd(op: &'static str, shown: &str, fd: OwnedFd) -> Result<NetNs> {
        // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which
        // `fd` keeps open for the duration of the call.
        let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
        if kind < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ENOTTY | libc::EINVAL) => Err(Error::invalid(
                    op,
                    shown,
                    "not a namespace file (expected an nsfs file such as /run/netns/NAME or /proc/PID/ns/net)",
                )),
                _ => Err(Error::io(op, shown, err)),
            };
        }
        if kind != libc::CLONE_NEWNET {
            return Err(Error::invalid(
                op,
                shown,
                format!(
                    "a {} namespace, not a network namespace",
                    ns_kind_name(kind)
                ),
            ));
        }
        let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| Error::nix(op, shown, e))?;
        Ok(NetNs {
            fd,
            dev: st.st_dev,
            ino: st.st_ino,
            name: None,
        })
    }

    /// The network namespace of process `pid`.
    ///
    /// Equivalent to opening `/proc/PID/ns/net`; a process that does not exist
    /// is reported as ESRCH.
    pub fn from_pid(pid: i32) -> Result<NetNs> {
        const OP: &str = "netns_from_pid";
        if pid <= 0 {
            return Err(Error::invalid(
                OP,
                pid.to_string(),
                "a pid must be positive",
            ));
        }
        let path = format!("/proc/{pid}/ns/net");
        Self::open_as(OP, Path::new(&path)).map_err(|e| match e.errno() {
            Some(libc::ENOENT) => Error::io(
                OP,
                format!("pid {pid}"),
                io::Error::from_raw_os_error(libc::ESRCH),
            ),
            _ => e,
        })
    }

    /// Open the namespace `name` in the default netns directory.
    ///
    /// Equivalent to what `ip netns exec NAME` opens: `/run/netns/NAME`.
    pub fn named(name: &str) -> Result<NetNs> {
        NetnsDir::default().open(name)
    }

    /// Create an anonymous network namespace. It lives while the returned
    /// value (or a process or mount using it) exists.
    ///
    /// Equivalent to `unshare --net` on a helper thread.
    #[doc(alias = "unshare --net")]
    pub fn create() -> Result<NetNs> {
        const OP: &str = "netns_create";
        on_helper_thread(OP, "anonymous", || {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Error::nix(OP, "unshare", e))?;
            NetNs::open_as(OP, Path::new("/proc/thread-self/ns/net"))
        })
    }

    /// Create the namespace `name` in the default netns directory.
    ///
    /// Equivalent to `ip netns add NAME`; see [`NetnsDir::create`].
    #[doc(alias = "ip netns add")]
    pub fn create_named(name: &str) -> Result<NetNs> {
        NetnsDir::default().create(name)
    }

    /// Delete the namespace `name` from the default netns directory.
    ///
    /// Equivalent to `ip netns del NAME`; see [`NetnsDir::delete`].
    #[doc(alias = "ip netns del")]
    pub fn delete_named(name: &str) -> Result<()> {
        NetnsDir::default().delete(name)
    }

    /// The names in the default netns directory. Equivalent to `ip netns list`.
    #[doc(alias = "ip netns list")]
    pub fn list() -> Result<Vec<String>> {
        NetnsDir::default().list()
    }

    /// Name the network namespace of `pid` in the default netns directory.
    /// Equivalent to `ip netns attach NAME PID`.
    #[doc(alias = "ip netns attach")]
    pub fn attach(name: &str, pid: i32) -> Result<()> {
        NetnsDir::default().attach(name, pid)
    }

    /// The names under which the network namespace of `pid` is mounted in the
    /// default netns directory. Equivalent to `ip netns identify PID`.
    #[doc(alias = "ip netns identify")]
    pub fn identify(pid: i32) -> Result<Vec<String>> {
        NetnsDir::default().identify_pid(pid)
    }

    /// The name this namespace was opened under, if it was opened by name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The nsfs inode number: the number shown as `net:[INODE]` in
    /// `/proc/PID/ns/net`.
    pub fn inode(&self) -> u64 {
        self.ino
    }

    /// Whether `self` and `other` are the same namespace (also `==`).
    pub fn is_same(&self, other: &NetNs) -> bool {
        self == other
    }

    /// Whether the calling thread is in this namespace now.
    pub fn is_current(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/thread-self/ns/net")
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino)
    }

    /// Run `f` inside this namespace: on the calling thread when it is in
    /// this namespace already, else on a helper thread as [`NetNs::run`].
    pub(crate) fn visit<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        if self.is_current() {
            Ok(f())
        } else {
            self.run(f)
        }
    }

    /// Duplicate the descriptor.
    pub fn try_clone(&self) -> Result<NetNs> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("netns_clone", format!("fd {}", self.fd.as_raw_fd()), e))?;
        Ok(NetNs {
            fd,
            dev: self.dev,
            ino: self.ino,
            name: self.name.clone(),
        })
    }

    /// Run `f` inside this namespace, on a dedicated thread that enters the
    /// namespace, runs `f` and exits. The calling thread never changes
    /// namespace.
    ///
    /// Returns `f`'s value. If `f` panics, the panic is resumed on the calling
    /// thread (as with [`std::thread::scope`]); by then the helper thread is
    /// gone and the caller is still in its own namespace. An error is
    /// returned only when the thread cannot be started or cannot enter the
    /// namespace.
    ///
    /// Equivalent to `ip netns exec NAME` for code instead of a program (no
    /// mount namespace is set up: see [`NetNs::spawn`] for that).
    #[doc(alias = "ip netns exec")]
    #[doc(alias = "setns")]
    pub fn run<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        on_helper_thread("netns_run", self.describe(), || {
            self.enter("netns_run")?;
            Ok(f())
        })
    }

    /// Start `cmd` inside this namespace with `ip netns exec` semantics: the
    /// process gets its own mount namespace (mounts do not propagate back),
    /// `/sys` is remounted so it describes this namespace, and for a named
    /// namespace each `/etc/netns/NAME/FILE` is bind-mounted over `/etc/FILE`.
    ///
    /// The set-up happens on a helper thread that then starts the process with
    /// [`Command::spawn`] and exits: the library never forks its own image and
    /// the calling thread's namespaces never change. Unlike `ip netns exec`,
    /// which prints a warning and goes on, a failed `/etc` bind mount is an
    /// error and no process is started.
    ///
    /// Equivalent to `ip netns exec NAME CMD...` (without waiting for it).
    #[doc(alias = "ip netns exec")]
    pub fn spawn(&self, cmd: &mut Command) -> Result<Child> {
        const OP: &str = "netns_exec";
        let program = cmd.get_program().to_string_lossy().into_owned();
        on_helper_thread(OP, self.describe(), || {
            self.enter(OP)?;
            unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| Error::nix(OP, "unshare(CLONE_NEWNS)", e))?;
            // Don't let any mount propagate back to the parent.
            // "none" as the type, as iproute2 passes: the kernel ignores it
            // for a propagation change (and a NULL type trips valgrind).
            mount(
                None::<&str>,
                "/",
                Some("none"),
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| Error::nix(OP, "mount --make-rslave /", e))?;
            remount_sys(self.name.as_deref().unwrap_or("sysfs"))?;
            if let Some(name) = &self.name {
                bind_etc(name)?;
            }
            cmd.spawn().map_err(|e| Error::io(OP, program.clone(), e))
        })
    }

    /// Open a netlink [`Handle`](crate::Handle) inside this namespace.
    ///
    /// Equivalent to `Handle::new_in(self)`.
    pub fn handle(&self) -> Result<crate::Handle> {
        crate::Handle::new_in(self)
    }

    /// Enter this namespace on the calling thread. Only ever called on helper
    /// threads that exit afterwards.
    fn enter(&self, op: &'static str) -> Result<()> {
        setns(self.fd.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::nix(op, self.describe(), e))
    }

    fn describe(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("net:[{}]", self.ino),
        }
    }
}

/// Run `f` on a new thread and return its result; the thread exits
/// afterwards, taking any namespace it entered with it. A panic in `f` is
/// resumed on the caller.
pub(crate) fn on_helper_thread<T, F>(op: &'static str, object: impl Into<String>, f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send,
    T: Send,
{
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("netns-helper".into())
            .spawn_scoped(s, f)
            .map_err(|e| Error::io(op, object, e))?;
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn ns_kind_name(kind: libc::c_int) -> &'static str {
    match kind {
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWTIME => "time",
        _ => "non-network",
    }
}

/// Mount a sysfs describing the current network namespace on /sys, as
/// `ip netns exec` does: unmount the old one (lazily); if that fails, mount
/// over it, read-only if it was read-only.
fn remount_sys(source: &str) -> Result<()> {
    const OP: &str = "netns_exec";
    let mut flags = MsFlags::empty();
    if umount2("/sys", MntFlags::MNT_DETACH).is_err() {
        if let Ok(st) = nix::sys::statvfs::statvfs("/sys") {
            if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
                flags |= MsFlags::MS_RDONLY;
            }
        }
    }
    mount(Some(source), "/sys", Some("sysfs"), flags, None::<&str>)
        .map_err(|e| Error::nix(OP, "mount sysfs on /sys", e))
}

/// Bind-mount each /etc/netns/NAME/FILE over /etc/FILE.
fn bind_etc(name: &str) -> Result<()> {
    const OP: &str = "netns_exec";
    let dir = Path::new(NETNS_ETC_DIR).join(name);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(_) => return Ok(()),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(OP, dir.display().to_string(), e))?;
        let src = entry.path();
        let dst = Path::new("/etc").join(entry.file_name());
        mount(
            Some(&src),
            &dst,
            Some("none"),
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            Error::nix(
                OP,
                format!("bind {} -> {}", src.display(), dst.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// Check a namespace name before any filesystem call: not empty, not `.` or
/// `..`, no `/` or NUL, at most NAME_MAX bytes. Such a name can only ever
/// denote an entry directly inside the netns directory.
pub fn validate_name(op: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "a namespace name cannot be empty"
    } else if name == "." || name == ".." {
        "a namespace name cannot be \".\" or \"..\""
    } else if name.contains('/') {
        "a namespace name cannot contain '/'"
    } else if name.contains('\0') {
        "a namespace name cannot contain a NUL byte"
    } else if name.len() > NAME_MAX {
        "a namespace name is at most 255 bytes (NAME_MAX)"
    } else {
        return Ok(());
    };
    Err(Error::invalid(op, name.escape_debug().to_string(), reason))
}

const NAME_MAX: usize = 255;

/// A directory of named network namespaces (nsfs bind mounts), like
/// `/run/netns` for `ip netns` or `/run/docker/netns` for Docker.
///
/// ```no_run
/// use netns_core::NetnsDir;
/// let dir = NetnsDir::new("/run/docker/netns");
/// for name in dir.list()? {
///     println!("{name}");
/// }
/// # Ok::<(), netns_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsDir {
    path: PathBuf,
}

impl Default for NetnsDir {
    /// `/run/netns`.
    fn default() -> Self {
        NetnsDir::new(DEFAULT_NETNS_DIR)
    }
}

impl NetnsDir {
    /// A netns directory at `path` (created on first [`NetnsDir::create`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        NetnsDir { path: path.into() }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the namespace `name` (after checking the name).
    pub fn path_of(&self, name: &str) -> Result<PathBuf> {
        validate_name("netns_path", name)?;
        Ok(self.path.join(name))
    }

    /// Open the namespace `name`.
    pub fn open(&self, name: &str) -> Result<NetNs> {
        const OP: &str = "netns_open";
        validate_name(OP, name)?;
        let mut ns = NetNs::open_flags(OP, &self.path.join(name), libc::O_NOFOLLOW)?;
        ns.name = Some(name.to_owned());
        Ok(ns)
    }

    /// Create a new network namespace and name it `name`.
    ///
    /// Equivalent to `ip netns add NAME`, step for step: create the directory
    /// (0755); under an exclusive flock on it, make it a shared mount point
    /// (bind-mounting it on itself first if it is not a mount point yet), so
    /// that unmounting a namespace propagates to every mount namespace;
    /// create `DIR/NAME` with O_EXCL; and bind-mount onto it the new namespace
    /// of a helper thread. If any step after the file was created fails, the
    /// file is unmounted and removed: nothing is left behind.
    #[doc(alias = "ip netns add")]
    pub fn create(&self, name: &str) -> Result<NetNs> {
        const OP: &str = "netns_create";
        validate_name(OP, name)?;
        let path = self.path.join(name);
        self.prepare(OP)?;
        let placeholder = create_placeholder(OP, &path)?;
        let made = on_helper_thread(OP, name, || {
            unshare(CloneFlags::CLONE_NEWNET)
                .map_err(|e| Error::nix(OP, format!("{name}: unshare(CLONE_NEWNET)"), e))?;
            bind_ns(
                OP,
                Path::new("/proc/thread-self/ns/net"),
                &placeholder,
                &path,
            )
        })
        .and_then(|()| self.open(name));
        drop(placeholder);
        if made.is_err() {
            remove_ns_file(&path);
        }
        made
    }

    /// Name the network namespace of process `pid` as `name`.
    ///
    /// Equivalent to `ip netns attach NAME PID`.
    #[doc(alias = "ip netns attach")]
    pub fn attach(&self, name: &str, pid: i32) -> Result<()> {
        const OP: &str = "netns_attach";
        validate_name(OP, name)?;
        // Check the target first, so a bad pid creates nothing at all.
        let target = NetNs::from_pid(pid)?;
        let path = self.path.join(name);
        self.prepare(OP)?;
        let placeholder = create_placeholder(OP, &path)?;
        let source = format!("/proc/{pid}/ns/net");
        let bound = bind_ns(OP, Path::new(&source), &placeholder, &path).and_then(|()| {
            // The process may have exited or changed namespace in between.
            let now = self.open(name)?;
            if now == target {
                Ok(())
            } else {
                Err(Error::io(
                    OP,
                    format!("pid {pid}"),
                    io::Error::from_raw_os_error(libc::ESRCH),
                ))
            }
        });
        if bound.is_err() {
            remove_ns_file(&path);
        }
        bound
    }

    /// Remove the name `name`: unmount it (lazily) and delete the file. The
    /// namespace itself is freed once no process or descriptor uses it.
    ///
    /// Equivalent to `ip netns del NAME`. A name that does not exist is
    /// reported as ENOENT (`is_not_found()`).
    #[doc(alias = "ip netns del")]
    pub fn delete(&self, name: &str) -> Result<()> {
        const OP: &str = "netns_delete";
        validate_name(OP, name)?;
        let path = self.path.join(name);
        let shown = || path.display().to_string();
        // What is there, not followed: a namespace name is a regular file
        // (the nsfs file mounted on it, or a placeholder a crash left). A
        // symlink, a directory (even a mount point), a FIFO is refused
        // before anything is unmounted.
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(OP, shown(), e))?;
        if !meta.file_type().is_file() {
            return Err(Error::invalid(
                OP,
                shown(),
                format!(
                    "a {}, not a namespace name: left alone",
                    file_kind(meta.file_type())
                ),
            ));
        }
        // EINVAL (not a mount point) is fine: a placeholder left by a crash.
        let _ = umount2(&path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
        fs::remove_file(&path).map_err(|e| Error::io(OP, shown(), e))
    }

    /// Undo everything [`NetnsDir::create`] did to a directory this program
    /// owns (a test's, or a temporary one): delete every namespace name in
    /// it (as [`NetnsDir::delete`] does), take away the mount that made the
    /// directory a shared mount point (the bind mount of itself, or several
    /// if concurrent first uses stacked them), and remove the directory.
    /// A directory that does not exist is fine.
    ///
    /// Refused for `/run/netns`, which every `ip netns` user of the machine
    /// shares. Unmounts use UMOUNT_NOFOLLOW: a symlink planted in the
    /// directory is removed, never followed.
    pub fn remove(&self) -> Result<()> {
        const OP: &str = "netns_dir_remove";
        let shown = || self.path.display().to_string();
        if self.path == Path::new(DEFAULT_NETNS_DIR) {
            return Err(Error::invalid(
                OP,
                shown(),
                "/run/netns is shared by every ip netns user of the machine: delete its names one by one",
            ));
        }
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(OP, shown(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(OP, shown(), e))?;
            let path = entry.path();
            detach_all(&path);
            fs::remove_file(&path).map_err(|e| Error::io(OP, path.display().to_string(), e))?;
        }
        detach_all(&self.path);
        fs::remove_dir(&self.path).map_err(|e| Error::io(OP, shown(), e))
    }

    /// The names in the directory, sorted. A directory that does not exist is
    /// an empty list, as for `ip netns list`.
    #[doc(alias = "ip netns list")]
    pub fn list(&self) -> Result<Vec<String>> {
        const OP: &str = "netns_list";
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(OP, self.path.display().to_string(), e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(OP, self.path.display().to_string(), e))?;
            // A name that is not UTF-8 cannot be opened or deleted through
            // this API: it is not listed (a lossy spelling of it would name
            // nothing, or something else).
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The names under which `ns` is mounted in this directory.
    pub fn identify(&self, ns: &NetNs) -> Result<Vec<String>> {
        const OP: &str = "netns_identify";
        let entries = match fs::read_dir(&self.path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(OP, self.path.display().to_string(), e)),
        };
        let mut names = Vec::new();
        for entry in entries.flatten() {
            // Entries that cannot be stat'ed are skipped, as by iproute2;
            // symlinks are not followed, and names that are not UTF-8 are
            // not reported (as by list).
            let Ok(st) = nix::sys::stat::lstat(&entry.path()) else {
                continue;
            };
            if st.st_dev == ns.dev && st.st_ino == ns.ino {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// The names under which the network namespace of `pid` is mounted.
    /// Equivalent to `ip netns identify PID`.
    #[doc(alias = "ip netns identify")]
    pub fn identify_pid(&self, pid: i32) -> Result<Vec<String>> {
        self.identify(&NetNs::from_pid(pid)?)
    }

    /// Create the directory and make it a shared mount point, under an
    /// exclusive flock on it (iproute2 serialises this so that many parallel
    /// `ip netns add` do not stack mounts).
    fn prepare(&self, op: &'static str) -> Result<()> {
        let shown = || self.path.display().to_string();
        // One mkdir, as iproute2 does; the parents only when they are
        // missing (a recursive create would stat an existing directory
        // first on every call). An existing non-directory fails the open
        // below.
        let made = match fs::DirBuilder::new().mode(0o755).create(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.path),
            other => other,
        };
        match made {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(op, shown(), e)),
        }
        let dir = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(|e| Error::io(op, shown(), e))?;
        // Like iproute2, go on without the lock if flock is not possible.
        let _lock = nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive).ok();
        let mut made_mount = false;
        loop {
            match mount(
                None::<&str>,
                &self.path,
                Some("none"),
                MsFlags::MS_SHARED | MsFlags::MS_REC,
                None::<&str>,
            ) {
                Ok(()) => return Ok(()),
                // Not a mount point yet: bind it onto itself, once.
                Err(nix::errno::Errno::EINVAL) if !made_mount => {
                    mount(
                        Some(&self.path),
                        &self.path,
                        Some("none"),
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None::<&str>,
                    )
                    .map_err(|e| Error::nix(op, format!("mount --bind {}", shown()), e))?;
                    made_mount = true;
                }
                Err(e) => {
                    return Err(Error::nix(
                        op,
                        format!("mount --make-shared {}", shown()),
                        e,
                    ))
                }
            }
        }
    }
}

/// Create the empty file a namespace is bind-mounted onto, as iproute2 does
/// (`open(path, O_RDONLY|O_CREAT|O_EXCL, 0)`), and keep it open: the mount
/// is made onto this very file, so an entry swapped in its place meanwhile
/// (a symlink to elsewhere) is never mounted over.
fn create_placeholder(op: &'static str, path: &Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| {
        let shown = if e == nix::errno::Errno::EEXIST {
            format!("{} (a namespace of this name exists)", path.display())
        } else {
            path.display().to_string()
        };
        Error::nix(op, shown, e)
    })
}

/// Bind-mount `source` onto the open placeholder `target` (through its
/// /proc/self/fd entry, which names the file itself, not a path that could
/// be swapped). `shown` is the placeholder's path, for messages.
fn bind_ns(op: &'static str, source: &Path, target: &OwnedFd, shown: &Path) -> Result<()> {
    let by_fd = format!("/proc/self/fd/{}", target.as_raw_fd());
    mount(
        Some(source),
        by_fd.as_str(),
        Some("none"),
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        Error::nix(
            op,
            format!("bind {} -> {}", source.display(), shown.display()),
            e,
        )
    })
}

/// What a directory entry is, for messages.
fn file_kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else {
        "special file"
    }
}

/// Unmount whatever is mounted on `path` (lazily, without following a
/// symlink), however many mounts are stacked there; a bounded loop.
fn detach_all(path: &Path) {
    for _ in 0..64 {
        if umount2(path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW).is_err() {
            break;
        }
    }
}

/// Undo a partly made name: unmount if mounted, remove the file.
fn remove_ns_file(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
    let _ = fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for bad in ["", ".", "..", "a/b", "../escape", "/abs", "nul\0x"] {
            let e = validate_name("t", bad).unwrap_err();
            assert!(e.is_invalid_argument(), "{bad:?}: {e}");
        }
        assert!(validate_name("t", &"x".repeat(256)).is_err());
        assert!(validate_name("t", &"x".repeat(255)).is_ok());
        for good in ["a", "...", "red", "cni-1234-abcd", ".hidden", "x y"] {
            assert!(validate_name("t", good).is_ok(), "{good:?}");
        }
    }
}
