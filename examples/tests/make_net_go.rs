//! make-net-go, the Go make-net (examples/go/make-net-go), under libcni: the
//! tests of tests/make_net_common, from the one list the Rust make-net's
//! (tests/make_net.rs) come from; two that are not in that list (GC and
//! STATUS delegated to an IPAM plugin of spec 1.1, a path only the Go
//! plugin has; each plugin checking and removing what the other made, which
//! needs both); and a check of its sources (and the netns package's) that
//! nothing in them switches a thread's namespace.
//!
//! The plugin is built by examples/go/build.sh (GOPATH mode, offline,
//! libnetns linked statically) into <target>/go/make-net-go when it is
//! missing or older than its sources (the Go files of examples/go and of
//! make-net-go, build.sh, include/netns.h, and the libnetns.a cargo built
//! for this test run, which changes with netns-ffi and what it depends on).
//! The tests find it as `make-net` in <target>/go/cni, a directory holding a
//! symlink of that name, first in the plugin search path.

netns_testutil::host_only!(
    "builds make-net-go with go, which the VM image lacks; and the VM tier's time budget is nearly spent (the Rust make-net's tests run there)"
);

mod cni_common;
#[macro_use]
mod make_net_common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

use make_net_common::{Lang, Plugin};

/// <target>/go/cni (make-net: the Go plugin), then our other plugins and
/// the reference ones.
const GO: Plugin = Plugin {
    lang: Lang::Go,
    path: go_path,
};

make_net_tests!(GO);

/// The Rust make-net, for the tests that run both.
const RUST: Plugin = Plugin {
    lang: Lang::Rust,
    path: cni_common::our_path,
};

#[test]
fn gc_and_status_through_an_ipam_plugin_of_spec_1_1() {
    make_net_common::gc_and_status_through_an_ipam_plugin_of_spec_1_1(&GO);
}

#[test]
fn either_plugin_checks_and_removes_what_the_other_made() {
    make_net_common::either_plugin_checks_and_removes_what_the_other_made(&GO, &RUST);
}

fn go_path() -> Vec<PathBuf> {
    let mut path = vec![plugin_dir().clone()];
    path.extend(cni_common::our_path());
    path
}

/// The cargo target dir (<target>/<profile> is the profile dir).
fn target_dir() -> PathBuf {
    cni_common::profile_dir()
        .parent()
        .expect("<target>/<profile>")
        .to_path_buf()
}

/// The newest modification time among `files`; fails on one that is not
/// there.
fn newest(files: &[PathBuf]) -> SystemTime {
    files
        .iter()
        .map(|f| {
            fs::metadata(f)
                .and_then(|m| m.modified())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The `.go` files in `dir` (not its subdirectories), tests included when
/// `tests`.
fn go_files(dir: &Path, tests: bool) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".go") && (tests || !name.ends_with("_test.go"))
        })
        .collect();
    out.sort();
    out
}

/// What make-net-go is built from.
fn sources() -> Vec<PathBuf> {
    let root = cni_common::repo_root();
    let go = root.join("examples/go");
    let mut files = go_files(&go, false);
    files.extend(go_files(&go.join("make-net-go"), true));
    files.push(go.join("make-net-go/go.mod"));
    files.push(go.join("build.sh"));
    files.push(root.join("include/netns.h"));
    // netns-ffi, as cargo built it for this run (a dev-dependency of
    // netns-examples): newer when the library changed.
    files.push(cni_common::profile_dir().join("deps/libnetns.a"));
    files
}

/// <target>/go/make-net-go, built by build.sh if it is missing or older
/// than its sources (once per process).
fn go_plugin() -> &'static PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let exe = target_dir().join("go/make-net-go");
        let built = fs::metadata(&exe).and_then(|m| m.modified()).ok();
        if built.is_some_and(|t| t >= newest(&sources())) {
            return exe;
        }
        let script = cni_common::repo_root().join("examples/go/build.sh");
        // The library cargo built for this run, not a release build of its
        // own (what build.sh does when run by hand).
        let out = Command::new(&script)
            .env("CARGO_TARGET_DIR", target_dir())
            .env(
                "NETNS_LIBNETNS_A",
                cni_common::profile_dir().join("deps/libnetns.a"),
            )
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(exe.is_file(), "build.sh made no {}", exe.display());
        exe
    })
}

/// <target>/go/cni: `make-net`, a symlink to make-net-go (made by a rename,
/// so a concurrent test binary never finds it half-made).
fn plugin_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = go_plugin();
        let dir = target_dir().join("go/cni");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let link = dir.join("make-net");
        if fs::read_link(&link).ok().as_deref() != Some(exe.as_path()) {
            let tmp = dir.join(format!(".make-net.{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(exe, &tmp)
                .and_then(|()| fs::rename(&tmp, &link))
                .unwrap_or_else(|e| panic!("symlink {} to {}: {e}", link.display(), exe.display()));
        }
        dir
    })
}

/// Go source without its comments (line and block; string, raw string and
/// rune literals kept whole, so a `//` inside one is no comment).
fn strip_go_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    // Its newlines kept, so line numbers stay right.
                    if b[i] == b'\n' {
                        out.push(b'\n');
                    }
                    i += 1;
                }
                i += 2;
                out.push(b' ');
            }
            q @ (b'"' | b'\'' | b'`') => {
                out.push(q);
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        out.push(b[i]);
                        i += 1;
                    }
                    if i < b.len() {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                if i < b.len() {
                    out.push(q);
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What would pin or move a thread's namespace: thread locking, setns in
/// any spelling (syscall, x/sys/unix, vishvananda/netns, containernetworking's
/// ns package), unshare.
const FORBIDDEN: &[&str] = &[
    "LockOSThread",
    "Setns",
    "setns",
    "SYS_SETNS",
    "netns.Set(",
    "ns.Do(",
    ".Do(func",
    "Unshare",
    "unshare",
    "CLONE_NEWNET",
];

/// The forbidden words in `src`'s code (comments left out), with their lines.
fn forbidden_in(src: &str) -> Vec<String> {
    strip_go_comments(src)
        .lines()
        .enumerate()
        .flat_map(|(n, line)| {
            FORBIDDEN
                .iter()
                .filter(move |w| line.contains(**w))
                .map(move |w| format!("line {}: {w}: {}", n + 1, line.trim()))
        })
        .collect()
}

#[test]
fn the_check_for_namespace_switching_finds_it_in_code_only() {
    let code = "package main\n\n// runtime.LockOSThread is not used here.\nfunc f() {\n\
                \truntime.LockOSThread() // a \"quote\"\n\ts := \"// not a comment: unix.Setns\"\n\
                \t/* ns.Do(\n */ _ = s\n}\n";
    assert_eq!(
        forbidden_in(code),
        [
            "line 5: LockOSThread: runtime.LockOSThread()",
            "line 6: Setns: s := \"// not a comment: unix.Setns\"",
        ]
    );
    assert_eq!(
        forbidden_in("// setns(2), Unshare\npackage main\n"),
        Vec::<String>::new()
    );
}

#[test]
fn make_net_go_never_switches_a_threads_namespace() {
    let root = cni_common::repo_root();
    // make-net-go, and the netns package it is built on (its tests are not
    // part of the plugin).
    let mut files = go_files(&root.join("examples/go/make-net-go"), true);
    files.extend(go_files(&root.join("examples/go"), false));
    assert!(
        files.iter().any(|f| f.ends_with("make-net-go/main.go")),
        "{files:?}"
    );
    let mut found = Vec::new();
    for f in &files {
        let src = fs::read_to_string(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
        for hit in forbidden_in(&src) {
            found.push(format!("{}: {hit}", f.display()));
        }
    }
    assert!(
        found.is_empty(),
        "namespace switching in the Go sources:\n{}",
        found.join("\n")
    );
}
