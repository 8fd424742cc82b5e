//! netns-ipvlan under libcni (the project's driver): the master is one end
//! of a veth pair in the test's private namespace. Two pods on one master
//! talk TCP in l2 and in l3 mode, and in l2 mode to an address on the
//! master's far end (its veth peer, in a namespace of its own); the mode,
//! MTU and MAC reach the kernel; `linkInContainer`; an interface name
//! taken on the host side (the master's own); CHECK, idempotent DEL, GC,
//! STATUS; bad input fails with the reference's message (or a clearer
//! one) and changes nothing.
//!
//! These need ipvlan, which the development kernel lacks: they run in the
//! VM tier (.ci/vm, Debian's 6.1 kernel) and skip on the host with a
//! printed reason, after the host run has built the driver for the VM.

mod cni_common;

use cni_common::*;
use netns_core::{IpVlanMode, LinkSpec, NetNs};
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

/// Whether the tests can run here: the driver and the plugin (or a failure
/// saying what is missing), then the kernel's ipvlan (a printed SKIP
/// without it; in the VM, a failure).
fn ready() -> bool {
    driver();
    our_plugin("netns-ipvlan");
    kernel_makes("ipvlan links", |h, m| {
        h.link_add(&LinkSpec::ipvlan("probe0", m, IpVlanMode::L2))
    })
}

/// The network of netns-ipvlan on `mst0` with `extra` keys, IPAM on `data`
/// (10.78.0.0/24) if given.
fn conf(extra: Value, data: Option<&TempDir>) -> Value {
    let mut p = json!({"type": "netns-ipvlan", "master": "mst0"});
    if let Some(d) = data {
        p["ipam"] = json!({"type": "host-local", "subnet": "10.78.0.0/24", "dataDir": d.s()});
    }
    one_plugin_list(p, extra)
}

/// [`conf`] without `master`.
fn conf_without_master(data: Option<&TempDir>) -> Value {
    let mut c = conf(json!({}), data);
    c["plugins"][0]
        .as_object_mut()
        .expect("a plugin")
        .remove("master");
    c
}

/// The MAC of `name` here.
fn mac_of(name: &str) -> Value {
    netns_testutil::ip_json(["link", "show", name])[0]["address"].clone()
}

fn host_ifnames() -> Vec<String> {
    netns_testutil::ifnames(&netns_testutil::ip_json(["link", "show"]))
}

/// A TCP connection from `from` to a listener on `to_ip` in `to` works and
/// comes from `from_ip`.
fn reaches(from: &Pod, to: &Pod, to_ip: &str, from_ip: &str) {
    from.connects(&to.listen(to_ip.parse().expect("an address")), from_ip);
}

/// The master's far end: `mst0-p` moved into a namespace of its own, with
/// 10.78.0.254/24.
fn far_end() -> Pod {
    let far = Pod::new("far");
    let p = far.path().to_str().expect("utf-8").to_string();
    ip(["link", "set", "mst0-p", "netns", &p]);
    let ns = NetNs::open(far.path()).expect("far");
    let h = ns.handle().expect("a handle there");
    let i = h.link_get("mst0-p").expect("mst0-p").index;
    h.addr_add(&netns_core::AddrSpec::new(
        i,
        "10.78.0.254/24".parse().expect("addr"),
    ))
    .expect("addr");
    h.link_set_up(i).expect("up");
    far
}

#[test]
fn two_pods_talk_tcp_in_l2_and_l3_and_to_the_far_end_in_l2() {
    if !ready() {
        return;
    }
    for mode in ["l2", "l3"] {
        in_private_netns(|| {
            veth_master("mst0", 1500);
            let far = far_end();
            let data = TempDir::new("ipam");
            let net = Network::new(conf(json!({"mode": mode}), Some(&data)), our_path());
            let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
            let a1 = net.add(&p1, "c1", "eth0");
            a1.expect_ok();
            let a2 = net.add(&p2, "c2", "eth0");
            a2.expect_ok();
            check_result(a1.result(), &p1);
            check_result(a2.result(), &p2);
            let r = a1.result();
            assert_eq!(r["interfaces"].as_array().map(Vec::len), Some(1), "{r}");
            assert_eq!(r["interfaces"][0]["sandbox"], json!(p1.path().to_str()));
            assert_eq!(r["ips"][0]["interface"], json!(0));
            // Both links share the master's MAC, and say so.
            for (pod, o) in [(&p1, &a1), (&p2, &a2)] {
                let l = pod.link("eth0");
                assert_eq!(l["linkinfo"]["info_kind"], "ipvlan", "{l}");
                assert_eq!(l["linkinfo"]["info_data"]["mode"], mode, "{l}");
                assert_eq!(l["address"], mac_of("mst0"), "{l}");
                assert_eq!(o.result()["interfaces"][0]["mac"], l["address"]);
            }
            // Nothing of them on the host side.
            assert_eq!(host_ifnames(), ["lo", "mst0"]);
            reaches(&p1, &p2, &a2.first_ip(), &a1.first_ip());
            reaches(&p2, &p1, &a1.first_ip(), &a2.first_ip());
            if mode == "l2" {
                reaches(&p1, &far, "10.78.0.254", &a1.first_ip());
                reaches(&far, &p2, &a2.first_ip(), "10.78.0.254");
            }
            net.check(&p1, "c1", "eth0").expect_ok();
            net.check(&p2, "c2", "eth0").expect_ok();
            net.del(&p1, "c1", "eth0").expect_ok();
            net.del(&p2, "c2", "eth0").expect_ok();
            assert_eq!(p1.ifnames(), ["lo"]);
            assert_eq!(p2.ifnames(), ["lo"]);
            assert_eq!(held(&data), Vec::<String>::new());
        });
    }
}

/// IPAM's reservations in `data` for network `t`.
fn held(data: &TempDir) -> Vec<String> {
    ipam_files(data, "t")
        .into_iter()
        .filter(|f| f.starts_with("10."))
        .collect()
}

/// Each mode and an MTU reach the kernel; CHECK passes, and fails on
/// another mode, on another master, on a gone interface and after DEL,
/// with the reference's messages (the master's: ours alone checks it).
#[test]
fn modes_and_mtu_reach_the_kernel_and_check_sees_a_wrong_mode_or_master() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        veth_master("mst1", 1500);
        let data = TempDir::new("ipam");
        for (mode, other) in [("l2", "l3"), ("l3", "l3s"), ("l3s", "l2")] {
            let net = Network::new(
                conf(json!({"mode": mode, "mtu": 1400}), Some(&data)),
                our_path(),
            );
            let pod = Pod::new("p1");
            let id = format!("c-{mode}");
            let o =
                net.run(&Call::on("add", &pod, &id, "net1").args(
                    "IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u",
                ));
            o.expect_ok();
            let l = pod.link("net1");
            assert_eq!(l["linkinfo"]["info_kind"], "ipvlan", "{l}");
            assert_eq!(l["linkinfo"]["info_data"]["mode"], mode, "{l}");
            assert_eq!(l["mtu"], 1400, "{l}");
            assert_eq!(l["address"], mac_of("mst0"), "{l}");
            assert!(
                l["flags"]
                    .as_array()
                    .is_some_and(|f| f.contains(&json!("UP"))),
                "{l}"
            );
            assert_eq!(
                pod.ip_json(&["-4", "addr", "show", "net1"])[0]["addr_info"][0]["local"],
                json!(o.first_ip())
            );
            net.check(&pod, &id, "net1").expect_ok();
            let check_with = |extra: Value| {
                let mut c = conf(json!({"mode": mode, "mtu": 1400}), Some(&data));
                if let (Some(p), Value::Object(e)) = (c["plugins"][0].as_object_mut(), extra) {
                    p.extend(e);
                }
                Network::with_cache_dir(c, our_path(), net.cache_dir()).check(&pod, &id, "net1")
            };
            let wrong = check_with(json!({"mode": other}));
            assert_eq!(wrong.expect_code(), 999, "{wrong}");
            assert_eq!(
                wrong.msg(),
                format!("Container IPVlan mode {mode} does not match expected value: {other}")
            );
            let elsewhere = check_with(json!({"master": "mst1"}));
            assert_eq!(elsewhere.expect_code(), 999, "{elsewhere}");
            assert_eq!(
                elsewhere.msg(),
                "Container interface net1 is not on master \"mst1\""
            );
            // The interface gone behind the runtime's back.
            NetNs::open(pod.path())
                .expect("open the pod")
                .handle()
                .expect("a handle there")
                .link_del("net1")
                .expect("remove net1");
            let gone = net.check(&pod, &id, "net1");
            assert_eq!(gone.expect_code(), 999, "{gone}");
            assert_eq!(
                gone.msg(),
                "Container Interface name in prevResult: net1 not found"
            );
            net.del(&pod, &id, "net1").expect_ok();
            assert_eq!(pod.ifnames(), ["lo"]);
            // After DEL, IPAM's CHECK (first, as the reference's) fails.
            let after = net.check(&pod, &id, "net1");
            assert_eq!(after.expect_code(), 999, "{after}");
            assert_eq!(
                after.msg(),
                format!("host-local: Failed to find address added by container {id}")
            );
        }
        assert_eq!(held(&data), Vec::<String>::new());
    });
}

/// The master is `eth0` and so is CNI_IFNAME, and there is no `master`:
/// the default route's interface. The kernel refuses the one-step creation
/// (the name is taken in the plugin's namespace), so the link is made under
/// a temporary name in the pod and renamed there; nothing of it on the
/// host side. CHECK passes (the reference's cannot, with no `master`).
#[test]
fn a_name_taken_on_the_host_side_and_the_default_route_master() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("eth0", 1500);
        ip(["addr", "add", "192.168.77.1/24", "dev", "eth0"]);
        ip(["route", "add", "default", "via", "192.168.77.254"]);
        let data = TempDir::new("ipam");
        let net = Network::new(conf_without_master(Some(&data)), our_path());
        let pod = Pod::new("p1");
        let o = net.add(&pod, "c1", "eth0");
        o.expect_ok();
        let l = pod.link("eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "ipvlan", "{l}");
        assert_eq!(l["address"], mac_of("eth0"), "{l}");
        assert_eq!(pod.ifnames(), ["eth0", "lo"]);
        assert_eq!(host_ifnames(), ["eth0", "eth0-p", "lo"]);
        net.check(&pod, "c1", "eth0").expect_ok();
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(held(&data), Vec::<String>::new());
    });
}

#[test]
fn link_in_container_finds_the_master_in_the_pod() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        let pod = Pod::new("p1");
        let p = pod.path().to_str().expect("utf-8").to_string();
        ip([
            "link", "add", "inpod0", "type", "veth", "peer", "name", "inpod1",
        ]);
        ip(["link", "set", "inpod0", "netns", &p]);
        let data = TempDir::new("ipam");
        let net = Network::new(
            conf(
                json!({"master": "inpod0", "linkInContainer": true, "mode": "l3"}),
                Some(&data),
            ),
            our_path(),
        );
        // Unknown here, known in the pod.
        net.add(&pod, "c1", "net1").expect_ok();
        let l = pod.link("net1");
        assert_eq!(l["linkinfo"]["info_kind"], "ipvlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "l3", "{l}");
        // Its master is in its own namespace.
        assert!(l.get("link_netnsid").is_none(), "{l}");
        assert_eq!(l["link"], "inpod0", "{l}");
        net.check(&pod, "c1", "net1").expect_ok();
        net.del(&pod, "c1", "net1").expect_ok();
        assert_eq!(pod.ifnames(), ["inpod0", "lo"]);
        assert_eq!(held(&data), Vec::<String>::new());
    });
}

/// DEL: twice, with the interface gone, with the netns gone, with an
/// empty CNI_NETNS, and with the master gone (its ipvlans with it); each
/// succeeds and the address is released.
#[test]
fn del_is_idempotent_and_needs_no_master() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let data = TempDir::new("ipam");
        let net = Network::new(conf(json!({}), Some(&data)), our_path());
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        assert_eq!(held(&data), ["10.78.0.2", "10.78.0.3"]);
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(p1.ifnames(), ["lo"]);
        assert_eq!(held(&data), ["10.78.0.3"]);
        net.del(&p1, "c1", "eth0").expect_ok();
        net.run(&Call::on("del", &p1, "c1", "eth0").netns(p1.path().with_file_name("gone")))
            .expect_ok();
        net.run(&Call::on("del", &p1, "c1", "eth0").no_netns())
            .expect_ok();
        // The master goes, and p2's ipvlan with it.
        ip(["link", "del", "mst0"]);
        assert_eq!(p2.ifnames(), ["lo"]);
        net.del(&p2, "c2", "eth0").expect_ok();
        assert_eq!(held(&data), Vec::<String>::new());
        net.del(&p2, "c2", "eth0").expect_ok();
    });
}

#[test]
fn gc_releases_what_is_not_valid_and_status_is_ok() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let data = TempDir::new("ipam");
        // libcni 1.1.2 reads results up to 1.0.0 only: the pods are added
        // with the 1.0.0 list; GC and STATUS (1.1) go with the same list as
        // 1.1.0, sharing its cache.
        let mut c = conf(json!({}), Some(&data));
        let net = Network::new(&c, our_path());
        c["cniVersion"] = json!("1.1.0");
        let net11 = Network::with_cache_dir(&c, our_path(), net.cache_dir());
        net11.status().expect_ok();
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        assert_eq!(held(&data), ["10.78.0.2", "10.78.0.3"]);
        // The runtime lost c2 (no cached attachment to DEL): only the
        // plugin's GC can release its address.
        let cached = net.cache_dir().join("results").join("t-c2-eth0");
        std::fs::remove_file(&cached).expect("drop c2 from libcni's cache");
        net11.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(held(&data), ["10.78.0.2"]);
        net.check(&p1, "c1", "eth0").expect_ok();
        // STATUS goes to IPAM: a range it cannot read fails it.
        let mut bad = c.clone();
        bad["plugins"][0]["ipam"]["subnet"] = json!("10.78.0.0/99");
        let o = Network::new(&bad, our_path()).status();
        assert_eq!(
            (o.expect_code(), o.msg()),
            (999, "invalid CIDR address: 10.78.0.0/99".into()),
            "{o}"
        );
        net11.status().expect_ok();
    });
}

#[test]
fn bad_input_fails_with_clear_messages_and_changes_nothing() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1400);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p1");
        let with_ipam = |extra: Value| conf(extra, Some(&data));
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                with_ipam(json!({"master": "nope0"})),
                "eth0",
                "failed to lookup master \"nope0\": Link not found",
            ),
            (
                with_ipam(json!({"mtu": 1500})),
                "eth0",
                "invalid MTU 1500, must be [0, master MTU(1400)]",
            ),
            (
                with_ipam(json!({"mtu": -1})),
                "eth0",
                "invalid MTU -1, must be [0, master MTU(1400)]",
            ),
            (
                with_ipam(json!({"mode": "l4"})),
                "eth0",
                "unknown ipvlan mode: \"l4\"",
            ),
            (
                with_ipam(json!({"mode": "L2"})),
                "eth0",
                "unknown ipvlan mode: \"L2\"",
            ),
            (
                with_ipam(json!({})),
                "lo",
                "failed to rename ipvlan to \"lo\": file exists",
            ),
            (
                conf_without_master(Some(&data)),
                "eth0",
                "no default route interface found",
            ),
            // No IPAM and not chained: the reference's message (Go's
            // invoke.FindInPath for an empty type).
            (conf(json!({}), None), "eth0", "no plugin name provided"),
        ];
        for (c, ifname, msg) in &cases {
            let net = Network::new(c, our_path());
            let before = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
            let o = net.add(&pod, "c1", ifname);
            assert_eq!(o.expect_code(), 999, "{o}");
            assert_eq!(o.msg(), *msg, "{o}");
            let after = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
            let mut t = Tokens::new();
            assert_same(
                "host side",
                &before.0.normalised(&mut t).as_value(),
                &after.0.normalised(&mut t).as_value(),
            );
            assert_same(
                "pod",
                &before.1.normalised(&mut t).as_value(),
                &after.1.normalised(&mut t).as_value(),
            );
            assert_eq!(before.2, after.2, "IPAM files");
        }
    });
}
