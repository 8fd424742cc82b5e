//! Test support for the netns workspace.
//!
//! - [`in_private_netns`]: run a test body on a thread of its own inside a
//!   fresh network namespace, so tests never touch the host's networking or
//!   each other.
//! - [`TempNetnsDir`]: a temporary netns directory (instead of /run/netns),
//!   unmounted and removed on drop; [`TempDir`], a plain one, removed on
//!   drop.
//! - [`ip`], [`ip_json`], [`ip_in_dir`]: iproute2 as the oracle, run inside
//!   the calling thread's namespace (a child inherits the namespaces of the
//!   thread that spawns it).
//! - [`nft`]: nftables' `nft` as the oracle (`nft -j`, the ruleset without
//!   its metainfo, `nft -c` round trips).
//! - [`frames`]: raw Ethernet frames through a packet socket.
//! - [`etcd`]: a real etcd cluster on loopback, etcdctl as the oracle.
//! - [`host_only!`]: a test binary declares that the VM tier leaves it out.
//!
//! This crate deliberately does not depend on netns-core: what it checks with
//! must be independent of what it checks.
#![allow(clippy::missing_panics_doc)]

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod etcd;
pub mod frames;
pub mod nft;

/// Run `body` on a new thread that first moves into a new, empty network
/// namespace (only `lo`, down). The calling thread is untouched; a panic in
/// `body` is resumed on the caller so the test fails with it.
pub fn in_private_netns<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
                panic!("unshare(CLONE_NEWNET) failed ({e}): the privileged tests must run as root");
            }
            body()
        });
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Like [`in_private_netns`], with `lo` brought up first.
pub fn in_private_netns_lo_up<T: Send>(body: impl FnOnce() -> T + Send) -> T {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        body()
    })
}

/// The inode of the calling thread's network namespace.
pub fn thread_netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/thread-self/ns/net")
        .expect("stat /proc/thread-self/ns/net")
        .ino()
}

/// The number of open file descriptors of this process.
pub fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// Run `ip ARGS...` in the calling thread's network namespace; panic with
/// its stderr unless it succeeds. Returns stdout.
pub fn ip<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = ip_output(args);
    assert!(
        out.status.success(),
        "ip failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `ip ARGS...` in the calling thread's network namespace and return its
/// output whatever the status.
pub fn ip_output<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (is iproute2 installed?)")
}

/// Run `ip -j ARGS...` and parse its JSON (an empty output is `[]`).
pub fn ip_json<I, S>(args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut all: Vec<std::ffi::OsString> = vec!["-j".into()];
    all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
    let out = ip(all);
    if out.trim().is_empty() {
        return serde_json::Value::Array(vec![]);
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip -j output is not JSON ({e}): {out}"))
}

/// The interface names of an `ip -j link` listing (or anything with
/// `ifname` keys), sorted.
pub fn ifnames(listing: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = listing
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Run `PROGRAM ARGS...` (an iproute2 tool printing JSON, e.g. `bridge -j`)
/// in the calling thread's namespace and parse its output.
pub fn ip_json_cmd<I, S>(program: &str, args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(program)
        .args(args)
        .output()
        .expect("run an iproute2 tool");
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return serde_json::Value::Array(vec![]);
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{program} output is not JSON ({e}): {text}"))
}

/// Run `ip ARGS...` with `/run/netns` replaced by `dir`, in a throw-away
/// mount namespace: `ip netns` has no option for another directory, so the
/// child gets a private tmpfs on /run with `dir` bind-mounted (recursively)
/// at /run/netns. Mounts `ip` makes under /run/netns propagate back to `dir`
/// when `dir` is a shared mount (netns-core's create makes it one), and the
/// host's /run is never touched.
pub fn ip_in_dir<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    const SCRIPT: &str = r#"set -e
d=$1; shift
m=$(findmnt -n -o TARGET --target /run)
mount --make-private "$m"
mount -t tmpfs netns-test /run
mkdir /run/netns
mount --rbind "$d" /run/netns
exec ip "$@""#;
    Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "unchanged",
            "sh",
            "-c",
            SCRIPT,
            "sh",
        ])
        .arg(dir)
        .args(args)
        .output()
        .expect("run unshare (is util-linux installed?)")
}

/// A fresh directory under the system temp dir
/// (`netns-<tag>-<pid>-<n>-<ns>`), removed with everything in it on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory; `tag` says what it is for.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "netns-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Its path as a string (for JSON).
    pub fn s(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A temporary netns directory. On drop, every name in it is unmounted and
/// removed, then the directory's own mounts (the shared bind mount netns-core
/// or iproute2 makes) and the directory itself.
#[derive(Debug)]
pub struct TempNetnsDir {
    path: PathBuf,
}

impl TempNetnsDir {
    /// A new empty directory under the system temp dir.
    pub fn new() -> TempNetnsDir {
        let template = std::env::temp_dir().join("netns-test.XXXXXX");
        let path = nix::unistd::mkdtemp(&template).expect("mkdtemp");
        TempNetnsDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempNetnsDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempNetnsDir {
    fn drop(&mut self) {
        use nix::mount::{umount2, MntFlags};
        if let Ok(entries) = fs::read_dir(&self.path) {
            for e in entries.flatten() {
                let p = e.path();
                while umount2(&p, MntFlags::MNT_DETACH).is_ok() {}
                let _ = fs::remove_file(&p);
            }
        }
        while umount2(&self.path, MntFlags::MNT_DETACH).is_ok() {}
        let _ = fs::remove_dir(&self.path);
    }
}

/// Whether this process's mount table has a mount at `path`.
pub fn is_mount_point(path: &Path) -> bool {
    let table = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    let want = path.to_string_lossy();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| mp == want)
}

/// A name unique within this test process (for namespaces, links...).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// What iproute2 reports for a request the kernel refuses: runs `ip ARGS...`
/// (which must fail) and returns the kernel's extended-ack text as ip prints
/// it (`Error: TEXT.`), or `None` when the kernel sent none (`RTNETLINK
/// answers: ...`). The oracle for error texts that differ between kernels.
pub fn ip_extack<I, S>(args: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = ip_output(args);
    assert!(!out.status.success(), "ip was expected to fail");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("Error: ") || l.starts_with("RTNETLINK answers:"))?;
    line.strip_prefix("Error: ")
        .map(|t| t.strip_suffix('.').unwrap_or(t).to_owned())
}

/// Declares that the test binary this is expanded in runs on the host only:
/// the VM tier (`.ci/vm/run` as cargo's runner) does not boot it, and prints
/// `netns-vm: <binary>: host-only (<reason>)` instead.
///
/// For a binary that cannot run in the VM (it needs a tool the VM image
/// lacks: gcc, go, the reference CNI plugin) or need not (pure code, no
/// kernel involved). Expand it once, at the top level of the test file (for
/// a library's unit tests: under `#[cfg(test)]` in the library), with the
/// reason as a string literal of printable ASCII:
///
/// ```
/// netns_testutil::host_only!("needs gcc, which the VM image lacks");
/// ```
///
/// An empty reason, or one the runner could not print back, does not
/// compile:
///
/// ```compile_fail
/// netns_testutil::host_only!("needs gcc \u{2014} not in the VM");
/// ```
///
/// It compiles the string `NETNS_VM_TIER=host-only: <reason>` into the
/// binary (a `#[used]` static, NUL-terminated), which the runner finds with
/// `grep -a` without booting. A binary without it runs in the VM.
#[macro_export]
macro_rules! host_only {
    ($reason:literal) => {
        const _: () = $crate::check_host_only_reason($reason);
        #[used]
        static NETNS_VM_TIER_HOST_ONLY: &str = concat!("NETNS_VM_TIER=host-only: ", $reason, "\0");
    };
}

/// The check behind [`host_only!`], at compile time: the reason is not
/// empty and is printable ASCII (what the runner's `grep` reads back).
#[doc(hidden)]
pub const fn check_host_only_reason(reason: &str) {
    let b = reason.as_bytes();
    assert!(!b.is_empty(), "host_only!: the reason is empty");
    let mut i = 0;
    while i < b.len() {
        assert!(
            b[i] >= 0x20 && b[i] < 0x7f,
            "host_only!: the reason must be printable ASCII"
        );
        i += 1;
    }
}

// The helpers have no unit tests of their own.
#[cfg(test)]
host_only!("no unit tests in the test helpers");

/// Whether this process runs in the project's test VM (where no test may
/// skip for lack of kernel support).
pub fn in_test_vm() -> bool {
    std::env::var_os("NETNS_TEST_IN_VM").is_some()
}

/// Skip the rest of a test because the running kernel lacks `what`: prints
/// the reason (a skip is never silent) and returns normally. Inside the
/// project's test VM, whose kernel has everything, it panics instead.
pub fn skip_kernel_lacks(what: &str, detail: &dyn std::fmt::Display) {
    let kernel = std::env::var("NETNS_TEST_KERNEL").unwrap_or_else(|_| kernel_release());
    if in_test_vm() {
        panic!("kernel {kernel} in the test VM lacks {what}: {detail}");
    }
    // Straight to the process's stderr: the test harness captures print!
    // and eprint! of passing tests, and a skip must show in every run.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIP: kernel {kernel} lacks {what} ({detail}); this test runs in the VM tier (.ci/vm)"
    );
}

/// `uname -r`.
pub fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}
