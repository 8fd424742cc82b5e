//! Network namespace API, checked against iproute2 (`ip netns ...`) as the
//! oracle. Every test runs in a private network namespace; named namespaces
//! live in a temporary netns directory, never in /run/netns.

use std::path::Path;
use std::process::{Command, Stdio};

use netns_core::{ErrorKind, Handle, NetNs, NetnsDir};
use netns_testutil::{
    in_private_netns, ip, ip_in_dir, is_mount_point, thread_netns_inode, unique_name, TempNetnsDir,
};

fn stdout(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn current_is_the_calling_threads_namespace() {
    let host = NetNs::current().unwrap();
    assert_eq!(host.inode(), thread_netns_inode());
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        assert_eq!(here.inode(), thread_netns_inode());
        assert_ne!(here, host);
        assert!(here.is_same(&NetNs::open("/proc/thread-self/ns/net").unwrap()));
        assert!(here.name().is_none());
    });
}

#[test]
fn anonymous_namespace_lives_while_open_and_is_empty() {
    in_private_netns(|| {
        let before = thread_netns_inode();
        let ns = NetNs::create().unwrap();
        assert_eq!(thread_netns_inode(), before, "the caller must not move");
        assert_ne!(ns.inode(), before);
        let (inside, links) = ns
            .run(|| (thread_netns_inode(), ip(["-o", "link", "show"])))
            .unwrap();
        assert_eq!(inside, ns.inode());
        assert_eq!(
            links.lines().count(),
            1,
            "a new namespace has only lo: {links}"
        );
        assert!(links.contains("lo:"));
        let dup = ns.try_clone().unwrap();
        drop(ns);
        // Still alive through the duplicate.
        assert_eq!(dup.run(thread_netns_inode).unwrap(), dup.inode());
    });
}

#[test]
fn open_rejects_what_is_not_a_network_namespace() {
    let e = NetNs::open("/etc/hostname").unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert!(e.to_string().contains("not a namespace file"), "{e}");
    assert!(e.to_string().contains("/etc/hostname"), "{e}");

    let e = NetNs::open("/proc/self/ns/uts").unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert!(e.to_string().contains("uts namespace"), "{e}");

    let e = NetNs::open("/nonexistent/netns-test").unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert!(e.to_string().contains("No such file or directory"), "{e}");
}

#[test]
fn from_pid_of_a_live_and_a_dead_process() {
    let me = NetNs::from_pid(std::process::id() as i32).unwrap();
    // The process's main thread namespace: the host's.
    assert_eq!(me, NetNs::open("/proc/self/ns/net").unwrap());

    // A child that has exited and been reaped: its pid is gone.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    child.wait().unwrap();
    let e = NetNs::from_pid(pid).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ESRCH), "{e}");
    assert!(e.to_string().contains("No such process"), "{e}");
    assert!(e.to_string().contains(&pid.to_string()), "{e}");

    for bad in [0, -1] {
        assert!(NetNs::from_pid(bad).unwrap_err().is_invalid_argument());
    }
}

#[test]
fn named_lifecycle_with_ip_as_the_oracle() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let name = unique_name("lib-");

        let ns = nsd.create(&name).unwrap();
        assert_eq!(ns.name(), Some(name.as_str()));
        assert!(is_mount_point(&dir.path().join(&name)));
        // iproute2's way: the directory itself is a shared mount point.
        assert!(is_mount_point(dir.path()));
        assert_eq!(nsd.list().unwrap(), vec![name.clone()]);
        assert_eq!(nsd.open(&name).unwrap(), ns);

        // ip sees it, can exec into it, and it is a fresh namespace.
        let listed = stdout(&ip_in_dir(dir.path(), ["netns", "list"]));
        assert_eq!(listed.trim(), name);
        let links = stdout(&ip_in_dir(dir.path(), ["-n", &name, "-o", "link", "show"]));
        assert_eq!(links.lines().count(), 1, "{links}");
        let exec = stdout(&ip_in_dir(
            dir.path(),
            ["netns", "exec", &name, "readlink", "/proc/self/ns/net"],
        ));
        assert_eq!(exec.trim(), format!("net:[{}]", ns.inode()));

        // Creating it again fails and leaves the first one alone.
        let e = nsd.create(&name).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(e.to_string().contains("exists"), "{e}");
        assert_eq!(nsd.open(&name).unwrap(), ns);

        // ip deletes what the library made.
        stdout(&ip_in_dir(dir.path(), ["netns", "del", &name]));
        assert!(nsd.list().unwrap().is_empty());
        // The namespace lives on through our descriptor.
        assert_eq!(ns.run(thread_netns_inode).unwrap(), ns.inode());
    });
}

#[test]
fn a_directory_the_program_owns_is_removed_without_a_trace() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let a = nsd.create("a").unwrap();
        nsd.create("b").unwrap();
        // ip adds one too, and a symlink is planted: removed, not followed.
        stdout(&ip_in_dir(dir.path(), ["netns", "add", "c"]));
        let victim = TempNetnsDir::new();
        std::os::unix::fs::symlink(victim.path(), dir.path().join("d")).unwrap();
        assert!(is_mount_point(dir.path()));
        nsd.remove().unwrap();
        assert!(!dir.path().exists());
        assert!(!is_mount_point(dir.path()));
        for n in ["a", "b", "c"] {
            assert!(!is_mount_point(&dir.path().join(n)), "{n}");
        }
        assert!(victim.path().is_dir(), "the symlink's target is untouched");
        // The namespace made as "a" lives on through its descriptor only.
        assert_eq!(a.run(thread_netns_inode).unwrap(), a.inode());
        // Removing what is gone is fine; the shared directory is refused.
        nsd.remove().unwrap();
        let e = NetnsDir::default().remove().unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
    });
}

#[test]
fn namespaces_made_by_ip_are_opened_listed_and_deleted() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        // The directory must be a shared mount for ip's mounts to propagate
        // back from its mount namespace; prepare it the way ip would.
        let probe = unique_name("probe-");
        nsd.create(&probe).unwrap();
        nsd.delete(&probe).unwrap();

        let name = unique_name("ip-");
        stdout(&ip_in_dir(dir.path(), ["netns", "add", &name]));
        assert_eq!(nsd.list().unwrap(), vec![name.clone()]);
        let ns = nsd.open(&name).unwrap();
        // Same namespace as ip's view of it.
        let inode = stdout(&ip_in_dir(
            dir.path(),
            ["netns", "exec", &name, "readlink", "/proc/self/ns/net"],
        ));
        assert_eq!(inode.trim(), format!("net:[{}]", ns.inode()));

        nsd.delete(&name).unwrap();
        assert!(nsd.list().unwrap().is_empty());
        assert!(!dir.path().join(&name).exists());
        let listed = stdout(&ip_in_dir(dir.path(), ["netns", "list"]));
        assert!(listed.trim().is_empty(), "{listed}");

        let e = nsd.delete(&name).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    });
}

#[test]
fn bad_names_are_refused_before_touching_the_filesystem() {
    let dir = TempNetnsDir::new();
    // A netns directory that does not exist yet: it must still not exist
    // after every refusal.
    let sub = dir.path().join("sub");
    let nsd = NetnsDir::new(&sub);
    let long = "n".repeat(256);
    for bad in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "/etc",
        "nul\0byte",
        long.as_str(),
    ] {
        for e in [
            nsd.create(bad).map(drop).unwrap_err(),
            nsd.delete(bad).unwrap_err(),
            nsd.open(bad).map(drop).unwrap_err(),
            nsd.attach(bad, std::process::id() as i32).unwrap_err(),
        ] {
            assert!(e.is_invalid_argument(), "{bad:?}: {e}");
            assert_eq!(e.errno(), Some(libc::EINVAL));
        }
    }
    assert!(!sub.exists(), "a refused name created the netns directory");
    assert!(!dir.path().join("escape").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn attach_and_identify_a_process() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        // A process in a namespace of its own, alive until we close its stdin;
        // it says "ready" once it is inside the new namespace.
        let mut child = Command::new("unshare")
            .args(["--net", "sh", "-c", "echo ready; exec cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "ready\n");
        let target = NetNs::from_pid(pid).unwrap();
        assert_ne!(target, NetNs::current().unwrap());

        let name = unique_name("att-");
        nsd.attach(&name, pid).unwrap();
        assert_eq!(nsd.open(&name).unwrap(), target);
        assert_eq!(nsd.identify_pid(pid).unwrap(), vec![name.clone()]);
        assert_eq!(nsd.identify(&target).unwrap(), vec![name.clone()]);
        let by_ip = stdout(&ip_in_dir(
            dir.path(),
            ["netns", "identify", &pid.to_string()],
        ));
        assert_eq!(by_ip.trim(), name);
        // Our own namespace has no name there.
        assert!(nsd.identify(&NetNs::current().unwrap()).unwrap().is_empty());

        // Attaching a second name to the same process, and ip's view of both.
        let second = unique_name("att2-");
        nsd.attach(&second, pid).unwrap();
        let mut both = vec![name.clone(), second.clone()];
        both.sort();
        assert_eq!(nsd.identify_pid(pid).unwrap(), both);

        drop(child.stdin.take());
        child.wait().unwrap();
        // The names keep the namespace alive after the process is gone.
        assert_eq!(nsd.open(&name).unwrap(), target);

        // A dead pid: a clear error and no file.
        let other = unique_name("dead-");
        let e = nsd.attach(&other, pid).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ESRCH), "{e}");
        assert!(!dir.path().join(&other).exists());
        nsd.delete(&name).unwrap();
        nsd.delete(&second).unwrap();
    });
}

#[test]
fn missing_directory_lists_empty_like_ip() {
    let dir = TempNetnsDir::new();
    let nsd = NetnsDir::new(dir.path().join("absent"));
    assert!(nsd.list().unwrap().is_empty());
    assert!(nsd.identify(&NetNs::current().unwrap()).unwrap().is_empty());
    let e = nsd.open("x").unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[test]
fn nsid_get_set_assign_and_the_kernels_refusal() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let peer = NetNs::create().unwrap();
        assert_eq!(h.nsid_get(&peer).unwrap(), None);
        h.nsid_set(&peer, 7).unwrap();
        assert_eq!(h.nsid_get(&peer).unwrap(), Some(7));
        let listed = netns_testutil::ip_json(["netns", "list-id"]);
        assert_eq!(listed[0]["nsid"], 7, "{listed}");

        // The kernel refuses a second id and says why (extended ack).
        let e = h.nsid_set(&peer, 8).unwrap_err();
        assert!(e.is_exists(), "{e}");
        let text = e.extack().expect("the kernel explains the refusal");
        assert!(text.contains("nsid"), "{text}");
        assert!(e.to_string().starts_with("nsid_set net:["), "{e}");
        assert!(e.to_string().contains(": kernel: "), "{e}");
        assert_eq!(h.nsid_get(&peer).unwrap(), Some(7), "nothing changed");

        // Taken id for another peer.
        let other = NetNs::create().unwrap();
        assert!(h.nsid_set(&other, 7).unwrap_err().is_exists());
        let auto = h.nsid_assign(&other).unwrap();
        assert!(auto >= 0 && auto != 7);
        assert_eq!(h.nsid_assign(&other).unwrap(), auto, "idempotent");
    });
}

#[test]
fn handle_opened_inside_another_namespace_stays_there() {
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        let other = NetNs::create().unwrap();
        // A handle bound to `other`, used from this thread: the nsid it sets
        // is recorded in `other`, not here.
        let h = other.handle().unwrap();
        assert_eq!(thread_netns_inode(), here.inode());
        h.nsid_set(&here, 3).unwrap();
        let inside = other
            .run(|| netns_testutil::ip_json(["netns", "list-id"]))
            .unwrap();
        assert_eq!(inside[0]["nsid"], 3, "{inside}");
        assert_eq!(Handle::new().unwrap().nsid_get(&other).unwrap(), None);
        // And it can be used from yet another thread.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(h.nsid_get(&here).unwrap(), Some(3)));
        });
    });
}

#[test]
fn run_returns_values_and_resumes_panics_on_the_caller() {
    in_private_netns(|| {
        let before = thread_netns_inode();
        let ns = NetNs::create().unwrap();
        assert_eq!(ns.run(|| 40 + 2).unwrap(), 42);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ns.run(|| -> u32 { panic!("boom in the namespace") })
        }));
        let payload = r.unwrap_err();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"boom in the namespace")
        );
        assert_eq!(thread_netns_inode(), before);
        // Borrowing from the caller's stack works (scoped thread).
        let mut seen = Vec::new();
        ns.run(|| seen.push(thread_netns_inode())).unwrap();
        assert_eq!(seen, vec![ns.inode()]);
    });
}

#[test]
fn run_from_many_threads_never_moves_a_caller() {
    in_private_netns(|| {
        let namespaces: Vec<NetNs> = (0..4).map(|_| NetNs::create().unwrap()).collect();
        std::thread::scope(|s| {
            for t in 0..8usize {
                let namespaces = &namespaces;
                s.spawn(move || {
                    let mine = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
                    for i in 0..200usize {
                        let ns = &namespaces[(t + i) % namespaces.len()];
                        let panics = i % 7 == 3;
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            ns.run(|| {
                                if panics {
                                    panic!("planned panic {t}/{i}");
                                }
                                (thread_netns_inode(), t * 1000 + i)
                            })
                        }));
                        match r {
                            Ok(v) => {
                                assert!(!panics);
                                assert_eq!(v.unwrap(), (ns.inode(), t * 1000 + i));
                            }
                            Err(p) => {
                                assert!(panics, "unexpected panic");
                                let msg = p.downcast_ref::<String>().unwrap();
                                assert_eq!(msg, &format!("planned panic {t}/{i}"));
                            }
                        }
                        assert_eq!(
                            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
                            mine,
                            "thread {t} moved after call {i}"
                        );
                    }
                });
            }
        });
    });
}

#[test]
fn spawn_has_ip_netns_exec_semantics() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let name = unique_name("exec-");
        let ns = nsd.create(&name).unwrap();

        // /etc/netns/NAME/hostname is bound over /etc/hostname for the child only.
        let etc = Path::new("/etc/netns").join(&name);
        let etc_parent_existed = Path::new("/etc/netns").exists();
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("hostname"), "netns-test-hostname\n").unwrap();
        let host_hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();

        // Devices only (a kernel with bonding also lists bonding_masters).
        let script = "readlink /proc/self/ns/net; cat /etc/hostname; \
                      for d in /sys/class/net/*; do [ -L \"$d\" ] && echo \"${d##*/}\"; done";
        let out = ns
            .spawn(
                Command::new("sh")
                    .args(["-c", script])
                    .stdout(Stdio::piped()),
            )
            .unwrap()
            .wait_with_output()
            .unwrap();

        std::fs::remove_dir_all(&etc).unwrap();
        if !etc_parent_existed {
            let _ = std::fs::remove_dir("/etc/netns");
        }

        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("net:[{}]", ns.inode()));
        assert_eq!(lines[1], "netns-test-hostname");
        // /sys describes the namespace: only its loopback.
        assert_eq!(&lines[2..], &["lo"], "{text}");
        // Nothing leaked into our mount namespace.
        assert_eq!(
            std::fs::read_to_string("/etc/hostname").unwrap_or_default(),
            host_hostname
        );
        assert_eq!(thread_netns_inode(), NetNs::current().unwrap().inode());

        // An anonymous namespace works too (no /etc binds).
        let anon = NetNs::create().unwrap();
        let out = anon
            .spawn(
                Command::new("readlink")
                    .arg("/proc/self/ns/net")
                    .stdout(Stdio::piped()),
            )
            .unwrap()
            .wait_with_output()
            .unwrap();
        assert_eq!(stdout(&out).trim(), format!("net:[{}]", anon.inode()));

        // A program that does not exist: a clear error.
        let e = anon
            .spawn(&mut Command::new("/nonexistent/program"))
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(e.to_string().contains("/nonexistent/program"), "{e}");
    });
}

#[test]
fn error_display_names_operation_and_object() {
    let e = NetnsDir::new("/nonexistent-netns-dir")
        .delete("x")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "netns_delete /nonexistent-netns-dir/x: No such file or directory (os error 2)"
    );
    assert!(matches!(e.kind(), ErrorKind::Io(_)));
}
