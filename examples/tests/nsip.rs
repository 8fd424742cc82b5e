//! The nsip example, driven like a user drives it, with iproute2 as the oracle.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netns_testutil::nft::{nft, nft_accepts};
use netns_testutil::{ifnames, in_private_netns, ip_in_dir, ip_json, TempNetnsDir};

fn nsip_path() -> PathBuf {
    // target/<profile>/deps/nsip-<hash> -> target/<profile>/examples/nsip
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/nsip");
    assert!(
        p.exists(),
        "{} missing: build with `cargo test` (examples are built with the tests)",
        p.display()
    );
    p
}

fn nsip(dir: &Path, args: &[&str]) -> Output {
    Command::new(nsip_path())
        .arg("--netns-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "nsip failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn netns_session_interoperates_with_ip() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let d = dir.path();
        ok(nsip(d, &["netns", "add", "t1"]));
        assert_eq!(ok(ip_in_dir(d, ["netns", "list"])).trim(), "t1");
        assert_eq!(ok(nsip(d, &["netns", "list"])).trim(), "t1");
        // exec, both ways.
        let links = ok(nsip(d, &["netns", "exec", "t1", "--", "ip", "-o", "link"]));
        assert_eq!(links.lines().count(), 1, "{links}");
        let by_ip = ok(ip_in_dir(
            d,
            ["netns", "exec", "t1", "readlink", "/proc/self/ns/net"],
        ));
        let by_nsip = ok(nsip(
            d,
            &["netns", "exec", "t1", "readlink", "/proc/self/ns/net"],
        ));
        assert_eq!(by_ip, by_nsip);
        // exec passes the exit status through.
        let st = nsip(d, &["netns", "exec", "t1", "--", "sh", "-c", "exit 7"]).status;
        assert_eq!(st.code(), Some(7));
        // set an nsid; list shows it like ip does.
        ok(nsip(d, &["netns", "set", "t1", "5"]));
        assert_eq!(ok(nsip(d, &["netns", "list"])).trim(), "t1 (id: 5)");
        assert_eq!(ok(ip_in_dir(d, ["netns", "list"])).trim(), "t1 (id: 5)");
        let j: serde_json::Value =
            serde_json::from_str(&ok(nsip(d, &["-j", "netns", "list"]))).unwrap();
        assert_eq!(j, serde_json::json!([{"name": "t1", "id": 5}]));
        // ip deletes it; then the reverse direction.
        ok(ip_in_dir(d, ["netns", "del", "t1"]));
        assert_eq!(ok(nsip(d, &["netns", "list"])), "");
        ok(ip_in_dir(d, ["netns", "add", "t2"]));
        assert_eq!(ok(nsip(d, &["netns", "list"])).trim(), "t2");
        ok(nsip(d, &["netns", "del", "t2"]));
        assert_eq!(ok(ip_in_dir(d, ["netns", "list"])), "");
    });
}

#[test]
fn bad_names_fail_clearly_and_create_nothing() {
    let dir = TempNetnsDir::new();
    let d = dir.path().join("netns");
    for bad in ["../escape", "a/b", "..", ""] {
        let o = nsip(&d, &["netns", "add", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid argument"), "{err}");
        assert!(err.contains("namespace name"), "{err}");
    }
    assert!(!d.exists());
    assert!(!dir.path().join("escape").exists());
    // Usage errors exit 1.
    assert_eq!(nsip(&d, &["netns", "frobnicate"]).status.code(), Some(1));
    assert_eq!(
        nsip(&d, &["netns", "del", "missing"]).status.code(),
        Some(2)
    );
    // An argument that is not UTF-8 is a usage error, not a panic.
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new(nsip_path())
        .arg("--netns-dir")
        .arg(&d)
        .args(["netns", "add"])
        .arg(std::ffi::OsStr::from_bytes(b"bad\xff"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!d.exists());
    // A name with a template: refused, nothing made.
    in_private_netns(|| {
        let o = nsip(
            &d,
            &["link", "add", "a%d", "type", "veth", "peer", "name", "b0"],
        );
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("'%'"));
        assert_eq!(ip_json(["link", "show"]).as_array().unwrap().len(), 1);
    });
}

#[test]
fn a_fifo_in_the_netns_directory_does_not_hang_listing() {
    let dir = TempNetnsDir::new();
    let d = dir.path();
    ok(nsip(d, &["netns", "add", "real"]));
    let fifo = std::ffi::CString::new(d.join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // Run under timeout(1): a hang is a failure, not a stuck test.
    let o = Command::new("timeout")
        .args(["-s", "KILL", "120"])
        .arg(nsip_path())
        .arg("--netns-dir")
        .arg(d)
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let listed = String::from_utf8(o.stdout).unwrap();
    assert_eq!(listed.lines().collect::<Vec<_>>(), vec!["fifo", "real"]);
    std::fs::remove_file(d.join("fifo")).unwrap();
    ok(nsip(d, &["netns", "del", "real"]));
}

#[test]
fn attach_and_identify() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let d = dir.path();
        let mut child = Command::new("unshare")
            .args(["--net", "sh", "-c", "echo ready; exec cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let pid = child.id().to_string();
        ok(nsip(d, &["netns", "attach", "att", &pid]));
        assert_eq!(ok(nsip(d, &["netns", "identify", &pid])).trim(), "att");
        assert_eq!(ok(ip_in_dir(d, ["netns", "identify", &pid])).trim(), "att");
        drop(child.stdin.take());
        child.wait().unwrap();
        ok(nsip(d, &["netns", "del", "att"]));
    });
}

#[test]
fn link_commands_match_ip() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let d = dir.path();
        let run = |args: &[&str]| ok(nsip(d, args));
        run(&[
            "link", "add", "v0", "mtu", "1400", "type", "veth", "peer", "name", "v1",
        ]);
        run(&["link", "add", "br0", "type", "bridge"]);
        run(&[
            "link", "set", "dev", "v0", "up", "master", "br0", "alias", "to-v1",
        ]);
        run(&[
            "link", "add", "link", "v1", "name", "mv0", "type", "macvlan", "mode", "bridge",
        ]);
        run(&[
            "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "dev", "v1",
            "remote", "10.1.1.1",
        ]);
        let j = ip_json(["-d", "link", "show", "dev", "v0"]);
        assert_eq!(j[0]["mtu"], 1400);
        assert_eq!(j[0]["master"], "br0");
        assert_eq!(j[0]["ifalias"], "to-v1");
        let j = ip_json(["-d", "link", "show", "dev", "mv0"]);
        assert_eq!(j[0]["linkinfo"]["info_data"]["mode"], "bridge");
        let j = ip_json(["-d", "link", "show", "dev", "vx0"]);
        assert_eq!(j[0]["linkinfo"]["info_data"]["id"], 42);
        assert_eq!(j[0]["linkinfo"]["info_data"]["port"], 4789);

        // nsip's JSON carries the same values as ip's for the keys both have.
        // The kernel sets a new link's operstate later, from its link-watch
        // worker (slow under the VM's emulation), so ip lists the links
        // before and after nsip, and nsip's operstate is one of the two.
        let before = ip_json(["-d", "link", "show"]);
        let ours: serde_json::Value =
            serde_json::from_str(&run(&["-j", "-d", "link", "show"])).unwrap();
        let theirs = ip_json(["-d", "link", "show"]);
        assert_eq!(
            ours.as_array().unwrap().len(),
            theirs.as_array().unwrap().len()
        );
        for ((o, t), b) in ours
            .as_array()
            .unwrap()
            .iter()
            .zip(theirs.as_array().unwrap())
            .zip(before.as_array().unwrap())
        {
            for key in [
                "ifindex", "ifname", "mtu", "address", "master", "ifalias", "txqlen",
            ] {
                assert_eq!(o.get(key), t.get(key), "{key} of {}", t["ifname"]);
            }
            assert!(
                o.get("operstate") == t.get("operstate")
                    || o.get("operstate") == b.get("operstate"),
                "operstate of {}: nsip {:?}, ip {:?} then {:?}",
                t["ifname"],
                o.get("operstate"),
                b.get("operstate"),
                t.get("operstate")
            );
            assert_eq!(o["linkinfo"]["info_kind"], t["linkinfo"]["info_kind"]);
        }

        // A netns move by name, then -n.
        run(&["netns", "add", "pod"]);
        run(&["link", "set", "v1", "netns", "pod"]);
        let inside = run(&["-n", "pod", "link", "show", "v1"]);
        assert!(inside.contains("v1@if"), "{inside}");
        run(&["-n", "pod", "link", "del", "v1"]);
        assert!(
            nsip(d, &["link", "show", "v0"]).status.code() == Some(2),
            "v0 went with its peer"
        );
        let e = nsip(
            d,
            &[
                "link", "add", "link", "br0", "name", "x", "type", "vlan", "id", "4095",
            ],
        );
        assert_eq!(e.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&e.stderr).contains("vlan id 4095"));
        run(&["netns", "del", "pod"]);
    });
}

#[test]
fn brief_paths_filters_and_namespaces_with_their_links() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let d = dir.path();
        let run = |args: &[&str]| ok(nsip(d, args));
        run(&["link", "add", "br0", "type", "bridge"]);
        run(&[
            "link", "add", "p0", "master", "br0", "type", "veth", "peer", "name", "p1",
        ]);
        run(&["link", "add", "q0", "type", "veth", "peer", "name", "q1"]);
        run(&["addr", "add", "10.3.0.1/24", "dev", "q0"]);
        // -br prints ip -br's columns: name, state, then MAC/flags or
        // addresses.
        let brief = run(&["-br", "link", "show"]);
        let theirs = ok(Command::new("ip")
            .args(["-br", "link", "show"])
            .output()
            .unwrap());
        let first = |t: &str| -> Vec<(String, String)> {
            t.lines()
                .map(|l| {
                    let mut w = l.split_whitespace();
                    let name = w.next().unwrap_or("").to_owned();
                    (name, w.next().unwrap_or("").to_owned())
                })
                .collect()
        };
        assert_eq!(first(&brief), first(&theirs), "{brief}\n{theirs}");
        let addr = run(&["-br", "addr", "show", "dev", "q0"]);
        let mut w = addr.split_whitespace();
        assert_eq!(w.next(), Some("q0"));
        assert!(addr.contains("10.3.0.1/24"), "{addr}");
        // link show type / master, as ip filters them.
        let names = |args: &[&str]| ifnames(&serde_json::from_str(&run(args)).unwrap());
        let oracle = |args: &[&str]| ifnames(&ip_json(args));
        assert_eq!(
            names(&["-j", "link", "show", "type", "veth"]),
            oracle(&["link", "show", "type", "veth"])
        );
        assert_eq!(
            names(&["-j", "link", "show", "master", "br0"]),
            oracle(&["link", "show", "master", "br0"])
        );
        // -n takes a path, as ip -n and ip netns exec do.
        run(&["netns", "add", "pod"]);
        run(&["link", "set", "q1", "netns", "pod"]);
        let path = d.join("pod");
        let path = path.to_str().unwrap();
        let inside = run(&["-n", path, "-br", "link", "show"]);
        assert!(inside.lines().any(|l| l.starts_with("q1@")), "{inside}");
        let exec = run(&["netns", "exec", path, "--", "ip", "-o", "link"]);
        assert!(exec.contains("q1@"), "{exec}");
        // netns list --links: every namespace with its interfaces.
        run(&["netns", "add", "empty"]);
        let listed = run(&["netns", "list", "--links"]);
        let mut lines = listed.lines();
        assert_eq!(lines.next(), Some("empty"));
        assert!(
            lines.next().unwrap().trim_start().starts_with("lo "),
            "{listed}"
        );
        // (moving q1 there gave pod an nsid here: `pod (id: 0)`, as ip shows)
        assert!(lines.next().unwrap().starts_with("pod"), "{listed}");
        let pod_links: Vec<&str> = lines.map(str::trim_start).collect();
        assert!(pod_links.iter().any(|l| l.starts_with("q1@")), "{listed}");
        let j: serde_json::Value =
            serde_json::from_str(&run(&["-j", "netns", "list", "--links"])).unwrap();
        let pod = j
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == "pod")
            .unwrap();
        let theirs = ok(ip_in_dir(d, ["-j", "-n", "pod", "link", "show"]));
        let theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
        assert_eq!(ifnames(&pod["links"]), ifnames(&theirs));
        run(&["netns", "del", "pod"]);
        run(&["netns", "del", "empty"]);
    });
}

/// The same `ip` lines, run through ip in one fresh namespace and through
/// nsip in another, leave the same state (as `ip -j` reports it).
#[test]
fn common_ip_lines_work_with_ip_replaced_by_nsip() {
    const LINES: &[&str] = &[
        "link add v0 type veth peer name v1",
        "link add br0 type bridge",
        "link set v0 master br0",
        "link set dev v0 up",
        "link set v1 up mtu 1400",
        "link set br0 up",
        "link add link v1 name mv0 type macvlan mode bridge",
        "link add vx0 type vxlan id 42 dstport 4789 dev v1 remote 10.1.1.1",
        "link set dev mv0 alias uplink",
        "addr add 10.0.0.1/24 dev br0 brd +",
        "addr add 10.0.0.9/24 dev br0 label br0:x",
        "addr add 2001:db8::1/64 dev br0 nodad",
        "addr add 10.5.0.1/32 peer 10.5.0.2 dev v1",
        "route add 10.9.0.0/16 via 10.0.0.2 metric 10",
        "route add default via 10.0.0.254 dev br0",
        "route add blackhole 10.66.0.0/16",
        "route add unreachable 10.67.0.0/16",
        "route add 10.1.0.0/16 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.0.3 weight 3",
        "route add 10.2.0.0/16 via 10.0.0.2 table 100",
        "route add 2001:db8:9::/48 via 2001:db8::2",
        "route replace 10.9.0.0/16 via 10.0.0.3 metric 10",
        "route append 10.70.0.0/16 via 10.0.0.5 metric 7",
        "route del 10.66.0.0/16",
        "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev br0",
        "neigh replace 10.0.0.3 lladdr 02:00:00:00:00:03 dev br0 nud reachable",
        "neigh add 10.0.0.4 lladdr 02:00:00:00:00:04 dev br0",
        "neigh del 10.0.0.4 dev br0",
        "addr del 10.0.0.9/24 dev br0",
        "link set v1 down",
    ];
    let dir = TempNetnsDir::new();
    let state = |use_nsip: bool| {
        in_private_netns(|| {
            // "link set v1 down" takes the carrier from v0, br0's one port,
            // and so from br0, which then flushes its non-permanent
            // neighbours (10.0.0.3, REACHABLE) once the kernel's link watch
            // gets to it: asynchronously, so the entry was there in one run
            // and gone in the other. Keep neighbours on carrier loss (the
            // sysctl is ANDed with each device's).
            std::fs::write("/proc/sys/net/ipv4/conf/all/arp_evict_nocarrier", "0")
                .expect("net.ipv4.conf.all.arp_evict_nocarrier=0");
            for line in LINES {
                let args: Vec<&str> = line.split(' ').collect();
                let out = if use_nsip {
                    nsip(dir.path(), &args)
                } else {
                    netns_testutil::ip_output(&args)
                };
                assert!(
                    out.status.success(),
                    "{} {line}: {}",
                    if use_nsip { "nsip" } else { "ip" },
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            snapshot()
        })
    };
    let by_ip = state(false);
    let by_nsip = state(true);
    // The comparison is not vacuous: the state is all there.
    let len = |i: usize| by_ip[i].1.as_array().map_or(0, |a| a.len());
    assert_eq!(len(0), 6, "links: {}", by_ip[0].1);
    assert!(len(2) >= 9, "routes: {}", by_ip[2].1);
    assert!(
        by_ip[4].1.to_string().contains("02:00:00:00:00:02"),
        "{}",
        by_ip[4].1
    );
    assert!(
        !by_ip[4].1.to_string().contains("02:00:00:00:00:04"),
        "{}",
        by_ip[4].1
    );
    assert!(
        by_ip[1].1.to_string().contains("2001:db8::1"),
        "{}",
        by_ip[1].1
    );
    for (what, a, b) in by_ip.iter().zip(&by_nsip).map(|((w, a), (_, b))| (w, a, b)) {
        assert_eq!(a, b, "{what} differs:\nip:   {a}\nnsip: {b}");
    }
}

/// The namespace's state as ip reports it, without what is random (MAC
/// addresses, the link-local addresses made from them) or time-dependent.
fn snapshot() -> Vec<(&'static str, serde_json::Value)> {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for k in [
                    "address",
                    "broadcast",
                    "perm_address",
                    "stats64",
                    "stats",
                    "used",
                    "confirmed",
                    "updated",
                    "probes",
                    "linkinfo",
                    "link_netnsid",
                    "inet6_addr_gen_mode",
                    "num_tx_queues",
                    "num_rx_queues",
                    "gso_max_size",
                    "gso_max_segs",
                    "operstate",
                    "flags",
                ] {
                    m.remove(k);
                }
                for (_, x) in m.iter_mut() {
                    scrub(x);
                }
            }
            serde_json::Value::Array(a) => {
                a.retain(|x| !x["local"].as_str().is_some_and(|l| l.starts_with("fe80")));
                // Link-local and multicast destinations come and go with
                // the kernel's own traffic (IPv6 ND, an IGMP report sent
                // after a random delay makes a NOARP 224.0.0.22 entry).
                a.retain(|x| {
                    !x["dst"].as_str().is_some_and(|d| {
                        d.starts_with("fe80")
                            || d.starts_with("ff")
                            || d.parse::<std::net::IpAddr>()
                                .is_ok_and(|ip| ip.is_multicast())
                    })
                });
                for x in a.iter_mut() {
                    scrub(x);
                }
            }
            _ => {}
        }
    }
    let mut out = vec![
        ("links", ip_json(["-d", "link", "show"])),
        ("addresses", ip_json(["addr", "show"])),
        ("routes", ip_json(["route", "show", "table", "all"])),
        ("routes6", ip_json(["-6", "route", "show", "table", "all"])),
        ("neighbours", ip_json(["neigh", "show", "nud", "all"])),
    ];
    for (_, v) in out.iter_mut() {
        scrub(v);
    }
    // A neighbour dump follows the table's hash buckets, whose seed is
    // random per namespace: the order is not part of the state.
    if let Some(n) = out[4].1.as_array_mut() {
        n.sort_by_key(|e| e["dst"].to_string());
    }
    // The link kinds, separately (linkinfo holds random-free data we keep).
    let kinds: Vec<serde_json::Value> = ip_json(["-d", "link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::json!([
                l["ifname"],
                l["linkinfo"]["info_kind"],
                l["linkinfo"]["info_data"]["mode"],
                l["linkinfo"]["info_data"]["id"]
            ])
        })
        .collect();
    out.push(("kinds", serde_json::Value::Array(kinds)));
    out
}

// ---- nsip nat: judged by `nft -j list ruleset` ----

/// The ruleset as `nft -j list ruleset` prints it, without the metainfo
/// and the kernel's handles (which count up per namespace and table), map
/// elements in key order.
fn ruleset() -> Vec<serde_json::Value> {
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("handle");
                for (_, x) in m.iter_mut() {
                    scrub(x);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    let mut objs = netns_testutil::nft::ruleset();
    for o in &mut objs {
        scrub(o);
        if let Some(e) = o
            .get_mut("map")
            .and_then(|m| m.get_mut("elem"))
            .and_then(serde_json::Value::as_array_mut)
        {
            e.sort_by_key(|x| x.to_string());
        }
    }
    objs
}

/// nsip in the calling thread's namespace (no netns directory involved).
fn nsip_here(args: &[&str]) -> Output {
    Command::new(nsip_path()).args(args).output().unwrap()
}

const NAT_MASQ: &[&str] = &[
    "nat",
    "masquerade",
    "cni0/c1/eth0",
    "10.88.0.2,fd00::2",
    "except",
    "10.88.0.0/16,fd00::/64",
];
const NAT_FWD: &[&str] = &[
    "nat",
    "forward",
    "cni0/c1/eth0",
    "tcp",
    "8080",
    "10.88.0.2:80",
    "udp",
    "53@10.0.0.1",
    "10.88.0.2:5353",
    "tcp",
    "8443@[fd00::1]",
    "[fd00::2]:443",
    "hairpin",
    "10.88.0.0/16,127.0.0.0/8,fd00::/64",
];

/// What NAT_MASQ and NAT_FWD ask for, made by the library directly.
fn nat_by_library() {
    use netns_core::{Hairpin, Nat, NatOwner, NatProto, PortForward};
    let nat = Nat::new().unwrap();
    let o = NatOwner::new("cni0", "c1", "eth0");
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let net = |s: &str| s.parse::<netns_core::IpNet>().unwrap();
    nat.masquerade(
        &o,
        &[ip("10.88.0.2"), ip("fd00::2")],
        &[net("10.88.0.0/16"), net("fd00::/64")],
    )
    .unwrap();
    let f = |proto, host_port, host_ip: Option<&str>, to: &str, to_port| PortForward {
        proto,
        host_port,
        host_ip: host_ip.map(ip),
        to: ip(to),
        to_port,
    };
    nat.port_forward(
        &o,
        &[
            f(NatProto::Tcp, 8080, None, "10.88.0.2", 80),
            f(NatProto::Udp, 53, Some("10.0.0.1"), "10.88.0.2", 5353),
            f(NatProto::Tcp, 8443, Some("fd00::1"), "fd00::2", 443),
        ],
        &Hairpin::From(vec![
            net("10.88.0.0/16"),
            net("127.0.0.0/8"),
            net("fd00::/64"),
        ]),
    )
    .unwrap();
}

#[test]
fn nat_commands_write_what_the_library_writes() {
    let by_nsip = in_private_netns(|| {
        ok(nsip_here(NAT_MASQ));
        ok(nsip_here(NAT_FWD));
        ruleset()
    });
    let by_library = in_private_netns(|| {
        nat_by_library();
        ruleset()
    });
    assert!(!by_nsip.is_empty());
    assert_eq!(
        serde_json::Value::Array(by_nsip),
        serde_json::Value::Array(by_library)
    );
}

#[test]
fn nat_list_reads_like_nft_and_as_json() {
    in_private_netns(|| {
        // Nothing yet: nothing printed; JSON says no table.
        assert_eq!(ok(nsip_here(&["nat", "list"])), "");
        let j: serde_json::Value =
            serde_json::from_str(&ok(nsip_here(&["-j", "nat", "list"]))).unwrap();
        assert_eq!(j["table"], serde_json::Value::Null);
        ok(nsip_here(NAT_MASQ));
        ok(nsip_here(NAT_FWD));
        let ours = ok(nsip_here(&["nat", "list"]));
        let theirs = nft(&["list", "table", "inet", "netns-nat"]);
        // Every line of ours but the rules' (comment lines) is nft's own,
        // elements included once nft's line wrapping is undone.
        let unwrap = |s: &str| s.replace(",\n", ", ").replace("\t\t\t     ", "");
        // nft prints a protocol number where /etc/protocols is missing (the
        // VM tier): give it its name, as nsip does.
        let named = |l: &str| l.replace(" 6 . ", " tcp . ").replace(" 17 . ", " udp . ");
        let theirs_lines: Vec<String> = unwrap(&theirs).lines().map(|l| named(l.trim())).collect();
        for l in ours.lines().map(str::trim) {
            if l.starts_with('#') || l.is_empty() {
                continue;
            }
            assert!(
                theirs_lines.iter().any(|t| t == l),
                "{l:?} is not in nft's listing:\n{theirs}\nours:\n{ours}"
            );
        }
        // The same number of chains, and each chain's rules counted alike:
        // the three base chains and the masquerade's (a forward is data).
        let chains = |s: &str| s.lines().filter(|l| l.trim().starts_with("chain ")).count();
        assert_eq!(chains(&ours), chains(&theirs));
        assert_eq!(chains(&ours), 4, "{ours}");
        let rules_ours = ours.lines().filter(|l| l.trim().starts_with("# ")).count();
        let rules_nft: usize = ruleset().iter().filter(|o| o.get("rule").is_some()).count();
        assert_eq!(rules_ours, rules_nft, "{ours}");
        // Every set and map, with its type line, as nft has them.
        let sets = |s: &str| {
            s.lines()
                .map(str::trim)
                .filter(|l| l.starts_with("set ") || l.starts_with("map "))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(sets(&ours), sets(&theirs));
        assert_eq!(sets(&ours).len(), 10, "{ours}");
        for l in [
            "type inet_proto . inet_service : ipv4_addr . inet_service",
            "type ipv4_addr . ipv4_addr",
            "flags interval",
            "type ipv6_addr",
        ] {
            assert!(
                ours.lines().any(|o| o.trim() == l),
                "{l:?} missing:\n{ours}"
            );
        }
        // JSON: what nft -j lists.
        let j: serde_json::Value =
            serde_json::from_str(&ok(nsip_here(&["-j", "nat", "list"]))).unwrap();
        assert_eq!(j["table"]["name"], "netns-nat");
        assert_eq!(j["table"]["family"], "inet");
        let nft_chains: Vec<String> = ruleset()
            .iter()
            .filter_map(|o| o.get("chain"))
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        let json_chains: Vec<String> = j["chains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(json_chains, nft_chains);
        // The sets and maps nft -j lists, with their elements' count.
        let nft_sets: Vec<(String, usize)> = ruleset()
            .iter()
            .filter_map(|o| o.get("set").or_else(|| o.get("map")))
            .map(|m| {
                let n = m.get("elem").map_or(0, |e| e.as_array().unwrap().len());
                (m["name"].as_str().unwrap().to_string(), n)
            })
            .collect();
        let json_sets: Vec<(String, usize)> = j["maps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let n = m["elements"].as_array().unwrap().len();
                (m["name"].as_str().unwrap().to_string(), n)
            })
            .collect();
        assert_eq!(json_sets, nft_sets);
        let map = |name: &str| {
            j["maps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .unwrap()
                .clone()
        };
        let ports4 = map("ports4");
        assert_eq!(ports4["kind"], "map");
        assert_eq!(ports4["map"], "ipv4_addr . inet_service");
        assert_eq!(ports4["elements"].as_array().unwrap().len(), 1);
        assert_eq!(ports4["elements"][0]["key"], "tcp . 8080");
        assert_eq!(ports4["elements"][0]["data"], "10.88.0.2 . 80");
        let tag = ports4["elements"][0]["comment"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            tag.starts_with("fwd-") && tag.ends_with(" cni0 c1 eth0"),
            "{tag}"
        );
        let hairpin4 = map("hairpin4");
        assert_eq!(hairpin4["kind"], "set");
        assert_eq!(hairpin4["flags"], serde_json::json!(["interval"]));
        let keys: Vec<&str> = hairpin4["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            ["10.88.0.2 . 10.88.0.0/16", "10.88.0.2 . 127.0.0.0/8"]
        );
        // The owner's marker, tagged as its elements are.
        let marks = map("owners");
        assert_eq!(marks["elements"].as_array().unwrap().len(), 1);
        assert_eq!(marks["elements"][0]["comment"], tag.as_str());
        let masq4 = map("masq4");
        assert!(masq4["elements"][0]["verdict"]
            .as_str()
            .unwrap()
            .starts_with("jump masq-"));
        // Owners, as Nat::list reports them: the masquerade and the forward.
        let owners = j["owners"].as_array().unwrap();
        assert_eq!(owners.len(), 2, "{j}");
        assert!(owners.iter().all(|o| o["owner"] == "cni0 c1 eth0"));
        let fwd = owners.iter().find(|o| o["kind"] == "forward").unwrap();
        assert_eq!(
            tag,
            format!("{} cni0 c1 eth0", fwd["chain"].as_str().unwrap())
        );
        let mut keys: Vec<&str> = fwd["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "hairpin4 10.88.0.2 . 10.88.0.0-10.88.255.255",
                "hairpin4 10.88.0.2 . 127.0.0.0-127.255.255.255",
                "hairpin6 fd00::2 . fd00::-fd00::ffff:ffff:ffff:ffff",
                "hostip4-ports 10.0.0.1 . udp . 53 : 10.88.0.2 . 5353",
                "hostip6-ports fd00::1 . tcp . 8443 : fd00::2 . 443",
                "ports4 tcp . 8080 : 10.88.0.2 . 80",
            ]
        );
        let masq = owners.iter().find(|o| o["kind"] == "masquerade").unwrap();
        assert!(masq["chain"].as_str().unwrap().starts_with("masq-"));
        assert_eq!(masq["elements"].as_array().unwrap().len(), 2);
        // The listing is nft syntax: nft -c reads it back on its own (in
        // an empty namespace, as here after a flush).
        ok(nsip_here(&["nat", "flush"]));
        assert_eq!(nft_accepts(&ours), "");
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
    });
}

#[test]
fn nat_del_is_exact_and_flush_removes_only_the_nat_table() {
    in_private_netns(|| {
        // Something that is not netns's: flush must leave it.
        nft(&["add", "table", "inet", "other"]);
        nft(&["add", "chain", "inet", "other", "c"]);
        let before = ruleset();
        ok(nsip_here(&[
            "nat",
            "forward",
            "net/c2/eth0",
            "tcp",
            "9090",
            "10.88.0.3:90",
        ]));
        let with_c2 = ruleset();
        ok(nsip_here(NAT_MASQ));
        ok(nsip_here(NAT_FWD));
        // del of one kind, then the other: the ruleset is c2's alone again.
        ok(nsip_here(&["nat", "del", "cni0/c1/eth0", "forward"]));
        assert_ne!(ruleset(), with_c2);
        ok(nsip_here(&["nat", "del", "cni0/c1/eth0"]));
        assert_eq!(ruleset(), with_c2);
        // Nothing left of it: an error, as `ip ... del` of nothing is.
        let o = nsip_here(&["nat", "del", "cni0/c1/eth0"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("no such NAT entry"));
        assert_eq!(ruleset(), with_c2);
        // flush: the whole NAT table, nothing else; again is not an error.
        ok(nsip_here(NAT_MASQ));
        ok(nsip_here(&["nat", "flush"]));
        assert_eq!(ruleset(), before);
        ok(nsip_here(&["nat", "flush"]));
        assert_eq!(ruleset(), before);
        nft(&["delete", "table", "inet", "other"]);
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
    });
}

#[test]
fn nat_in_a_named_namespace_with_dash_n() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let d = dir.path();
        ok(nsip(d, &["netns", "add", "t1"]));
        let mut args = vec!["-n", "t1"];
        args.extend_from_slice(NAT_MASQ);
        ok(nsip(d, &args));
        // Written in t1, not here.
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
        let listing = ok(nsip(d, &["-n", "t1", "nat", "list"]));
        assert!(
            listing.contains("elements = { 10.88.0.2 comment \"masq-")
                && listing.contains(" cni0 c1 eth0\" : jump masq-"),
            "{listing}"
        );
        let in_t1 = ok(nsip(d, &["netns", "exec", "t1", "nft", "list", "ruleset"]));
        assert!(in_t1.contains("table inet netns-nat"), "{in_t1}");
        ok(nsip(d, &["-n", "t1", "nat", "flush"]));
        let in_t1 = ok(nsip(d, &["netns", "exec", "t1", "nft", "list", "ruleset"]));
        assert_eq!(in_t1, "");
        ok(nsip(d, &["netns", "del", "t1"]));
    });
}

#[test]
fn bad_nat_input_fails_clearly_and_writes_nothing() {
    in_private_netns(|| {
        let cases: &[(&[&str], i32, &str)] = &[
            // Usage errors: 1.
            (&["nat", "frobnicate"], 1, "unknown nat command"),
            (&["nat", "masquerade"], 1, "\"OWNER\" needs a value"),
            (
                &["nat", "masquerade", "a/b", "10.0.0.2"],
                1,
                "invalid OWNER \"a/b\"",
            ),
            (
                &["nat", "masquerade", "a//c", "10.0.0.2"],
                1,
                "invalid OWNER",
            ),
            (
                &["nat", "masquerade", "a/b/c/d", "10.0.0.2"],
                1,
                "invalid OWNER",
            ),
            (&["nat", "masquerade", "a/b/c"], 1, "\"SRC\" needs a value"),
            (
                &["nat", "masquerade", "a/b/c", "10.0.0.300"],
                1,
                "invalid source address \"10.0.0.300\"",
            ),
            (
                &[
                    "nat",
                    "masquerade",
                    "a/b/c",
                    "10.0.0.2",
                    "except",
                    "10.0.0.0/33",
                ],
                1,
                "invalid subnet",
            ),
            (
                &["nat", "masquerade", "a/b/c", "10.0.0.2", "extra"],
                1,
                "unexpected argument \"extra\"",
            ),
            (&["nat", "forward", "a/b/c"], 1, "needs PROTO HOSTPORT"),
            (
                &["nat", "forward", "a/b/c", "icmp", "80", "10.0.0.2:80"],
                1,
                "invalid PROTO \"icmp\"",
            ),
            (
                &["nat", "forward", "a/b/c", "tcp", "70000", "10.0.0.2:80"],
                1,
                "invalid HOSTPORT \"70000\"",
            ),
            (
                &[
                    "nat",
                    "forward",
                    "a/b/c",
                    "tcp",
                    "80@nowhere",
                    "10.0.0.2:80",
                ],
                1,
                "invalid HOSTIP \"nowhere\"",
            ),
            (
                &["nat", "forward", "a/b/c", "tcp", "80", "10.0.0.2"],
                1,
                "invalid TO:PORT \"10.0.0.2\"",
            ),
            (
                &["nat", "forward", "a/b/c", "tcp", "80"],
                1,
                "\"TO:PORT\" needs a value",
            ),
            (
                &[
                    "nat",
                    "forward",
                    "a/b/c",
                    "tcp",
                    "80",
                    "10.0.0.2:80",
                    "hairpin",
                    "x",
                ],
                1,
                "invalid subnet \"x\"",
            ),
            (
                &[
                    "nat",
                    "forward",
                    "a/b/c",
                    "tcp",
                    "80",
                    "10.0.0.2:80",
                    "hairpin",
                    "all",
                    "tcp",
                ],
                1,
                "unexpected argument",
            ),
            (&["nat", "del", "a/b/c", "both"], 1, "unknown NAT kind"),
            (&["nat", "flush", "all"], 1, "unexpected argument"),
            // The library's refusals: 2.
            (
                &["nat", "forward", "a/b/c", "tcp", "0", "10.0.0.2:80"],
                2,
                "a port is 1 to 65535",
            ),
            (
                &["nat", "forward", "a/b/c", "tcp", "80", "10.0.0.2:0"],
                2,
                "a port is 1 to 65535",
            ),
            (
                &[
                    "nat",
                    "forward",
                    "a/b/c",
                    "tcp",
                    "80@fd00::1",
                    "10.0.0.2:80",
                ],
                2,
                "different families",
            ),
            (
                &[
                    "nat",
                    "forward",
                    "a/b/c",
                    "tcp",
                    "80",
                    "10.0.0.2:80",
                    "tcp",
                    "80",
                    "10.0.0.3:80",
                ],
                2,
                "given twice",
            ),
            (&["nat", "del", "a/b/c"], 2, "no such NAT entry"),
        ];
        for (args, code, msg) in cases {
            let o = nsip_here(args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(*code), "{args:?}: {err}");
            assert!(err.contains(msg), "{args:?}: {err:?} lacks {msg:?}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert_eq!(
                ruleset(),
                Vec::<serde_json::Value>::new(),
                "{args:?} wrote something"
            );
        }
        // A host port another owner forwards: refused (EEXIST), and nothing
        // of the second owner written.
        ok(nsip_here(&[
            "nat",
            "forward",
            "n/c1/eth0",
            "tcp",
            "8080",
            "10.0.0.2:80",
        ]));
        let before = ruleset();
        let o = nsip_here(&["nat", "forward", "n/c2/eth0", "tcp", "8080", "10.0.0.3:80"]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("File exists"), "{err}");
        assert_eq!(ruleset(), before);
        ok(nsip_here(&["nat", "flush"]));
        assert_eq!(ruleset(), Vec::<serde_json::Value>::new());
    });
}
