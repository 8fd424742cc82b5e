//! netns-vlan under libcni (the project's driver), in the VM tier: the
//! trunk (the master) is one end of a veth pair in the test's private
//! namespace; its far end is in a "switch" namespace whose 802.1q
//! sub-interfaces for VLANs 10 and 20 are each moved into a router
//! namespace of their own, both routers at the same address (10.79.0.1):
//! a pod on VLAN 10 reaches VLAN 10's router over TCP, a pod on VLAN 20
//! VLAN 20's, by the tag alone. The VLAN id and MTU reach the kernel; L2
//! only (no IPAM); `linkInContainer`; an interface name taken on the host
//! side (the master's own); CHECK, a CHECK with another VLAN id, idempotent
//! DEL, DEL without the master, GC, STATUS; bad input fails with a clear
//! message and changes nothing.
//!
//! The host kernel lacks 802.1q: each test prints a SKIP there (in the VM,
//! a failure), after the host run built the driver for the VM tier.

mod cni_common;

use cni_common::*;
use netns_core::{AddrSpec, Handle, LinkChanges, LinkSpec, NetNs};
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

/// The routers' address, on both VLANs.
const ROUTER: &str = "10.79.0.1";

/// Whether the tests can run here: the driver and our plugin (or a
/// failure saying what is missing), then the kernel's 802.1q (a printed
/// SKIP without it; in the VM, a failure).
fn ready() -> bool {
    driver();
    our_plugin("netns-vlan");
    kernel_makes("802.1q VLAN links", |h, m| {
        h.link_add(&LinkSpec::vlan("probe.10", m, 10))
    })
}

fn handle_of(pod: &Pod) -> Handle {
    NetNs::open(pod.path())
        .expect("open the namespace")
        .handle()
        .expect("a netlink socket in it")
}

/// The far end of trunk `mst0`: its peer in a switch namespace, with a
/// sub-interface per VLAN of `vlans` moved into a router namespace of its
/// own at [`ROUTER`]/24. Returns the switch and the routers.
fn far_end(vlans: &[u16]) -> (Pod, Vec<Pod>) {
    let sw = Pod::new("switch");
    let here = Handle::new().expect("a netlink socket");
    let sw_ns = NetNs::open(sw.path()).expect("the switch");
    here.link_set(
        "mst0-p",
        &LinkChanges {
            netns: Some(&sw_ns),
            ..Default::default()
        },
    )
    .expect("the trunk's end into the switch");
    let swh = handle_of(&sw);
    swh.link_set_up("mst0-p").expect("up");
    let routers = vlans
        .iter()
        .map(|id| {
            let r = Pod::new(&format!("r{id}"));
            let r_ns = NetNs::open(r.path()).expect("the router");
            let name = format!("mst0-p.{id}");
            swh.link_add(&LinkSpec::vlan(name.as_str(), "mst0-p", *id).netns(&r_ns))
                .expect("the VLAN's sub-interface in its router");
            let rh = handle_of(&r);
            let l = rh.link_get(name.as_str()).expect("in the router");
            rh.addr_add(&AddrSpec::new(
                l.index,
                format!("{ROUTER}/24").parse().expect("a prefix"),
            ))
            .expect("the router's address");
            rh.link_set_up(l.index).expect("up");
            rh.link_set_up("lo").expect("lo up");
            r
        })
        .collect();
    (sw, routers)
}

fn conf(extra: Value, data: Option<&TempDir>) -> Value {
    let mut p = json!({"type": "netns-vlan", "master": "mst0", "vlanId": 10});
    if let Some(d) = data {
        p["ipam"] = json!({"type": "host-local", "subnet": "10.79.0.0/24",
                           "rangeStart": "10.79.0.10", "dataDir": d.s()});
    }
    one_plugin_list(p, extra)
}

/// A TCP connection from `from` to [`ROUTER`] lands in `router`, from the
/// address `from_ip`.
fn reaches_router(from: &Pod, router: &Pod, from_ip: &str) {
    from.connects(&router.listen(ROUTER.parse().expect("an address")), from_ip);
}

fn no_reservations(data: &TempDir) {
    let files = ipam_files(data, "t");
    assert!(files.iter().all(|f| !f.starts_with("10.")), "{files:?}");
}

#[test]
fn each_vlan_reaches_its_own_router_then_del_is_idempotent() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let (_sw, routers) = far_end(&[10, 20]);
        let (d10, d20) = (TempDir::new("ipam10"), TempDir::new("ipam20"));
        let net10 = Network::new(conf(json!({}), Some(&d10)), our_path());
        let net20 = Network::new(conf(json!({"vlanId": 20}), Some(&d20)), our_path());
        let (p10, p20) = (Pod::new("p10"), Pod::new("p20"));
        let a10 = net10.add(&p10, "c10", "net1");
        a10.expect_ok();
        let a20 = net20.add(&p20, "c20", "net1");
        a20.expect_ok();
        check_result(a10.result(), &p10);
        let r = a10.result();
        assert_eq!(r["interfaces"].as_array().map(Vec::len), Some(1), "{r}");
        assert_eq!(r["interfaces"][0]["sandbox"], json!(p10.path().to_str()));
        assert_eq!(r["ips"][0]["interface"], json!(0));
        let l = p10.link("net1");
        assert_eq!(l["linkinfo"]["info_kind"], "vlan", "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["id"], 10, "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["protocol"], "802.1Q", "{l}");
        assert_eq!(l["address"], r["interfaces"][0]["mac"], "{l}");
        assert_eq!(p20.link("net1")["linkinfo"]["info_data"]["id"], 20);
        // Nothing of them on the host side.
        assert_eq!(
            netns_testutil::ifnames(&netns_testutil::ip_json(["link", "show"])),
            ["lo", "mst0"]
        );
        // The same address on both VLANs, and the same pod address (each
        // network has its own range): the tag decides.
        assert_eq!(a10.first_ip(), a20.first_ip());
        reaches_router(&p10, &routers[0], &a10.first_ip());
        reaches_router(&p20, &routers[1], &a20.first_ip());
        net10.check(&p10, "c10", "net1").expect_ok();
        net20.check(&p20, "c20", "net1").expect_ok();
        // DEL: twice, with the netns gone, without a netns.
        net10.del(&p10, "c10", "net1").expect_ok();
        assert_eq!(p10.ifnames(), ["lo"]);
        net10.del(&p10, "c10", "net1").expect_ok();
        net20.del(&p20, "c20", "net1").expect_ok();
        net20
            .run(&Call::on("del", &p20, "c20", "net1").netns(p20.path().with_file_name("gone")))
            .expect_ok();
        net20
            .run(&Call::on("del", &p20, "c20", "net1").no_netns())
            .expect_ok();
        no_reservations(&d10);
        no_reservations(&d20);
    });
}

#[test]
fn mtu_l2_only_and_check_of_the_vlan_id() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        // L2 only: up, no address, nothing but the interface in the result.
        let net = Network::new(conf(json!({"vlanId": 4094, "mtu": 1400}), None), our_path());
        let pod = Pod::new("p1");
        let o = net.add(&pod, "c1", "net1");
        o.expect_ok();
        let l = pod.link("net1");
        assert_eq!(l["mtu"], 1400, "{l}");
        assert_eq!(l["linkinfo"]["info_data"]["id"], 4094, "{l}");
        let flags = l["flags"].as_array().cloned().unwrap_or_default();
        assert!(flags.contains(&json!("UP")), "{l}");
        assert!(o.result().get("ips").is_none(), "{}", o.result());
        assert_eq!(pod.ip_json(&["-4", "addr", "show", "net1"]), json!([]));
        net.check(&pod, "c1", "net1").expect_ok();
        // The same attachment checked against another VLAN id or MTU.
        for (other, msg) in [
            (
                json!({"vlanId": 4093, "mtu": 1400}),
                "Error: link net1 configured VLAN id is 4093, current value is 4094",
            ),
            (
                json!({"vlanId": 4094, "mtu": 1300}),
                "Error: Tuning configured MTU of net1 is 1300, current value is 1400",
            ),
        ] {
            let wrong = Network::with_cache_dir(conf(other, None), our_path(), net.cache_dir());
            let c = wrong.check(&pod, "c1", "net1");
            assert_eq!(c.expect_code(), 999, "{c}");
            assert_eq!(c.msg(), msg);
        }
        net.del(&pod, "c1", "net1").expect_ok();
        assert_eq!(pod.ifnames(), ["lo"]);
    });
}

#[test]
fn del_without_the_master_succeeds() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1500);
        let data = TempDir::new("ipam");
        let net = Network::new(conf(json!({}), Some(&data)), our_path());
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        // The trunk goes, and its VLAN links with it.
        ip(["link", "del", "mst0"]);
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(net.check(&pod, "c1", "eth0").expect_code(), 999);
        net.del(&pod, "c1", "eth0").expect_ok();
        no_reservations(&data);
    });
}

#[test]
fn a_name_taken_on_the_host_side() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        // The trunk is `eth0` and so is CNI_IFNAME.
        veth_master("eth0", 1500);
        let net = Network::new(conf(json!({"master": "eth0"}), None), our_path());
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        let l = pod.link("eth0");
        assert_eq!(l["linkinfo"]["info_kind"], "vlan", "{l}");
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
        // A VLAN link goes up only on a master that is up.
        handle_of(&pod)
            .link_set_up("inpod0")
            .expect("the master up");
        let net = Network::new(
            conf(json!({"master": "inpod0", "linkInContainer": true}), None),
            our_path(),
        );
        // Unknown here, known in the pod.
        net.add(&pod, "c1", "net1").expect_ok();
        let l = pod.link("net1");
        assert_eq!(l["linkinfo"]["info_kind"], "vlan", "{l}");
        assert!(l.get("link_netnsid").is_none(), "{l}");
        net.check(&pod, "c1", "net1").expect_ok();
        net.del(&pod, "c1", "net1").expect_ok();
        assert_eq!(pod.ifnames(), ["inpod0", "lo"]);
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
        // 1.1.0, sharing its cache. One VLAN link per id on a trunk: the
        // two pods are on VLANs 10 and 11.
        let mut c = conf(json!({}), Some(&data));
        let net = Network::new(&c, our_path());
        let mut c11 = c.clone();
        c11["plugins"][0]["vlanId"] = json!(11);
        let net_11 = Network::with_cache_dir(&c11, our_path(), net.cache_dir());
        c["cniVersion"] = json!("1.1.0");
        let gc = Network::with_cache_dir(&c, our_path(), net.cache_dir());
        gc.status().expect_ok();
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net_11.add(&p2, "c2", "eth0").expect_ok();
        let held = || {
            ipam_files(&data, "t")
                .into_iter()
                .filter(|f| f.starts_with("10."))
                .collect::<Vec<_>>()
        };
        assert_eq!(held(), ["10.79.0.10", "10.79.0.11"]);
        // The runtime lost c2 (no cached attachment to DEL): only the
        // plugin's GC can release its address.
        let cached = net.cache_dir().join("results").join("t-c2-eth0");
        std::fs::remove_file(&cached).expect("drop c2 from libcni's cache");
        gc.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(held(), ["10.79.0.10"]);
        net.check(&p1, "c1", "eth0").expect_ok();
    });
}

#[test]
fn bad_input_fails_clearly_and_changes_nothing() {
    if !ready() {
        return;
    }
    in_private_netns(|| {
        veth_master("mst0", 1400);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p1");
        let range = "(must be between 1 and 4094 inclusive)";
        let cases: &[(Value, &str, String)] = &[
            (json!({"master": "nope0"}), "eth0", "Link not found".into()),
            (
                json!({"master": ""}),
                "eth0",
                "\"master\" field is required. It specifies the host interface name to create \
                 the VLAN for."
                    .into(),
            ),
            (
                json!({"vlanId": 0}),
                "eth0",
                format!("invalid VLAN ID 0 {range}"),
            ),
            (
                json!({"vlanId": 4095}),
                "eth0",
                format!("invalid VLAN ID 4095 {range}"),
            ),
            (
                json!({"mtu": 1500}),
                "eth0",
                "invalid MTU 1500, must be [0, master MTU(1400)]".into(),
            ),
            (
                json!({"vlanId": "ten"}),
                "eth0",
                "failed to load netconf: invalid type: string \"ten\", expected i64".into(),
            ),
            (
                json!({}),
                "lo",
                "failed to rename vlan to \"lo\": file exists".into(),
            ),
        ];
        for (extra, ifname, msg) in cases {
            let net = Network::new(conf(extra.clone(), Some(&data)), our_path());
            let before = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
            let o = net.add(&pod, "c1", ifname);
            assert_eq!(o.expect_code(), 999, "{o}");
            assert_eq!(o.msg(), *msg, "{o}");
            let after = (Snapshot::here(), pod.snapshot(), ipam_files(&data, "t"));
            // Normalised (one Tokens: the same objects get the same names),
            // so what the kernel finishes asynchronously (mst0's IPv6
            // link-local address and its DAD, set up just before) is no
            // difference.
            let mut t = Tokens::new();
            let n = |s: &Snapshot, t: &mut Tokens| s.normalised(t).as_value();
            assert_same("host side", &n(&before.0, &mut t), &n(&after.0, &mut t));
            assert_same("pod", &n(&before.1, &mut t), &n(&after.1, &mut t));
            assert_eq!(before.2, after.2, "{extra}");
        }
    });
}
