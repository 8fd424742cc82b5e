//! The C user of the ABI, examples/c/topology.c: compiled with
//! `-Wall -Wextra -Werror -std=c11` against include/netns.h only, linked once
//! against libnetns.a and once against libnetns.so, each run in a private
//! network namespace with a temporary netns directory; the shared build also
//! under valgrind (zero errors, no definite leaks).
//!
//! The library: netns-ffi is a (dev-)dependency of this package, so cargo
//! builds its cdylib and staticlib before any test runs, into the directory
//! this test binary is in (target/<profile>/deps, where cargo builds every
//! dependency: a cdylib or staticlib there has no hash in its name, and is
//! only copied up to target/<profile> by `cargo build -p netns-ffi`).
//!
//! gcc and valgrind are required (.ci/install-deps installs them): a missing
//! tool fails the test, with the reason.

netns_testutil::host_only!("needs gcc and valgrind, which the VM image lacks");

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netns_testutil::{in_private_netns, TempDir, TempNetnsDir};

mod ffi_common;
use ffi_common::{deps_dir, library, repo_root};

fn require_tool(tool: &str, package: &str) -> PathBuf {
    ffi_common::require_tool(tool, package, "C user")
}

/// What `cargo rustc -p netns-ffi --lib --crate-type staticlib -- --print
/// native-static-libs` prints for x86_64/aarch64-unknown-linux-gnu.
const NATIVE_STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

#[derive(Clone, Copy, Debug)]
enum Link {
    Static,
    Shared,
}

/// Compile examples/c/topology.c as `out_name` into a directory of the
/// target dir.
fn build(link: Link, out_name: &str) -> PathBuf {
    let cc = require_tool("cc", "gcc");
    let root = repo_root();
    let out_dir = deps_dir()
        .parent()
        .expect("<target>/<profile>")
        .join("netns-c-user");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(out_name);
    let mut cmd = Command::new(cc);
    cmd.args(["-Wall", "-Wextra", "-Werror", "-std=c11", "-g", "-I"])
        .arg(root.join("include"))
        .arg(root.join("examples/c/topology.c"))
        .arg("-o")
        .arg(&out);
    match link {
        Link::Static => {
            cmd.arg(library("libnetns.a")).args(NATIVE_STATIC_LIBS);
        }
        Link::Shared => {
            let so = library("libnetns.so");
            let dir = so.parent().unwrap();
            cmd.arg("-L")
                .arg(dir)
                .arg(format!("-Wl,-rpath,{}", dir.display()))
                .arg("-lnetns");
        }
    }
    let res = cmd.output().expect("run cc");
    assert!(
        res.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// The mount points under `dir` (not `dir` itself).
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Run `program ARGS... NETNS_DIR IPAM_DATA_DIR` (the program is the C user,
/// possibly behind valgrind) in a private network namespace, with a
/// temporary netns directory and IPAM data directory; check that it passed
/// and left no namespace or mount behind.
fn run(program: &Path, args: &[&str]) -> Output {
    let netns_dir = TempNetnsDir::new();
    let data_dir = TempDir::new("ipam");
    let out = in_private_netns(|| {
        Command::new(program)
            // cargo's LD_LIBRARY_PATH lists target/<profile> before deps/,
            // where a stale libnetns.so from `cargo build` may be: the
            // binary's rpath must decide.
            .env_remove("LD_LIBRARY_PATH")
            .args(args)
            .arg(netns_dir.path())
            .arg(data_dir.path())
            .output()
            .expect("run the C user")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{stderr}",
        program.display(),
        out.status
    );
    for want in [
        "ok: netns_abi_version() == 1",
        "-> 17: link_add veth-c0 (type veth): File exists (os error 17)",
        "-> 22: link_set veth-c0: Invalid argument (os error 22): kernel: ",
        "-> 10001: name is NULL",
        "-> 10002: name is not valid UTF-8",
        "ok: 192.0.2.1 is routed via the default",
        "allocated: 10.99.0.10/24",
        "ok: the veth pair is gone",
        "All steps passed.",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    let left: Vec<_> = std::fs::read_dir(netns_dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left in the netns dir: {left:?}");
    assert_eq!(
        mounts_under(netns_dir.path()),
        Vec::<String>::new(),
        "mounts left behind"
    );
    out
}

#[test]
fn static_build_passes_in_a_private_netns() {
    let bin = build(Link::Static, "topology-static");
    // No libnetns.so dependency: the library is inside the binary.
    let ldd = Command::new("ldd").arg(&bin).output();
    if let Ok(ldd) = ldd {
        let text = String::from_utf8_lossy(&ldd.stdout);
        assert!(!text.contains("libnetns"), "{text}");
    }
    run(&bin, &[]);
}

#[test]
fn shared_build_passes_in_a_private_netns() {
    let bin = build(Link::Shared, "topology-shared");
    let ldd = Command::new("ldd")
        .env_remove("LD_LIBRARY_PATH")
        .arg(&bin)
        .output()
        .expect("run ldd");
    let text = String::from_utf8_lossy(&ldd.stdout);
    let want = format!("libnetns.so => {}", library("libnetns.so").display());
    assert!(text.contains(&want), "{want:?} not in:\n{text}");
    run(&bin, &[]);
}

#[test]
fn shared_build_is_clean_under_valgrind() {
    let valgrind = require_tool("valgrind", "valgrind");
    let bin = build(Link::Shared, "topology-valgrind");
    // No suppressions: the library passes "none" as the type of its
    // propagation and bind mounts (as iproute2 does), so valgrind's mount
    // wrapper has no NULL string to report.
    let out = run(
        &valgrind,
        &[
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            bin.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.contains("ERROR SUMMARY")
                || l.contains("definitely lost")
                || l.contains("All heap blocks were freed")
        })
        .collect();
    println!("valgrind: {summary:#?}");
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
        "valgrind found errors:\n{stderr}"
    );
    assert!(
        stderr.contains("definitely lost: 0 bytes in 0 blocks")
            || stderr.contains("All heap blocks were freed"),
        "valgrind found definite leaks:\n{stderr}"
    );
}
