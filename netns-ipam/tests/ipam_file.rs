//! FileStore: the on-disk format, and a long-lived store staying exact while
//! the real host-local changes the directory behind its back.

// The VM tier leaves this binary out: what `netns_testutil::host_only!`
// expands to (this crate does not depend on netns-testutil).
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks\0";

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netns_ipam::{parse_cidr, Allocator, FileStore, RangeSet, RangeSpec, Store};

const HOST_LOCAL: &str = "/usr/lib/cni/host-local";

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tmp(tag: &str) -> Tmp {
    let p = std::env::temp_dir().join(format!("netns-ipam-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    Tmp(p)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn host_local(cmd: &str, id: &str, data_dir: &Path, subnet: &str) -> String {
    use std::io::Write;
    assert!(
        Path::new(HOST_LOCAL).is_file(),
        "{HOST_LOCAL} missing: apt-get install containernetworking-plugins"
    );
    let mut c = Command::new(HOST_LOCAL)
        .env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/x")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let conf = format!(
        r#"{{"cniVersion":"1.0.0","name":"net","ipam":{{"dataDir":"{}","subnet":"{subnet}"}}}}"#,
        data_dir.display()
    );
    c.stdin.take().unwrap().write_all(conf.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "host-local {cmd} {id}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn set(subnet: &str) -> Vec<RangeSet> {
    vec![RangeSet::new(&[RangeSpec::new(parse_cidr(subnet).unwrap())]).unwrap()]
}

#[test]
fn layout_is_host_locals() {
    let t = tmp("layout");
    let mut a = Allocator::new(
        set("fd00::/120"),
        FileStore::open(t.0.join("data"), "net").unwrap(),
    );
    let got = a.allocate("c1", "eth0", &[]).unwrap();
    assert_eq!(got[0].address.to_string(), "fd00::2/120");
    let dir = t.0.join("data/net");
    assert_eq!(mode(&t.0.join("data")), 0o755 & !umask());
    assert_eq!(mode(&dir), 0o755 & !umask());
    assert_eq!(mode(&dir.join("lock")), 0o750 & !umask());
    assert_eq!(mode(&dir.join("fd00::2")), 0o644 & !umask());
    assert_eq!(std::fs::read(dir.join("fd00::2")).unwrap(), b"c1\r\neth0");
    assert_eq!(
        std::fs::read(dir.join("last_reserved_ip.0")).unwrap(),
        b"fd00::2"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["fd00::2", "last_reserved_ip.0", "lock"],
        "no temp file left"
    );
    assert!(matches!(
        FileStore::open(&t.0, "../x"),
        Err(netns_ipam::StoreError::InvalidNetworkName(_))
    ));
}

fn umask() -> u32 {
    // Read, not set: other tests create files concurrently.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

/// A FileStore kept open across host-local invocations sees every change
/// they make (inotify), so it neither hands out their addresses nor misses
/// their releases, and host-local sees ours.
#[test]
fn long_lived_store_tracks_host_local() {
    let t = tmp("track");
    let subnet = "10.50.0.0/29";
    let mut a = Allocator::new(set(subnet), FileStore::open(&t.0, "net").unwrap());
    let ip = |v: &[netns_ipam::Allocation]| v[0].ip().to_string();
    assert_eq!(ip(&a.allocate("ours1", "eth0", &[]).unwrap()), "10.50.0.2");
    assert!(host_local("ADD", "hl1", &t.0, subnet).contains("10.50.0.3/29"));
    assert!(host_local("ADD", "hl2", &t.0, subnet).contains("10.50.0.4/29"));
    // The cursor host-local wrote is honoured and its files are known.
    assert_eq!(ip(&a.allocate("ours2", "eth0", &[]).unwrap()), "10.50.0.5");
    assert!(a.check("hl1", "eth0").unwrap());
    host_local("DEL", "hl1", &t.0, subnet);
    assert!(!a.check("hl1", "eth0").unwrap());
    host_local("ADD", "hl3", &t.0, subnet); // .6
    assert_eq!(ip(&a.allocate("ours3", "eth0", &[]).unwrap()), "10.50.0.3");
    // Full now (.2 - .6): ours and host-local agree.
    assert!(a.allocate("ours4", "eth0", &[]).is_err());
    assert_eq!(a.release("hl2", "eth0").unwrap().len(), 1);
    assert!(host_local("ADD", "hl4", &t.0, subnet).contains("10.50.0.4/29"));
    // A reservation file removed by hand is noticed too.
    std::fs::remove_file(t.0.join("net/10.50.0.5")).unwrap();
    assert_eq!(ip(&a.allocate("ours5", "eth0", &[]).unwrap()), "10.50.0.5");
    let s = a.store_mut();
    s.lock().unwrap();
    let owners: Vec<String> = s
        .reservations()
        .unwrap()
        .into_iter()
        .map(|r| r.owner)
        .collect();
    s.unlock().unwrap();
    assert_eq!(
        owners,
        [
            "ours1\r\neth0",
            "ours3\r\neth0",
            "hl4\r\neth0",
            "ours5\r\neth0",
            "hl3\r\neth0"
        ]
    );
}

#[test]
fn gc_keeps_valid_attachments_lock_and_cursors() {
    let t = tmp("gc");
    let mut a = Allocator::new(set("10.51.0.0/28"), FileStore::open(&t.0, "net").unwrap());
    for id in ["a", "b", "c"] {
        a.allocate(id, "eth0", &[]).unwrap();
    }
    a.allocate("a", "eth1", &[]).unwrap();
    std::fs::write(t.0.join("net/10.51.0.9"), "legacy").unwrap();
    let gone = a
        .gc(&[
            ("a".into(), "eth0".into()),
            ("c".into(), "eth0".into()),
            ("legacy".into(), "eth5".into()),
        ])
        .unwrap();
    let gone: Vec<String> = gone.iter().map(|i| i.to_string()).collect();
    assert_eq!(gone, ["10.51.0.3", "10.51.0.5"]);
    for f in [
        "lock",
        "last_reserved_ip.0",
        "10.51.0.2",
        "10.51.0.4",
        "10.51.0.9",
    ] {
        assert!(t.0.join("net").join(f).exists(), "{f} removed");
    }
}
