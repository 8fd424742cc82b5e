//! netns-ipvlan against the reference ipvlan plugin (/usr/lib/cni/ipvlan,
//! containernetworking-plugins 1.1.1) with the harness of
//! tests/sublink_diff: every ADD result, `ip -j -d link/addr/route` of the
//! host side and of every pod after ADD, CHECK of every pod, and both sides
//! after DEL, equal after normalising; for bad input, the code, the
//! message, and that nothing changed.
//!
//! These need ipvlan, which the development kernel lacks: they run in the
//! VM tier (.ci/vm, Debian's 6.1 kernel) and skip on the host with a
//! printed reason, after the host run has built the driver and staged the
//! reference plugins for the VM (tests/cni_common `driver`,
//! `reference_dir`).
//!
//! Chained use: no plugin of containernetworking-plugins 1.1.1 can come
//! first and give ipvlan what chaining needs (a result with one interface,
//! the host-side link to use as the master, and addresses): the main
//! plugins' single interface is the container's (macvlan, host-device,
//! loopback), bridge and ptp report two or three, and the IPAM plugins
//! none. Chaining exists for a cloud's own first plugin (an "ENI" plugin
//! that prepares a host interface and its addresses, as lyft's
//! cni-ipvlan-vpc-k8s does); the tests put a stand-in for one first in
//! the list, a script that prints such a result ([`eni_plugin`]), and run
//! both ipvlans behind it.
//!
//! Where netns-ipvlan deliberately differs, the test checks the
//! difference exactly: an MTU above the master's (or negative) fails
//! before anything with macvlan's message where the reference makes the
//! ipvlan with it (the 6.1 kernel takes an ipvlan MTU above the master's;
//! a negative one is left out); a taken name fails before anything
//! where the reference leaves its temporarily named link in the pod; an
//! ADD that fails after IPAM removes the link and releases the address
//! where the reference leaks both; DEL without a master succeeds where the
//! reference's looks for the default route and fails; CHECK with the
//! default route's master (or chained) passes where the reference's looks
//! up a master named "" and fails; a repeated DEL of a chained ipvlan
//! succeeds where the reference's fails; CHECK checks the master; the pod's
//! `ndisc_notify` is set as well as `arp_notify` (reference v1.2+); the
//! link's txqueuelen is the kernel's default where 1.1.1 sends 0 (fixed
//! upstream in 1.6.0).

mod cni_common;
mod sublink_diff;

use std::path::PathBuf;

use cni_common::*;
use netns_core::{IpVlanMode, LinkSpec};
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};
use sublink_diff::*;

const IPVLAN: Pair = Pair {
    reference: "ipvlan",
    ours: "netns-ipvlan",
    kind: "ipvlan",
};

/// Whether the tests can run here: what they need from the host first (or
/// a failure saying what is missing), then the kernel's ipvlan (a printed
/// SKIP without it; in the VM, a failure).
fn ready() -> bool {
    driver();
    reference_dir();
    our_plugin(IPVLAN.ours);
    kernel_makes("ipvlan links", |h, m| {
        h.link_add(&LinkSpec::ipvlan("probe0", m, IpVlanMode::L2))
    })
}

fn paths(ty: &str) -> Vec<PathBuf> {
    if ty == IPVLAN.ours {
        our_path()
    } else {
        reference_path()
    }
}

/// `body` on a fresh host side ([`host_side`]) with the network of
/// `plugin` (type `ty`, its IPAM on the directory handed to `body`).
fn on_network<T: Send>(
    ty: &str,
    plugin: &Value,
    body: impl FnOnce(&Network, &TempDir) -> T + Send,
) -> T {
    in_private_netns(|| {
        host_side();
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(plugin, ty, &data), paths(ty));
        body(&net, &data)
    })
}

/// `/proc/sys/net/ipv6/conf/IFNAME/ndisc_notify` in the pod.
fn ndisc_notify(pod: &Pod, ifname: &str) -> String {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", pod.path().display()))
        .args(["--", "cat"])
        .arg(format!("/proc/sys/net/ipv6/conf/{ifname}/ndisc_notify"))
        .output()
        .expect("nsenter");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn each_mode_two_pods_on_one_master_with_ipam_and_an_mtu() {
    if !ready() {
        return;
    }
    for mode in ["l2", "l3", "l3s"] {
        IPVLAN.same(&Scenario {
            plugin: json!({"master": "mst0", "mode": mode, "mtu": 1400, "ipam": ipam4()}),
            pods: vec![("c1", "eth0", None), ("c2", "eth0", None)],
        });
    }
}

#[test]
fn dual_stack_and_cni_args() {
    if !ready() {
        return;
    }
    IPVLAN.same(&Scenario {
        plugin: json!({"master": "mst0", "ipam": ipam_dual()}),
        pods: vec![(
            "c1",
            "net1",
            Some("IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u"),
        )],
    });
}

/// The master of the default route when `master` is absent: ADD alike.
/// CHECK differs: the reference's CHECK does not resolve the master (its
/// `loadConf` skips that for CHECK) and looks up a link named "", so it
/// can never pass; ours passes. DEL once the default route is gone, by a
/// runtime without the cached result: the reference's looks for the
/// default route again and fails (keeping the reservation: the pod cannot
/// be removed), ours succeeds and releases it.
#[test]
fn the_default_route_master_check_and_del_without_it() {
    if !ready() {
        return;
    }
    let plugin = json!({"ipam": ipam4()});
    let run = |ty: &str| {
        on_network(ty, &plugin, |net, data| {
            ip(["addr", "add", "192.168.77.1/24", "dev", "mst0"]);
            ip(["route", "add", "default", "via", "192.168.77.254"]);
            let pod = Pod::new("p1");
            let mut t = Tokens::new();
            let add = outcome(&net.add(&pod, "c1", "eth0"), &mut t);
            let inside = pod.snapshot().normalised(&mut t).as_value();
            let check = outcome(&net.check(&pod, "c1", "eth0"), &mut t);
            ip(["route", "del", "default"]);
            // A runtime that lost its cache: libcni has no prevResult to
            // hand DEL (with one, the reference takes the master from it).
            let cached = net.cache_dir().join("results").join("t-c1-eth0");
            std::fs::remove_file(&cached).expect("drop c1 from libcni's cache");
            let del = outcome(&net.del(&pod, "c1", "eth0"), &mut t);
            (add, inside, check, del, held(data))
        })
    };
    let theirs = run(IPVLAN.reference);
    let ours = run(IPVLAN.ours);
    assert!(theirs.0.get("interfaces").is_some(), "{}", theirs.0);
    assert_same("ADD", &theirs.0, &ours.0);
    assert!(theirs.1.to_string().contains("\"ipvlan\""), "{}", theirs.1);
    assert_same("pod", &fixed(theirs.1), &ours.1);
    assert_eq!(
        theirs.2,
        json!({"code": 999, "msg": "failed to lookup master \"\": Link not found"})
    );
    assert_eq!(ours.2, json!("ok"));
    assert_eq!(
        theirs.3,
        json!({"code": 999, "msg": "no default route interface found"})
    );
    assert_eq!(theirs.4, ["10.79.0.2"], "the reference keeps the address");
    assert_eq!(ours.3, json!("ok"));
    assert!(ours.4.is_empty(), "{:?}", ours.4);
}

/// A stand-in for a cloud's first plugin of a chain (an "ENI" plugin):
/// ADD prints `result`; every other command succeeds without output. In a
/// directory of its own, put on CNI_PATH ahead of the pair's.
fn eni_plugin(result: &Value) -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new("eni");
    let file = d.path().join("eni");
    let script = format!(
        "#!/bin/sh\ncat >/dev/null\nif [ \"$CNI_COMMAND\" = ADD ]; then\ncat <<'EOF'\n{result}\nEOF\nfi\n"
    );
    std::fs::write(&file, script).expect("write the eni plugin");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

/// What the ENI stand-in reports: the host's `mst0` and an address with a
/// gateway, a route via it, and DNS (which ipvlan replaces by its own
/// config's, none here).
fn eni_result() -> Value {
    json!({"cniVersion": "1.0.0",
           "interfaces": [{"name": "mst0"}],
           "ips": [{"address": "10.79.0.5/24", "gateway": "10.79.0.1", "interface": 0}],
           "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.200.0.0/16", "gw": "10.79.0.9"}],
           "dns": {"nameservers": ["10.79.0.53"]}})
}

/// `ty` chained behind the ENI stand-in printing `prev`, with `plugin`
/// (no `master`, no `ipam`): ADD, the pod, CHECK, DEL twice, the pod and
/// host side after, normalised.
fn observe_chain(ty: &str, prev: &Value, plugin: &Value) -> Value {
    in_private_netns(|| {
        host_side();
        let eni = eni_plugin(prev);
        let mut p = plugin.clone();
        p["type"] = json!(ty);
        let list = json!({"cniVersion": "1.0.0", "name": "t",
                          "plugins": [{"type": "eni"}, p]});
        let mut dirs = vec![eni.path().to_path_buf()];
        dirs.extend(paths(ty));
        let net = Network::new(list, dirs);
        let pod = Pod::new("p1");
        let mut t = Tokens::new();
        let o = net.add(&pod, "c1", "eth0");
        if o.ok() {
            check_result(o.result(), &pod);
        }
        let add = outcome(&o, &mut t);
        let host = Snapshot::here().normalised(&mut t).as_value();
        let inside = pod.snapshot().normalised(&mut t).as_value();
        let check = outcome(&net.check(&pod, "c1", "eth0"), &mut t);
        let dels = [
            outcome(&net.del(&pod, "c1", "eth0"), &mut t),
            outcome(&net.del(&pod, "c1", "eth0"), &mut t),
        ];
        json!({"add": add, "host": host, "pod": inside, "check": check, "dels": dels,
               "host_after": Snapshot::here().normalised(&mut t).as_value(),
               "pod_after": pod.snapshot().normalised(&mut t).as_value()})
    })
}

/// Chained behind a plugin whose result has one interface (the master)
/// and addresses, without `master` and `ipam`: the link on that master,
/// the previous result's addresses and routes in the pod, the config's DNS
/// (none) in the result; the first DEL alike. CHECK differs: the
/// reference's looks up a master named "" and fails; ours passes (the
/// master is not in the cached result it gets, so it checks the link and
/// addresses only). A second DEL differs: libcni dropped its cached result
/// with the first, so the reference gets no prevResult, looks for the
/// default route's interface instead and fails (a runtime's retried DEL
/// of the pod fails); ours succeeds.
#[test]
fn chained_behind_a_plugin_that_gives_the_master_and_addresses() {
    if !ready() {
        return;
    }
    for mode in ["l2", "l3"] {
        let plugin = json!({"mode": mode});
        let mut theirs = observe_chain(IPVLAN.reference, &eni_result(), &plugin);
        let mut ours = observe_chain(IPVLAN.ours, &eni_result(), &plugin);
        assert!(ours["add"].get("interfaces").is_some(), "{}", ours["add"]);
        assert!(
            ours["pod"].to_string().contains("10.79.0.5"),
            "{}",
            ours["pod"]
        );
        assert_eq!(ours["add"]["dns"], json!({}), "{}", ours["add"]);
        assert_eq!(
            theirs["check"],
            json!({"code": 999, "msg": "failed to lookup master \"\": Link not found"})
        );
        assert_eq!(ours["check"], json!("ok"));
        assert_eq!(
            theirs["dels"],
            json!(["ok", {"code": 999, "msg": "no default route interface found"}])
        );
        assert_eq!(ours["dels"], json!(["ok", "ok"]));
        for v in [&mut theirs, &mut ours] {
            v["check"] = json!(null);
            v["dels"] = json!(null);
        }
        assert_same("reference, ours", &fixed(theirs), &ours);
    }
}

/// The reference's observation as upstream fixed it (its txqueuelen of 0:
/// see sublink_diff's `Pair`), for observations outside `Pair::same`.
fn fixed(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                let is_ipvlan = o
                    .get("linkinfo")
                    .and_then(|l| l.get("info_kind"))
                    .is_some_and(|k| k == "ipvlan");
                if is_ipvlan && !o.contains_key("txqlen") {
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

/// Chained behind a result that names no single interface (none, or
/// two), or has no addresses with no `ipam`: the same code, message, and
/// nothing changed.
#[test]
fn chained_without_a_single_interface_fails_alike() {
    if !ready() {
        return;
    }
    let none = json!({"cniVersion": "1.0.0", "ips": eni_result()["ips"]});
    let two = json!({"cniVersion": "1.0.0",
                     "interfaces": [{"name": "mst0"}, {"name": "mst0-p"}],
                     "ips": eni_result()["ips"]});
    for prev in [none, two] {
        let theirs = observe_chain(IPVLAN.reference, &prev, &json!({}));
        let ours = observe_chain(IPVLAN.ours, &prev, &json!({}));
        assert_eq!(
            theirs["add"],
            json!({"code": 999, "msg": "chained master failure. PrevResult lacks a single named interface"}),
            "{prev}"
        );
        assert_eq!(theirs["add"], ours["add"]);
        assert_eq!(theirs["pod"], theirs["pod_after"]);
        assert_eq!(ours["pod"], ours["pod_after"]);
        assert_same("host side", &theirs["host"], &ours["host"]);
    }
}

/// Bad input: the same code and message, and neither plugin changed
/// anything (host side, pod, IPAM files).
#[test]
fn bad_input_alike_and_nothing_left() {
    if !ready() {
        return;
    }
    IPVLAN.bad_input_alike(&[
        (json!({"master": "nope0", "ipam": ipam4()}), "eth0"),
        (
            json!({"master": "mst0", "mode": "l4", "ipam": ipam4()}),
            "eth0",
        ),
        (
            json!({"master": "nope0", "mode": "l4", "ipam": ipam4()}),
            "eth0",
        ),
        (json!({"ipam": ipam4()}), "eth0"),
        (json!({"mode": "l4", "ipam": ipam4()}), "eth0"),
    ]);
}

/// An MTU above the master's, or negative: ours fails with macvlan's and
/// vlan's message and changes nothing. The reference takes both: it hands
/// a positive MTU to the kernel, which (6.1) makes the ipvlan with it,
/// above its master's, and leaves a negative one out (the master's).
#[test]
fn an_mtu_out_of_range_is_refused_where_the_reference_takes_it() {
    if !ready() {
        return;
    }
    for (mtu, theirs_mtu) in [(9000, 9000), (1501, 1501), (-5, 1500)] {
        let plugin = json!({"master": "mst0", "mtu": mtu, "ipam": ipam4()});
        let theirs = IPVLAN.observe(
            &Scenario {
                plugin: plugin.clone(),
                pods: vec![("c1", "eth0", None)],
            },
            IPVLAN.reference,
        );
        assert!(
            theirs["adds"][0].get("interfaces").is_some(),
            "{mtu}: {}",
            theirs["adds"][0]
        );
        let eth0 = theirs["pods"][0]["links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["linkinfo"]["info_kind"] == "ipvlan"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(eth0["mtu"], theirs_mtu, "{mtu}: {eth0}");
        assert_eq!(theirs["checks"], json!(["ok"]), "{mtu}");
        assert_eq!(theirs["dels"], json!(["ok"]), "{mtu}");
        let ours = IPVLAN.attempt(IPVLAN.ours, &plugin, "eth0", false);
        assert_eq!(
            ours.0,
            json!({"code": 999, "msg": format!("invalid MTU {mtu}, must be [0, master MTU(1500)]")})
        );
        assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
        assert_eq!(ours.2, ["lo"]);
    }
}

/// A name taken in the pod: the same code and message; the reference
/// made its link under a temporary name first and leaves it in the pod
/// when the rename fails; ours fails before it makes anything.
#[test]
fn a_taken_name_fails_alike_and_ours_leaves_nothing() {
    if !ready() {
        return;
    }
    IPVLAN.taken_name_alike(&json!({"master": "mst0", "ipam": ipam4()}));
}

/// An ADD that fails after IPAM (a route via a gateway off every link):
/// the same code; the reference leaves the ipvlan in the pod and keeps
/// the address (its IPAM clean-up tests an `err` declared in the IPAM
/// branch, nil by the time the route fails); netns-ipvlan removes the link
/// and releases the address.
#[test]
fn a_failure_after_ipam_leaves_nothing_where_the_reference_leaks_link_and_address() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "ipam": ipam_bad_route()});
    let theirs = IPVLAN.attempt(IPVLAN.reference, &plugin, "eth0", false);
    let ours = IPVLAN.attempt(IPVLAN.ours, &plugin, "eth0", false);
    assert_eq!(theirs.0["code"], ours.0["code"]);
    for m in [&theirs.0["msg"], &ours.0["msg"]] {
        assert!(
            m.as_str()
                .is_some_and(|m| m.starts_with("failed to add route '")),
            "{m}"
        );
    }
    assert_eq!(theirs.1, [true, false, false], "reference: {theirs:?}");
    assert_eq!(theirs.2, ["eth0", "lo"]);
    assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
    assert_eq!(ours.2, ["lo"]);
}

/// DEL is idempotent alike: twice, with the netns gone, with no netns;
/// each succeeds and the address is released.
#[test]
fn del_is_idempotent_alike() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "ipam": ipam4()});
    let run = |ty: &str| {
        on_network(ty, &plugin, |net, data| {
            let pod = Pod::new("p1");
            net.add(&pod, "c1", "eth0").expect_ok();
            let mut t = Tokens::new();
            let gone = pod.path().with_file_name("gone");
            let dels = vec![
                outcome(&net.del(&pod, "c1", "eth0"), &mut t),
                outcome(&net.del(&pod, "c1", "eth0"), &mut t),
                outcome(
                    &net.run(&Call::on("del", &pod, "c1", "eth0").netns(&gone)),
                    &mut t,
                ),
                outcome(
                    &net.run(&Call::on("del", &pod, "c1", "eth0").no_netns()),
                    &mut t,
                ),
            ];
            (dels, pod.ifnames(), held(data))
        })
    };
    let theirs = run(IPVLAN.reference);
    let ours = run(IPVLAN.ours);
    assert_eq!(theirs.0, vec![json!("ok"); 4]);
    assert_eq!(theirs, ours);
    assert_eq!(ours.1, ["lo"]);
    assert!(ours.2.is_empty(), "{:?}", ours.2);
}

/// CHECK with another mode configured: the same code and message. With
/// another master (which exists): the reference's passes (it looks the
/// master up and never compares it), ours fails saying so.
#[test]
fn check_on_another_mode_alike_and_on_another_master_ours_fails() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "mode": "l2", "ipam": ipam4()});
    let run = |ty: &str| {
        on_network(ty, &plugin, |net, data| {
            ip([
                "link", "add", "mst1", "type", "veth", "peer", "name", "mst1-p",
            ]);
            let pod = Pod::new("p1");
            net.add(&pod, "c1", "eth0").expect_ok();
            let mut t = Tokens::new();
            let mut check = |changed: Value| {
                let mut p = plugin.clone();
                if let (Some(o), Value::Object(c)) = (p.as_object_mut(), changed) {
                    o.extend(c);
                }
                let other =
                    Network::with_cache_dir(conflist(&p, ty, data), paths(ty), net.cache_dir());
                outcome(&other.check(&pod, "c1", "eth0"), &mut t)
            };
            [
                check(json!({"mode": "l3"})),
                check(json!({"mode": "l3s"})),
                check(json!({"master": "mst1"})),
                check(json!({})),
            ]
        })
    };
    let theirs = run(IPVLAN.reference);
    let ours = run(IPVLAN.ours);
    let mode = |m: &str| {
        json!({"code": 999,
               "msg": format!("Container IPVlan mode l2 does not match expected value: {m}")})
    };
    assert_eq!(theirs[..2], [mode("l3"), mode("l3s")]);
    assert_eq!(theirs[..2], ours[..2]);
    assert_eq!(theirs[2], json!("ok"));
    assert_eq!(
        ours[2],
        json!({"code": 999, "msg": "Container interface eth0 is not on master \"mst1\""})
    );
    assert_eq!(theirs[3], json!("ok"));
    assert_eq!(ours[3], json!("ok"));
}

/// `arp_notify` alike (in the snapshots); `ndisc_notify`: the reference
/// 1.1.1 leaves it (v1.2 sets it), ours sets it.
#[test]
fn ndisc_notify_is_set_where_the_reference_leaves_it() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "ipam": ipam_dual()});
    let run = |ty: &str| {
        on_network(ty, &plugin, |net, _| {
            let pod = Pod::new("p1");
            net.add(&pod, "c1", "eth0").expect_ok();
            ndisc_notify(&pod, "eth0")
        })
    };
    assert_eq!(run(IPVLAN.reference), "0");
    assert_eq!(run(IPVLAN.ours), "1");
}

/// No IPAM and not chained: the same code and message (Go's
/// `invoke.FindInPath` for an empty type); the reference made its link
/// before it ran IPAM and leaves it in the pod; ours removes it.
#[test]
fn without_ipam_fails_alike_and_ours_leaves_nothing() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0"});
    let theirs = IPVLAN.attempt(IPVLAN.reference, &plugin, "eth0", false);
    let ours = IPVLAN.attempt(IPVLAN.ours, &plugin, "eth0", false);
    assert_eq!(
        theirs.0,
        json!({"code": 999, "msg": "no plugin name provided"})
    );
    assert_eq!(theirs.0, ours.0);
    assert_eq!(theirs.1, [true, false, true], "reference: {theirs:?}");
    assert_eq!(theirs.2, ["eth0", "lo"]);
    assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
    assert_eq!(ours.2, ["lo"]);
}
