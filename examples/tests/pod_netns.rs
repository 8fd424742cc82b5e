//! The scenario of make-net (issue 14) under libcni (the project's
//! driver), on the host and in the VM tier: a BGP router pod whose router
//! process runs in a network namespace of its own, entered with
//! `ip netns exec bgp`, where /run/netns/bgp is (in Kubernetes) a hostPath
//! volume of the node's /run/netns/<netid>.
//!
//! The test's private namespace is the node. The pod is a network
//! namespace ([`Pod`], in a temporary netns directory) plus a mount
//! namespace of its own: its first process is `unshare --mount` (private
//! propagation) running a shell that mounts a tmpfs on /run (the pod's
//! own /run: the node's is never touched, nor is its /run/netns), binds
//! the named namespace's file at /run/netns/bgp and then waits on its
//! stdin. The pod gets `eth0` on the cluster network (netns-bridge on
//! `cni0`, host-local 10.244.0.0/24) and then `net1` from make-net (a NAD
//! with the templated netid `{K8S_POD_NAMESPACE}-{K8S_POD_NAME}`,
//! `peer: pod`, the static address 10.99.0.2/24, `nsDir` a temporary
//! netns directory standing for the node's /run/netns, `dataDir` a
//! temporary directory), with the CNI_ARGS Multus passes. The same again
//! with host-local IPAM handing out 10.99.0.2 instead: make-net then puts
//! IPAM's gateway (10.99.0.1/32) on the pod's end, the named namespace's
//! default route goes via it, and the pod's connections come from it.
//!
//! A process started in the pod's mount and network namespaces (`nsenter`)
//! as `ip netns exec bgp LISTENER` listens on 10.99.0.2:179: the listener
//! is the pod-netns example's `__listen` mode (examples/pod-netns), which
//! prints `ready ADDR netns INODE` once bound (the test waits for that
//! line, no sleep) and `accepted from PEER` for each connection. Shown:
//! - the listener runs in the namespace make-net made (its inode), entered
//!   through the pod's own /run/netns/bgp; `ip netns list` in the pod's
//!   mount namespace lists `bgp`; `ip netns exec bgp ip addr` there shows
//!   veth0 with 10.99.0.2/24;
//! - TCP from the pod's network namespace to 10.99.0.2:179 is answered,
//!   over net1 (the route make-net added), the listener seeing the pod's
//!   eth0 address;
//! - from the pod network's side (the node, on `cni0`), even with a route
//!   to 10.99.0.0/24 via the pod's eth0 address, the connection fails
//!   within a bound and the listener saw nothing (the next connection it
//!   reports is the pod's). The pod does not route: its
//!   `net.ipv4.ip_forward` is set to 0 explicitly, since a new network
//!   namespace copies the host's IPv4 settings. That isolation is the
//!   pod's, not make-net's: with IPAM (replies via the gateway, the pod),
//!   the node does reach the listener while the pod forwards, which the
//!   test shows first.
//!
//! Then the processes stop (their stdin closed; both exit 0 and are
//! reaped), DEL of net1 and eth0, and everything is gone: nothing in
//! nsDir, no owner record in dataDir, the pod has only `lo`, libcni's
//! caches are empty, no host-local reservation is left, and the host's
//! /run/netns is as it was.
//!
//! The last test runs the example (`pod-netns`, the same walkthrough with
//! its own minimal runtime) in a private namespace, so that it cannot rot.
//!
//! Needs `ip`, `unshare`, `nsenter`, `mount` and `sh`, which the VM image
//! has.

mod cni_common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use cni_common::*;
use netns_core::NetNs;
use netns_testutil::{in_private_netns, ip, TempNetnsDir};
use serde_json::{json, Value};

/// A connect that must work: milliseconds in practice (also in the VM);
/// only a failure waits for the bound.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connect that must fail is given: the pod drops the SYNs, so
/// only this bound ends it. A bound, not a measurement.
const NO_CONNECTION_WAIT: Duration = Duration::from_secs(3);

const NAMED_ADDR: &str = "10.99.0.2";
const PORT: u16 = 179;
const CNI_ARGS: &str = "IgnoreUnknown=true;K8S_POD_NAMESPACE=bgp-demo;K8S_POD_NAME=router;\
                        K8S_POD_UID=0b8c3f4e-6d2a-4f51-9a7e-5c1d2e3f4a5b";
/// What make-net makes of the netid template with [`CNI_ARGS`].
const NETID: &str = "bgp-demo-router";
const ID: &str = "c0ffee0000000000000000000000000000000000000000000000000000000001";

/// The pod's first process: a mount namespace of its own (unshare's
/// default propagation is private: nothing goes back to the node), a tmpfs
/// on /run, the named namespace ($1) bound at /run/netns/bgp; "ready",
/// then it waits for its stdin to close.
const POD_INIT: &str = r#"set -e
mount -t tmpfs pod-run /run
mkdir /run/netns
: > /run/netns/bgp
mount --bind "$1" /run/netns/bgp
echo ready
exec cat >/dev/null"#;

/// A process of the test's, with its stdin (closing it stops it) and its
/// stdout, killed and reaped on drop if still running.
struct Proc {
    what: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Proc {
    fn spawn(what: &'static str, cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {what}: {e}"));
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Proc {
            what,
            child,
            stdin,
            out,
        }
    }

    /// The next line it prints (blocking: its output is the
    /// synchronisation).
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out
            .read_line(&mut l)
            .unwrap_or_else(|e| panic!("read the {}'s output: {e}", self.what));
        assert!(!l.is_empty(), "the {} exited", self.what);
        l.trim_end().to_owned()
    }

    /// Close its stdin: it exits 0 (reaped here).
    fn stop(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "the {} exited with {status}", self.what);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The host's /run/netns names (None: no such directory); never changed.
fn host_run_netns() -> Option<Vec<String>> {
    Path::new("/run/netns")
        .is_dir()
        .then(|| file_names(Path::new("/run/netns")))
}

fn listener_exe() -> PathBuf {
    let exe = examples_dir().join("pod-netns");
    assert!(
        exe.is_file(),
        "{} is missing: `cargo build -p netns-examples --examples` builds it",
        exe.display()
    );
    exe
}

/// `nsenter` into the pod's mount namespace (its first process's) and its
/// network namespace, then `args`.
fn in_pod(init: &Proc, pod: &Pod, args: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--mount=/proc/{}/ns/mnt", init.child.id()))
        .arg(format!("--net={}", pod.path().display()))
        .args(args);
    c
}

fn output_of(mut c: Command) -> String {
    let out = c.output().expect("run");
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Connect from the pod to the listener: answered "bgp", and the listener
/// reports the connection from the pod's eth0 address.
fn from_pod(pod: &Pod, at: SocketAddr, listener: &mut Proc, pod_ip: &str) {
    let mut c = NetNs::open(pod.path())
        .expect("the pod")
        .run(|| TcpStream::connect_timeout(&at, CONNECT_TIMEOUT))
        .expect("enter the pod")
        .unwrap_or_else(|e| panic!("TCP pod -> {at}: {e}"));
    let mut answer = String::new();
    c.read_to_string(&mut answer).expect("read");
    assert_eq!(answer, "bgp\n");
    let seen = listener.line();
    assert!(
        seen.starts_with(&format!("accepted from {pod_ip}:")),
        "the listener: {seen:?}"
    );
}

fn cluster(ipam: &TempDir) -> Value {
    json!({"cniVersion": "1.0.0", "name": "cluster", "plugins": [{
        "type": "netns-bridge", "bridge": "cni0", "isGateway": true,
        "ipam": {"type": "host-local", "subnet": "10.244.0.0/24", "dataDir": ipam.s()}
    }]})
}

/// make-net's network: the static address, or host-local IPAM handing out
/// the same one (its range starts there) in `ipam`.
fn customer(ns_dir: &Path, data: &TempDir, ipam: Option<&TempDir>) -> Value {
    let mut p = json!({
        "type": "make-net",
        "netid": "{K8S_POD_NAMESPACE}-{K8S_POD_NAME}",
        "peer": "pod",
        "nsDir": ns_dir.display().to_string(),
        "dataDir": data.s()
    });
    match ipam {
        None => p["addresses"] = json!([format!("{NAMED_ADDR}/24")]),
        Some(d) => {
            p["ipam"] = json!({"type": "host-local", "subnet": "10.99.0.0/24",
                               "rangeStart": NAMED_ADDR, "dataDir": d.s()})
        }
    }
    json!({"cniVersion": "0.4.0", "name": "customer-1", "plugins": [p]})
}

/// make-net's owner records (its lock file aside).
fn records(data: &TempDir) -> Vec<String> {
    file_names(data.path())
        .into_iter()
        .filter(|n| n != ".lock")
        .collect()
}

#[test]
fn the_named_namespace_is_the_pods_and_reachable_only_from_it() {
    scenario(false);
}

#[test]
fn with_host_local_ipam_too() {
    scenario(true);
}

fn scenario(with_ipam: bool) {
    let listener = listener_exe();
    let host_before = host_run_netns();
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let ipam = TempDir::new("pod-netns-ipam");
        let ns_dir = TempNetnsDir::new();
        let data = TempDir::new("pod-netns-make-net");
        let eth0 = Network::new(cluster(&ipam), our_path());
        let ipam1 = TempDir::new("pod-netns-ipam1");
        let net1 = Network::new(
            customer(ns_dir.path(), &data, with_ipam.then_some(&ipam1)),
            our_path(),
        );
        let pod = Pod::new("router");

        let add = eth0.run(&Call::on("add", &pod, ID, "eth0").args(CNI_ARGS));
        let pod_ip = add.expect_ok().ips()[0]
            .split('/')
            .next()
            .expect("an address")
            .to_owned();
        let add = net1.run(&Call::on("add", &pod, ID, "net1").args(CNI_ARGS));
        let r = add.expect_ok().result().clone();
        let named_path = ns_dir.path().join(NETID);
        assert_eq!(file_names(ns_dir.path()), [NETID]);
        assert_eq!(records(&data), [NETID]);
        let ifaces = r["interfaces"].as_array().expect("interfaces");
        assert_eq!(ifaces.len(), 2, "{r}");
        assert_eq!(ifaces[0]["name"], "veth0");
        assert_eq!(ifaces[0]["sandbox"], named_path.display().to_string());
        assert_eq!(ifaces[1]["name"], "net1");
        assert_eq!(ifaces[1]["sandbox"], pod.path().display().to_string());
        assert_eq!(r["ips"][0]["address"], format!("{NAMED_ADDR}/24"));
        assert_eq!(r["ips"][0]["interface"], 0);
        net1.run(&Call::on("check", &pod, ID, "net1").args(CNI_ARGS))
            .expect_ok();
        let named = NetNs::open(&named_path).expect("the named namespace");
        // Where the pod's connections come from, and the named namespace's
        // default route: without IPAM on-link, the pod's eth0 address;
        // with it via IPAM's gateway, which make-net puts on the pod's end
        // (the pod's address on net1, which it then uses).
        let named_routes = ip_json_in(Some(&named_path), &["-4", "route", "show", "default"]);
        let net1_addrs: Vec<String> = pod
            .ip_json(&["-4", "addr", "show", "net1"])
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
            .collect();
        let src = if with_ipam {
            assert_eq!(named_routes[0]["gateway"], "10.99.0.1", "{named_routes}");
            assert_eq!(net1_addrs, ["10.99.0.1/32"]);
            "10.99.0.1".to_string()
        } else {
            assert!(named_routes[0]["gateway"].is_null(), "{named_routes}");
            assert_eq!(net1_addrs, Vec::<String>::new());
            pod_ip.clone()
        };

        // The pod's first process, in the pod's network namespace.
        let mut init = NetNs::open(pod.path())
            .expect("the pod")
            .run(|| {
                Proc::spawn(
                    "pod's first process",
                    Command::new("unshare")
                        .args(["--mount", "sh", "-c", POD_INIT, "sh"])
                        .arg(&named_path),
                )
            })
            .expect("enter the pod");
        assert_eq!(init.line(), "ready");
        assert_eq!(host_run_netns(), host_before, "the host's /run/netns");
        let listed: Value = serde_json::from_str(&output_of(in_pod(
            &init,
            &pod,
            &["ip", "-j", "netns", "list"],
        )))
        .expect("ip -j netns list");
        let names: Vec<&str> = listed
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|n| n["name"].as_str())
            .collect();
        assert_eq!(names, ["bgp"], "ip netns list in the pod");
        let addrs: Value = serde_json::from_str(&output_of(in_pod(
            &init,
            &pod,
            &[
                "ip", "netns", "exec", "bgp", "ip", "-j", "-4", "addr", "show", "veth0",
            ],
        )))
        .expect("ip -j addr");
        assert_eq!(addrs[0]["addr_info"][0]["local"], NAMED_ADDR, "{addrs}");
        assert_eq!(addrs[0]["addr_info"][0]["prefixlen"], 24, "{addrs}");

        // The router: ip netns exec bgp LISTENER, in the pod.
        let at: SocketAddr = format!("{NAMED_ADDR}:{PORT}").parse().expect("addr");
        let mut cmd = in_pod(&init, &pod, &["ip", "netns", "exec", "bgp"]);
        cmd.arg(&listener).arg("__listen").arg(at.to_string());
        let mut router = Proc::spawn("router", &mut cmd);
        assert_eq!(
            router.line(),
            format!("ready {at} netns {}", named.inode()),
            "the router runs in the named namespace"
        );

        // The pod reaches it over net1.
        let route = pod.ip_json(&["route", "get", NAMED_ADDR]);
        assert_eq!(route[0]["dev"], "net1", "{route}");
        from_pod(&pod, at, &mut router, &src);

        // The pod network's side, routed through the pod's eth0.
        ip(["route", "add", "10.99.0.0/24", "via", &pod_ip]);
        let forward = |on: &str| {
            NetNs::open(pod.path())
                .expect("the pod")
                .run(|| std::fs::write("/proc/sys/net/ipv4/ip_forward", on))
                .expect("enter the pod")
                .expect("ip_forward in the pod");
        };
        if with_ipam {
            // The isolation is the pod's: one that forwards passes the pod
            // network on (the named namespace's replies go via its
            // gateway, the pod). Without IPAM the replies go on-link to an
            // address nobody on the veth answers for, forwarding or not.
            forward("1");
            let mut c = TcpStream::connect_timeout(&at, CONNECT_TIMEOUT)
                .unwrap_or_else(|e| panic!("the node -> {at} through a forwarding pod: {e}"));
            let mut answer = String::new();
            c.read_to_string(&mut answer).expect("read");
            assert_eq!(answer, "bgp\n");
            let seen = router.line();
            assert!(seen.starts_with("accepted from 10.244.0.1:"), "{seen}");
        }
        // A pod that does not route: nothing gets in.
        forward("0");
        let r = TcpStream::connect_timeout(&at, NO_CONNECTION_WAIT);
        assert!(r.is_err(), "the node reached {at} through the pod's eth0");
        // The listener reports each connection: the next is the pod's.
        from_pod(&pod, at, &mut router, &src);
        ip(["route", "del", "10.99.0.0/24", "via", &pod_ip]);

        // The pod stops; DEL; nothing left.
        router.stop();
        init.stop();
        drop(named);
        net1.run(&Call::on("del", &pod, ID, "net1").args(CNI_ARGS))
            .expect_ok();
        eth0.run(&Call::on("del", &pod, ID, "eth0").args(CNI_ARGS))
            .expect_ok();
        assert_eq!(file_names(ns_dir.path()), Vec::<String>::new(), "nsDir");
        assert_eq!(records(&data), Vec::<String>::new(), "owner records");
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(net1.cached(), Vec::<String>::new());
        assert_eq!(eth0.cached(), Vec::<String>::new());
        let held: Vec<String> = ipam_files(&ipam, "cluster")
            .into_iter()
            .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
            .collect();
        assert_eq!(held, Vec::<String>::new(), "host-local reservations");
        let held: Vec<String> = ipam_files(&ipam1, "customer-1")
            .into_iter()
            .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
            .collect();
        assert_eq!(held, Vec::<String>::new(), "make-net's reservations");
    });
    assert_eq!(host_run_netns(), host_before, "the host's /run/netns");
}

#[test]
fn the_example_passes_every_step_and_cleans_up() {
    let exe = listener_exe();
    let host_before = host_run_netns();
    in_private_netns(|| {
        let child = Command::new(&exe)
            .env_remove("CARGO")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the example");
        let pid = child.id();
        let out = child.wait_with_output().expect("wait for the example");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for want in [
            "CNI_ARGS='IgnoreUnknown=true;K8S_POD_NAMESPACE=bgp-demo;K8S_POD_NAME=router;K8S_POD_UID=",
            "make-net filled in netid: bgp-demo-router",
            "OK: CHECK of eth0 and net1",
            "ready: /run/netns/bgp is ",
            "OK: the router runs in bgp-demo-router (netns inode ",
            "OK: TCP pod (10.244.0.2) -> 10.99.0.2:179: answered \"bgp\", the router: accepted from 10.244.0.2:",
            "OK: TCP node -> 10.99.0.2:179 via the pod's eth0 fails",
            "OK: the router saw nothing from the node",
            "OK: make-net's nsDir is empty",
            "OK: no owner record left in make-net's dataDir",
            "OK: pod has only lo",
            "All steps passed.",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        let root = std::env::temp_dir().join(format!("netns-pod-netns-{pid}"));
        assert!(!root.exists(), "{} left behind", root.display());
        // No process of the example's is left: they were its children, and
        // it reaped them. Its helpers run as /proc/<its pid>/exe (argv[0]),
        // so a leftover, re-parented or not, still says so.
        let me = format!("/proc/{pid}/exe ");
        let stray: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&me))
            .collect();
        assert_eq!(stray, Vec::<String>::new(), "processes left");
    });
    assert_eq!(host_run_netns(), host_before, "the host's /run/netns");
}
