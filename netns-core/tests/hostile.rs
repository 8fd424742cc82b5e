//! A netns directory others can write: entries swapped for symlinks while a
//! namespace is being made, symlinks to mounts, directories that are mount
//! points, FIFOs, names that are not UTF-8. Each test plants the attack,
//! runs the library, and checks the refusal (or the safe outcome) and that
//! nothing outside the directory changed.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use netns_core::{NetNs, NetnsDir};
use netns_testutil::{in_private_netns, is_mount_point, TempNetnsDir};

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn mount_tmpfs(at: &Path) {
    nix::mount::mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
}

fn umount(at: &Path) {
    let _ = nix::mount::umount2(at, nix::mount::MntFlags::MNT_DETACH);
}

#[test]
fn an_entry_swapped_for_a_symlink_is_never_mounted_over() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let outside = TempNetnsDir::new();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let entry = dir.path().join("x");
        let stop = AtomicBool::new(false);
        let (mut made, mut refused) = (0, 0);
        std::thread::scope(|s| {
            // The attacker: swap the entry for a symlink to the victim, as
            // fast as it can, while namespaces are made and deleted.
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::fs::remove_file(&entry);
                    let _ = symlink(&victim, &entry);
                }
            });
            for _ in 0..300 {
                match nsd.create("x") {
                    Ok(ns) => {
                        made += 1;
                        // What is mounted there is the namespace made (the
                        // attacker may have replaced the name since).
                        if let Ok(there) = nsd.open("x") {
                            assert_eq!(there, ns);
                        }
                        let _ = nsd.delete("x");
                    }
                    Err(_) => refused += 1,
                }
                assert!(!is_mount_point(&victim), "the victim was mounted over");
            }
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(made + refused, 300);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!is_mount_point(&victim));
        nsd.remove().unwrap();
        assert!(!is_mount_point(dir.path()));
    });
}

#[test]
fn delete_refuses_what_is_not_a_namespace_name_and_unmounts_nothing() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        nsd.create("real").unwrap();
        let elsewhere = TempNetnsDir::new();
        mount_tmpfs(elsewhere.path());
        // A symlink to a mount point, a directory that is a mount point, a
        // FIFO.
        symlink(elsewhere.path(), dir.path().join("link")).unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        mount_tmpfs(&sub);
        mkfifo(&dir.path().join("fifo"));
        for (name, what) in [
            ("link", "symbolic link"),
            ("sub", "directory"),
            ("fifo", "fifo"),
        ] {
            let e = nsd.delete(name).unwrap_err();
            assert!(e.is_invalid_argument(), "{name}: {e}");
            assert!(e.to_string().contains(what), "{name}: {e}");
        }
        assert!(is_mount_point(elsewhere.path()), "the tmpfs stays mounted");
        assert!(is_mount_point(&sub), "the directory's mount stays");
        assert!(dir.path().join("link").symlink_metadata().is_ok());
        // The real one is deleted as usual.
        nsd.delete("real").unwrap();
        umount(&sub);
        umount(elsewhere.path());
        std::fs::remove_dir(&sub).unwrap();
        std::fs::remove_file(dir.path().join("link")).unwrap();
        std::fs::remove_file(dir.path().join("fifo")).unwrap();
        nsd.remove().unwrap();
    });
}

#[test]
fn fifos_symlinks_and_odd_names_neither_hang_nor_mislead() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let real = nsd.create("real").unwrap();
        mkfifo(&dir.path().join("fifo"));
        // A symlink to a real namespace file: a name is not followed.
        symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
        // A name that is not UTF-8 (byte 0xff).
        let odd = dir.path().join(OsStr::from_bytes(b"odd\xff"));
        std::fs::write(&odd, "").unwrap();
        // Opening a FIFO does not block: it is not a namespace file.
        let e = nsd.open("fifo").unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        assert!(e.to_string().contains("not a namespace file"), "{e}");
        let e = NetNs::open(dir.path().join("fifo")).unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        let e = nsd.open("alias").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // An explicit path is the caller's: it is followed.
        assert_eq!(NetNs::open(dir.path().join("alias")).unwrap(), real);
        // Listing names only what can be opened or deleted by name.
        let names = nsd.list().unwrap();
        assert_eq!(names, vec!["alias", "fifo", "real"]);
        assert_eq!(nsd.identify(&real).unwrap(), vec!["real"]);
        std::fs::remove_file(&odd).unwrap();
        std::fs::remove_file(dir.path().join("alias")).unwrap();
        std::fs::remove_file(dir.path().join("fifo")).unwrap();
        nsd.remove().unwrap();
    });
}
