//! What a test binary run by .ci/vm/run can rely on.
use std::io::{IsTerminal, Read};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

fn fs_type(path: &str) -> String {
    // /proc/self/mounts: the last mount on PATH wins
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1] == path).then(|| f[2].to_string())
        })
        .last()
        .unwrap_or_default()
}

#[test]
fn kernel_and_marker_env() {
    let k = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let marker = std::env::var("NETNS_TEST_KERNEL").unwrap();
    assert_eq!(marker, format!("vm-debian-{}", k.trim()));
    eprintln!("NETNS_TEST_KERNEL={marker}");
}

#[test]
fn env_is_passed() {
    // set by cargo for the test binary
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    assert!(std::env::var("CARGO_PKG_NAME").is_ok());
    // set by the selftest on the host, with awkward characters
    assert_eq!(
        std::env::var("NETNS_SELFTEST_TOKEN").as_deref(),
        Ok("a b'c\"d$e\nf"),
    );
    // not in CARGO_/RUST_/NETNS_: not passed
    assert!(std::env::var("SELFTEST_NOT_PASSED").is_err());
}

#[test]
fn cwd_and_fixtures() {
    let dir = env!("CARGO_MANIFEST_DIR");
    assert_eq!(std::env::current_dir().unwrap().to_str().unwrap(), dir);
    let s = std::fs::read_to_string(format!("{dir}/tests/fixture.txt")).unwrap();
    assert_eq!(s.trim(), "fixture-content-1234");
    // relative paths resolve against the cwd too
    assert!(std::path::Path::new("tests/fixture.txt").exists());
}

#[test]
fn current_exe_is_the_host_path() {
    let exe = std::env::current_exe().unwrap();
    let arg0 = std::env::args().next().unwrap();
    assert_eq!(exe, std::path::PathBuf::from(&arg0));
    assert!(exe.starts_with(env!("CARGO_TARGET_TMPDIR").rsplit_once("/tmp").unwrap().0));
}

#[test]
fn bin_exe_from_the_target_dir() {
    let out = Command::new(env!("CARGO_BIN_EXE_probe")).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("probe on 6.1."));
}

#[test]
fn target_tmpdir_is_writable() {
    let p = format!("{}/vm-selftest-{}", env!("CARGO_TARGET_TMPDIR"), std::process::id());
    std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(&p, b"x").unwrap();
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn stdio() {
    let mut buf = Vec::new();
    assert_eq!(std::io::stdin().read_to_end(&mut buf).unwrap(), 0);
    assert!(!std::io::stdout().is_terminal());
    assert!(!std::io::stderr().is_terminal());
}

#[test]
fn root_and_mounts() {
    assert_eq!(std::fs::metadata("/proc/self").unwrap().uid(), 0);
    assert_eq!(fs_type("/tmp"), "tmpfs");
    assert_eq!(fs_type("/run"), "tmpfs");
    assert_eq!(fs_type("/proc"), "proc");
    assert_eq!(fs_type("/sys"), "sysfs");
    assert_eq!(fs_type("/dev"), "devtmpfs");
    assert_eq!(fs_type(env!("CARGO_MANIFEST_DIR")), "9p");
    let t = std::env::temp_dir().join("vm-selftest");
    std::fs::write(&t, b"ok").unwrap();
    std::fs::remove_file(&t).unwrap();
}

#[test]
fn real_tools() {
    for (tool, arg, want) in [
        ("ip", "-V", "iproute2"),
        ("bridge", "-V", "bridge utility"),
        ("unshare", "--version", "util-linux"),
        ("nsenter", "--version", "util-linux"),
        ("mount", "--version", "util-linux"),
        ("umount", "--version", "util-linux"),
        ("findmnt", "--version", "util-linux"),
    ] {
        let out = Command::new(tool).arg(arg).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
        let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(want), "{tool} {arg}: {text}");
    }
    // /bin/sh is dash, and finds the real ip (busybox sh would use its own)
    let out = Command::new("sh").args(["-c", "ip -V; readlink -f /bin/sh"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("iproute2") && text.contains("dash"), "{text}");
}

#[test]
fn modules_loaded_without_default_devices() {
    for m in ["8021q", "ipvlan", "dummy", "bonding", "vrf", "bridge", "veth", "macvlan", "macvtap", "vxlan", "tun"] {
        assert!(std::path::Path::new(&format!("/sys/module/{m}")).exists(), "module {m}");
    }
    // numdummies=0, max_bonds=0: no dummy0/bond0 appeared
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("dummy0") && !text.contains("bond0"), "{text}");
    assert!(text.contains("lo:"), "{text}");
}
