//! The C user of the ABI, examples/c/topology.c: compiled with
//! `-Wall -Wextra -Werror -std=c11` against include/netns.h only, linked once
//! against libnetns.a and once against libnetns.so, each run in a private
//! network namespace with a temporary netns directory; the shared build also
//! under valgrind (zero errors, no definite leaks). Every run is paused once
//! its topology is complete, and the links, routes, neighbours and IPAM
//! result it printed (read back through the ABI) are compared with the
//! kernel's, as `ip -j` reports them in the same namespaces.
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

use std::io::{BufRead, BufReader, Read, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use netns_testutil::{in_private_netns, ip_json, ip_json_cmd, TempDir, TempNetnsDir};
use serde_json::Value;

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

/// The namespace the C user makes in its netns directory.
const POD: &str = "c-user-pod";

/// One row of a printed link table (`== links in WHERE ==`), or the same
/// fields of a link in `ip -j -d link show`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LinkRow {
    index: u64,
    name: String,
    kind: String,
    mtu: u64,
    mac: String,
    state: String,
    controller: String,
}

/// One printed route (`== routes in WHERE (table main) ==`), or the same
/// fields of a route in `ip -j -4|-6 route show table main`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RouteRow {
    family: String,
    dst: String,
    gateway: Option<String>,
    dev: Option<String>,
    metric: u64,
}

/// The lines of the block that starts with the line `header` and ends at
/// the next empty line.
fn block<'a>(stdout: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = stdout.lines();
    assert!(
        lines.by_ref().any(|l| l == header),
        "no {header:?} in:\n{stdout}"
    );
    lines.take_while(|l| !l.is_empty()).collect()
}

/// The link table the C user printed for `which` (host or pod).
fn printed_links(stdout: &str, which: &str) -> Vec<LinkRow> {
    let lines = block(stdout, &format!("== links in {which} =="));
    assert_eq!(
        lines
            .first()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "index",
            "name",
            "kind",
            "mtu",
            "mac",
            "state",
            "controller"
        ]),
        "the column headings of the links in {which}"
    );
    let mut rows: Vec<LinkRow> = lines[1..]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 7, "a link row has 7 columns: {l:?}");
            LinkRow {
                index: f[0].parse().unwrap(),
                name: f[1].into(),
                kind: f[2].into(),
                mtu: f[3].parse().unwrap(),
                mac: f[4].into(),
                state: f[5].into(),
                controller: f[6].into(),
            }
        })
        .collect();
    rows.sort();
    rows
}

/// The same table from `ip -j -d link show`.
fn kernel_links(listing: &Value) -> Vec<LinkRow> {
    let s = |v: &Value| v.as_str().map_or_else(|| "-".to_string(), str::to_owned);
    let mut rows: Vec<LinkRow> = listing
        .as_array()
        .expect("ip -j link is an array")
        .iter()
        .map(|l| LinkRow {
            index: l["ifindex"].as_u64().unwrap(),
            name: s(&l["ifname"]),
            kind: s(&l["linkinfo"]["info_kind"]),
            mtu: l["mtu"].as_u64().unwrap(),
            mac: s(&l["address"]),
            state: if l["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP"))
            {
                "UP".into()
            } else {
                "DOWN".into()
            },
            controller: s(&l["master"]),
        })
        .collect();
    rows.sort();
    rows
}

/// The routes the C user printed for `which`, destinations as `ip` prints
/// them (a host route without its /32 or /128).
fn printed_routes(stdout: &str, which: &str) -> Vec<RouteRow> {
    let lines = block(stdout, &format!("== routes in {which} (table main) =="));
    let mut rows: Vec<RouteRow> = lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 2 && f.len() % 2 == 0, "a route line: {l:?}");
            let family = f[0].to_string();
            let full = if family == "inet" { "/32" } else { "/128" };
            let mut row = RouteRow {
                dst: f[1].strip_suffix(full).unwrap_or(f[1]).to_string(),
                family,
                gateway: None,
                dev: None,
                metric: 0,
            };
            for kv in f[2..].chunks(2) {
                match kv[0] {
                    "via" => row.gateway = Some(kv[1].into()),
                    "dev" => row.dev = Some(kv[1].into()),
                    "metric" => row.metric = kv[1].parse().unwrap(),
                    other => panic!("unexpected {other:?} in route line {l:?}"),
                }
            }
            row
        })
        .collect();
    rows.sort();
    rows
}

/// The same routes from `ip -j -4 route show table main` (`v4`) and
/// `ip -j -6 route show table main` (`v6`).
fn kernel_routes(v4: &Value, v6: &Value) -> Vec<RouteRow> {
    let mut rows = Vec::new();
    for (family, listing) in [("inet", v4), ("inet6", v6)] {
        for r in listing.as_array().expect("ip -j route is an array") {
            rows.push(RouteRow {
                family: family.into(),
                dst: r["dst"].as_str().unwrap().into(),
                gateway: r["gateway"].as_str().map(str::to_owned),
                dev: r["dev"].as_str().map(str::to_owned),
                metric: r["metric"].as_u64().unwrap_or(0),
            });
        }
    }
    rows.sort();
    rows
}

/// `ip -j ARGS...` in the namespace at `ns` (nsenter enters only its
/// network namespace).
fn ip_json_in(ns: &Path, args: &[&str]) -> Value {
    let mut all = vec![format!("--net={}", ns.display()), "ip".into(), "-j".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    ip_json_cmd("nsenter", all)
}

fn link<'a>(rows: &'a [LinkRow], name: &str) -> &'a LinkRow {
    rows.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:#?}"))
}

/// While the C user is paused with its topology complete (in the calling
/// thread's namespace, the "host", and the pod at `pod`): what it printed
/// is what the kernel has.
fn check_against_kernel(stdout: &str, pod: &Path) {
    // Links: every link of each namespace, with its index, kind, MTU, MAC,
    // state and controller.
    let host_links = printed_links(stdout, "host");
    assert_eq!(
        host_links,
        kernel_links(&ip_json(["-d", "link", "show"])),
        "the host's links, printed (left) and by ip -j (right)"
    );
    let pod_links = printed_links(stdout, "pod");
    assert_eq!(
        pod_links,
        kernel_links(&ip_json_in(pod, &["-d", "link", "show"])),
        "the pod's links, printed (left) and by ip -j (right)"
    );
    let names = |rows: &[LinkRow]| {
        let mut v: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(names(&host_links), ["br-c0", "lo", "veth-c0", "veth-c1"]);
    assert_eq!(names(&pod_links), ["eth0", "eth1", "lo", "mv0", "vx0"]);
    let want = |r: &LinkRow, kind: &str, mtu: u64, mac: Option<&str>, controller: &str| {
        assert_eq!(
            (
                r.kind.as_str(),
                r.mtu,
                r.state.as_str(),
                r.controller.as_str()
            ),
            (kind, mtu, "UP", controller),
            "{r:?}"
        );
        if let Some(mac) = mac {
            assert_eq!(r.mac, mac, "{r:?}");
        }
    };
    want(link(&host_links, "veth-c0"), "veth", 1400, None, "-");
    want(
        link(&host_links, "br-c0"),
        "bridge",
        1450,
        Some("02:c0:00:00:00:01"),
        "-",
    );
    want(
        link(&host_links, "veth-c1"),
        "veth",
        1450,
        Some("02:c0:00:00:00:02"),
        "br-c0",
    );
    want(link(&pod_links, "eth0"), "veth", 1500, None, "-");
    want(link(&pod_links, "eth1"), "veth", 1450, None, "-");
    want(
        link(&pod_links, "mv0"),
        "macvlan",
        1450,
        Some("02:c0:00:00:00:03"),
        "-",
    );
    // The vxlan's MTU is the kernel's default (compared with ip above).
    want(
        link(&pod_links, "vx0"),
        "vxlan",
        link(&pod_links, "vx0").mtu,
        Some("02:c0:00:00:00:04"),
        "-",
    );
    // The macvlan made from the host's handle in the pod: its parent is the
    // host's bridge.
    let mv0 = ip_json_in(pod, &["-d", "link", "show", "dev", "mv0"]);
    assert_eq!(mv0[0]["link_index"], link(&host_links, "br-c0").index);
    assert_eq!(mv0[0]["linkinfo"]["info_data"]["mode"], "bridge");
    let vx0 = ip_json_in(pod, &["-d", "link", "show", "dev", "vx0"]);
    assert_eq!(vx0[0]["linkinfo"]["info_data"]["id"], 42);

    // Routes: the main table of each namespace, IPv4 and IPv6.
    let host_routes = printed_routes(stdout, "host");
    assert_eq!(
        host_routes,
        kernel_routes(
            &ip_json(["-4", "route", "show", "table", "main"]),
            &ip_json(["-6", "route", "show", "table", "main"]),
        ),
        "the host's routes, printed (left) and by ip -j (right)"
    );
    let pod_routes = printed_routes(stdout, "pod");
    assert_eq!(
        pod_routes,
        kernel_routes(
            &ip_json_in(pod, &["-4", "route", "show", "table", "main"]),
            &ip_json_in(pod, &["-6", "route", "show", "table", "main"]),
        ),
        "the pod's routes, printed (left) and by ip -j (right)"
    );
    let route = |family: &str, dst: &str, gateway: Option<&str>, dev: &str, metric: u64| RouteRow {
        family: family.into(),
        dst: dst.into(),
        gateway: gateway.map(str::to_owned),
        dev: Some(dev.into()),
        metric,
    };
    for want in [
        route("inet", "default", Some("10.99.0.1"), "eth0", 0),
        route("inet", "10.99.0.0/24", None, "eth0", 0),
        route("inet", "10.97.0.0/24", None, "eth1", 0),
        route("inet", "198.51.100.0/24", None, "vx0", 0),
        route("inet", "203.0.113.0/24", None, "vx0", 50),
    ] {
        assert!(
            pod_routes.contains(&want),
            "{want:?} not in {pod_routes:#?}"
        );
    }
    assert!(
        pod_routes
            .iter()
            .any(|r| r.family == "inet6" && r.dst == "fd00:99::/64"),
        "{pod_routes:#?}"
    );
    assert!(
        host_routes.contains(&route("inet", "10.99.0.0/24", None, "veth-c0", 0)),
        "{host_routes:#?}"
    );

    // Neighbours: the permanent entries of the pod's eth0, the gateway's
    // addresses at veth-c0's MAC.
    let mut printed: Vec<String> = block(stdout, "== permanent neighbours of eth0 in pod ==")
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    printed.sort();
    let kernel = ip_json_in(pod, &["neigh", "show", "dev", "eth0", "nud", "permanent"]);
    let mut kernel: Vec<String> = kernel
        .as_array()
        .expect("ip -j neigh is an array")
        .iter()
        .map(|n| {
            let state: Vec<&str> = n["state"]
                .as_array()
                .expect("state")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "{} dev eth0 lladdr {} {}",
                n["dst"].as_str().unwrap(),
                n["lladdr"].as_str().unwrap_or("-"),
                state.join(",")
            )
        })
        .collect();
    kernel.sort();
    assert_eq!(
        printed, kernel,
        "eth0's permanent neighbours, printed (left) and by ip -j (right)"
    );
    let gateway_mac = &link(&host_links, "veth-c0").mac;
    assert_eq!(
        printed,
        [
            format!("10.99.0.1 dev eth0 lladdr {gateway_mac} PERMANENT"),
            format!("fd00:99::1 dev eth0 lladdr {gateway_mac} PERMANENT"),
        ]
    );

    // IPAM: the CNI result, with the range's gateway; its address is on eth0.
    let json = block(stdout, "== ipam result of eth0 ==").join("\n");
    let result: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the IPAM result is not JSON ({e}):\n{json}"));
    assert_eq!(result["cniVersion"], "1.0.0", "{result:#}");
    let ips = result["ips"].as_array().expect("ips");
    assert_eq!(ips.len(), 1, "{result:#}");
    assert_eq!(ips[0]["gateway"], "10.99.0.1", "{result:#}");
    assert_eq!(result["routes"][0]["dst"], "0.0.0.0/0", "{result:#}");
    let address = ips[0]["address"].as_str().expect("ips[0].address");
    let eth0 = ip_json_in(pod, &["addr", "show", "dev", "eth0"]);
    let on_eth0: Vec<String> = eth0[0]["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    assert!(
        on_eth0.iter().any(|a| a == address),
        "{address} not on eth0: {on_eth0:?}"
    );

    // Sysctls, as /proc/sys shows them in each namespace.
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );
    let mode = Command::new("nsenter")
        .arg(format!("--net={}", pod.display()))
        .args(["cat", "/proc/sys/net/ipv6/conf/default/addr_gen_mode"])
        .output()
        .expect("run nsenter");
    assert_eq!(String::from_utf8_lossy(&mode.stdout).trim(), "1");
}

/// Run `program ARGS... NETNS_DIR IPAM_DATA_DIR --pause` (the program is
/// the C user, possibly behind valgrind) in a private network namespace,
/// with a temporary netns directory and IPAM data directory. When it says
/// it is paused, compare what it printed with the kernel, then let it clean
/// up; check that it passed and left no namespace or mount behind.
fn run(program: &Path, args: &[&str]) -> Output {
    let netns_dir = TempNetnsDir::new();
    let data_dir = TempDir::new("ipam");
    let pod = netns_dir.path().join(POD);
    let (out, checked) = in_private_netns(|| {
        let mut child = Command::new(program)
            // cargo's LD_LIBRARY_PATH lists target/<profile> before deps/,
            // where a stale libnetns.so from `cargo build` may be: the
            // binary's rpath must decide.
            .env_remove("LD_LIBRARY_PATH")
            .args(args)
            .arg(netns_dir.path())
            .arg(data_dir.path())
            .arg("--pause")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the C user");
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut v = Vec::new();
            stderr
                .read_to_end(&mut v)
                .expect("read the C user's stderr");
            v
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        let mut paused = false;
        loop {
            let mut line = String::new();
            if stdout
                .read_line(&mut line)
                .expect("read the C user's stdout")
                == 0
            {
                break;
            }
            text.push_str(&line);
            if line.starts_with("paused:") {
                paused = true;
                break;
            }
        }
        // The topology is complete and the program waits on its stdin.
        let checked = paused.then(|| {
            std::panic::catch_unwind(AssertUnwindSafe(|| check_against_kernel(&text, &pod)))
        });
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"\n");
        drop(stdin);
        let mut rest = String::new();
        stdout
            .read_to_string(&mut rest)
            .expect("read the C user's stdout");
        text.push_str(&rest);
        let status = child.wait().expect("wait for the C user");
        let stderr = stderr.join().expect("the stderr reader");
        let out = Output {
            status,
            stdout: text.into_bytes(),
            stderr,
        };
        (out, checked)
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    match checked {
        Some(Ok(())) => {}
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => panic!(
            "{} {args:?} never paused ({}):\n{stdout}\n{stderr}",
            program.display(),
            out.status
        ),
    }
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{stdout}\n{stderr}",
        program.display(),
        out.status
    );
    for want in [
        "ok: netns_abi_version() == 2",
        "-> 17: link_add veth-c0 (type veth): File exists (os error 17)",
        "-> 22: link_set veth-c0: Invalid argument (os error 22): kernel: ",
        "-> 10001: name is NULL",
        "-> 10002: name is not valid UTF-8",
        "ok: 192.0.2.1 is routed via the default",
        "allocated: 10.99.0.10/24",
        "ok: netns_link_spec_set_peer(bridge, \"x\", &err) -> 10004: ",
        "batch 4: addr_add no-such-link 198.51.100.2/24 -> 19: ",
        "ok: 10.99.0.1 is at veth-c0's MAC on eth0, PERMANENT",
        "ok: the veth pair is gone",
        "ok: only lo is left in the pod",
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
