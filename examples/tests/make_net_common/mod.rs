//! The make-net tests, one body each for both plugins: the Rust make-net
//! (examples/make-net, target/<profile>/examples/make-net) and the Go one
//! (examples/go/make-net-go, target/go/make-net-go), each under libcni (the
//! project's driver). tests/make_net.rs runs them for the Rust plugin (on the
//! host and in the VM tier: it needs only veth and network namespaces),
//! tests/make_net_go.rs for the Go plugin (host only), both from the one
//! list in [`make_net_tests!`]. A body takes the [`Plugin`] under test; where
//! the plugins differ on purpose the body says so, per plugin
//! ([`Lang`]).
//!
//! Every test runs in a private network namespace, the plugin's ("host")
//! side; `nsDir` and `dataDir` are temporary directories, never /run/netns
//! or /var/lib/cni/make-net.
//!
//! Covered (issue 14): the original's NAD unchanged (netid only): the
//! named namespace in nsDir and nothing else there, `veth0` and `lo` up in
//! it, `ip netns exec` into it, the host peer up, the result's real MACs and
//! sandbox paths, CHECK (and a CHECK that fails), idempotent DEL; static
//! addresses and IPAM inside the named namespace with their default routes
//! (via the IPAM gateway, else on-link), `mtu`, `ifName`, `peerName`;
//! `peer: pod` with host routes in the pod and TCP from the pod to a
//! listener in the named namespace; CHECK failing on a peer down, an
//! address or a route gone; prevResult passed through in a chain after
//! netns-bridge; a templated netid (two pods, two namespaces, a derived
//! 15-byte `mn...` peer name); a fixed netid (the second pod refused,
//! nothing changed, the first intact, a DEL of the second leaves it alone,
//! the first's ADD repeated starts over); names and values refused before
//! anything is made; a namespace make-net did not make left alone; DEL
//! without or with a gone CNI_NETNS; a failure half-way undone (IPAM
//! released); GC (another network's namespaces in the same dataDir left
//! alone); STATUS.

/// Which make-net is under test, where a body must tell them apart (each
/// test binary constructs one of the two).
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// examples/make-net.
    Rust,
    /// examples/go/make-net-go.
    Go,
}

/// The plugin under test: what it is, and the plugin search path in which
/// `make-net` (the type every config here names) is it, then our other
/// plugins (netns-bridge, for the chain), then the reference ones
/// (host-local).
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    pub lang: Lang,
    pub path: fn() -> Vec<PathBuf>,
}

impl Plugin {
    fn path(&self) -> Vec<PathBuf> {
        (self.path)()
    }
}

/// The tests, for `$plugin` (a [`Plugin`]): one `#[test]` per body of
/// this module, all from this one list.
macro_rules! make_net_tests {
    ($plugin:expr) => {
        make_net_tests!(@each $plugin;
            the_originals_nad_works_unchanged,
            ipam_and_static_addresses_go_inside_with_peer_pod,
            peer_pod_reaches_a_listener_in_the_named_namespace,
            prev_result_is_passed_through_after_netns_bridge,
            a_templated_netid_gives_each_pod_its_namespace,
            a_fixed_netid_serves_one_pod_and_refuses_the_second,
            bad_names_and_values_are_refused_before_anything_is_made,
            a_namespace_make_net_did_not_make_is_left_alone,
            a_failure_half_way_removes_everything_made_so_far,
            gc_removes_what_is_not_valid_and_status_is_ok,
            a_netid_that_is_no_interface_name_gets_a_hashed_peer,
        );
    };
    (@each $plugin:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::make_net_common::$name(&$plugin)
            }
        )*
    };
}

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::cni_common::*;
use netns_core::{NetNs, NetnsDir};
use netns_testutil::{in_private_netns, ip, ip_in_dir, ip_json, TempNetnsDir};
use serde_json::{json, Value};

/// make-net's two directories: nsDir (a temporary netns directory,
/// unmounted and removed on drop) and dataDir (the owner records).
struct Dirs {
    ns: TempNetnsDir,
    data: TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs {
            ns: TempNetnsDir::new(),
            data: TempDir::new("make-net"),
        }
    }

    /// The path of namespace `netid`.
    fn path(&self, netid: &str) -> PathBuf {
        self.ns.path().join(netid)
    }

    /// What is in nsDir.
    fn names(&self) -> Vec<String> {
        file_names(self.ns.path())
    }

    /// dataDir: a directory make-net makes (in a temporary one).
    fn data_dir(&self) -> PathBuf {
        self.data.path().join("records")
    }

    /// What is in dataDir.
    fn data_files(&self) -> Vec<String> {
        file_names(&self.data_dir())
    }

    /// The owner records (dataDir without its lock file).
    fn records(&self) -> Vec<String> {
        self.data_files()
            .into_iter()
            .filter(|f| !f.starts_with('.'))
            .collect()
    }

    /// make-net's plugin config: `extra` with nsDir and dataDir.
    fn conf(&self, extra: Value) -> Value {
        let mut p = json!({"type": "make-net"});
        if let (Some(o), Value::Object(e)) = (p.as_object_mut(), extra) {
            o.extend(e);
        }
        p["nsDir"] = json!(self.ns.path().to_str().expect("utf-8"));
        p["dataDir"] = json!(self.data_dir().to_str().expect("utf-8"));
        p
    }

    /// Everything a refused call must leave as it was.
    fn state(&self, pod: &Pod) -> State {
        State {
            host: Snapshot::here(),
            pod: pod.snapshot(),
            names: self.names(),
            records: self.records(),
        }
    }
}

struct State {
    host: Snapshot,
    pod: Snapshot,
    names: Vec<String>,
    records: Vec<String>,
}

impl State {
    #[track_caller]
    fn assert_same(&self, now: &State, what: &str) {
        let mut t = Tokens::new();
        assert_same(
            &format!("{what}: the plugin's namespace"),
            &self.host.normalised(&mut t).as_value(),
            &now.host.normalised(&mut t).as_value(),
        );
        assert_same(
            &format!("{what}: the pod"),
            &self.pod.normalised(&mut t).as_value(),
            &now.pod.normalised(&mut t).as_value(),
        );
        assert_eq!(self.names, now.names, "{what}: nsDir");
        assert_eq!(self.records, now.records, "{what}: dataDir");
    }
}

/// A conflist `t` of `plugins`.
fn list(version: &str, plugins: Vec<Value>) -> Value {
    json!({"cniVersion": version, "name": "t", "plugins": plugins})
}

/// A conflist `name` of `plugins`.
fn list_named(name: &str, version: &str, plugins: Vec<Value>) -> Value {
    json!({"cniVersion": version, "name": name, "plugins": plugins})
}

/// A one-plugin network of ours.
fn network(p: &Plugin, version: &str, plugin: Value) -> Network {
    Network::new(list(version, vec![plugin]), p.path())
}

/// host-local's config with its data in `data`.
fn host_local(subnet: &str, data: &TempDir) -> Value {
    json!({"type": "host-local", "subnet": subnet, "dataDir": data.s()})
}

/// The addresses host-local holds for network `t` in `data`.
fn reservations(data: &TempDir) -> Vec<String> {
    ipam_files(data, "t")
        .into_iter()
        .filter(|f| f.parse::<IpAddr>().is_ok())
        .collect()
}

/// CNI_ARGS as Multus passes them for pod `name`.
fn k8s_args(name: &str) -> String {
    format!(
        "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};K8S_POD_UID=uid-{name}"
    )
}

/// `ip -j -d link show` where `netns` says (None: the calling thread's).
fn links_in(netns: Option<&Path>) -> Value {
    ip_json_in(netns, &["-d", "link", "show"])
}

/// The link `name` of a listing; fails if it is not there.
#[track_caller]
fn link<'a>(links: &'a Value, name: &str) -> &'a Value {
    links
        .as_array()
        .and_then(|a| a.iter().find(|l| l["ifname"] == name))
        .unwrap_or_else(|| panic!("no link {name} in {links}"))
}

/// Up with carrier (a veth has carrier once both ends are up).
fn is_up(l: &Value) -> bool {
    let flags = l["flags"].as_array().cloned().unwrap_or_default();
    flags.contains(&json!("UP")) && flags.contains(&json!("LOWER_UP"))
}

#[track_caller]
fn assert_veth_up(l: &Value) {
    assert_eq!(l["linkinfo"]["info_kind"], "veth", "{l}");
    assert!(is_up(l), "{l}");
}

/// The addresses of `ifname` at `netns`, IPv6 link-local ones left out.
fn addrs_in(netns: Option<&Path>, ifname: &str) -> Vec<String> {
    let v = ip_json_in(netns, &["addr", "show", "dev", ifname]);
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["scope"] != "link" || a["family"] != "inet6")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or("?"), a["prefixlen"]))
        .collect()
}

/// `ip -j -FAMILY route show` (the main table) at `netns`: (dst, gateway,
/// dev, scope) of each, IPv6 link-local routes left out.
fn routes_in(netns: Option<&Path>, family: &str) -> Vec<(String, String, String, String)> {
    let v = ip_json_in(netns, &[family, "route", "show"]);
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|r| !r["dst"].as_str().unwrap_or_default().starts_with("fe80:"))
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (s("dst"), s("gateway"), s("dev"), s("scope"))
        })
        .collect()
}

fn route(dst: &str, gw: &str, dev: &str, scope: &str) -> (String, String, String, String) {
    (dst.into(), gw.into(), dev.into(), scope.into())
}

/// `ip ARGS...` in the namespace at `netns` (entered by nsenter).
#[track_caller]
fn ip_at(netns: &Path, args: &[&str]) {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .arg("--")
        .arg("ip")
        .args(args)
        .output()
        .expect("run nsenter");
    assert!(
        out.status.success(),
        "ip {args:?} in {}: {}",
        netns.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The interface entry a result should have for `l` (a link of `ip -j`).
fn iface(l: &Value, sandbox: Option<&Path>) -> Value {
    let mut i = json!({"name": l["ifname"], "mac": l["address"]});
    if let Some(s) = sandbox {
        i["sandbox"] = json!(s.to_str().expect("utf-8"));
    }
    i
}

pub fn the_originals_nad_works_unchanged(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        // The original's NAD as Multus hands it to libcni (a single config
        // becomes a list of one), with only nsDir and dataDir added.
        let nad = d.conf(json!({"cniVersion": "0.4.0", "name": "customer-1",
                                "type": "make-net", "netid": "1234567"}));
        let net = Network::new(
            json!({"cniVersion": "0.4.0", "name": "customer-1", "plugins": [nad]}),
            p.path(),
        );
        let pod = Pod::new("p1");
        let pod_before = pod.snapshot();
        let add = net.add(&pod, "c1", "eth0");
        add.expect_ok();

        // The namespace and nothing else in nsDir; the record in dataDir.
        assert_eq!(d.names(), ["1234567"]);
        assert_eq!(d.data_files(), [".lock", "1234567"]);
        // Made by make-net, for root only.
        let mode = std::fs::metadata(d.data_dir())
            .expect("dataDir")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        let ns = d.path("1234567");
        let inside = links_in(Some(&ns));
        assert_eq!(netns_testutil::ifnames(&inside), ["lo", "veth0"]);
        let veth0 = link(&inside, "veth0");
        assert_veth_up(veth0);
        let lo = link(&inside, "lo");
        assert!(
            lo["flags"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("UP"))),
            "{lo}"
        );
        // The peer, up, in the plugin's namespace.
        let host = links_in(None);
        assert_eq!(netns_testutil::ifnames(&host), ["lo", "v1234567"]);
        let peer = link(&host, "v1234567");
        assert_veth_up(peer);
        // `ip netns list` shows it, `ip netns exec` enters it.
        let out = ip_in_dir(d.ns.path(), ["netns", "list"]);
        assert!(out.status.success(), "{out:?}");
        let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect();
        assert_eq!(listed, ["1234567"]);
        let out = ip_in_dir(
            d.ns.path(),
            [
                "netns", "exec", "1234567", "ip", "-j", "link", "show", "veth0",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let seen: Value = serde_json::from_slice(&out.stdout).expect("ip -j");
        assert_eq!(seen[0]["address"], veth0["address"]);

        // The result: the named namespace's interface (its MAC, sandbox =
        // the namespace's path), then the peer with its MAC.
        let r = add.result();
        assert_eq!(r["cniVersion"], "0.4.0", "{r}");
        assert_eq!(
            r["interfaces"],
            json!([iface(veth0, Some(&ns)), iface(peer, None)]),
            "{r}"
        );
        assert!(r.get("ips").is_none_or(|i| i == &json!([])), "{r}");
        // The pod is not touched with `peer: host`.
        let mut t = Tokens::new();
        assert_same(
            "the pod",
            &pod_before.normalised(&mut t).as_value(),
            &pod.snapshot().normalised(&mut t).as_value(),
        );

        net.check(&pod, "c1", "eth0").expect_ok();
        // CHECK sees the peer down.
        ip(["link", "set", "v1234567", "down"]);
        let o = net.check(&pod, "c1", "eth0");
        assert_eq!(o.expect_code(), 999, "{o}");
        assert_eq!(
            o.msg(),
            "\"v1234567\" in the peer's namespace is down",
            "{o}"
        );

        // DEL removes the namespace, the peer and the record; again, and
        // with the pod's namespace gone or not given, it succeeds.
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(d.records(), Vec::<String>::new());
        assert_eq!(netns_testutil::ifnames(&links_in(None)), ["lo"]);
        net.del(&pod, "c1", "eth0").expect_ok();
        net.run(&Call::on("del", &pod, "c1", "eth0").netns(pod.path().with_file_name("gone")))
            .expect_ok();
        net.run(&Call::on("del", &pod, "c1", "eth0").no_netns())
            .expect_ok();
    });
}

pub fn ipam_and_static_addresses_go_inside_with_peer_pod(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let ipam = TempDir::new("ipam");
        let net = network(
            p,
            "1.0.0",
            d.conf(
                json!({"netid": "bgp-1", "peer": "pod", "addresses": ["fd81::5/64"], "mtu": 1400,
                          "ipam": host_local("10.81.0.0/24", &ipam)}),
            ),
        );
        let pod = Pod::new("p1");
        let add = net.add(&pod, "c1", "net1");
        add.expect_ok();
        let ns = d.path("bgp-1");
        assert_eq!(d.names(), ["bgp-1"]);
        assert_eq!(d.records(), ["bgp-1"]);

        // Inside the named namespace: the addresses, the default routes
        // (IPv4 via IPAM's gateway, IPv6 on-link: no gateway).
        let inside = links_in(Some(&ns));
        assert_eq!(netns_testutil::ifnames(&inside), ["lo", "veth0"]);
        let veth0 = link(&inside, "veth0");
        assert_veth_up(veth0);
        let mut have = addrs_in(Some(&ns), "veth0");
        have.sort();
        assert_eq!(have, ["10.81.0.2/24", "fd81::5/64"]);
        assert_eq!(
            routes_in(Some(&ns), "-4"),
            [
                route("default", "10.81.0.1", "veth0", ""),
                route("10.81.0.0/24", "", "veth0", "link"),
            ]
        );
        let r6 = routes_in(Some(&ns), "-6");
        assert!(r6.contains(&route("default", "", "veth0", "")), "{r6:?}");
        assert!(r6.contains(&route("fd81::/64", "", "veth0", "")), "{r6:?}");
        assert_eq!(r6.len(), 2, "{r6:?}");

        // The peer is CNI_IFNAME in the pod, with a host route to each
        // address of the named namespace; nothing on the plugin's side.
        let in_pod = links_in(Some(pod.path()));
        assert_eq!(netns_testutil::ifnames(&in_pod), ["lo", "net1"]);
        let net1 = link(&in_pod, "net1");
        assert_veth_up(net1);
        // `mtu` on both ends.
        assert_eq!((&veth0["mtu"], &net1["mtu"]), (&json!(1400), &json!(1400)));
        assert_eq!(
            routes_in(Some(pod.path()), "-4"),
            [route("10.81.0.2", "", "net1", "link")]
        );
        let p6 = routes_in(Some(pod.path()), "-6");
        assert!(p6.contains(&route("fd81::5", "", "net1", "")), "{p6:?}");
        assert_eq!(netns_testutil::ifnames(&links_in(None)), ["lo"]);

        // The result: both ends with their MACs and sandboxes, the static
        // address then IPAM's, both on the named namespace's interface.
        let r = add.result();
        assert_eq!(
            r["interfaces"],
            json!([iface(veth0, Some(&ns)), iface(net1, Some(pod.path()))]),
            "{r}"
        );
        assert_eq!(
            r["ips"],
            json!([
                {"address": "fd81::5/64", "interface": 0},
                {"address": "10.81.0.2/24", "gateway": "10.81.0.1", "interface": 0}
            ]),
            "{r}"
        );
        assert_eq!(
            r["routes"],
            json!([{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]),
            "{r}"
        );
        assert_eq!(reservations(&ipam), ["10.81.0.2"]);

        net.check(&pod, "c1", "net1").expect_ok();
        // CHECK sees an address gone from the named namespace.
        ip_at(&ns, &["addr", "del", "fd81::5/64", "dev", "veth0"]);
        let o = net.check(&pod, "c1", "net1");
        assert_eq!(o.expect_code(), 999, "{o}");

        net.del(&pod, "c1", "net1").expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(d.records(), Vec::<String>::new());
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(reservations(&ipam), Vec::<String>::new());
        net.del(&pod, "c1", "net1").expect_ok();
    });
}

pub fn peer_pod_reaches_a_listener_in_the_named_namespace(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let net = network(
            p,
            "1.0.0",
            d.conf(json!({"netid": "router", "peer": "pod", "ifName": "bgp0",
                          "addresses": ["192.168.83.2/24"]})),
        );
        let pod = Pod::new("p1");
        // The pod's own address (as its pod network would give it one).
        ip_at(pod.path(), &["link", "set", "lo", "up"]);
        ip_at(pod.path(), &["addr", "add", "10.83.9.9/32", "dev", "lo"]);
        net.add(&pod, "c1", "net1").expect_ok();
        let ns = d.path("router");
        // No gateway: the default route is on-link, so the replies to the
        // pod's address go back over the veth. Its scope differs by plugin:
        // the Rust one adds it with scope universe, as the reference
        // plugins' ConfigureIface does; the Go one goes through the C ABI,
        // whose route functions take no scope, and gets iproute2's default
        // for an IPv4 route without a gateway, link (which reaches the pod
        // all the same, as the connection below shows).
        let default_scope = match p.lang {
            Lang::Rust => "",
            Lang::Go => "link",
        };
        assert_eq!(
            routes_in(Some(&ns), "-4"),
            [
                route("default", "", "bgp0", default_scope),
                route("192.168.83.0/24", "", "bgp0", "link"),
            ]
        );
        let listener = NetNs::open(&ns)
            .expect("open the named namespace")
            .run(|| TcpListener::bind("192.168.83.2:0"))
            .expect("enter it")
            .expect("listen");
        let at: SocketAddr = listener.local_addr().expect("local_addr");
        let mut client = NetNs::open(pod.path())
            .expect("open the pod")
            .run(|| TcpStream::connect_timeout(&at, CONNECT_TIMEOUT))
            .expect("enter the pod")
            .unwrap_or_else(|e| panic!("connect to {at}: {e}"));
        let (mut conn, from) = listener.accept().expect("accept");
        assert_eq!(from.ip().to_string(), "10.83.9.9");
        client.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ping");
        drop((client, conn, listener));
        net.check(&pod, "c1", "net1").expect_ok();
        // CHECK sees the default route gone from the named namespace.
        ip_at(&ns, &["route", "del", "default"]);
        let o = net.check(&pod, "c1", "net1");
        assert_eq!(o.expect_code(), 999, "{o}");

        // The pod goes first (its end of the veth with it): DEL with its
        // path gone still removes the namespace and the record.
        let gone = pod.path().to_path_buf();
        drop(pod);
        let o = net.run(&Call::new("del").netns(&gone).id("c1").ifname("net1"));
        o.expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(d.records(), Vec::<String>::new());
    });
}

/// netns-bridge (eth0, host-local on `ipam`) then make-net (`make_net`).
fn bridge_then(p: &Plugin, d: &Dirs, ipam: &TempDir, make_net: Value) -> Network {
    Network::new(
        list(
            "1.0.0",
            vec![
                json!({"type": "netns-bridge", "bridge": "mn-br0", "isGateway": true,
                       "ipam": host_local("10.80.0.0/24", ipam)}),
                d.conf(make_net),
            ],
        ),
        p.path(),
    )
}

pub fn prev_result_is_passed_through_after_netns_bridge(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let ipam = TempDir::new("ipam");
        let pod = Pod::new("p1");
        let net = bridge_then(
            p,
            &d,
            &ipam,
            json!({"netid": "chain-1", "addresses": ["192.168.84.2/24"]}),
        );
        let add = net.add(&pod, "c1", "eth0");
        add.expect_ok();
        let r = add.result();
        let ifaces = r["interfaces"].as_array().expect("interfaces");
        assert_eq!(ifaces.len(), 5, "{r}");
        // The bridge's first, as it made them.
        assert_eq!(ifaces[0]["name"], "mn-br0", "{r}");
        assert_eq!(ifaces[2]["name"], "eth0", "{r}");
        assert_eq!(ifaces[2]["sandbox"], json!(pod.path()), "{r}");
        let in_pod = links_in(Some(pod.path()));
        assert_eq!(ifaces[2]["mac"], link(&in_pod, "eth0")["address"], "{r}");
        // Then make-net's, with their real MACs.
        let ns = d.path("chain-1");
        let inside = links_in(Some(&ns));
        let host = links_in(None);
        assert_eq!(
            json!(ifaces[3..]),
            json!([
                iface(link(&inside, "veth0"), Some(&ns)),
                iface(link(&host, "vchain-1"), None)
            ]),
            "{r}"
        );
        // The bridge's address on eth0 (index 2), make-net's on veth0
        // (index 3, shifted past the bridge's interfaces); make-net's
        // on-link default route after the bridge's (none).
        assert_eq!(
            r["ips"],
            json!([
                {"address": "10.80.0.2/24", "gateway": "10.80.0.1", "interface": 2},
                {"address": "192.168.84.2/24", "interface": 3}
            ]),
            "{r}"
        );
        assert_eq!(r["routes"], json!([{"dst": "0.0.0.0/0"}]), "{r}");
        assert_eq!(addrs_in(Some(pod.path()), "eth0"), ["10.80.0.2/24"]);
        assert_eq!(addrs_in(Some(&ns), "veth0"), ["192.168.84.2/24"]);
        // (CHECK of this chain fails in netns-bridge, as in the reference:
        // its CHECK wants every address and route of the final result in
        // the pod, make-net's too. Hence the CHECK below without them.)
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(d.records(), Vec::<String>::new());
        assert_eq!(reservations(&ipam), Vec::<String>::new());
        let left = netns_testutil::ifnames(&links_in(None));
        assert!(!left.contains(&"vchain-1".to_string()), "{left:?}");

        // The original's config in the chain: CHECK passes for the chain
        // (make-net's CHECK finds its interface past the bridge's).
        let net = bridge_then(
            p,
            &d,
            &ipam,
            json!({"netid": "chain-2", "peerName": "mn-host0"}),
        );
        let add = net.add(&pod, "c2", "eth0");
        add.expect_ok();
        let ifaces = add.result()["interfaces"].as_array().cloned();
        assert_eq!(ifaces.map(|i| i.len()), Some(5), "{}", add.result());
        // `peerName` names the host end.
        let host = links_in(None);
        assert_eq!(
            add.result()["interfaces"][4],
            iface(link(&host, "mn-host0"), None)
        );
        assert_eq!(add.result()["ips"][0]["interface"], 2);
        net.check(&pod, "c2", "eth0").expect_ok();
        net.del(&pod, "c2", "eth0").expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
    });
}

pub fn a_templated_netid_gives_each_pod_its_namespace(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let net = network(p, "1.0.0", d.conf(json!({"netid": "bgp-{K8S_POD_NAME}"})));
        let (pa, pb) = (Pod::new("pa"), Pod::new("pb"));
        // Pod b's name makes a netid too long for `v<netid>`: its peer is
        // `mn` and a hash, 15 bytes.
        let (a, b) = ("router-a", "router-0d9c0a86-3f5e");
        let add_a = net.run(&Call::on("add", &pa, "ca", "eth0").args(&k8s_args(a)));
        add_a.expect_ok();
        let add_b = net.run(&Call::on("add", &pb, "cb", "eth0").args(&k8s_args(b)));
        add_b.expect_ok();
        let (na, nb) = ("bgp-router-a", "bgp-router-0d9c0a86-3f5e");
        assert_eq!(d.names(), [nb, na]);
        assert_eq!(d.records(), [nb, na]);
        let peer_b = add_b.result()["interfaces"][1]["name"]
            .as_str()
            .expect("a peer")
            .to_owned();
        assert_eq!(peer_b.len(), 15, "{peer_b}");
        assert!(peer_b.starts_with("mn"), "{peer_b}");
        let host = links_in(None);
        let mut want = vec!["lo".to_string(), peer_b.clone(), format!("v{na}")];
        want.sort();
        assert_eq!(netns_testutil::ifnames(&host), want);
        assert_veth_up(link(&host, &peer_b));
        for (add, name) in [(&add_a, na), (&add_b, nb)] {
            let ns = d.path(name);
            let inside = links_in(Some(&ns));
            assert_veth_up(link(&inside, "veth0"));
            assert_eq!(
                add.result()["interfaces"][0],
                iface(link(&inside, "veth0"), Some(&ns))
            );
        }
        net.run(&Call::on("check", &pa, "ca", "eth0").args(&k8s_args(a)))
            .expect_ok();
        net.run(&Call::on("check", &pb, "cb", "eth0").args(&k8s_args(b)))
            .expect_ok();

        // DEL finds the attachment by its record: no CNI_ARGS, no
        // CNI_NETNS needed. Pod b's namespace stays.
        net.run(&Call::new("del").id("ca").ifname("eth0"))
            .expect_ok();
        assert_eq!(d.names(), [nb]);
        assert_eq!(d.records(), [nb]);
        assert_eq!(
            netns_testutil::ifnames(&links_in(None)),
            ["lo", peer_b.as_str()]
        );
        net.run(&Call::on("check", &pb, "cb", "eth0").args(&k8s_args(b)))
            .expect_ok();
        net.run(&Call::on("del", &pb, "cb", "eth0").args(&k8s_args(b)))
            .expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(netns_testutil::ifnames(&links_in(None)), ["lo"]);
    });
}

pub fn a_fixed_netid_serves_one_pod_and_refuses_the_second(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let net = network(p, "1.0.0", d.conf(json!({"netid": "1234567"})));
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        let before = d.state(&p2);
        let o = net.add(&p2, "c2", "eth0");
        assert_eq!(o.expect_code(), 999, "{o}");
        assert_eq!(
            o.msg(),
            "namespace \"1234567\" belongs to another attachment (container c1, interface \
             eth0): a fixed netid serves one pod; template it with {K8S_POD_NAME} or \
             {K8S_POD_UID} for one namespace per pod",
            "{o}"
        );
        before.assert_same(&d.state(&p2), "the second ADD");
        net.check(&p1, "c1", "eth0").expect_ok();
        // The runtime cleans up after the failed ADD: a DEL from another
        // container ID leaves the namespace alone.
        net.del(&p2, "c2", "eth0").expect_ok();
        before.assert_same(&d.state(&p2), "the second pod's DEL");
        net.check(&p1, "c1", "eth0").expect_ok();
        // The first pod's ADD repeated (a runtime's retry): it starts over.
        let again = net.add(&p1, "c1", "eth0");
        again.expect_ok();
        assert_eq!(d.names(), ["1234567"]);
        assert_eq!(d.records(), ["1234567"]);
        let host = links_in(None);
        assert_eq!(netns_testutil::ifnames(&host), ["lo", "v1234567"]);
        assert_eq!(
            again.result()["interfaces"][1],
            iface(link(&host, "v1234567"), None)
        );
        net.check(&p1, "c1", "eth0").expect_ok();
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
    });
}

pub fn bad_names_and_values_are_refused_before_anything_is_made(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let pod = Pod::new("p1");
        let long = "x".repeat(256);
        let no_args = None::<String>;
        // (config, CNI_IFNAME, CNI_ARGS, code, message)
        let cases: Vec<(Value, &str, Option<String>, i64, String)> = vec![
            (
                json!({}),
                "eth0",
                no_args.clone(),
                7,
                "\"netid\" is required: the name of the namespace to make".into(),
            ),
            (
                json!({"netid": "../x"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid netid \"../x\": a namespace name cannot contain '/'".into(),
            ),
            // Hidden names: make-net's own files in dataDir (`.lock` was
            // read as an owner record, `.x`'s record skipped by DEL).
            (
                json!({"netid": ".lock"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid netid \".lock\": a name starting with '.' is not taken (make-net's \
                 own files in dataDir are named so)"
                    .into(),
            ),
            (
                json!({"netid": "a/b"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid netid \"a/b\": a namespace name cannot contain '/'".into(),
            ),
            (
                json!({"netid": long}),
                "eth0",
                no_args.clone(),
                7,
                format!(
                    "invalid netid \"{long}\": a namespace name is at most 255 \
                     bytes (NAME_MAX)"
                ),
            ),
            (
                json!({"netid": "n1", "ifName": "veth0123456789ab"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid ifName \"veth0123456789ab\": interface name is too long".into(),
            ),
            (
                json!({"netid": "n1", "peerName": "peer0123456789ab"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid peerName \"peer0123456789ab\": interface name is too long".into(),
            ),
            (
                json!({"netid": "bgp-{K8S_POD_IP}"}),
                "eth0",
                Some(k8s_args("r")),
                7,
                "netid \"bgp-{K8S_POD_IP}\": unknown placeholder {K8S_POD_IP} (known: \
                 {K8S_POD_NAMESPACE}, {K8S_POD_NAME}, {K8S_POD_UID})"
                    .into(),
            ),
            (
                json!({"netid": "bgp-{K8S_POD_NAME}"}),
                "eth0",
                Some("IgnoreUnknown=true;K8S_POD_NAMESPACE=default".into()),
                7,
                "netid \"bgp-{K8S_POD_NAME}\": CNI_ARGS has no K8S_POD_NAME to fill \
                 {K8S_POD_NAME} with"
                    .into(),
            ),
            (
                json!({"netid": "n1", "peer": "container"}),
                "eth0",
                no_args.clone(),
                7,
                "unknown peer \"container\": \"host\" (the default) or \"pod\"".into(),
            ),
            (
                json!({"netid": "n1", "mtu": 67}),
                "eth0",
                no_args.clone(),
                7,
                "invalid MTU 67: must be 0 or 68-65535".into(),
            ),
            (
                json!({"netid": "n1", "mtu": -1}),
                "eth0",
                no_args.clone(),
                7,
                "invalid MTU -1: must be 0 or 68-65535".into(),
            ),
            (
                json!({"netid": "n1", "addresses": ["10.0.0.300/24"]}),
                "eth0",
                no_args.clone(),
                7,
                "invalid address \"10.0.0.300/24\": invalid IP address syntax".into(),
            ),
            (
                json!({"netid": "n1", "ifName": "bgp%d"}),
                "eth0",
                no_args.clone(),
                7,
                "invalid ifName \"bgp%d\": the kernel reads a '%' as a name template (eth%d)"
                    .into(),
            ),
            // The peer's name taken where it goes: the pod's `lo`.
            (
                json!({"netid": "n1", "peer": "pod"}),
                "lo",
                no_args.clone(),
                999,
                "an interface named \"lo\" already exists in the pod's namespace".into(),
            ),
        ];
        let before = d.state(&pod);
        // After each case the links and addresses on both sides and the two
        // directories (one `ip` each side: the VM tier is slow to exec);
        // the whole snapshot after the last (nothing is undone in between).
        let quick = || {
            (
                ip_json_in(None, &["addr", "show"]),
                pod.ip_json(&["addr", "show"]),
                d.names(),
            )
        };
        let quick_before = quick();
        for (extra, ifname, args, code, msg) in cases {
            let net = network(p, "1.0.0", d.conf(extra.clone()));
            let mut call = Call::on("add", &pod, "c1", ifname);
            if let Some(a) = &args {
                call = call.args(a);
            }
            let o = net.run(&call);
            assert_eq!(o.expect_code(), code, "{extra}: {o}");
            assert_eq!(o.msg(), msg, "{extra}: {o}");
            let now = quick();
            assert_same(
                &format!("{extra}: addresses"),
                &json!(quick_before.0),
                &json!(now.0),
            );
            assert_same(
                &format!("{extra}: the pod's"),
                &json!(quick_before.1),
                &json!(now.1),
            );
            assert_eq!(quick_before.2, now.2, "{extra}: nsDir");
            // Nothing in dataDir but (for the last case) its lock.
            let files = d.data_files();
            assert!(files.iter().all(|f| f == ".lock"), "{extra}: {files:?}");
        }
        before.assert_same(&d.state(&pod), "after every case");
    });
}

pub fn a_namespace_make_net_did_not_make_is_left_alone(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let theirs = NetnsDir::new(d.ns.path())
            .create("1234567")
            .expect("somebody else's namespace");
        let ino = std::fs::metadata(d.path("1234567")).expect("stat").ino();
        assert_eq!(ino, theirs.inode());
        let plugin = d.conf(json!({"netid": "1234567"}));
        let net = network(p, "1.0.0", plugin.clone());
        let pod = Pod::new("p1");
        let before = d.state(&pod);
        let o = net.add(&pod, "c1", "eth0");
        assert_eq!(o.expect_code(), 999, "{o}");
        assert_eq!(
            o.msg(),
            format!(
                "namespace \"1234567\" exists in {} and make-net did not make it: left alone",
                d.ns.path().display()
            ),
            "{o}"
        );
        before.assert_same(&d.state(&pod), "the ADD");
        // DEL and GC of this network leave it alone too.
        net.del(&pod, "c1", "eth0").expect_ok();
        let c = list("1.1.0", vec![plugin]);
        let net11 = Network::with_cache_dir(&c, p.path(), net.cache_dir());
        net11.gc(&[]).expect_ok();
        before.assert_same(&d.state(&pod), "DEL and GC");
        let ino_now = std::fs::metadata(d.path("1234567")).expect("stat").ino();
        assert_eq!(ino_now, ino);
        // STATUS without IPAM: ok.
        net11.status().expect_ok();
    });
}

pub fn a_failure_half_way_removes_everything_made_so_far(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let ipam = TempDir::new("ipam");
        let mut bad = sublink_ipam_bad_route();
        bad["dataDir"] = json!(ipam.s());
        let net = network(
            p,
            "1.0.0",
            d.conf(json!({"netid": "half", "peer": "pod", "ipam": bad})),
        );
        let pod = Pod::new("p1");
        let before = d.state(&pod);
        let o = net.add(&pod, "c1", "net1");
        assert_eq!(o.expect_code(), 999, "{o}");
        assert!(o.msg().contains("10.200.0.0/16"), "{o}");
        before.assert_same(&d.state(&pod), "the failed ADD");
        assert_eq!(reservations(&ipam), Vec::<String>::new());
        assert_eq!(d.data_files(), [".lock"]);
    });
}

/// IPAM whose route's gateway is off every link (as
/// tests/sublink_diff's): an ADD fails after IPAM allocated.
fn sublink_ipam_bad_route() -> Value {
    json!({"type": "host-local", "subnet": "10.79.0.0/24",
           "routes": [{"dst": "10.200.0.0/16", "gw": "192.0.2.1"}]})
}

pub fn gc_removes_what_is_not_valid_and_status_is_ok(p: &Plugin) {
    gc_and_status(p, "host-local");
}

/// The GC row with IPAM by netns-host-local, which speaks 1.1.0 (GC and
/// STATUS), where Debian's host-local stops at 1.0.0: the Go make-net
/// delegates GC and STATUS to it (to host-local, which has neither, it
/// sends a DEL for each attachment it removes). Run by make_net_go.rs only:
/// the Rust make-net serves both IPAM types in process, the one path the
/// GC row covers.
#[allow(dead_code)]
pub fn gc_and_status_through_an_ipam_plugin_of_spec_1_1(p: &Plugin) {
    gc_and_status(p, "netns-host-local");
}

fn gc_and_status(p: &Plugin, ipam_type: &str) {
    in_private_netns(|| {
        let d = Dirs::new();
        let ipam = TempDir::new("ipam");
        let mut ipam_conf = host_local("10.85.0.0/24", &ipam);
        ipam_conf["type"] = json!(ipam_type);
        // libcni 1.1.2 reads cached results up to 1.0.0: ADD with the
        // 1.0.0 list, GC and STATUS with the same list as 1.1.0, sharing
        // its cache.
        let mut c = list(
            "1.0.0",
            vec![d.conf(json!({"netid": "bgp-{K8S_POD_NAME}", "ipam": ipam_conf}))],
        );
        let net = Network::new(&c, p.path());
        c["cniVersion"] = json!("1.1.0");
        let net11 = Network::with_cache_dir(&c, p.path(), net.cache_dir());
        net11.status().expect_ok();
        let (pa, pb) = (Pod::new("pa"), Pod::new("pb"));
        net.run(&Call::on("add", &pa, "ca", "eth0").args(&k8s_args("a")))
            .expect_ok();
        net.run(&Call::on("add", &pb, "cb", "eth0").args(&k8s_args("b")))
            .expect_ok();
        // Another network of make-net with the same directories (as two
        // NADs with the defaults have): pod a's second attachment.
        let u = Network::new(
            list_named(
                "u",
                "1.0.0",
                vec![d.conf(json!({"netid": "u-{K8S_POD_NAME}"}))],
            ),
            p.path(),
        );
        u.run(&Call::on("add", &pa, "ca", "net2").args(&k8s_args("a")))
            .expect_ok();
        assert_eq!(d.names(), ["bgp-a", "bgp-b", "u-a"]);
        assert_eq!(reservations(&ipam), ["10.85.0.2", "10.85.0.3"]);
        // The runtime lost cb (no cached attachment to DEL): only the
        // plugin's GC can remove its namespace.
        let cached = net.cache_dir().join("results").join("t-cb-eth0");
        std::fs::remove_file(&cached).expect("drop cb from libcni's cache");
        // GC of network t: its valid attachments are t's only; network u's
        // namespace is not t's to remove.
        net11.gc(&[("ca", "eth0")]).expect_ok();
        assert_eq!(d.names(), ["bgp-a", "u-a"]);
        assert_eq!(d.records(), ["bgp-a", "u-a"]);
        assert_eq!(reservations(&ipam), ["10.85.0.2"]);
        assert_eq!(
            netns_testutil::ifnames(&ip_json(["link", "show"])),
            ["lo", "vbgp-a", "vu-a"]
        );
        u.run(&Call::on("check", &pa, "ca", "net2").args(&k8s_args("a")))
            .expect_ok();
        u.run(&Call::on("del", &pa, "ca", "net2")).expect_ok();
        net.run(&Call::on("check", &pa, "ca", "eth0").args(&k8s_args("a")))
            .expect_ok();
        net11.status().expect_ok();
        net.run(&Call::on("del", &pa, "ca", "eth0").args(&k8s_args("a")))
            .expect_ok();
        assert_eq!(d.names(), Vec::<String>::new());
        assert_eq!(reservations(&ipam), Vec::<String>::new());
    });
}

pub fn a_netid_that_is_no_interface_name_gets_a_hashed_peer(p: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let pod = Pod::new("p1");
        // Namespace names, but `v<netid>` is no interface name: the kernel
        // refuses a ':' and takes a '%' for a pattern (`vr%d` becomes `vr0`).
        for netid in ["r%d", "cust:1"] {
            let net = network(p, "1.0.0", d.conf(json!({"netid": netid})));
            let add = net.add(&pod, "c1", "eth0");
            add.expect_ok();
            assert_eq!(d.names(), [netid]);
            let peer = add.result()["interfaces"][1]["name"]
                .as_str()
                .expect("a peer")
                .to_owned();
            assert!(peer.starts_with("mn") && peer.len() == 15, "{peer}");
            let host = links_in(None);
            assert_eq!(netns_testutil::ifnames(&host), ["lo", peer.as_str()]);
            assert_veth_up(link(&host, &peer));
            net.check(&pod, "c1", "eth0").expect_ok();
            net.del(&pod, "c1", "eth0").expect_ok();
            assert_eq!(d.names(), Vec::<String>::new(), "{netid}");
            assert_eq!(netns_testutil::ifnames(&links_in(None)), ["lo"], "{netid}");
        }
    });
}

/// The owner records are one format: an attachment `a` made is checked and
/// removed by `b` (both sharing nsDir and dataDir), and the other way
/// round. Run by make_net_go.rs only (it has both plugins; the VM has no
/// Go).
#[allow(dead_code)]
pub fn either_plugin_checks_and_removes_what_the_other_made(a: &Plugin, b: &Plugin) {
    in_private_netns(|| {
        let d = Dirs::new();
        let ipam = TempDir::new("ipam");
        let pod = Pod::new("p1");
        let conf = d.conf(json!({"netid": "bgp-{K8S_POD_NAME}", "peer": "pod",
                                 "addresses": ["192.168.86.2/24"],
                                 "ipam": host_local("10.86.0.0/24", &ipam)}));
        for (maker, other) in [(a, b), (b, a)] {
            let made = network(maker, "1.0.0", conf.clone());
            // The other plugin, with libcni's cache of the first (CHECK
            // needs the cached result).
            let by_other = Network::with_cache_dir(
                list("1.0.0", vec![conf.clone()]),
                other.path(),
                made.cache_dir(),
            );
            let call = |cmd: &str| Call::on(cmd, &pod, "c1", "net1").args(&k8s_args("r"));
            made.run(&call("add")).expect_ok();
            assert_eq!(d.names(), ["bgp-r"], "{:?} made", maker.lang);
            assert_eq!(d.records(), ["bgp-r"], "{:?} made", maker.lang);
            by_other.run(&call("check")).expect_ok();
            by_other.run(&call("del")).expect_ok();
            assert_eq!(d.names(), Vec::<String>::new(), "{:?} removed", other.lang);
            assert_eq!(
                d.records(),
                Vec::<String>::new(),
                "{:?} removed",
                other.lang
            );
            assert_eq!(pod.ifnames(), ["lo"]);
            assert_eq!(reservations(&ipam), Vec::<String>::new());
        }
    });
}
