//! netns-macvlan under libcni (the project's driver), on the host and in
//! the VM tier: the master is one end of a veth pair in the test's private
//! namespace (the host kernel has no dummy). Two pods on one master talk
//! TCP in bridge mode; the modes, MTU and MAC reach the kernel; L2 only
//! (no IPAM); `linkInContainer`; an interface name taken on the host side
//! (the master's own) works; CHECK, idempotent DEL, GC, STATUS; bad input
//! fails with the reference's message and changes nothing.

mod cni_common;

use cni_common::*;
use netns_core::NetNs;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

fn conf(extra: Value, data: Option<&TempDir>) -> Value {
    let mut p = json!({"type": "netns-macvlan", "master": "mst0"});
    if let Some(d) = data {
        p["ipam"] = json!({"type": "host-local", "subnet": "10.78.0.0/24", "dataDir": d.s()});
    }
    one_plugin_list(p, extra)
}

/// Up with carrier (flags: a macvlan's operstate is UNKNOWN on 6.1 until
/// the link watch runs, UP on 6.18).
fn is_up(l: &Value) -> bool {
    let flags = l["flags"].as_array().cloned().unwrap_or_default();
    flags.contains(&json!("UP")) && flags.contains(&json!("LOWER_UP"))
}

/// A TCP connection from `from` to a listener on `to_ip` in `to` works.
fn reaches(from: &Pod, to: &Pod, to_ip: &str, from_ip: &str) {
    from.connects(&to.listen(to_ip.parse().expect("an address")), from_ip);
}

#[test]
fn two_pods_on_one_master_talk_tcp_then_del_is_idempotent() {
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let data = TempDir::new("ipam");
        let net = Network::new(conf(json!({}), Some(&data)), our_path());
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
        let l = p1.link("eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["mode"], "bridge", "{l}");
        assert_eq!(l["address"], r["interfaces"][0]["mac"], "{l}");
        assert!(is_up(&l), "{l}");
        // Nothing of it on the host side.
        assert_eq!(
            netns_testutil::ifnames(&netns_testutil::ip_json(["link", "show"])),
            ["lo", "mst0", "mst0-p"]
        );
        reaches(&p1, &p2, &a2.first_ip(), &a1.first_ip());
        reaches(&p2, &p1, &a1.first_ip(), &a2.first_ip());
        net.check(&p1, "c1", "eth0").expect_ok();
        net.check(&p2, "c2", "eth0").expect_ok();
        // CHECK sees a changed interface.
        let _ = NetNs::open(p2.path())
            .expect("open")
            .handle()
            .expect("handle")
            .link_del("eth0");
        assert_eq!(net.check(&p2, "c2", "eth0").expect_code(), 999);
        // DEL: twice, with the interface gone, with the netns gone, without
        // a netns.
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(p1.ifnames(), ["lo"]);
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
        net.run(&Call::on("del", &p2, "c2", "eth0").netns(p2.path().with_file_name("gone")))
            .expect_ok();
        net.run(&Call::on("del", &p2, "c2", "eth0").no_netns())
            .expect_ok();
        assert!(
            ipam_files(&data, "t").iter().all(|f| !f.starts_with("10.")),
            "{:?}",
            ipam_files(&data, "t")
        );
    });
}

#[test]
fn del_needs_neither_the_master_nor_the_interface() {
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let data = TempDir::new("ipam");
        let net = Network::new(conf(json!({}), Some(&data)), our_path());
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        // The master goes, and its macvlans with it.
        ip(["link", "del", "mst0"]);
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(net.check(&pod, "c1", "eth0").expect_code(), 999);
        net.del(&pod, "c1", "eth0").expect_ok();
        assert!(
            ipam_files(&data, "t").iter().all(|f| !f.starts_with("10.")),
            "{:?}",
            ipam_files(&data, "t")
        );
    });
}

#[test]
fn modes_mtu_and_mac_reach_the_kernel() {
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let mst_mac = netns_testutil::ip_json(["link", "show", "mst0"])[0]["address"].clone();
        for mode in ["bridge", "private", "vepa", "passthru"] {
            let net = Network::new(conf(json!({"mode": mode, "mtu": 1400}), None), our_path());
            let pod = Pod::new("p1");
            let id = format!("c-{mode}");
            let call =
                Call::on("add", &pod, &id, "net1").args("IgnoreUnknown=1;MAC=0a:58:0a:4e:00:09");
            let o = net.run(&call);
            o.expect_ok();
            let l = pod.link("net1");
            assert_eq!(l["linkinfo"]["info_data"]["mode"], mode, "{l}");
            assert_eq!(l["mtu"], 1400, "{l}");
            // passthru takes the master's MAC whatever was asked (the
            // kernel's rule; the result says what the link has).
            let want = if mode == "passthru" {
                mst_mac.clone()
            } else {
                json!("0a:58:0a:4e:00:09")
            };
            assert_eq!(l["address"], want, "{l}");
            assert_eq!(o.result()["interfaces"][0]["mac"], want);
            // L2 only: up, no address, nothing but interfaces in the result.
            assert!(is_up(&l), "{l}");
            assert!(o.result().get("ips").is_none(), "{}", o.result());
            assert_eq!(pod.ip_json(&["-4", "addr", "show", "net1"]), json!([]));
            net.check(&pod, &id, "net1").expect_ok();
            net.del(&pod, &id, "net1").expect_ok();
            assert_eq!(pod.ifnames(), ["lo"]);
        }
    });
}

#[test]
fn a_name_taken_on_the_host_side_and_the_default_route_master() {
    in_private_netns(|| {
        // The master is `eth0` and so is CNI_IFNAME; no `master`: the
        // default route's interface.
        veth_master("eth0", 1500);
        ip(["addr", "add", "192.168.77.1/24", "dev", "eth0"]);
        ip(["route", "add", "default", "via", "192.168.77.254"]);
        let mut c = conf(json!({}), None);
        c["plugins"][0]
            .as_object_mut()
            .expect("a plugin")
            .remove("master");
        let net = Network::new(c, our_path());
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        let l = pod.link("eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert_eq!(
            netns_testutil::ifnames(&netns_testutil::ip_json(["link", "show"])),
            ["eth0", "eth0-p", "lo"]
        );
        net.check(&pod, "c1", "eth0").expect_ok();
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(pod.ifnames(), ["lo"]);
    });
}

#[test]
fn link_in_container_finds_the_master_in_the_pod() {
    in_private_netns(|| {
        let pod = Pod::new("p1");
        let p = pod.path().to_str().expect("utf-8").to_string();
        ip([
            "link", "add", "inpod0", "type", "veth", "peer", "name", "inpod1",
        ]);
        ip(["link", "set", "inpod0", "netns", &p]);
        let net = Network::new(
            conf(json!({"master": "inpod0", "linkInContainer": true}), None),
            our_path(),
        );
        // Unknown here, known in the pod.
        net.add(&pod, "c1", "net1").expect_ok();
        let l = pod.link("net1");
        assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
        assert!(l.get("link_netnsid").is_none(), "{l}");
        net.check(&pod, "c1", "net1").expect_ok();
        net.del(&pod, "c1", "net1").expect_ok();
        assert_eq!(pod.ifnames(), ["inpod0", "lo"]);
    });
}

#[test]
fn gc_releases_what_is_not_valid_and_status_is_ok() {
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
        let held = |d: &TempDir| {
            ipam_files(d, "t")
                .into_iter()
                .filter(|f| f.starts_with("10."))
                .collect::<Vec<_>>()
        };
        assert_eq!(held(&data), ["10.78.0.2", "10.78.0.3"]);
        // The runtime lost c2 (no cached attachment to DEL): only the
        // plugin's GC can release its address.
        let cached = net.cache_dir().join("results").join("t-c2-eth0");
        std::fs::remove_file(&cached).expect("drop c2 from libcni's cache");
        net11.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(held(&data), ["10.78.0.2"]);
        net.check(&p1, "c1", "eth0").expect_ok();
    });
}

#[test]
fn bad_input_fails_as_the_reference_and_changes_nothing() {
    in_private_netns(|| {
        veth_master("mst0", 1400);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p1");
        let cases: &[(Value, &str, &str)] = &[
            (json!({"master": "nope0"}), "eth0", "Link not found"),
            (
                json!({"mtu": 1500}),
                "eth0",
                "invalid MTU 1500, must be [0, master MTU(1400)]",
            ),
            (
                json!({"mtu": -1}),
                "eth0",
                "invalid MTU -1, must be [0, master MTU(1400)]",
            ),
            (
                json!({"mode": "source"}),
                "eth0",
                "unknown macvlan mode: \"source\"",
            ),
            (
                json!({}),
                "lo",
                "failed to rename macvlan to \"lo\": file exists",
            ),
        ];
        for (extra, ifname, msg) in cases {
            let net = Network::new(conf(extra.clone(), Some(&data)), our_path());
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
        // No master at all: no default route.
        let mut c = conf(json!({}), None);
        c["plugins"][0]
            .as_object_mut()
            .expect("a plugin")
            .remove("master");
        let o = Network::new(c, our_path()).add(&pod, "c1", "eth0");
        assert_eq!(o.msg(), "no default route interface found", "{o}");
        assert_eq!(pod.ifnames(), ["lo"]);
    });
}
