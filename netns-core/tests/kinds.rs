//! Link kinds and features the development kernel lacks: 802.1Q/802.1ad
//! VLANs, ipvlan, dummy, bond, vrf, bridge VLAN filtering, and the multi-VLAN
//! scenario. On a kernel without them each test prints why it skips; in the
//! VM tier (.ci/vm, Debian's 6.1 kernel) none may skip.
//!
//! On every kernel the request bytes are also compared with iproute2's
//! (src/link_fixtures.rs).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use netns_core::{
    AddrSpec, BondData, BondMode, BridgeData, BridgeSpec, BridgeVlan, Handle, IpVlanData,
    IpVlanIsolation, IpVlanMode, LinkData, LinkKind, LinkSpec, NetNs, RouteFilter, RouteSpec,
    VlanData, VlanProtocol, VrfData,
};
use netns_testutil::{in_private_netns, ip_json, skip_kernel_lacks};
use serde_json::Value;

/// The result of creating something the kernel may lack: `None` (after a
/// printed skip) if it lacks it.
fn or_skip<T>(what: &str, r: netns_core::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_unsupported() => {
            skip_kernel_lacks(what, &e);
            None
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

fn details(name: &str) -> Value {
    ip_json(["-d", "link", "show", "dev", name])[0].clone()
}

#[test]
fn vlan_8021q_and_8021ad_on_a_veth() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("low0", "low0b")).unwrap();
        let Some(()) = or_skip(
            "802.1q vlan",
            h.link_add(&LinkSpec::vlan("low0.10", "low0", 10)),
        ) else {
            return;
        };
        h.link_add(&LinkSpec::vlan("low0.20", "low0", 20).vlan_protocol(VlanProtocol::Dot1AD))
            .unwrap();
        for (name, id, proto) in [
            ("low0.10", 10, VlanProtocol::Dot1Q),
            ("low0.20", 20, VlanProtocol::Dot1AD),
        ] {
            let j = details(name);
            assert_eq!(j["linkinfo"]["info_kind"], "vlan");
            assert_eq!(j["linkinfo"]["info_data"]["id"], id);
            assert_eq!(j["linkinfo"]["info_data"]["protocol"], proto.to_string());
            assert_eq!(j["link"], "low0");
            let info = h.link_get(name).unwrap();
            assert_eq!(
                info.data,
                LinkData::Vlan(VlanData {
                    id,
                    protocol: proto
                })
            );
            assert_eq!(info.parent, Some(h.link_index("low0").unwrap()));
        }
        // The same id twice on one parent: the kernel refuses.
        let e = h
            .link_add(&LinkSpec::vlan("dup.10", "low0", 10))
            .unwrap_err();
        assert!(e.is_exists(), "{e}");
        // A vlan moved into another namespace keeps its id.
        let other = NetNs::create().unwrap();
        h.link_set_netns("low0.10", &other).unwrap();
        let inside = other.handle().unwrap().link_get("low0.10").unwrap();
        assert_eq!(
            inside.data,
            LinkData::Vlan(VlanData {
                id: 10,
                protocol: VlanProtocol::Dot1Q
            })
        );
    });
}

#[test]
fn ipvlan_l2_and_l3_with_isolation_flags() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        // The mode belongs to the parent: one parent per mode.
        h.link_add(&LinkSpec::veth("pl2", "pl2b")).unwrap();
        h.link_add(&LinkSpec::veth("pl3", "pl3b")).unwrap();
        let Some(()) = or_skip(
            "ipvlan",
            h.link_add(&LinkSpec::ipvlan("ipv-l2", "pl2", IpVlanMode::L2)),
        ) else {
            return;
        };
        h.link_add(
            &LinkSpec::ipvlan("ipv-l3", "pl3", IpVlanMode::L3)
                .ipvlan_isolation(IpVlanIsolation::Private),
        )
        .unwrap();
        let j = details("ipv-l2");
        assert_eq!(j["linkinfo"]["info_kind"], "ipvlan");
        assert_eq!(j["linkinfo"]["info_data"]["mode"], "l2");
        assert_eq!(
            h.link_get("ipv-l2").unwrap().data,
            LinkData::IpVlan(IpVlanData {
                mode: Some(IpVlanMode::L2),
                isolation: IpVlanIsolation::Bridge
            })
        );
        let j = details("ipv-l3");
        assert_eq!(j["linkinfo"]["info_data"]["mode"], "l3");
        assert_eq!(j["linkinfo"]["info_data"]["private"], true, "{j}");
        assert_eq!(
            h.link_get("ipv-l3").unwrap().data,
            LinkData::IpVlan(IpVlanData {
                mode: Some(IpVlanMode::L3),
                isolation: IpVlanIsolation::Private
            })
        );
        // An ipvlan moves into a pod like a macvlan does.
        let pod = NetNs::create().unwrap();
        let made = h
            .link_add_in(&LinkSpec::ipvlan("eth0", "pl2", IpVlanMode::L2), &pod)
            .unwrap();
        assert_eq!(made.kind.as_deref(), Some("ipvlan"));
    });
}

#[test]
fn dummy() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let Some(()) = or_skip("dummy", h.link_add(&LinkSpec::dummy("dum0").mtu(9000).up())) else {
            return;
        };
        let j = details("dum0");
        assert_eq!(j["linkinfo"]["info_kind"], "dummy");
        assert_eq!(j["mtu"], 9000);
        assert!(h.link_get("dum0").unwrap().is_up());
        h.link_del("dum0").unwrap();
        assert!(h.link_get("dum0").unwrap_err().is_not_found());
    });
}

fn bond_ports(name: &str) -> Vec<String> {
    let mut v: Vec<String> = ip_json(["-d", "link", "show", "master", name])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["linkinfo"]["info_slave_kind"], "bond", "{l}");
            l["ifname"].as_str().unwrap().to_owned()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn bond_active_backup_and_8023ad_ports_added_and_removed() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        for mode in [BondMode::ActiveBackup, BondMode::Lacp] {
            let bond = format!(
                "bond-{}",
                if mode == BondMode::Lacp { "lacp" } else { "ab" }
            );
            let mut spec = LinkSpec::bond(bond.as_str(), mode);
            if let LinkKind::Bond(b) = &mut spec.kind {
                b.miimon = Some(100);
            }
            let Some(()) = or_skip("bonding", h.link_add(&spec)) else {
                return;
            };
            let j = details(&bond);
            assert_eq!(j["linkinfo"]["info_kind"], "bond");
            assert_eq!(j["linkinfo"]["info_data"]["mode"], mode.to_string());
            assert_eq!(j["linkinfo"]["info_data"]["miimon"], 100);
            assert_eq!(
                h.link_get(bond.as_str()).unwrap().data,
                LinkData::Bond(BondData { mode: Some(mode) })
            );
            let ports: Vec<String> = (0..2).map(|i| format!("{bond}-p{i}")).collect();
            for p in &ports {
                h.link_add(&LinkSpec::veth(p.as_str(), format!("{p}x")))
                    .unwrap();
                // A port must be down to join a bond.
                h.link_set_controller(p.as_str(), bond.as_str()).unwrap();
            }
            assert_eq!(bond_ports(&bond), ports);
            h.link_set_up(bond.as_str()).unwrap();
            h.link_set_nocontroller(ports[0].as_str()).unwrap();
            assert_eq!(bond_ports(&bond), vec![ports[1].clone()]);
            assert_eq!(h.link_get(ports[0].as_str()).unwrap().controller, None);
            h.link_del(bond.as_str()).unwrap();
            assert_eq!(h.link_get(ports[1].as_str()).unwrap().controller, None);
        }
    });
}

#[test]
fn vrf_with_a_table_an_enslaved_link_and_a_route_in_it() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let Some(()) = or_skip("vrf", h.link_add(&LinkSpec::vrf("vrf-blue", 10).up())) else {
            return;
        };
        let j = details("vrf-blue");
        assert_eq!(j["linkinfo"]["info_kind"], "vrf");
        assert_eq!(j["linkinfo"]["info_data"]["table"], 10);
        assert_eq!(
            h.link_get("vrf-blue").unwrap().data,
            LinkData::Vrf(VrfData { table: Some(10) })
        );
        h.link_add(&LinkSpec::veth("vx0", "vx0b").controller("vrf-blue").up())
            .unwrap();
        h.link_set_up("vx0b").unwrap();
        h.addr_add(&AddrSpec::new("vx0", "10.30.0.1/24".parse().unwrap()))
            .unwrap();
        assert_eq!(details("vx0")["master"], "vrf-blue");
        h.route_add(
            &RouteSpec::new("10.99.0.0/16".parse().unwrap())
                .via("10.30.0.2".parse().unwrap())
                .table(10),
        )
        .unwrap();
        // ip's view of the VRF's table, and ours.
        let theirs = ip_json(["route", "show", "vrf", "vrf-blue"]);
        assert!(
            theirs
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["dst"] == "10.99.0.0/16" && r["gateway"] == "10.30.0.2"),
            "{theirs}"
        );
        let ours = h.routes(&RouteFilter::new().table(10)).unwrap();
        assert!(ours.iter().any(|r| r.dst.to_string() == "10.99.0.0/16"));
        // Not in main.
        let main = h.routes(&RouteFilter::new().table(254)).unwrap();
        assert!(!main.iter().any(|r| r.dst.to_string() == "10.99.0.0/16"));
        // The connected route of an enslaved link lives in the VRF's table.
        assert!(ours.iter().any(|r| r.dst.to_string() == "10.30.0.0/24"));
        assert!(h
            .link_add(&LinkSpec::vrf("vrf-bad", 0))
            .unwrap_err()
            .is_invalid_argument());
    });
}

fn bridge_vlans_by_ip(dev: &str) -> Vec<(u64, bool, bool)> {
    let all = netns_testutil::ip_json_cmd("bridge", ["-j", "vlan", "show", "dev", dev]);
    let mut out = Vec::new();
    for port in all.as_array().unwrap() {
        for v in port["vlans"].as_array().unwrap() {
            let flags = v["flags"].to_string();
            out.push((
                v["vlan"].as_u64().unwrap(),
                flags.contains("PVID"),
                flags.contains("Untagged"),
            ));
        }
    }
    out
}

#[test]
fn bridge_vlan_filtering_ports_pvid_untagged_and_listing() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let filtering = LinkSpec::new(
            "brv0",
            LinkKind::Bridge(BridgeSpec {
                vlan_filtering: Some(true),
            }),
        );
        let Some(()) = or_skip("bridge VLAN filtering", h.link_add(&filtering)) else {
            return;
        };
        assert_eq!(
            h.link_get("brv0").unwrap().data,
            LinkData::Bridge(BridgeData {
                vlan_filtering: Some(true)
            })
        );
        assert_eq!(
            details("brv0")["linkinfo"]["info_data"]["vlan_filtering"],
            1
        );
        h.link_add(&LinkSpec::veth("acc0", "acc0b").controller("brv0"))
            .unwrap();
        h.link_add(&LinkSpec::veth("trk0", "trk0b").controller("brv0"))
            .unwrap();
        // New ports start with the default VLAN 1, pvid untagged.
        assert_eq!(
            h.bridge_vlans_of("acc0").unwrap(),
            vec![BridgeVlan::access(1)]
        );
        h.bridge_vlan_add("acc0", &BridgeVlan::access(10)).unwrap();
        h.bridge_vlan_del("acc0", 1).unwrap();
        h.bridge_vlan_add("trk0", &BridgeVlan::tagged(10)).unwrap();
        h.bridge_vlan_add("trk0", &BridgeVlan::tagged(20)).unwrap();
        h.bridge_vlan_add_self("brv0", &BridgeVlan::tagged(10))
            .unwrap();
        assert_eq!(
            h.bridge_vlans_of("acc0").unwrap(),
            vec![BridgeVlan::access(10)]
        );
        assert_eq!(bridge_vlans_by_ip("acc0"), vec![(10, true, true)]);
        let trunk = h.bridge_vlans_of("trk0").unwrap();
        assert!(
            trunk.contains(&BridgeVlan::tagged(10)) && trunk.contains(&BridgeVlan::tagged(20)),
            "{trunk:?}"
        );
        let theirs = bridge_vlans_by_ip("trk0");
        assert!(
            theirs.contains(&(10, false, false)) && theirs.contains(&(20, false, false)),
            "{theirs:?}"
        );
        assert!(h
            .bridge_vlans_of("brv0")
            .unwrap()
            .contains(&BridgeVlan::tagged(10)));
        // Every port/bridge with VLANs is listed.
        let listed: Vec<u32> = h.bridge_vlans().unwrap().iter().map(|p| p.index).collect();
        for dev in ["brv0", "acc0", "trk0"] {
            assert!(
                listed.contains(&h.link_index(dev).unwrap()),
                "{dev} not in {listed:?}"
            );
        }
        h.bridge_vlan_del("trk0", 20).unwrap();
        assert!(!h
            .bridge_vlans_of("trk0")
            .unwrap()
            .contains(&BridgeVlan::tagged(20)));
        h.bridge_vlan_del_self("brv0", 10).unwrap();
        // Bad ids are refused before anything is sent.
        assert!(h
            .bridge_vlan_add("acc0", &BridgeVlan::tagged(4095))
            .unwrap_err()
            .is_invalid_argument());
        assert!(h
            .bridge_vlan_add("acc0", &BridgeVlan::tagged(0))
            .unwrap_err()
            .is_invalid_argument());
        assert_eq!(bridge_vlans_by_ip("acc0"), vec![(10, true, true)]);
    });
}

/// A real TCP connection from inside `client` to `addr` (a listener made
/// inside `server`), with a message through it. The handshake completes in
/// the kernel's backlog, so no thread is needed: connect, send, then accept
/// and read.
fn tcp(client: &NetNs, server: &NetNs, addr: IpAddr) -> std::io::Result<()> {
    let listener = server
        .run(|| TcpListener::bind(SocketAddr::new(addr, 0)))
        .unwrap()?;
    let to = listener.local_addr()?;
    client
        .run(|| -> std::io::Result<()> {
            let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            c.write_all(b"ping")
        })
        .unwrap()?;
    let (mut conn, _) = listener.accept()?;
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf)?;
    assert_eq!(&buf, b"ping");
    Ok(())
}

/// Fail ARP resolution fast (one probe, 100 ms) on `dev` in `ns`, so a
/// connection to an unreachable address fails with EHOSTUNREACH promptly
/// instead of after the default three seconds.
fn quick_arp(ns: &NetNs, dev: &str) {
    let base = format!("/proc/sys/net/ipv4/neigh/{dev}");
    ns.run(|| {
        std::fs::write(format!("{base}/mcast_solicit"), "1").unwrap();
        std::fs::write(format!("{base}/retrans_time_ms"), "100").unwrap();
    })
    .unwrap();
}

#[test]
fn multi_vlan_pods_are_isolated_by_vlan() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let switch = NetNs::create().unwrap();
        let hs = switch.handle().unwrap();
        let filtering = LinkSpec::new(
            "br0",
            LinkKind::Bridge(BridgeSpec {
                vlan_filtering: Some(true),
            }),
        );
        let Some(()) = or_skip("bridge VLAN filtering", hs.link_add(&filtering.up())) else {
            return;
        };
        // The trunk: "trunk" here, "trunk-sw" in the switch carrying 10 and 20.
        h.link_add(&LinkSpec::veth("trunk", "trunk-sw").peer_netns(&switch).up())
            .unwrap();
        hs.link_set_controller("trunk-sw", "br0").unwrap();
        hs.link_set_up("trunk-sw").unwrap();
        hs.bridge_vlan_add("trunk-sw", &BridgeVlan::tagged(10))
            .unwrap();
        hs.bridge_vlan_add("trunk-sw", &BridgeVlan::tagged(20))
            .unwrap();
        // Two VLAN sub-interfaces of the one parent, each moved into a pod.
        let Some(()) = or_skip(
            "802.1q vlan",
            h.link_add(&LinkSpec::vlan("trunk.10", "trunk", 10)),
        ) else {
            return;
        };
        h.link_add(&LinkSpec::vlan("trunk.20", "trunk", 20))
            .unwrap();
        let mut pods = Vec::new();
        for (vid, ip) in [(10u16, "192.168.100.10/24"), (20, "192.168.100.20/24")] {
            let pod = NetNs::create().unwrap();
            let name = format!("trunk.{vid}");
            h.link_set_netns(name.as_str(), &pod).unwrap();
            let hp = pod.handle().unwrap();
            hp.addr_add(&AddrSpec::new(name.as_str(), ip.parse().unwrap()))
                .unwrap();
            hp.link_set_up(name.as_str()).unwrap();
            hp.link_set_up("lo").unwrap();
            quick_arp(&pod, &name);
            pods.push(pod);
        }
        // Two access ports of the switch, pvid 10 and pvid 20, each to a pod.
        let mut access = Vec::new();
        for (vid, ip) in [(10u16, "192.168.100.11/24"), (20, "192.168.100.21/24")] {
            let pod = NetNs::create().unwrap();
            let port = format!("p{vid}");
            hs.link_add(
                &LinkSpec::veth(port.as_str(), "eth0")
                    .peer_netns(&pod)
                    .controller("br0")
                    .up(),
            )
            .unwrap();
            hs.bridge_vlan_add(port.as_str(), &BridgeVlan::access(vid))
                .unwrap();
            hs.bridge_vlan_del(port.as_str(), 1).unwrap();
            let hp = pod.handle().unwrap();
            hp.addr_add(&AddrSpec::new("eth0", ip.parse().unwrap()))
                .unwrap();
            hp.link_set_up("eth0").unwrap();
            hp.link_set_up("lo").unwrap();
            quick_arp(&pod, "eth0");
            access.push(pod);
        }
        let (a10, a20) = (&pods[0], &pods[1]);
        let (b10, b20) = (&access[0], &access[1]);
        // Same VLAN: through the trunk, the bridge and an access port.
        tcp(a10, b10, "192.168.100.11".parse().unwrap()).expect("VLAN 10: pod to access port");
        tcp(a20, b20, "192.168.100.21".parse().unwrap()).expect("VLAN 20: pod to access port");
        tcp(b10, a10, "192.168.100.10".parse().unwrap()).expect("VLAN 10: access port to pod");
        // Across VLANs: nothing gets through (ARP is never answered).
        for (from, to, addr) in [
            (a10, b20, "192.168.100.21"),
            (b10, b20, "192.168.100.21"),
            (a20, a10, "192.168.100.10"),
            (b20, a10, "192.168.100.10"),
        ] {
            let e = tcp(from, to, addr.parse().unwrap()).expect_err("traffic crossed VLANs");
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::TimedOut
                ),
                "unexpected error {e}"
            );
        }
        println!(
            "multi-VLAN scenario passed on kernel {}",
            std::env::var("NETNS_TEST_KERNEL").unwrap_or_else(|_| netns_testutil::kernel_release())
        );
    });
}
