//! The Go user of the ABI, examples/go (a cgo package with no dependencies
//! outside the standard library): `go vet` and `gofmt` are clean, and its
//! `go test`s pass (with the race detector) in a private network namespace,
//! linked against the libnetns.so cargo built for this test run. The Go
//! tests use `ip -j` (through nsenter, in a child process) as the oracle.
//!
//! The library: netns-ffi is a (dev-)dependency of this package, so cargo
//! builds its cdylib before any test runs, into the directory this test
//! binary is in (target/<profile>/deps). `go` gets it through CGO_LDFLAGS
//! (`-L` and a run path), and the Go tests check that this exact file is the
//! one mapped (NETNS_GO_EXPECT_LIBRARY).
//!
//! Go's caches live in the cargo target dir (target/<profile>/netns-go), so
//! a fresh clone needs nothing else; no module is downloaded (GOPROXY=off,
//! GOFLAGS=-mod=mod: the module has no dependencies).
//!
//! Go comes from Debian's golang-go (.ci/install-deps installs it): if `go`
//! is missing the test fails, with the reason.

netns_testutil::host_only!("needs go, which the VM image lacks");

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use netns_testutil::in_private_netns;

mod ffi_common;
use ffi_common::{deps_dir, library, repo_root};

/// `go` from PATH, or a failure that says what to install.
fn go() -> PathBuf {
    ffi_common::require_tool("go", "golang-go", "Go user")
}

/// `go ARGS...` in examples/go with the environment of these tests.
fn go_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(go());
    cmd.args(args);
    go_env(&mut cmd);
    cmd
}

/// The working directory and environment of `go` in these tests.
fn go_env(cmd: &mut Command) {
    let so = library("libnetns.so");
    let lib_dir = deps_dir();
    let go_dir = lib_dir
        .parent()
        .expect("<target>/<profile>")
        .join("netns-go");
    // cgo does not track headers outside the package: put the header's hash
    // in the C flags (part of Go's cache key) so a new header rebuilds.
    let header = std::fs::read(repo_root().join("include/netns.h")).expect("read include/netns.h");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    header.hash(&mut hasher);
    cmd.current_dir(repo_root().join("examples/go"))
        // cargo's LD_LIBRARY_PATH lists target/<profile> before deps/,
        // where a stale libnetns.so from `cargo build` may be: the rpath
        // must decide (TestLibraryIsTheExpectedOne checks it).
        .env_remove("LD_LIBRARY_PATH")
        .env("GOCACHE", go_dir.join("cache"))
        .env("GOPATH", go_dir.join("path"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "1")
        .env(
            "CGO_CFLAGS",
            format!("-g -O2 -DNETNS_HEADER_HASH={:x}", hasher.finish()),
        )
        .env(
            "CGO_LDFLAGS",
            format!("-L{0} -Wl,-rpath,{0}", lib_dir.display()),
        )
        .env("NETNS_GO_EXPECT_LIBRARY", &so)
        .env(
            "NETNS_GO_EXPECT_VERSION",
            concat!("netns-ffi/", env!("CARGO_PKG_VERSION")),
        );
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn go_tests_pass_in_a_private_netns() {
    // In a private mount namespace too: the named namespaces' bind mounts go
    // away with it even if a Go test dies before its cleanup.
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--"])
        .arg(go())
        .args(["test", "-race", "-count=1", "-v", "."]);
    go_env(&mut cmd);
    let text = in_private_netns(|| run(cmd));
    for test in [
        "TestVersion",
        "TestErrors",
        "TestTopology",
        "TestLinkKinds",
        "TestLinkSpecsAndLinkList",
        "TestLinkSpecsKernelKinds",
        "TestLinkAddIn",
        "TestLinkSpecErrors",
        "TestRouteListAndGet",
        "TestIPAMAddCheck",
        "TestAddrReplace",
        "TestNeighbours",
        "TestBridgeVlans",
        "TestSysctls",
        "TestBatch",
        "TestConcurrentNamespacesLeaveEveryThreadAlone",
        "TestLibraryIsTheExpectedOne",
    ] {
        assert!(
            text.contains(&format!("--- PASS: {test} ")),
            "{test} did not pass:\n{text}"
        );
    }
    assert!(!text.contains("--- SKIP"), "a Go test skipped:\n{text}");
    assert!(!text.contains("--- FAIL"), "a Go test failed:\n{text}");
}

#[test]
fn go_code_is_vetted_and_formatted() {
    run(go_cmd(&["vet", "."]));
    // gofmt lives beside go in GOROOT/bin; `go fmt` would rewrite files.
    // The package's own files only: subdirectories are other modules
    // (make-net-go), checked by their own tests.
    let goroot = run(go_cmd(&["env", "GOROOT"]));
    let gofmt = Path::new(goroot.trim()).join("bin/gofmt");
    let dir = repo_root().join("examples/go");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read examples/go")
        .map(|e| e.expect("examples/go entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "go"))
        .collect();
    files.sort();
    assert!(files.len() > 5, "examples/go: {files:?}");
    let out = Command::new(&gofmt)
        .arg("-l")
        .args(&files)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", gofmt.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unformatted = String::from_utf8_lossy(&out.stdout);
    assert!(
        unformatted.trim().is_empty(),
        "not gofmt-formatted:\n{unformatted}"
    );
}
