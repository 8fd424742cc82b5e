//! netns-macvlan against the reference macvlan plugin
//! (/usr/lib/cni/macvlan, containernetworking-plugins 1.1.1), both driven
//! by libcni 1.1.2 through the project's driver: the same conflist with
//! only `"type"` changed, on fresh namespaces (the plugins' host side in a
//! private one, with a veth end as the master; pods in temporary netns
//! directories). Equal after normalising MACs and netns paths: every ADD
//! result, `ip -j -d link/addr/route` of the host side and of every pod
//! after ADD, CHECK of every pod, and both sides after DEL; for bad input,
//! the code, the message, and that nothing changed.
//!
//! Where netns-macvlan deliberately differs, the test says so: the
//! macvlan's txqueuelen is the kernel's default (the master's), where
//! 1.1.1 sends 0 (a zero struct field; fixed upstream in 1.6.0, as for
//! veths: `with_upstream_fixes`).

netns_testutil::host_only!("needs go and the reference plugins, which the VM image lacks");

mod cni_common;

use cni_common::*;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

const REFERENCE: &str = "macvlan";
const OURS: &str = "netns-macvlan";

/// The reference's observation with its zero txqueuelen as upstream
/// fixed it: the master's (a veth: 1000).
fn fixed(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                let is_macvlan = o
                    .get("linkinfo")
                    .and_then(|l| l.get("info_kind"))
                    .is_some_and(|k| k == "macvlan");
                if is_macvlan && !o.contains_key("txqlen") {
                    o.insert("txqlen".into(), json!(1000));
                }
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    with_upstream_fixes(v)
}

/// A scenario: the plugin's keys (its `type` and IPAM `dataDir` set per
/// run), and each pod's (container id, ifname, CNI_ARGS).
struct Scenario {
    plugin: Value,
    pods: Vec<(&'static str, &'static str, Option<&'static str>)>,
}

fn conflist(s: &Scenario, ty: &str, data: &TempDir) -> Value {
    let mut p = s.plugin.clone();
    p["type"] = json!(ty);
    if p.get("ipam").is_some() {
        p["ipam"]["dataDir"] = json!(data.s());
    }
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [p]})
}

fn paths(ty: &str) -> Vec<std::path::PathBuf> {
    if ty == OURS {
        our_path()
    } else {
        reference_path()
    }
}

/// The host side: the master `mst0` (mtu 1500) and its peer, up.
fn host_side() {
    ip(["link", "set", "lo", "up"]);
    ip([
        "link", "add", "mst0", "type", "veth", "peer", "name", "mst0-p",
    ]);
    ip(["link", "set", "mst0", "up"]);
    ip(["link", "set", "mst0-p", "up"]);
}

fn outcome(o: &Outcome, t: &mut Tokens) -> Value {
    if o.ok() {
        if o.stdout.trim().is_empty() {
            json!("ok")
        } else {
            normalise_result(o.result(), t)
        }
    } else {
        json!({"code": o.code(), "msg": o.msg()})
    }
}

/// Everything one plugin does in a scenario, normalised.
fn observe(s: &Scenario, ty: &str) -> Value {
    in_private_netns(|| {
        host_side();
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(s, ty, &data), paths(ty));
        let mut t = Tokens::new();
        let pods: Vec<Pod> = s.pods.iter().map(|p| Pod::new(p.0)).collect();
        let mut adds = Vec::new();
        for ((id, ifname, args), pod) in s.pods.iter().zip(&pods) {
            let mut call = Call::on("add", pod, id, ifname);
            if let Some(a) = args {
                call = call.args(a);
            }
            let o = net.run(&call);
            if o.ok() {
                check_result(o.result(), pod);
            }
            adds.push(outcome(&o, &mut t));
        }
        let host = Snapshot::here().normalised(&mut t).as_value();
        let inside: Vec<Value> = pods
            .iter()
            .map(|p| p.snapshot().normalised(&mut t).as_value())
            .collect();
        let checks: Vec<Value> = s
            .pods
            .iter()
            .zip(&pods)
            .map(|((id, ifname, _), pod)| outcome(&net.check(pod, id, ifname), &mut t))
            .collect();
        let dels: Vec<Value> = s
            .pods
            .iter()
            .zip(&pods)
            .map(|((id, ifname, _), pod)| outcome(&net.del(pod, id, ifname), &mut t))
            .collect();
        let host_after = Snapshot::here().normalised(&mut t).as_value();
        let inside_after: Vec<Value> = pods
            .iter()
            .map(|p| p.snapshot().normalised(&mut t).as_value())
            .collect();
        let held: Vec<String> = ipam_files(&data, "t")
            .into_iter()
            .filter(|f| f.starts_with("10."))
            .collect();
        json!({
            "adds": adds, "host": host, "pods": inside, "checks": checks,
            "dels": dels, "host_after": host_after, "pods_after": inside_after,
            "ipam_after": held,
        })
    })
}

#[track_caller]
fn same(s: &Scenario) {
    let theirs = fixed(observe(s, REFERENCE));
    let ours = observe(s, OURS);
    // Not equal by both failing: every ADD made a macvlan in its pod.
    for (a, p) in ours["adds"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(ours["pods"].as_array().into_iter().flatten())
    {
        assert!(a.get("interfaces").is_some(), "ADD: {a}");
        assert!(p.to_string().contains("\"macvlan\""), "pod: {p}");
    }
    assert_same("reference, ours", &theirs, &ours);
}

fn ipam4() -> Value {
    json!({"type": "host-local", "subnet": "10.79.0.0/24",
           "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.200.0.0/16", "gw": "10.79.0.9"}]})
}

#[test]
fn bridge_mode_with_ipam_two_pods() {
    same(&Scenario {
        plugin: json!({"master": "mst0", "mtu": 1400, "ipam": ipam4()}),
        pods: vec![("c1", "eth0", None), ("c2", "eth0", None)],
    });
}

#[test]
fn dual_stack() {
    same(&Scenario {
        plugin: json!({"master": "mst0", "mode": "vepa", "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.79.0.0/24"}], [{"subnet": "fd00:79::/64"}]],
        }}),
        pods: vec![("c1", "net1", None)],
    });
}

#[test]
fn layer2_only_each_mode_and_a_mac() {
    for mode in ["bridge", "private", "vepa", "passthru"] {
        same(&Scenario {
            plugin: json!({"master": "mst0", "mode": mode}),
            pods: vec![("c1", "eth0", Some("IgnoreUnknown=1;MAC=0a:58:0a:4f:00:07"))],
        });
    }
}

/// What a failing ADD of `plugin` (type `ty`) on `ifname` does: its code
/// and message, whether the host side, the pod and the IPAM reservations are as
/// they were (Tokens of their own: the same objects get the same names),
/// and the pod's interfaces after it.
fn attempt(ty: &str, plugin: &Value, ifname: &str) -> (Value, [bool; 3], Vec<String>) {
    in_private_netns(|| {
        host_side();
        let data = TempDir::new("ipam");
        let mut p = plugin.clone();
        p["type"] = json!(ty);
        if p.get("ipam").is_some() {
            p["ipam"]["dataDir"] = json!(data.s());
        }
        let net = Network::new(
            json!({"cniVersion": "1.0.0", "name": "t", "plugins": [p]}),
            paths(ty),
        );
        let pod = Pod::new("p1");
        // Reservations only: host-local's lock and last_reserved_ip files
        // stay after a release.
        let held = || -> Vec<String> {
            ipam_files(&data, "t")
                .into_iter()
                .filter(|f| f.starts_with("10."))
                .collect()
        };
        let before = (Snapshot::here(), pod.snapshot(), held());
        let o = net.add(&pod, "c1", ifname);
        assert!(!o.ok(), "{ty} {plugin}: {o}");
        let after = (Snapshot::here(), pod.snapshot(), held());
        let mut t = Tokens::new();
        let alike = |a: &Snapshot, b: &Snapshot, t: &mut Tokens| {
            diff(&a.normalised(t).as_value(), &b.normalised(t).as_value()).is_empty()
        };
        let unchanged = [
            alike(&before.0, &after.0, &mut t),
            alike(&before.1, &after.1, &mut t),
            before.2 == after.2,
        ];
        (
            json!({"code": o.code(), "msg": o.msg()}),
            unchanged,
            pod.ifnames(),
        )
    })
}

/// Bad input: the same code and message, and neither plugin changed
/// anything (host side, pod, IPAM files).
#[test]
fn bad_input_alike_and_nothing_left() {
    let cases: &[(Value, &str)] = &[
        (json!({"master": "nope0"}), "eth0"),
        (json!({"master": "mst0", "mtu": 9000}), "eth0"),
        (json!({"master": "mst0", "mtu": -5}), "eth0"),
        (json!({"master": "mst0", "mode": "source"}), "eth0"),
        (
            json!({"master": "mst0", "mode": "bogus", "ipam": ipam4()}),
            "eth0",
        ),
        (json!({"master": "mst0", "ipam": ipam4()}), "lo"),
        (json!({"master": "mst0"}), "lo"),
        (json!({}), "eth0"),
    ];
    for (plugin, ifname) in cases {
        let theirs = attempt(REFERENCE, plugin, ifname);
        let ours = attempt(OURS, plugin, ifname);
        assert_eq!(theirs.0, ours.0, "{plugin} on {ifname}");
        assert_eq!(theirs.1, [true; 3], "reference: {plugin} on {ifname}");
        assert_eq!(ours.1, [true; 3], "ours: {plugin} on {ifname}");
    }
}

/// An ADD that fails after IPAM (a route via a gateway off every link):
/// the same error code, and both release the address; the reference leaves the
/// macvlan in the pod (its clean-up tests an `err` that a shadowing `:=` in
/// the IPAM branch leaves nil), which keeps the master promiscuous;
/// netns-macvlan removes it.
#[test]
fn a_failure_after_ipam_leaves_nothing_where_the_reference_leaks_the_macvlan() {
    let plugin = json!({"master": "mst0", "ipam": {"type": "host-local",
        "subnet": "10.79.0.0/24", "routes": [{"dst": "10.200.0.0/16", "gw": "192.0.2.1"}]}});
    let theirs = attempt(REFERENCE, &plugin, "eth0");
    let ours = attempt(OURS, &plugin, "eth0");
    // The same code; the messages both start so, the reference's then
    // prints Go's net.IPNet struct (`'{10.200.0.0 ffff0000} via`), ours
    // the prefix and the kernel's extended ack.
    assert_eq!(theirs.0["code"], ours.0["code"]);
    for m in [&theirs.0["msg"], &ours.0["msg"]] {
        assert!(
            m.as_str()
                .is_some_and(|m| m.starts_with("failed to add route '")),
            "{m}"
        );
    }
    assert_eq!(theirs.1, [false, false, true], "reference: {theirs:?}");
    assert_eq!(theirs.2, ["eth0", "lo"]);
    assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
    assert_eq!(ours.2, ["lo"]);
}
