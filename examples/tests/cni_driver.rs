//! The CNI harness (tests/cni_common and its libcni driver,
//! examples/cni-driver) proved against the reference plugins 1.1.1: what
//! they do when a runtime drives them through libcni 1.1.2, and a normaliser
//! that makes two runs doing the same thing compare equal.
//!
//! Every test runs in a private network namespace (the plugins' host side)
//! with pods in temporary netns directories.

netns_testutil::host_only!("needs go and the libcni source, which the VM image lacks");

mod cni_common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};

use cni_common::*;
use netns_core::NetNs;
use netns_testutil::in_private_netns;
use serde_json::{json, Value};

/// The network of the brief: one bridge plugin with host-local.
fn conflist(data: &TempDir) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "t",
        "plugins": [{
            "type": "bridge",
            "bridge": "cni-t0",
            "isGateway": true,
            "ipam": {"type": "host-local", "subnet": "10.77.0.0/24", "dataDir": data.s()}
        }]
    })
}

/// The address (without prefix) of an ADD result's first IP.
fn first_ip(add: &Outcome) -> IpAddr {
    let a = add.ips().first().cloned().expect("an address");
    a.split('/')
        .next()
        .unwrap_or_default()
        .parse()
        .expect("an IP")
}

/// (dst, gateway, dev) of a snapshot's main-table routes, sorted.
fn main_routes(s: &Snapshot) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = s
        .main_routes()
        .into_iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (f("dst"), f("gateway"), f("dev"))
        })
        .collect();
    v.sort();
    v
}

/// A TCP connection from `from` (a client in that namespace) to `to`'s
/// listener at `to_ip`; returns the address the server saw. The listener is
/// bound before the client connects, and the connection is accepted from
/// the backlog after connect() returns: no sleeping, no second thread.
fn tcp(from: &Pod, to: &Pod, to_ip: IpAddr) -> IpAddr {
    let listener = NetNs::open(to.path())
        .expect("open the pod netns")
        .run(|| TcpListener::bind((to_ip, 0)))
        .expect("enter the pod")
        .expect("bind in the server pod");
    let addr = listener.local_addr().expect("local_addr");
    let mut client = NetNs::open(from.path())
        .expect("open the pod netns")
        .run(|| TcpStream::connect(addr))
        .expect("enter the pod")
        .expect("connect from the client pod");
    let (mut conn, peer) = listener.accept().expect("accept");
    client.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    peer.ip()
}

/// The whole life of two pods on the reference bridge, as a runtime drives
/// it: VALIDATE, ADD, CHECK, traffic, DEL (twice), GC and STATUS.
#[test]
fn two_pods_on_the_reference_bridge() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&data), reference_path());
        net.validate().expect_ok();
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));

        // CNI_ARGS as Multus sends them: unknown keys, with IgnoreUnknown.
        let a1 =
            net.run(&Call::on("add", &p1, "c1", "eth0").args(
                "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;K8S_POD_UID=u1",
            ));
        a1.expect_ok();
        check_result(a1.result(), &p1);
        let a2 = net.add(&p2, "c2", "eth0");
        a2.expect_ok();
        check_result(a2.result(), &p2);
        assert_eq!(a1.ips(), ["10.77.0.2/24"]);
        assert_eq!(a2.ips(), ["10.77.0.3/24"]);

        // What the reference returns: the bridge, the host veth, the
        // container's interface; the address with the gateway host-local
        // chose (.1); an empty dns object; and no routes at all (host-local
        // has none configured, and isGateway only puts the gateway on the
        // bridge: isDefaultGateway would add a default route).
        let mut t = Tokens::new();
        assert_eq!(
            normalise_result(a1.result(), &mut t),
            json!({
                "cniVersion": "1.0.0",
                "interfaces": [
                    {"name": "cni-t0", "mac": "<mac>"},
                    {"name": "<veth0>", "mac": "<mac>"},
                    {"name": "eth0", "mac": "<mac>", "sandbox": "<netns0>"}
                ],
                "ips": [{"interface": 2, "address": "10.77.0.2/24", "gateway": "10.77.0.1"}],
                "dns": {}
            })
        );
        let veth1 = a1.result()["interfaces"][1]["name"]
            .as_str()
            .unwrap_or_default();
        assert!(
            is_random_veth(veth1),
            "host veth {veth1}: not veth + 8 hex digits"
        );

        // The pod: eth0 with its address and the subnet's route only.
        let s1 = p1.snapshot().normalised(&mut Tokens::new());
        assert_eq!(s1.ifnames(), ["eth0", "lo"], "{}", s1.pretty());
        assert_eq!(s1.addresses("eth0"), ["10.77.0.2/24"]);
        assert_eq!(
            main_routes(&s1),
            [("10.77.0.0/24".into(), String::new(), "eth0".into())],
            "no default route with isGateway alone"
        );
        let eth0 = s1.link("eth0").expect("eth0");
        assert_eq!(eth0["linkinfo"]["info_kind"], "veth");
        assert_eq!(eth0["mtu"], 1500);
        assert!(eth0["flags"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("UP"))));
        // The sysctls the reference sets inside: arp_notify on, IPv6 DAD off.
        let sys = &s1.sysctls["links"]["eth0"];
        assert_eq!(sys["ipv4.arp_notify"], "1", "{sys}");
        assert_eq!(sys["ipv6.accept_dad"], "0", "{sys}");

        // The host: the bridge with the gateway, two ports, forwarding on.
        let host = Snapshot::here().normalised(&mut Tokens::new());
        assert_eq!(
            host.ifnames(),
            ["<veth0>", "<veth1>", "cni-t0", "lo"],
            "{}",
            host.pretty()
        );
        assert_eq!(host.addresses("cni-t0"), ["10.77.0.1/24"]);
        for v in ["<veth0>", "<veth1>"] {
            let l = host.link(v).expect("a host veth");
            assert_eq!(l["master"], "cni-t0");
            assert_eq!(l["promiscuity"], 1);
            assert_eq!(l["linkinfo"]["info_slave_data"]["hairpin"], false);
        }
        // With isGateway the reference sets the bridge's MAC to its own, so
        // it no longer follows the lowest port's.
        let br = host.link("cni-t0").expect("the bridge");
        assert_ne!(br["address"], "<a port's mac>", "{br}");
        assert_eq!(host.sysctls["global"]["net.ipv4.ip_forward"], "1");

        // Traffic, pod 1 to pod 2, across the bridge.
        assert_eq!(tcp(&p1, &p2, first_ip(&a2)), first_ip(&a1));

        net.check(&p1, "c1", "eth0").expect_ok();
        net.check(&p2, "c2", "eth0").expect_ok();
        assert_eq!(net.cached(), ["t-c1-eth0", "t-c2-eth0"]);

        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
        assert_eq!(p1.ifnames(), ["lo"]);
        assert_eq!(p2.ifnames(), ["lo"]);
        // host-local's reservations are gone; its lock and cursor stay.
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
        assert!(net.cached().is_empty(), "{:?}", net.cached());
        // The reference never deletes the bridge (nor its address).
        let host = Snapshot::here().normalised(&mut Tokens::new());
        assert_eq!(host.ifnames(), ["cni-t0", "lo"]);
        assert_eq!(host.addresses("cni-t0"), ["10.77.0.1/24"]);

        // DEL again: nothing left to delete, still a success.
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();

        // GC and STATUS of a 1.0.0 list: libcni (>= 1.2) sends GC and STATUS
        // only to lists of version 1.1.0 and later, so no plugin runs; GC
        // DELs the cached attachments not valid (none are left).
        net.gc(&[]).expect_ok();
        net.status().expect_ok();
    });
}

/// GC as libcni >= 1.2 does it: every cached attachment of the network that
/// is not in the valid list gets a DEL (a 1.0.0 list gets no GC itself).
/// libcni 1.1.2, which ran the ADDs, caches no netns (1.2 does), so these
/// DELs run without CNI_NETNS: they release the addresses, and reach no
/// container side. That is GC's case anyway: the container, and its netns,
/// are gone.
#[test]
fn gc_deletes_the_attachments_not_valid() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&data), reference_path());
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        assert_eq!(
            ipam_files(&data, "t"),
            ["10.77.0.2", "10.77.0.3", "last_reserved_ip.0", "lock"]
        );
        // Container 2 dies with its namespace; the runtime never DELs it.
        drop(p2);

        net.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(net.cached(), ["t-c1-eth0"]);
        assert_eq!(
            ipam_files(&data, "t"),
            ["10.77.0.2", "last_reserved_ip.0", "lock"]
        );
        assert_eq!(p1.ifnames(), ["eth0", "lo"]);
        net.check(&p1, "c1", "eth0").expect_ok();

        // An empty valid list: every attachment goes, without its netns.
        net.gc(&[]).expect_ok();
        assert!(net.cached().is_empty(), "{:?}", net.cached());
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
        assert_eq!(
            p1.ifnames(),
            ["eth0", "lo"],
            "a DEL without netns left eth0"
        );
        // The runtime's own DEL, with the netns, still cleans up.
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(p1.ifnames(), ["lo"]);
    });
}

/// What the reference plugins 1.1.1 (spec up to 1.0.0) answer when a list of
/// version 1.1.0 reaches them. GC and STATUS: their skel (libcni 1.1.x)
/// validates CNI_CONTAINERID before it looks at the command, and GC and
/// STATUS carry none, so the answer is code 3 "missing containerID", not
/// code 4 "unknown CNI_COMMAND" (which a container id would get) nor code 1
/// (the version is never checked for a command skel does not know).
#[test]
fn the_reference_bridge_on_a_spec_1_1_list() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let mut conf = conflist(&data);
        conf["cniVersion"] = json!("1.1.0");
        let net = Network::new(&conf, reference_path());

        // libcni (1.2 and later) lists the cache's results/ first and, when
        // there is none (no ADD ever succeeded with this cache dir), returns
        // success without calling any plugin.
        net.gc(&[]).expect_ok();
        std::fs::create_dir_all(net.cache_dir().join("results")).expect("mkdir results");
        let gc = net.gc(&[]);
        assert_eq!(gc.expect_code(), 3, "{gc}");
        assert_eq!(gc.msg(), "missing containerID");
        let status = net.status();
        assert_eq!(status.expect_code(), 3, "{status}");
        assert_eq!(status.msg(), "missing containerID");

        // ADD checks the version: code 1.
        let pod = Pod::new("p");
        let add = net.add(&pod, "c1", "eth0");
        assert_eq!(add.expect_code(), 1, "{add}");
        assert_eq!(add.msg(), "incompatible CNI versions");
        // VALIDATE asks the plugins' VERSION: libcni's own error, no code.
        let v = net.validate();
        assert_eq!(v.expect_code(), -1, "{v}");
        assert!(v.msg().contains("does not support config version"), "{v}");
    });
}

/// CNI_ARGS and capability args reach the plugin the way libcni passes
/// them: the reference bridge takes a MAC from `MAC=` in CNI_ARGS and from
/// the `mac` capability (runtimeConfig.mac) when the plugin declares it.
#[test]
fn cni_args_and_capabilities_reach_the_plugin() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let mut conf = conflist(&data);
        conf["plugins"][0]["capabilities"] = json!({"mac": true});
        let net = Network::new(&conf, reference_path());
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));

        let a1 = net.run(&Call::on("add", &p1, "c1", "eth0").cap(json!({
            "mac": "c2:00:00:00:00:01",
            // Not a capability of the plugin: libcni filters it out.
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
        })));
        a1.expect_ok();
        check_result(a1.result(), &p1);
        let a2 = net.run(
            &Call::on("add", &p2, "c2", "eth0").args("IgnoreUnknown=true;MAC=c2:00:00:00:00:02"),
        );
        a2.expect_ok();
        check_result(a2.result(), &p2);
        for (pod, mac) in [(&p1, "c2:00:00:00:00:01"), (&p2, "c2:00:00:00:00:02")] {
            let links = pod.ip_json(&["link", "show", "eth0"]);
            assert_eq!(links[0]["address"], mac);
        }
        assert_eq!(a1.result()["interfaces"][2]["mac"], "c2:00:00:00:00:01");
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
    });
}

/// The driver's two kinds of failure: a plugin's (or libcni's own checks,
/// which are `*types.Error` too) with its code, and anything else as -1.
#[test]
fn the_driver_reports_failures() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&data), reference_path());
        let pod = Pod::new("p");

        // libcni validates the container id before running any plugin.
        let bad = net.add(&pod, "bad id", "eth0");
        assert_eq!(bad.expect_code(), 4, "{bad}");
        assert_eq!(bad.msg(), "invalid characters in containerID");
        assert_eq!(
            bad.json.as_ref().map(|j| j["details"].clone()),
            Some(json!("bad id"))
        );

        // A plugin that is not in the path: libcni's error, code -1.
        let mut conf = conflist(&data);
        conf["plugins"][0]["type"] = json!("no-such-plugin");
        let missing = Network::new(&conf, reference_path()).add(&pod, "c1", "eth0");
        assert_eq!(missing.expect_code(), -1, "{missing}");
        assert!(missing.msg().contains("failed to find plugin"), "{missing}");

        // A conflist that is not JSON.
        let broken = Network::new("{", reference_path()).add(&pod, "c1", "eth0");
        assert_eq!(broken.expect_code(), -1, "{broken}");

        // DEL of a container never added, even without a netns: a success.
        net.run(&Call::new("del").id("c9").ifname("eth0"))
            .expect_ok();
        assert_eq!(pod.ifnames(), ["lo"]);
    });
}

/// `-serve`, the driver as a long-running runtime holds libcni (the pod
/// setup bench times it): one reply line per command, the result as the
/// one-shot driver prints it, failures as its failure objects, and the
/// process goes on after one.
#[test]
fn the_driver_serves_commands_from_stdin() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&data), reference_path());
        let pod = Pod::new("p");
        let replies = net.serve(&[
            Call::on("add", &pod, "c1", "eth0"),
            Call::on("add", &pod, "bad id", "eth0"),
            Call::on("check", &pod, "c1", "eth0"),
            Call::on("del", &pod, "c1", "eth0"),
        ]);
        assert_eq!(replies.len(), 4, "{replies:?}");
        for r in &replies {
            assert!(r["ns"].as_u64().is_some_and(|ns| ns > 0), "{r}");
        }
        assert_eq!(replies[0]["error"], Value::Null, "{}", replies[0]);
        let result: Value = serde_json::from_str(replies[0]["out"].as_str().unwrap_or_default())
            .expect("the ADD result is JSON");
        assert_eq!(result["ips"][0]["address"], "10.77.0.2/24");
        assert_eq!(
            replies[1]["error"],
            json!({"code": 4, "msg": "invalid characters in containerID", "details": "bad id"})
        );
        assert_eq!(
            replies[2],
            json!({"ns": replies[2]["ns"], "out": "", "error": null})
        );
        assert_eq!(
            replies[3],
            json!({"ns": replies[3]["ns"], "out": "", "error": null})
        );
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

/// One run for the determinism check, in a fresh host namespace: two
/// networks (a dual-stack default gateway with hairpin and an MTU, and a
/// bridge without gateway, whose MAC follows its lowest port), two pods on
/// each. Returns the normalised snapshots and results, and the raw host
/// snapshot.
fn determinism_run() -> (Value, Value) {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let gw = Network::new(
            json!({
                "cniVersion": "1.0.0",
                "name": "gw",
                "plugins": [{
                    "type": "bridge", "bridge": "cni-gw0", "isDefaultGateway": true,
                    "hairpinMode": true, "mtu": 1400,
                    "ipam": {"type": "host-local", "dataDir": data.s(), "ranges": [
                        [{"subnet": "10.78.0.0/24"}], [{"subnet": "fd78::/64"}]
                    ]}
                }]
            }),
            reference_path(),
        );
        let l2 = Network::new(
            json!({
                "cniVersion": "1.0.0",
                "name": "l2",
                "plugins": [{
                    "type": "bridge", "bridge": "cni-l2",
                    "ipam": {"type": "host-local", "dataDir": data.s(), "subnet": "10.79.0.0/24"}
                }]
            }),
            reference_path(),
        );
        let pods: Vec<Pod> = (0..4).map(|i| Pod::new(&format!("p{i}"))).collect();
        let mut results = Vec::new();
        for (i, pod) in pods.iter().enumerate() {
            let net = if i < 2 { &gw } else { &l2 };
            let add = net.add(pod, &format!("c{i}"), "eth0");
            add.expect_ok();
            check_result(add.result(), pod);
            results.push(add.result().clone());
        }
        let raw_host = Snapshot::here();
        let mut t = Tokens::new();
        let host = raw_host.normalised(&mut t);
        let inside: Vec<Snapshot> = pods
            .iter()
            .map(|p| p.snapshot().normalised(&mut t))
            .collect();
        let results: Vec<Value> = results
            .iter()
            .map(|r| normalise_result(r, &mut t))
            .collect();

        // What the normalised form shows of these plugins' decisions.
        assert_eq!(
            host.link("cni-l2").map(|l| l["address"].clone()),
            Some(json!("<a port's mac>")),
            "{}",
            host.pretty()
        );
        let gw_port = host.link("<veth0>").expect("the first host veth");
        assert_eq!(gw_port["master"], "cni-gw0");
        assert_eq!(gw_port["mtu"], 1400);
        assert_eq!(gw_port["linkinfo"]["info_slave_data"]["hairpin"], true);
        assert_eq!(host.addresses("cni-gw0"), ["10.78.0.1/24", "fd78::1/64"]);
        assert_eq!(
            main_routes(&inside[0]),
            [
                ("10.78.0.0/24".into(), String::new(), "eth0".into()),
                ("default".into(), "10.78.0.1".into(), "eth0".into()),
                ("default".into(), "fd78::1".into(), "eth0".into()),
                ("fd78::/64".into(), String::new(), "eth0".into()),
            ],
            "{}",
            inside[0].pretty()
        );
        assert_eq!(results[3]["interfaces"][1]["name"], "<veth3>");

        let normalised = json!({
            "host": host.as_value(),
            "pods": inside.iter().map(Snapshot::as_value).collect::<Vec<_>>(),
            "results": results,
        });
        (normalised, raw_host.as_value())
    })
}

/// Two fresh runs of the same ADDs (fresh host namespaces, fresh pods)
/// normalise to equal snapshots and results, while the raw ones differ.
#[test]
fn normalisation_makes_two_runs_equal() {
    let (a, raw_a) = determinism_run();
    let (b, raw_b) = determinism_run();
    assert_same("the normalised runs", &a, &b);
    assert!(
        !diff(&raw_a["links"], &raw_b["links"]).is_empty(),
        "the raw host links of two runs are equal: nothing was random?"
    );
}

/// One pod on the brief's network with `tweak` applied to the bridge
/// plugin's config, in a fresh host namespace: the normalised host and pod
/// snapshots and result.
fn one_pod(tweak: Value) -> Value {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let mut conf = conflist(&data);
        for (k, v) in tweak.as_object().into_iter().flatten() {
            conf["plugins"][0][k] = v.clone();
        }
        let net = Network::new(&conf, reference_path());
        let pod = Pod::new("p");
        let add = net.add(&pod, "c1", "eth0");
        add.expect_ok();
        check_result(add.result(), &pod);
        let mut t = Tokens::new();
        json!({
            "host": Snapshot::here().normalised(&mut t).as_value(),
            "pod": pod.snapshot().normalised(&mut t).as_value(),
            "result": normalise_result(add.result(), &mut t),
        })
    })
}

/// The normaliser keeps what a plugin decides: the same ADD with another
/// MTU and hairpin mode differs exactly there.
#[test]
fn normalisation_keeps_what_plugins_decide() {
    let plain = one_pod(json!({}));
    let tweaked = one_pod(json!({"mtu": 1400, "hairpinMode": true}));
    let mut d = diff(&plain, &tweaked);
    d.sort();
    assert_eq!(
        d,
        [
            ".host.links[0:<veth0>].linkinfo.info_slave_data.hairpin: false != true",
            ".host.links[0:<veth0>].mtu: 1500 != 1400",
            ".host.links[1:cni-t0].mtu: 1500 != 1400",
            ".pod.links[0:eth0].mtu: 1500 != 1400",
        ],
        "{}",
        d.join("\n")
    );
}

/// The checker of results catches a result that does not describe the
/// namespaces (here: a container MAC that is not eth0's).
#[test]
#[should_panic(expected = "the result does not describe the namespaces")]
fn check_result_catches_a_wrong_mac() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(&data), reference_path());
        let pod = Pod::new("p");
        let add = net.add(&pod, "c1", "eth0");
        add.expect_ok();
        let mut result = add.result().clone();
        result["interfaces"][2]["mac"] = json!("02:00:00:00:00:01");
        check_result(&result, &pod);
    });
}

/// The driver's Go source is vetted and gofmt-formatted.
#[test]
fn the_driver_is_vetted_and_formatted() {
    let out = go_in_driver_dir(&["vet", "."])
        .output()
        .expect("run go vet");
    assert!(
        out.status.success(),
        "go vet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = go_in_driver_dir(&["env", "GOROOT"])
        .output()
        .expect("run go env");
    let gofmt = std::path::Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("bin/gofmt");
    let out = std::process::Command::new(&gofmt)
        .args(["-l", "."])
        .current_dir(repo_root().join("examples/cni-driver"))
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
