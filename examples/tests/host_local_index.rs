//! netns-host-local's persistent index (`<dataDir>/.netns-ipam-index.<net>`)
//! never gives a wrong answer: changes made behind its back (by host-local,
//! or by hand), even in the same clock tick as the index write, a damaged
//! index and another network's index are all seen; no address is handed out
//! twice and no reservation is lost.

netns_testutil::host_only!(
    "needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks"
);

mod host_local_common;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use host_local_common::*;

const IPAM: &str = r#""subnet":"10.50.0.0/27""#;

fn conf(dir: &TempDir, net: &str) -> String {
    format!(
        r#"{{"cniVersion":"1.0.0","name":"{net}","ipam":{{"dataDir":"{}",{IPAM}}}}}"#,
        dir.s()
    )
}

fn index_of(dir: &TempDir, net: &str) -> PathBuf {
    dir.path().join(format!(".netns-ipam-index.{net}"))
}

/// The reservations in the files: address -> owner.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if name.parse::<std::net::IpAddr>().is_ok() {
            let owner = std::fs::read_to_string(e.path()).unwrap();
            out.insert(name, owner);
        }
    }
    out
}

fn add(bin: &Path, id: &str, conf: &str) -> String {
    let o = run(bin, &Call::new("ADD", id, conf));
    assert!(o.ok(), "ADD {id}: {o:?}");
    let ips = o.ips();
    assert_eq!(ips.len(), 1, "{o:?}");
    ips[0].split('/').next().unwrap().to_string()
}

fn del(bin: &Path, id: &str, conf: &str) {
    let o = run(bin, &Call::new("DEL", id, conf));
    assert!(o.ok(), "DEL {id}: {o:?}");
}

/// The directory's (atime, mtime), to put back after a change: the change
/// is then invisible to timestamps, as one in the same clock tick as the
/// index write is.
fn times(dir: &Path) -> [libc::timespec; 2] {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).unwrap();
    [
        libc::timespec {
            tv_sec: m.atime(),
            tv_nsec: m.atime_nsec(),
        },
        libc::timespec {
            tv_sec: m.mtime(),
            tv_nsec: m.mtime_nsec(),
        },
    ]
}

fn set_times(dir: &Path, t: [libc::timespec; 2]) {
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and an array of two timespecs, both
    // alive for the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), t.as_ptr(), 0) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

/// What host-local does to reserve an address: create the file with
/// O_EXCL, write the owner, rewrite the cursor in place.
fn host_local_reserve(dir: &Path, ip: &str, owner: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(ip))
        .unwrap();
    f.write_all(owner.as_bytes()).unwrap();
    let mut c = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join("last_reserved_ip.0"))
        .unwrap();
    c.write_all(ip.as_bytes()).unwrap();
}

fn owners(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(ip, id)| (ip.to_string(), format!("{id}\r\neth0")))
        .collect()
}

/// Reservations made right after netns-host-local wrote its index, with
/// the directory's timestamps put back to what the index saw (a change in
/// the same tick): an address created with O_EXCL as host-local does, and a
/// file rewritten in place (same name, same inode) for another owner.
#[test]
fn changes_in_the_same_tick_as_the_index_write_are_seen() {
    let ours = plugin();
    let d = TempDir::new("idx-tick");
    let c = conf(&d, "net");
    let net = d.path().join("net");
    assert_eq!(add(&ours, "c1", &c), "10.50.0.2");
    assert_eq!(add(&ours, "c2", &c), "10.50.0.3");
    assert!(index_of(&d, "net").is_file(), "the index was written");

    // The next address netns-host-local would pick, taken behind its back
    // within the tick: its directory timestamps say nothing changed.
    let t = times(&net);
    host_local_reserve(&net, "10.50.0.4", "hl\r\neth0");
    set_times(&net, t);
    assert_eq!(
        add(&ours, "c3", &c),
        "10.50.0.5",
        "never the address host-local took"
    );

    // c1's file rewritten in place for another owner, timestamps put back.
    let t = times(&net);
    std::fs::write(net.join("10.50.0.2"), "h2\r\neth0").unwrap();
    set_times(&net, t);
    del(&ours, "c1", &c); // c1 holds nothing now: nothing to remove
    assert_eq!(
        files(&net),
        owners(&[
            ("10.50.0.2", "h2"),
            ("10.50.0.3", "c2"),
            ("10.50.0.4", "hl"),
            ("10.50.0.5", "c3")
        ])
    );
    // Their DELs through netns-host-local find them.
    del(&ours, "hl", &c);
    del(&ours, "h2", &c);
    let check = run(&ours, &Call::new("CHECK", "c2", &c));
    assert!(check.ok(), "{check:?}");
    assert_eq!(
        files(&net),
        owners(&[("10.50.0.3", "c2"), ("10.50.0.5", "c3")])
    );
    // And host-local agrees on what is free.
    assert_eq!(add(&host_local(), "h6", &c), "10.50.0.6");
    assert_eq!(add(&ours, "c7", &c), "10.50.0.7");
}

/// A truncated, emptied, byte-flipped or stale (an older, valid copy)
/// index is not trusted: the answers are those of the files.
#[test]
fn a_damaged_or_stale_index_is_rebuilt_from_the_files() {
    let ours = plugin();
    let d = TempDir::new("idx-damaged");
    let c = conf(&d, "net");
    let net = d.path().join("net");
    let idx = index_of(&d, "net");
    for i in 0..3 {
        add(&ours, &format!("c{i}"), &c); // .2 .3 .4
    }
    let stale = std::fs::read(&idx).unwrap();
    for i in 3..5 {
        add(&ours, &format!("c{i}"), &c); // .5 .6
    }
    let good = std::fs::read(&idx).unwrap();

    // Stale: the listing shows .5 and .6 the old index does not know.
    std::fs::write(&idx, &stale).unwrap();
    del(&ours, "c3", &c);
    assert!(!net.join("10.50.0.5").exists(), "c3's address released");
    assert_eq!(add(&ours, "c5", &c), "10.50.0.7");

    // Truncated at every length tried, and a flipped byte.
    let now = std::fs::read(&idx).unwrap();
    assert_ne!(now, good);
    for (n, cut) in [now.len() / 2, now.len() - 1, 0].into_iter().enumerate() {
        std::fs::write(&idx, &now[..cut]).unwrap();
        let ip = add(&ours, &format!("t{n}"), &c);
        assert!(
            ["10.50.0.8", "10.50.0.9", "10.50.0.10"].contains(&ip.as_str()),
            "{ip}"
        );
    }
    let mut flipped = std::fs::read(&idx).unwrap();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    std::fs::write(&idx, &flipped).unwrap();
    del(&ours, "c4", &c);
    assert!(!net.join("10.50.0.6").exists(), "c4's address released");
    assert_eq!(
        files(&net),
        owners(&[
            ("10.50.0.2", "c0"),
            ("10.50.0.3", "c1"),
            ("10.50.0.4", "c2"),
            ("10.50.0.7", "c5"),
            ("10.50.0.8", "t0"),
            ("10.50.0.9", "t1"),
            ("10.50.0.10", "t2"),
        ])
    );
    // The next ADD rewrote a good index: the one after uses it.
    assert_eq!(add(&ours, "c6", &c), "10.50.0.11");
    assert_eq!(add(&ours, "c7", &c), "10.50.0.12");
}

/// Another network's index (same subnet, other reservations) put in the
/// place of this network's is not trusted.
#[test]
fn an_index_of_another_network_is_not_trusted() {
    let ours = plugin();
    let d = TempDir::new("idx-foreign");
    let (ca, cb) = (conf(&d, "a"), conf(&d, "b"));
    for i in 0..5 {
        add(&ours, &format!("a{i}"), &ca); // a: .2 - .6
    }
    assert_eq!(add(&ours, "b0", &cb), "10.50.0.2");
    std::fs::copy(index_of(&d, "a"), index_of(&d, "b")).unwrap();
    del(&ours, "a3", &cb); // a3 has nothing in b
    assert_eq!(add(&ours, "b1", &cb), "10.50.0.3");
    assert_eq!(
        files(&d.path().join("b")),
        owners(&[("10.50.0.2", "b0"), ("10.50.0.3", "b1")])
    );
    assert_eq!(files(&d.path().join("a")).len(), 5, "a untouched");
}

/// A directory edited by hand between commands: a file added, one
/// removed, one rewritten by an editor (new file renamed over the old).
#[test]
fn a_directory_edited_by_hand_is_seen() {
    let (ours, hl) = (plugin(), host_local());
    let d = TempDir::new("idx-hand");
    let c = conf(&d, "net");
    let net = d.path().join("net");
    for i in 0..6 {
        add(&ours, &format!("c{i}"), &c); // .2 - .7
    }
    std::fs::remove_file(net.join("10.50.0.4")).unwrap(); // c2
    std::fs::write(net.join("10.50.0.9"), "h9\r\neth0").unwrap();
    std::fs::write(net.join(".edit"), "h5\r\neth0").unwrap();
    std::fs::rename(net.join(".edit"), net.join("10.50.0.5")).unwrap(); // c3's
    assert_eq!(add(&ours, "c6", &c), "10.50.0.8");
    assert_eq!(add(&ours, "c7", &c), "10.50.0.10", "skips the hand-made .9");
    let check = run(&ours, &Call::new("CHECK", "c2", &c));
    assert!(!check.ok(), "c2's file was removed: {check:?}");
    del(&ours, "c3", &c);
    assert!(net.join("10.50.0.5").exists(), "h5's, not c3's");
    del(&ours, "h9", &c);
    del(&ours, "h5", &c);
    let want = owners(&[
        ("10.50.0.2", "c0"),
        ("10.50.0.3", "c1"),
        ("10.50.0.6", "c4"),
        ("10.50.0.7", "c5"),
        ("10.50.0.8", "c6"),
        ("10.50.0.10", "c7"),
    ]);
    assert_eq!(files(&net), want);
    // host-local, then netns-host-local, on the result: no duplicate.
    assert_eq!(add(&hl, "h11", &c), "10.50.0.11");
    assert_eq!(add(&ours, "c12", &c), "10.50.0.12");
}
