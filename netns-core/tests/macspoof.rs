//! netns-core's MAC spoof check ([`MacSpoofCheck`]): the layout it writes,
//! judged by `nft -j` and `nft -c`; real Ethernet frames through a bridge
//! between namespaces the test made (a pod's frames with a source MAC not
//! its own never reach its neighbour, its genuine ones do; a pod whose MAC
//! was changed is cut off); exact removal (the ruleset compared whole with
//! what was there before); bad input refused with nothing written.

use std::os::fd::OwnedFd;

use netns_core::{Handle, LinkSpec, MacAddr, MacSpoofCheck, NatOwner, NetNs, NetnsDir, NftFamily};
use netns_testutil::frames::{packet_socket_here, receive_until, send_frames_on};
use netns_testutil::nft::{nft, nft_accepts, ruleset};
use netns_testutil::{in_private_netns, TempNetnsDir};
use serde_json::{json, Value};

/// The objects of table `bridge netns-macspoof` (table, map, chains,
/// rules) as `nft -j` prints them, without handles.
fn table() -> Vec<Value> {
    let mut objs: Vec<Value> = ruleset()
        .into_iter()
        .filter(|o| {
            o.as_object()
                .and_then(|m| m.values().next())
                .is_some_and(|v| {
                    v["family"] == "bridge"
                        && (v["table"] == "netns-macspoof" || v["name"] == "netns-macspoof")
                })
        })
        .collect();
    for o in &mut objs {
        if let Some(v) = o.as_object_mut().and_then(|m| m.values_mut().next()) {
            if let Some(m) = v.as_object_mut() {
                m.remove("handle");
            }
        }
    }
    objs
}

fn mac(s: &str) -> MacAddr {
    s.parse().expect("a MAC")
}

/// The table nft prints back is one nft itself accepts (`nft -c -f`).
fn nft_accepts_what_it_prints() {
    nft_accepts(&nft(&["list", "table", "bridge", "netns-macspoof"]));
}

#[test]
fn the_layout_is_what_the_docs_say_and_removal_is_exact() {
    in_private_netns(|| {
        let before = ruleset();
        let sc = MacSpoofCheck::new().expect("a netfilter socket");
        let a = NatOwner::new("net1", "c1", "eth0");
        let b = NatOwner::new("net1", "c2", "eth0");
        sc.add(&a, "veth0a", mac("02:42:0a:00:00:02"))
            .expect("add a");
        sc.add(&b, "veth0b", mac("02:42:0a:00:00:03"))
            .expect("add b");
        nft_accepts_what_it_prints();
        let objs = table();
        let chain_a = sc
            .list()
            .expect("list")
            .into_iter()
            .find(|e| e.owner == "net1 c1 eth0")
            .expect("a's entry");
        assert_eq!(chain_a.ports, ["veth0a"]);
        assert_eq!(chain_a.rule.as_deref(), Some("only 02:42:0a:00:00:02"));
        assert!(chain_a.chain.starts_with("mac-"), "{}", chain_a.chain);
        let find = |kind: &str, name: &str| -> Value {
            objs.iter()
                .filter_map(|o| o.get(kind))
                .find(|v| v["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("no {kind} {name} in {objs:#?}"))
        };
        assert_eq!(
            find("chain", "prerouting"),
            json!({"family": "bridge", "table": "netns-macspoof", "name": "prerouting",
                   "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"})
        );
        let map = find("map", "ports");
        assert_eq!(map["type"], "ifname", "{map}");
        assert_eq!(map["map"], "verdict", "{map}");
        let mut elems = map["elem"].as_array().cloned().unwrap_or_default();
        elems.sort_by_key(|e| e[0].to_string());
        assert_eq!(elems.len(), 2, "{map}");
        assert_eq!(elems[0][0], "veth0a");
        assert_eq!(elems[0][1], json!({"jump": {"target": chain_a.chain}}));
        let rules: Vec<&Value> = objs.iter().filter_map(|o| o.get("rule")).collect();
        let base: Vec<&&Value> = rules
            .iter()
            .filter(|r| r["chain"] == "prerouting")
            .collect();
        assert_eq!(base.len(), 1, "{rules:#?}");
        assert_eq!(
            base[0]["expr"],
            json!([{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@ports"}}])
        );
        let mine: Vec<&&Value> = rules
            .iter()
            .filter(|r| r["chain"] == chain_a.chain.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "{rules:#?}");
        assert_eq!(
            mine[0]["expr"],
            json!([
                {"match": {"op": "!=", "left": {"payload": {"protocol": "ether", "field": "saddr"}}, "right": "02:42:0a:00:00:02"}},
                {"drop": null}
            ])
        );
        assert_eq!(mine[0]["comment"], "only 02:42:0a:00:00:02");
        // nft -j leaves chain comments out; its text has them.
        let text = nft(&["list", "chain", "bridge", "netns-macspoof", &chain_a.chain]);
        assert!(text.contains("comment \"net1 c1 eth0\""), "{text}");

        // CHECK: all there, then what differs.
        assert_eq!(
            sc.mismatches(&a, "veth0a", mac("02:42:0a:00:00:02"))
                .expect("check"),
            Vec::<String>::new()
        );
        let wrong = sc
            .mismatches(&a, "veth0b", mac("02:42:0a:00:00:09"))
            .expect("check");
        assert_eq!(wrong.len(), 3, "{wrong:?}");
        let gone = NatOwner::new("net1", "c9", "eth0");
        assert_eq!(
            sc.mismatches(&gone, "veth0c", mac("02:42:0a:00:00:02"))
                .expect("check")
                .len(),
            2
        );

        // An ADD again replaces; a port another owner checks is refused.
        sc.add(&a, "veth0a", mac("02:42:0a:00:00:12"))
            .expect("add a again");
        assert_eq!(
            sc.mismatches(&a, "veth0a", mac("02:42:0a:00:00:12"))
                .expect("check"),
            Vec::<String>::new()
        );
        let c = NatOwner::new("net1", "c3", "eth0");
        let before_c = ruleset();
        let e = sc
            .add(&c, "veth0b", mac("02:42:0a:00:00:04"))
            .expect_err("b's port");
        assert!(e.is_exists(), "{e}");
        assert_eq!(ruleset(), before_c, "a refused add writes nothing");

        // Removal is exact, twice is fine, the last owner takes the table.
        assert!(sc.remove(&a).expect("remove a"));
        assert!(!sc.remove(&a).expect("remove a again"));
        let left = table();
        assert!(left.iter().any(|o| o.get("map").is_some()), "{left:#?}");
        assert_eq!(sc.list().expect("list").len(), 1);
        assert!(sc.remove(&b).expect("remove b"));
        assert_eq!(ruleset(), before, "the table goes with its last owner");
        assert!(!sc.remove(&b).expect("no table"));
        assert_eq!(sc.list().expect("list"), vec![]);
    });
}

#[test]
fn gc_removes_the_owners_of_a_network_not_valid_and_no_other() {
    in_private_netns(|| {
        let sc = MacSpoofCheck::new().expect("a netfilter socket");
        let keep = NatOwner::new("net1", "c1", "eth0");
        let lost = NatOwner::new("net1", "c2", "eth0");
        let other = NatOwner::new("net2", "c2", "eth0");
        sc.add(&keep, "v1", mac("02:00:00:00:00:01")).expect("keep");
        sc.add(&lost, "v2", mac("02:00:00:00:00:02")).expect("lost");
        sc.add(&other, "v3", mac("02:00:00:00:00:03"))
            .expect("other");
        assert_eq!(sc.gc("net1", std::slice::from_ref(&keep)).expect("gc"), 1);
        let owners: Vec<String> = sc
            .list()
            .expect("list")
            .into_iter()
            .map(|e| e.owner)
            .collect();
        assert_eq!(owners.len(), 2);
        assert!(owners.contains(&"net1 c1 eth0".to_string()), "{owners:?}");
        assert!(owners.contains(&"net2 c2 eth0".to_string()), "{owners:?}");
        assert_eq!(
            sc.gc("net1", std::slice::from_ref(&keep))
                .expect("gc again"),
            0
        );
        assert_eq!(sc.gc("net1", &[]).expect("gc all"), 1);
        assert_eq!(sc.gc("net2", &[]).expect("gc net2"), 1);
        let gone = sc.nft().tables().expect("tables");
        assert!(
            !gone
                .iter()
                .any(|t| t.family == NftFamily::Bridge && t.name == "netns-macspoof"),
            "{gone:?}"
        );
    });
}

#[test]
fn bad_input_is_refused_with_nothing_written() {
    in_private_netns(|| {
        let before = ruleset();
        let sc = MacSpoofCheck::new().expect("a netfilter socket");
        let o = NatOwner::new("net1", "c1", "eth0");
        for port in ["", "0123456789abcdef", "a\0b"] {
            let e = sc.add(&o, port, mac("02:00:00:00:00:01")).expect_err(port);
            assert!(e.is_invalid_argument(), "{e}");
            assert!(e.to_string().contains("1 to 15 bytes"), "{e}");
        }
        assert_eq!(ruleset(), before);
    });
}

/// A packet socket bound to `ifname` of `ns` (opened there).
fn packet_socket(ns: &NetNs, ifname: &str) -> OwnedFd {
    let ifname = ifname.to_owned();
    ns.run(move || packet_socket_here(&ifname))
        .expect("run in the namespace")
}

/// Send, from `ns`'s `ifname`, one broadcast frame per `(source MAC, tag)`,
/// in order ([`send_frames_on`]).
fn send_frames(ns: &NetNs, ifname: &str, frames: &[([u8; 6], u8)]) {
    send_frames_on(&packet_socket(ns, ifname), frames);
}

/// Bridge `br0` up in this namespace with pods `a` and `b`, each an `eth0`
/// whose host end (`v-a`, `v-b`) is a port; returns the pods and their MACs.
fn bridge_with_two_pods(dir: &NetnsDir) -> (NetNs, NetNs, MacAddr) {
    let a = dir.create("a").expect("a");
    let b = dir.create("b").expect("b");
    let h = Handle::new().expect("a handle");
    h.link_add(&LinkSpec::bridge("br0")).expect("bridge");
    let br = h.link_get("br0").expect("br0").index;
    h.link_set_up(br).expect("up");
    let mut macs = Vec::new();
    for (ns, host) in [(&a, "v-a"), (&b, "v-b")] {
        h.link_add(&LinkSpec::veth(host, "eth0").peer_netns(ns))
            .expect("veth");
        let me = h.link_get(host).expect("host end").index;
        h.link_set_controller(me, br).expect("into the bridge");
        h.link_set_up(me).expect("up");
        let o = ns.handle().expect("a handle there");
        let e = o.link_get("eth0").expect("eth0");
        o.link_set_up(e.index).expect("up");
        macs.push(e.mac.expect("a MAC"));
    }
    (a, b, macs[0])
}

#[test]
fn forged_source_macs_never_reach_the_neighbour_and_genuine_ones_do() {
    in_private_netns(|| {
        let before = ruleset();
        let tmp = TempNetnsDir::new();
        let dir = NetnsDir::new(tmp.path());
        let (a, b, a_mac) = bridge_with_two_pods(&dir);
        let forged = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
        let at_b = packet_socket(&b, "eth0");

        // Without the check, a forged frame passes.
        send_frames(&a, "eth0", &[(forged, 1), (a_mac.0, 2)]);
        assert_eq!(receive_until(&at_b, 2), [(forged, 1), (a_mac.0, 2)]);

        let sc = MacSpoofCheck::new().expect("a netfilter socket");
        let owner = NatOwner::new("t", "a", "eth0");
        sc.add(&owner, "v-a", a_mac).expect("check a");
        // Forged frames sent before and between genuine ones: only the
        // genuine ones arrive.
        send_frames(
            &a,
            "eth0",
            &[
                (forged, 3),
                (a_mac.0, 4),
                (forged, 5),
                (forged, 6),
                (a_mac.0, 7),
            ],
        );
        assert_eq!(receive_until(&at_b, 7), [(a_mac.0, 4), (a_mac.0, 7)]);
        // b is not checked: its frames with any source pass.
        let at_a = packet_socket(&a, "eth0");
        send_frames(&b, "eth0", &[(forged, 8)]);
        assert_eq!(receive_until(&at_a, 8), [(forged, 8)]);

        // The pod changes its own MAC (`ip link set address`): everything
        // it sends with the new one is dropped.
        let new_mac = MacAddr([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        let ah = a.handle().expect("a handle in a");
        ah.link_set_mac("eth0", new_mac).expect("new MAC");
        send_frames(&a, "eth0", &[(new_mac.0, 9), (a_mac.0, 10)]);
        assert_eq!(receive_until(&at_b, 10), [(a_mac.0, 10)]);

        // Removed, the pod's frames pass again, and nothing is left.
        assert!(sc.remove(&owner).expect("remove"));
        send_frames(&a, "eth0", &[(new_mac.0, 11)]);
        assert_eq!(receive_until(&at_b, 11), [(new_mac.0, 11)]);
        let h = Handle::new().expect("a handle");
        h.link_del("br0").expect("bridge gone");
        assert_eq!(ruleset(), before);
    });
}
