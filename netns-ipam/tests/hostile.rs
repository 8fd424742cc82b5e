//! A data directory others can write: planted symlinks, FIFOs, devices and
//! huge files where the store keeps its cursor, its lock and its
//! reservations. Each test plants the attack, runs the store, and checks
//! the refusal (or the safe outcome) and that nothing outside the directory
//! changed.

// The VM tier leaves this binary out: what `netns_testutil::host_only!`
// expands to (this crate does not depend on netns-testutil).
#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: file-system attacks on the IPAM data directory, no kernel networking involved\0";

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use netns_ipam::{parse_cidr, Allocator, FileStore, RangeSet, RangeSpec, Store, StoreError};

struct Tmp(PathBuf);
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tmp(tag: &str) -> Tmp {
    let p = std::env::temp_dir().join(format!("netns-ipam-hostile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    Tmp(p)
}

fn allocator(data: &Path) -> Allocator<FileStore> {
    let set = RangeSet::new(&[RangeSpec::new(parse_cidr("10.9.0.0/24").unwrap())]).unwrap();
    Allocator::new(vec![set], FileStore::open(data, "net").unwrap())
}

/// Run `f` on a thread; a run that has not returned within a minute is a
/// failure (the attacks here used to block the store forever). A bound for
/// detecting a hang, not a timing assertion.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the store blocked on a planted entry")
}

#[test]
fn a_planted_temp_cursor_symlink_is_never_followed() {
    let t = tmp("tmp-cursor");
    let net = t.0.join("data/net");
    std::fs::create_dir_all(&net).unwrap();
    let victim = t.0.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let dangling = t.0.join("would-be-created");
    symlink(&victim, net.join(".last_reserved_ip.0.tmp")).unwrap();
    symlink(&dangling, net.join(".last_reserved_ip.1.tmp")).unwrap();
    let mut a = allocator(&t.0.join("data"));
    let got = a.allocate("c1", "eth0", &[]).unwrap();
    assert_eq!(got[0].ip().to_string(), "10.9.0.2");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(!dangling.exists());
    let cursor = net.join("last_reserved_ip.0");
    assert!(std::fs::symlink_metadata(&cursor).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&cursor).unwrap(), "10.9.0.2");
    // The planted links are left as they were, and no temp file is left.
    assert!(
        std::fs::symlink_metadata(net.join(".last_reserved_ip.0.tmp"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&net)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.ends_with(".tmp")
                && !n.starts_with(".last_reserved_ip.0.tmp")
                && !n.starts_with(".last_reserved_ip.1.tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_cursor_replaced_by_a_symlink_is_neither_read_nor_written_through() {
    let t = tmp("cursor");
    let net = t.0.join("data/net");
    std::fs::create_dir_all(&net).unwrap();
    let victim = t.0.join("victim");
    std::fs::write(&victim, "10.9.0.200").unwrap();
    symlink(&victim, net.join("last_reserved_ip.0")).unwrap();
    let mut a = allocator(&t.0.join("data"));
    // The planted "cursor" is not read: allocation starts at the beginning.
    let got = a.allocate("c1", "eth0", &[]).unwrap();
    assert_eq!(got[0].ip().to_string(), "10.9.0.2");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "10.9.0.200");
    let cursor = std::fs::symlink_metadata(net.join("last_reserved_ip.0")).unwrap();
    assert!(cursor.is_file(), "the symlink was replaced, not followed");
    // A cursor that is a FIFO does not block, one on /dev/zero is not read
    // without bound: both mean "none".
    let t2 = tmp("cursor-special");
    let net2 = t2.0.join("data/net");
    std::fs::create_dir_all(&net2).unwrap();
    nix_mkfifo(&net2.join("last_reserved_ip.0"));
    let got = bounded({
        let d = t2.0.join("data");
        move || {
            allocator(&d)
                .allocate("c1", "eth0", &[])
                .map(|v| v[0].ip().to_string())
        }
    });
    assert_eq!(got.unwrap(), "10.9.0.2");
}

#[test]
fn a_planted_lock_or_network_directory_is_refused_clearly() {
    let t = tmp("lock");
    let net = t.0.join("data/net");
    std::fs::create_dir_all(&net).unwrap();
    let dangling = t.0.join("would-be-created");
    symlink(&dangling, net.join("lock")).unwrap();
    let e = FileStore::open(t.0.join("data"), "net").unwrap_err();
    assert!(matches!(e, StoreError::NotRegular { .. }), "{e}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(!dangling.exists(), "no file was created through the link");

    std::fs::remove_file(net.join("lock")).unwrap();
    nix_mkfifo(&net.join("lock"));
    let e = bounded({
        let d = t.0.join("data");
        move || {
            FileStore::open(d, "net")
                .map(|_| ())
                .unwrap_err()
                .to_string()
        }
    });
    assert!(e.contains("fifo"), "{e}");

    // The network's directory itself swapped for a symlink elsewhere.
    let t2 = tmp("netdir");
    let outside = t2.0.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(t2.0.join("data")).unwrap();
    symlink(&outside, t2.0.join("data/net")).unwrap();
    let e = FileStore::open(t2.0.join("data"), "net").unwrap_err();
    assert!(matches!(e, StoreError::NotRegular { .. }), "{e}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn special_files_named_like_addresses_neither_block_nor_exhaust() {
    let t = tmp("entries");
    let net = t.0.join("data/net");
    std::fs::create_dir_all(&net).unwrap();
    // .2 a FIFO (used to block ADD and DEL forever, holding the lock), .3 a
    // symlink to /dev/zero (used to read until memory ran out), .4 a huge
    // regular file, .5 a symlink to a reservation-looking file outside.
    nix_mkfifo(&net.join("10.9.0.2"));
    symlink("/dev/zero", net.join("10.9.0.3")).unwrap();
    std::fs::write(net.join("10.9.0.4"), vec![b'x'; 4 << 20]).unwrap();
    let outside = t.0.join("outside-owner");
    std::fs::write(&outside, "intruder\r\neth9").unwrap();
    symlink(&outside, net.join("10.9.0.5")).unwrap();
    let d = t.0.join("data");
    let (first, second, released, owners) = bounded(move || {
        let mut a = allocator(&d);
        let first = a.allocate("c1", "eth0", &[]).unwrap()[0].ip().to_string();
        let second = a.allocate("c2", "eth0", &[]).unwrap()[0].ip().to_string();
        let released = a.release("c1", "eth0").map(|_| ()).is_ok();
        let store = a.store_mut();
        store.lock().unwrap();
        let owners: Vec<String> = store
            .reservations()
            .unwrap()
            .into_iter()
            .map(|r| r.ip.to_string())
            .collect();
        store.unlock().unwrap();
        (first, second, released, owners)
    });
    // None of the planted entries is handed out; .4 (a regular file) is a
    // reservation, the others are not reservations of anyone.
    assert_eq!(first, "10.9.0.6");
    assert_eq!(second, "10.9.0.7");
    assert!(released);
    assert!(owners.contains(&"10.9.0.4".to_owned()), "{owners:?}");
    assert!(
        !owners.iter().any(|o| o == "10.9.0.3" || o == "10.9.0.5"),
        "{owners:?}"
    );
    assert!(std::fs::symlink_metadata(net.join("10.9.0.2"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "intruder\r\neth9"
    );
}

fn nix_mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}
