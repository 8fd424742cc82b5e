//! Disk faults on the IPAM data directory (issue 18, fault point 2):
//! ENOSPC (a tiny tmpfs, out of inodes or out of pages, at every point of
//! an ADD), EROFS (a read-only bind mount), EACCES (the plugin without
//! CAP_DAC_OVERRIDE on a 0555 directory) and EIO (an ext4 image on a loop
//! device, shut down with EXT4_IOC_SHUTDOWN). Each is a clear CNI error
//! (code 999, as the reference's, and a message naming the path and the
//! errno) with the network's directory byte for byte as it was: no new
//! file, no truncated reservation or cursor. The reference host-local runs
//! the same cases on the same filesystems as the oracle of what a plugin
//! may do, and of what we fix: it leaks the reservation file when the
//! cursor write fails, and leaves the cursor truncated.
//!
//! netns-bridge, with host-local IPAM in process, on a full data directory:
//! the same error, and the node (a throw-away namespace) and the pod as they
//! were.
//!
//! Every mount is made in a private mount namespace of the test's own
//! thread (`/` made MS_PRIVATE|MS_REC first), which the plugins it spawns
//! inherit: nothing is ever visible to the host, and the mounts (and the
//! loop device, auto-cleared) go away with the thread.

netns_testutil::host_only!(
    "needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks"
);

mod cni_common;
mod host_local_common;
mod mounts_common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use host_local_common::{example, host_local, plugin, tree, Out, TempDir};
use mounts_common::{cstr, in_private_mounts, mount};
use serde_json::Value;

const NET: &str = "net";

// ---------------------------------------------------------------------------
// Namespaces and mounts

/// A mount, lazily detached (with whatever is mounted below it) on drop,
/// so the temporary directory holding its mount point can be removed.
struct Mounted(PathBuf);

impl std::ops::Deref for Mounted {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let c = cstr(&self.0);
        // SAFETY: a NUL-terminated path alive for the call.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// A tmpfs of `opts` on a fresh directory of `tmp` (declared after `tmp`,
/// so it is unmounted before `tmp` is removed).
fn tmpfs(tmp: &TempDir, name: &str, opts: &str) -> Mounted {
    let p = tmp.path().join(name);
    fs::create_dir(&p).unwrap();
    mount("netns-test", &p, "tmpfs", 0, opts);
    Mounted(p)
}

/// Free inodes and free blocks of the filesystem holding `p`.
fn free(p: &Path) -> (u64, u64) {
    let c = cstr(p);
    // SAFETY: a zeroed statvfs is a valid out-parameter; `c` is alive.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    (st.f_favail, st.f_bavail)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Short {
    Inodes,
    Pages,
}

/// Use up the filesystem's inodes or pages with files in `fill` (on the
/// same filesystem, outside the data directory), then give `k` back: the
/// next allocations of that kind fail with ENOSPC after `k`.
fn leave(fill: &Path, short: Short, k: u64) {
    fs::create_dir_all(fill).unwrap();
    let mut made = Vec::new();
    for i in 0.. {
        let p = fill.join(format!("f{i}"));
        match fs::File::create_new(&p) {
            Ok(mut f) => {
                if short == Short::Pages {
                    let page = vec![0x55u8; 4096];
                    if let Err(e) = f.write_all(&page) {
                        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                        drop(f);
                        fs::remove_file(&p).unwrap();
                        break;
                    }
                }
                made.push(p);
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
    let idx = |f: (u64, u64)| if short == Short::Inodes { f.0 } else { f.1 };
    assert_eq!(idx(free(fill)), 0, "{short:?} used up");
    for p in made.iter().rev().take(usize::try_from(k).unwrap()) {
        fs::remove_file(p).unwrap();
    }
    assert_eq!(idx(free(fill)), k, "{short:?}: {k} left");
}

// ---------------------------------------------------------------------------
// Running a plugin

fn conf(data: &Path) -> String {
    format!(
        r#"{{"cniVersion":"1.0.0","name":"{NET}","ipam":{{"type":"host-local","subnet":"10.40.0.0/24","dataDir":"{}"}}}}"#,
        data.display()
    )
}

/// Run the IPAM plugin `bin` (`cmd` for container `id`, eth0) on `data`,
/// from the calling thread (so in its mount namespace). `drop_dac`: the
/// plugin runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (dropped
/// from its bounding set before exec, so root's exec does not give them
/// back): file modes apply to it as to any user.
fn run(bin: &Path, cmd: &str, id: &str, data: &Path, drop_dac: bool) -> Out {
    let mut c = Command::new(bin);
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/var/run/netns/netns-ipam-test")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if drop_dac {
        // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
        unsafe {
            c.pre_exec(|| {
                // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH (linux/capability.h).
                for cap in [1 as libc::c_ulong, 2] {
                    if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf(data).as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    Out {
        rc: o.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).ok(),
        stdout,
    }
}

fn name(bin: &Path) -> String {
    bin.file_name().unwrap().to_string_lossy().into_owned()
}

/// The refusal every fault must give: rc 1, code 999 (what the reference
/// gives for every I/O error; ours the same, a drop-in), and a message
/// naming a path inside `data` and the errno's text.
fn refused(o: &Out, bin: &Path, data: &Path, errno_text: &str) {
    assert_eq!(o.rc, 1, "{}: {}", name(bin), o.stdout);
    assert_eq!(o.code(), Some(999), "{}: {}", name(bin), o.stdout);
    let m = o.msg();
    assert!(
        m.contains(&data.display().to_string()) && m.ends_with(errno_text),
        "{}: message {m:?} does not name the path under {} and {errno_text:?}",
        name(bin),
        data.display()
    );
}

/// The temporary files of ours left anywhere under `data` (there must be
/// none after any command, failed or not).
fn temporaries(data: &Path) -> Vec<String> {
    tree(data)
        .into_keys()
        .filter(|k| k.ends_with(".tmp"))
        .collect()
}

/// Where in `msg` (an ENOSPC refusal) the write failed: the operation and
/// the file, temporary names generalised.
fn point(msg: &str) -> String {
    let after = msg.rsplit_once(": ").map_or(msg, |(a, _)| a);
    let after = after.split_once(": ").map_or(after, |(_, b)| b);
    let (op, path) = after.split_once(' ').unwrap_or(("?", after));
    let file = Path::new(path)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = if file.starts_with(".last_reserved_ip") || file.starts_with(".netns-ipam-cursor") {
        "cursor temporary".to_string()
    } else if file.starts_with(".netns-ipam-index") {
        "index temporary".to_string()
    } else {
        file
    };
    format!("{op} {file}")
}

// ---------------------------------------------------------------------------
// ENOSPC

/// What one ENOSPC case did.
#[derive(Debug)]
struct Case {
    short: Short,
    used: bool,
    free: u64,
    /// The failure point, or "ok".
    point: String,
    /// What the failed command left in the network's directory that was
    /// not there before (a leaked reservation), or changed (a truncated
    /// cursor).
    left: Vec<String>,
    /// The persistent index (ours) exists after the ADD.
    index: bool,
}

/// One case: a tmpfs whose network directory is fresh (`used` false: only
/// `lock`, as any command leaves it) or holds c0's reservation and cursor,
/// with `free` inodes or pages left; ADD c1 must fail cleanly or succeed
/// whole. Then, with the space back, the directory works on as if the
/// failed ADD never ran.
fn enospc_case(bin: &Path, short: Short, used: bool, k: u64) -> Case {
    let tmp = TempDir::new("enospc");
    let opts = match short {
        Short::Inodes => "size=1m,nr_inodes=48,mode=0755",
        Short::Pages => "size=64k,nr_inodes=1000,mode=0755",
    };
    let fsroot = tmpfs(&tmp, "fs", opts);
    let data = fsroot.join("data");
    let netdir = data.join(NET);
    if used {
        let o = run(bin, "ADD", "c0", &data, false);
        assert!(o.ok(), "{}: {}", name(bin), o.stdout);
    } else {
        // Makes the directory and `lock`, reserves nothing.
        assert!(run(bin, "DEL", "nobody", &data, false).ok());
    }
    let before = tree(&netdir);
    leave(&fsroot.join("fill"), short, k);
    let o = run(bin, "ADD", "c1", &data, false);
    let after = tree(&netdir);
    let first = if used { "10.40.0.3" } else { "10.40.0.2" };
    let case = if o.ok() {
        assert_eq!(o.ips(), [format!("{first}/24")], "{}", name(bin));
        let mut want = before.clone();
        want.insert(first.into(), b"c1\r\neth0".to_vec());
        want.insert("last_reserved_ip.0".into(), first.as_bytes().to_vec());
        assert_eq!(after, want, "{}: ADD c1 succeeded", name(bin));
        Case {
            short,
            used,
            free: k,
            point: "ok".into(),
            left: vec![],
            index: data.join(format!(".netns-ipam-index.{NET}")).exists(),
        }
    } else {
        refused(&o, bin, &data, "no space left on device");
        let left = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| format!("{k}={:?}", String::from_utf8_lossy(v)))
            .collect();
        Case {
            short,
            used,
            free: k,
            point: point(&o.msg()),
            left,
            index: data.join(format!(".netns-ipam-index.{NET}")).exists(),
        }
    };
    assert_eq!(temporaries(&data), Vec::<String>::new(), "{}", name(bin));
    // The space back: the failed ADD changed nothing that matters.
    fs::remove_dir_all(fsroot.join("fill")).unwrap();
    if case.point != "ok" && case.left.is_empty() {
        let again = run(bin, "ADD", "c1", &data, false);
        assert_eq!(
            again.ips(),
            [format!("{first}/24")],
            "{} after {:?}: {}",
            name(bin),
            case,
            again.stdout
        );
    }
    if case.left.is_empty() {
        assert!(run(bin, "DEL", "c1", &data, false).ok());
        if used {
            assert!(run(bin, "DEL", "c0", &data, false).ok());
        }
        let rest: Vec<String> = tree(&netdir).into_keys().collect();
        assert_eq!(rest, ["last_reserved_ip.0", "lock"], "{}", name(bin));
    }
    case
}

fn enospc_sweep(bin: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for short in [Short::Inodes, Short::Pages] {
        for used in [false, true] {
            for k in 0..4 {
                let c = enospc_case(bin, short, used, k);
                let done = c.point == "ok";
                cases.push(c);
                if done {
                    break;
                }
            }
        }
    }
    for c in &cases {
        println!(
            "{}: {:?} {} free, {}: {}{}{}",
            name(bin),
            c.short,
            c.free,
            if c.used { "used dir" } else { "fresh dir" },
            c.point,
            if c.point == "ok" && !c.index && bin == plugin() {
                " (index not written)"
            } else {
                ""
            },
            if c.left.is_empty() {
                String::new()
            } else {
                format!(", LEFT {:?}", c.left)
            }
        );
    }
    cases
}

#[test]
fn enospc_at_every_point_of_add_leaves_the_directory_as_it_was() {
    in_private_mounts(|| {
        let ours = enospc_sweep(&plugin());
        let reference = enospc_sweep(&host_local());
        // Ours never leaves anything behind.
        for c in &ours {
            assert!(c.left.is_empty(), "{c:?}");
        }
        // Every write of a reservation and of its cursor was made to fail.
        let points: std::collections::BTreeSet<&str> =
            ours.iter().map(|c| c.point.as_str()).collect();
        // (In a used directory the reservation's own create and write
        // cannot be the first to fail: removing the stale persistent index
        // before the first change gives back an inode and a page. The
        // cursor's temporary file is never the first create to fail: the
        // reservation is written to a temporary name and hard-linked, and
        // tmpfs counts the link as an inode, given back when the temporary
        // name goes, before the cursor's create.)
        for p in [
            "create 10.40.0.2",
            "write 10.40.0.2",
            "write cursor temporary",
            "ok",
        ] {
            assert!(points.contains(p), "{p:?} not reached: {points:?}");
        }
        // The reference, on the same filesystems, leaks the reservation
        // when its cursor write fails on a fresh directory (and truncates
        // the cursor there): the bug HOST-LOCAL.md says we fix, reproduced.
        let leaks: Vec<&Case> = reference.iter().filter(|c| !c.left.is_empty()).collect();
        assert!(
            leaks
                .iter()
                .any(|c| c.left.iter().any(|l| l.starts_with("10.40.0.2="))),
            "the reference's leak was not reproduced: {reference:?}"
        );
        // An ADD whose persistent index could not be written (it is a
        // cache) succeeded, and the commands after it (which read the
        // directory instead) worked.
        assert!(
            ours.iter().any(|c| c.point == "ok" && !c.index),
            "no ADD met a full disk at the index write: {ours:?}"
        );
    });
}

#[test]
fn del_and_check_work_on_a_full_data_dir() {
    in_private_mounts(|| {
        for bin in [plugin(), host_local()] {
            let tmp = TempDir::new("full-del");
            let fsroot = tmpfs(&tmp, "fs", "size=64k,nr_inodes=48,mode=0755");
            let data = fsroot.join("data");
            for id in ["c0", "c1"] {
                assert!(run(&bin, "ADD", id, &data, false).ok(), "{}", name(&bin));
            }
            // No inode and no page left.
            leave(&fsroot.join("fill"), Short::Pages, 0);
            leave(&fsroot.join("fill2"), Short::Inodes, 0);
            let check = run(&bin, "CHECK", "c0", &data, false);
            assert!(check.ok(), "{}: {}", name(&bin), check.stdout);
            // Releasing needs no space (ours cannot write its persistent
            // index then: a cache, the next command reads the directory).
            let del = run(&bin, "DEL", "c0", &data, false);
            assert!(del.ok(), "{}: {}", name(&bin), del.stdout);
            assert_eq!(temporaries(&data), Vec::<String>::new());
            let names: Vec<String> = tree(&data.join(NET)).into_keys().collect();
            assert_eq!(names, ["10.40.0.3", "last_reserved_ip.0", "lock"]);
            fs::remove_dir_all(fsroot.join("fill")).unwrap();
            fs::remove_dir_all(fsroot.join("fill2")).unwrap();
            // c0's address is free again, c1's still taken: the next ADD
            // takes the one after the cursor (.3), as ever.
            let again = run(&bin, "ADD", "c2", &data, false);
            assert_eq!(again.ips(), ["10.40.0.4/24"], "{}", name(&bin));
            let check = run(&bin, "CHECK", "c0", &data, false);
            assert_eq!(check.code(), Some(999), "{}: c0 released", name(&bin));
        }
    });
}

// ---------------------------------------------------------------------------
// EROFS, EACCES, EIO

/// A data directory holding c0's reservation, made by `bin`, on a plain
/// tmpfs of `tmp`.
fn holding_c0(bin: &Path, tmp: &TempDir) -> (Mounted, PathBuf) {
    let fsroot = tmpfs(tmp, "fs", "size=1m,mode=0755");
    let data = fsroot.join("data");
    assert!(run(bin, "ADD", "c0", &data, false).ok());
    (fsroot, data)
}

#[test]
fn a_read_only_data_dir_refuses_add_and_del_and_serves_check() {
    in_private_mounts(|| {
        for bin in [plugin(), host_local()] {
            let tmp = TempDir::new("erofs");
            let (_fs, data) = holding_c0(&bin, &tmp);
            let before = tree(&data);
            // A read-only bind of the data directory onto itself.
            mount(&data.display().to_string(), &data, "", libc::MS_BIND, "");
            mount(
                "",
                &data,
                "",
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                "",
            );
            let add = run(&bin, "ADD", "c1", &data, false);
            refused(&add, &bin, &data, "read-only file system");
            // A read-only command works: the lock is taken on a file
            // opened for reading (as host-local opens it).
            let check = run(&bin, "CHECK", "c0", &data, false);
            assert!(check.ok(), "{}: {}", name(&bin), check.stdout);
            let del = run(&bin, "DEL", "c0", &data, false);
            if bin == plugin() {
                // The address cannot be released: DEL says so (the
                // runtime retries it), rather than reporting a release that
                // did not happen.
                refused(&del, &bin, &data, "read-only file system");
            } else {
                // The reference ignores the failed unlink and reports
                // success with the address still reserved.
                assert!(del.ok(), "{}", del.stdout);
            }
            assert_eq!(tree(&data), before, "{}", name(&bin));
        }
    });
}

#[test]
fn a_data_dir_the_plugin_may_not_write_is_refused_with_eacces() {
    use std::os::unix::fs::PermissionsExt;
    in_private_mounts(|| {
        for bin in [plugin(), host_local()] {
            let tmp = TempDir::new("eacces");
            let (_fs, data) = holding_c0(&bin, &tmp);
            for d in [&data, &data.join(NET)] {
                fs::set_permissions(d, fs::Permissions::from_mode(0o555)).unwrap();
            }
            let before = tree(&data);
            let add = run(&bin, "ADD", "c1", &data, true);
            refused(&add, &bin, &data, "permission denied");
            assert_eq!(tree(&data), before, "{}", name(&bin));
            let check = run(&bin, "CHECK", "c0", &data, true);
            assert!(check.ok(), "{}: {}", name(&bin), check.stdout);
            // Root with its capabilities could: the refusal came from the
            // modes, not from anything else about the directory.
            assert!(run(&bin, "ADD", "c1", &data, false).ok());
        }
    });
}

/// EXT4_IOC_SHUTDOWN (`_IOR('X', 125, __u32)`), without flushing the log:
/// from now on every operation on the filesystem fails with EIO.
const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587d;
const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;

#[test]
fn an_io_error_on_the_data_dir_is_a_clear_error() {
    let mkfs = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let Some(mkfs) = mkfs else {
        println!("SKIP: no mkfs.ext4 (e2fsprogs) to make the image that is shut down for EIO");
        return;
    };
    in_private_mounts(|| {
        for bin in [plugin(), host_local()] {
            let tmp = TempDir::new("eio");
            let img = tmp.path().join("img");
            fs::File::create(&img).unwrap().set_len(2 << 20).unwrap();
            let o = Command::new(mkfs)
                .args(["-q", "-F", "-O", "^has_journal"])
                .arg(&img)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let mnt = tmp.path().join("mnt");
            fs::create_dir(&mnt).unwrap();
            // mount(8) sets up the loop device with autoclear: it is
            // detached when the filesystem is unmounted (with this thread's
            // mount namespace at the latest).
            let o = Command::new("mount")
                .args(["-o", "loop"])
                .arg(&img)
                .arg(&mnt)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            // Whatever happens below, unmounted before `tmp` is removed.
            let _mounted = Mounted(mnt.clone());
            let data = mnt.join("data");
            assert!(run(&bin, "ADD", "c0", &data, false).ok());
            let d = fs::File::open(&mnt).unwrap();
            // What the plugin wrote is on the disk before the shutdown
            // (neither plugin fsyncs; that is not what this test is about).
            // SAFETY: syncfs on a descriptor we own.
            let rc = unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&d)) };
            assert_eq!(rc, 0, "syncfs: {}", std::io::Error::last_os_error());
            let flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
            // SAFETY: the ioctl reads one u32 from a live local.
            let rc = unsafe {
                libc::ioctl(
                    std::os::fd::AsRawFd::as_raw_fd(&d),
                    EXT4_IOC_SHUTDOWN as _,
                    &flags,
                )
            };
            assert_eq!(rc, 0, "shutdown: {}", std::io::Error::last_os_error());
            drop(d);
            for (cmd, id) in [("ADD", "c1"), ("DEL", "c0"), ("CHECK", "c0")] {
                let o = run(&bin, cmd, id, &data, false);
                println!("{} {cmd} on a shut down ext4: {}", name(&bin), o.msg());
                if bin == plugin() {
                    refused(&o, &bin, &data, "input/output error");
                } else {
                    // The reference's message names no path (Go's bare
                    // flock errno).
                    assert_eq!((o.rc, o.code()), (1, Some(999)), "{}", o.stdout);
                    assert!(o.msg().ends_with("input/output error"), "{}", o.stdout);
                }
            }
            let o = Command::new("umount").arg(&mnt).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            // What was on the disk before the shutdown is what is there:
            // c0's reservation and cursor, nothing half-written.
            let o = Command::new("mount")
                .args(["-o", "loop,ro"])
                .arg(&img)
                .arg(&mnt)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let t = tree(&data.join(NET));
            let want: BTreeMap<String, Vec<u8>> = [
                ("10.40.0.2", &b"c0\r\neth0"[..]),
                ("last_reserved_ip.0", b"10.40.0.2"),
                ("lock", b""),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
            assert_eq!(t, want, "{}", name(&bin));
            let o = Command::new("umount").arg(&mnt).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    });
}

// ---------------------------------------------------------------------------
// netns-bridge with host-local in process

fn bridge_conf(data: &Path) -> Value {
    serde_json::json!({
        "cniVersion": "1.0.0", "name": NET, "type": "netns-bridge",
        "bridge": "br-disk", "isGateway": true, "ipMasq": true,
        "ipam": {"type": "host-local", "subnet": "10.40.0.0/24", "dataDir": data},
    })
}

fn bridge(cmd: &str, id: &str, netns: &Path, data: &Path) -> Out {
    let mut c = Command::new(example("netns-bridge"));
    c.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", netns)
        .env("CNI_PATH", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(bridge_conf(data).to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    Out {
        rc: o.status.code().unwrap_or(-1),
        json: serde_json::from_str(&stdout).ok(),
        stdout,
    }
}

/// The node (the calling thread's namespace) and the pod, normalised as
/// the bridge tests compare them, and the nftables ruleset.
fn node_state(pod: &Path) -> Value {
    let mut t = cni_common::Tokens::new();
    serde_json::json!({
        "node": cni_common::Snapshot::here().normalised(&mut t).as_value(),
        "pod": cni_common::Snapshot::of(pod).normalised(&mut t).as_value(),
        "nft": netns_testutil::nft::ruleset(),
    })
}

#[test]
fn bridge_on_a_full_data_dir_fails_and_leaves_the_node_and_the_pod_as_they_were() {
    in_private_mounts(|| {
        netns_testutil::ip(["link", "set", "lo", "up"]);
        let tmp = TempDir::new("br-enospc");
        let fsroot = tmpfs(&tmp, "fs", "size=1m,nr_inodes=48,mode=0755");
        let data = fsroot.join("data");
        let ns = netns_testutil::TempNetnsDir::new();
        let nsdir = netns_core::NetnsDir::new(ns.path());
        nsdir.create("p0").unwrap();
        nsdir.create("p1").unwrap();
        let (p0, p1) = (ns.path().join("p0"), ns.path().join("p1"));
        // A fresh node, no inode left: not even the network's directory
        // can be made. The ADD leaves only the bridge, made before IPAM is
        // asked and shared by the network's pods (as the reference leaves
        // it; removing it races other ADDs: plugins#283): no address on
        // it, no veth, no rule, nothing in the pod.
        let nft_before = netns_testutil::nft::ruleset();
        leave(&fsroot.join("fill"), Short::Inodes, 0);
        let o = bridge("ADD", "c0", &p0, &data);
        refused(
            &o,
            &example("netns-bridge"),
            &data,
            "no space left on device",
        );
        println!("netns-bridge on a fresh node, 0 inodes free: {}", o.msg());
        let links = netns_testutil::ip_json(["link", "show"]);
        assert_eq!(netns_testutil::ifnames(&links), ["br-disk", "lo"]);
        let addrs = netns_testutil::ip_json(["-4", "addr", "show", "br-disk"]);
        assert_eq!(
            addrs,
            serde_json::json!([]),
            "no IPv4 address on the bridge"
        );
        assert_eq!(netns_testutil::nft::ruleset(), nft_before);
        assert_eq!(cni_common::Snapshot::of(&p0).ifnames(), ["lo"]);
        assert!(
            !data.exists() || tree(&data).is_empty(),
            "{:?}",
            tree(&data)
        );
        fs::remove_dir_all(fsroot.join("fill")).unwrap();
        // A first pod: the bridge, its gateway address and the NAT table
        // exist, as on a node in use.
        let o = bridge("ADD", "c0", &p0, &data);
        assert!(o.ok(), "{}", o.stdout);
        for k in 0..3 {
            let before = node_state(&p1);
            let before_dir = tree(&data.join(NET));
            leave(&fsroot.join("fill"), Short::Inodes, k);
            let o = bridge("ADD", "c1", &p1, &data);
            if o.ok() {
                assert!(k > 0, "ADD c1 succeeded on a full filesystem");
                break;
            }
            refused(
                &o,
                &example("netns-bridge"),
                &data,
                "no space left on device",
            );
            println!("netns-bridge, {k} inodes free: {}", o.msg());
            assert!(
                node_state(&p1) == before,
                "{k} inodes free: the node or the pod changed:\n{}",
                serde_json::to_string_pretty(&node_state(&p1)).unwrap()
            );
            assert_eq!(tree(&data.join(NET)), before_dir, "{k} inodes free");
            assert_eq!(temporaries(&data), Vec::<String>::new());
            fs::remove_dir_all(fsroot.join("fill")).unwrap();
        }
        assert!(bridge("DEL", "c1", &p1, &data).ok());
        assert!(bridge("DEL", "c0", &p0, &data).ok());
        nsdir.delete("p0").unwrap();
        nsdir.delete("p1").unwrap();
    });
}

// ---------------------------------------------------------------------------
// make-net: its owner records and its in-process IPAM on a full disk

#[test]
fn make_net_on_a_full_disk_fails_with_nothing_made() {
    use cni_common::{our_path, Network, Pod, Snapshot, Tokens};
    in_private_mounts(|| {
        netns_testutil::ip(["link", "set", "lo", "up"]);
        let tmp = TempDir::new("mn-enospc");
        let fsroot = tmpfs(&tmp, "fs", "size=1m,nr_inodes=48,mode=0755");
        let ns_dir = netns_testutil::TempNetnsDir::new();
        let records = fsroot.join("records");
        let data = fsroot.join("data");
        let conf = serde_json::json!({"cniVersion": "1.0.0", "name": NET, "plugins": [
            {"type": "make-net", "netid": "router", "peer": "host",
             "nsDir": ns_dir.path(), "dataDir": records,
             "ipam": {"type": "host-local", "subnet": "10.40.0.0/24", "dataDir": data}}]});
        let net = Network::new(conf, our_path());
        let pod = Pod::new("p1");
        // The records' directory and lock, IPAM's network directory: made
        // by a first attachment, gone again.
        let p0 = Pod::new("p0");
        net.add(&p0, "c0", "eth0").expect_ok();
        net.del(&p0, "c0", "eth0").expect_ok();
        let state = || {
            let mut t = Tokens::new();
            serde_json::json!({
                "node": Snapshot::here().normalised(&mut t).as_value(),
                "pod": Snapshot::of(pod.path()).normalised(&mut t).as_value(),
                "ns_dir": cni_common::file_names(ns_dir.path()),
                // All but netns-ipam's persistent index (a cache, written
                // again after the failed ADD's release, with new stamps).
                "disk": tree(&fsroot)
                    .into_iter()
                    .filter(|(k, _)| !k.contains(".netns-ipam-index."))
                    .collect::<BTreeMap<_, _>>(),
            })
        };
        // 0 inodes: the owner record cannot be written (before anything is
        // made); 1: the record is, the IPAM reservation is not (after the
        // namespace and the pair were made: they are removed, and the
        // record).
        let mut msgs = Vec::new();
        for k in 0..3 {
            leave(&fsroot.join("fill"), Short::Inodes, k);
            let before = state();
            let o = net.add(&pod, "c1", "eth0");
            if o.ok() {
                assert!(k > 0, "ADD on a full disk succeeded");
                net.del(&pod, "c1", "eth0").expect_ok();
                break;
            }
            assert_eq!(o.expect_code(), 999, "{o}");
            // make-net's own messages are Rust's io::Error text ("No
            // space left on device (os error 28)"), IPAM's Go's.
            assert!(
                o.msg().to_lowercase().contains("no space left on device"),
                "{o}"
            );
            println!("make-net, {k} inodes free: {}", o.msg());
            msgs.push(o.msg());
            let now = state();
            assert!(
                now == before,
                "{k} inodes free: something was left: {now:#}"
            );
            fs::remove_dir_all(fsroot.join("fill")).unwrap();
        }
        assert!(
            msgs.iter().any(|m| m.contains("/records/router")),
            "the owner record's write failed: {msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("failed to allocate")),
            "IPAM's write failed: {msgs:?}"
        );
    });
}

#[test]
fn bridge_del_on_a_read_only_data_dir_fails_and_a_later_del_finishes() {
    in_private_mounts(|| {
        netns_testutil::ip(["link", "set", "lo", "up"]);
        let nft_before = netns_testutil::nft::ruleset();
        let tmp = TempDir::new("br-erofs");
        let fsroot = tmpfs(&tmp, "fs", "size=1m,mode=0755");
        let data = fsroot.join("data");
        let ns = netns_testutil::TempNetnsDir::new();
        let nsdir = netns_core::NetnsDir::new(ns.path());
        nsdir.create("p1").unwrap();
        let p1 = ns.path().join("p1");
        let o = bridge("ADD", "c1", &p1, &data);
        assert!(o.ok(), "{}", o.stdout);
        let reserved = tree(&data.join(NET));
        // Read-only: the address cannot be released, and DEL says so.
        mount(&data.display().to_string(), &data, "", libc::MS_BIND, "");
        let ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        mount("", &data, "", ro, "");
        let del = bridge("DEL", "c1", &p1, &data);
        refused(
            &del,
            &example("netns-bridge"),
            &data,
            "read-only file system",
        );
        assert_eq!(tree(&data.join(NET)), reserved);
        // Writable again: the runtime's next DEL finishes the job (the
        // interface already gone is fine), the masquerade removed.
        // Detached: a CI run once saw a plain umount of this read-only
        // mount fail, the plugin processes all exited.
        mounts_common::detach(&data);
        let del = bridge("DEL", "c1", &p1, &data);
        assert!(del.ok(), "{}", del.stdout);
        assert_eq!(cni_common::Snapshot::of(&p1).ifnames(), ["lo"]);
        let names: Vec<String> = tree(&data.join(NET)).into_keys().collect();
        assert_eq!(names, ["last_reserved_ip.0", "lock"]);
        assert_eq!(netns_testutil::nft::ruleset(), nft_before);
        nsdir.delete("p1").unwrap();
    });
}
