//! Links, checked with `ip -j -d link show` in the same private namespace.

use netns_core::{
    BridgePortChanges, Handle, IpVlanMode, LinkChanges, LinkData, LinkFilter, LinkFlags, LinkKind,
    LinkSpec, MacAddr, MacVlanData, MacVlanMode, MacVlanSpec, NetNs, OperState, VxlanData,
};
use netns_testutil::{ifnames, in_private_netns, ip, ip_json};
use serde_json::Value;

mod common;
use common::assert_refused;

fn link_json(name: &str) -> Value {
    let v = ip_json(["-d", "link", "show", "dev", name]);
    v[0].clone()
}

fn link_names() -> Vec<String> {
    ifnames(&ip_json(["link", "show"]))
}

#[test]
fn links_and_get_by_name_and_index_agree_with_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        ip(["link", "add", "a0", "type", "veth", "peer", "name", "a1"]);
        let all = h.links(&LinkFilter::new()).unwrap();
        let mut names: Vec<String> = all.iter().map(|l| l.name.clone()).collect();
        names.sort();
        assert_eq!(names, link_names());
        assert_eq!(all.len(), 3);
        for l in &all {
            let j = link_json(&l.name);
            assert_eq!(j["ifindex"], l.index);
            assert_eq!(j["mtu"], l.mtu);
            assert_eq!(j["operstate"], l.operstate.to_string());
            let by_name = h.link_get(l.name.as_str()).unwrap();
            let by_index = h.link_get(l.index).unwrap();
            assert_eq!(&by_name, l);
            assert_eq!(&by_index, l);
        }
        let lo = h.link_get("lo").unwrap();
        assert_eq!(lo.index, 1);
        assert!(lo.flags.contains(LinkFlags::LOOPBACK));
        assert_eq!(lo.kind, None);
        let a0 = h.link_get("a0").unwrap();
        assert_eq!(a0.kind.as_deref(), Some("veth"));
        assert_eq!(a0.data, LinkData::Veth);
        assert_eq!(a0.parent, Some(h.link_index("a1").unwrap()));
        assert_eq!(a0.mac.unwrap().to_string(), link_json("a0")["address"]);
    });
}

#[test]
fn missing_links_are_not_found_errors() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let e = h.link_get("nope0").unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(
            e.to_string().starts_with("link_get nope0: No such device"),
            "{e}"
        );
        assert!(h.link_get(9999).unwrap_err().is_not_found());
        assert!(h.link_del("nope0").unwrap_err().is_not_found());
        assert!(h.link_set_up("nope0").unwrap_err().is_not_found());
    });
}

#[test]
fn veth_pair_with_options_and_peer_in_another_namespace() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let other = NetNs::create().unwrap();
        let mac: MacAddr = "02:11:22:33:44:55".parse().unwrap();
        h.link_add(
            &LinkSpec::veth("v-host", "v-peer")
                .peer_netns(&other)
                .mtu(1400)
                .mac(mac)
                .txqueuelen(500)
                .up(),
        )
        .unwrap();
        let j = link_json("v-host");
        assert_eq!(j["mtu"], 1400);
        assert_eq!(j["address"], "02:11:22:33:44:55");
        assert_eq!(j["txqlen"], 500);
        assert!(j["flags"].as_array().unwrap().contains(&Value::from("UP")));
        assert_eq!(j["linkinfo"]["info_kind"], "veth");
        // The peer is in the other namespace only.
        assert!(!link_names().contains(&"v-peer".to_owned()));
        let peer = other.run(|| link_json("v-peer")).unwrap();
        assert_eq!(peer["mtu"], 1400, "the peer gets the same MTU");
        let info = h.link_get("v-host").unwrap();
        assert_eq!(info.mtu, 1400);
        assert_eq!(info.mac, Some(mac));
        assert_eq!(info.txqueuelen, Some(500));
        assert!(info.is_up());
        assert!(
            info.link_netnsid.is_some(),
            "peer lives in another namespace"
        );
        assert_eq!(info.parent, Some(peer["ifindex"].as_u64().unwrap() as u32));
    });
}

#[test]
fn bridge_ports_controller_and_nocontroller() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::bridge("br0")).unwrap();
        h.link_add(&LinkSpec::veth("p0", "p0b")).unwrap();
        h.link_add(&LinkSpec::veth("p1", "p1b").controller("br0"))
            .unwrap();
        h.link_set_controller("p0", "br0").unwrap();
        let br = h.link_get("br0").unwrap();
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        assert!(matches!(br.data, LinkData::Bridge(_)));
        for p in ["p0", "p1"] {
            assert_eq!(link_json(p)["master"], "br0");
            assert_eq!(h.link_get(p).unwrap().controller, Some(br.index));
        }
        h.link_set_nocontroller("p0").unwrap();
        assert!(link_json("p0").get("master").is_none());
        assert_eq!(h.link_get("p0").unwrap().controller, None);
        // An unknown controller is refused before anything is sent.
        let e = h.link_set_controller("p0", "nobr0").unwrap_err();
        assert_refused(&e, "controller \"nobr0\" does not exist");
    });
}

#[test]
fn bridge_port_options_hairpin_isolated_learning_flood() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::bridge("br0")).unwrap();
        h.link_add(&LinkSpec::veth("p0", "p0b").controller("br0"))
            .unwrap();
        let opts = |p: &str| {
            let l = link_json(p);
            let d = &l["linkinfo"]["info_slave_data"];
            (
                d["hairpin"].as_bool(),
                d["isolated"].as_bool(),
                d["learning"].as_bool(),
                d["flood"].as_bool(),
            )
        };
        assert_eq!(
            opts("p0"),
            (Some(false), Some(false), Some(true), Some(true))
        );
        let on = BridgePortChanges {
            hairpin: Some(true),
            isolated: Some(true),
            learning: Some(false),
            flood: Some(false),
        };
        h.bridge_port_set("p0", &on).unwrap();
        assert_eq!(
            opts("p0"),
            (Some(true), Some(true), Some(false), Some(false))
        );
        // None leaves an option as it is.
        h.bridge_port_set(
            "p0",
            &BridgePortChanges {
                hairpin: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            opts("p0"),
            (Some(false), Some(true), Some(false), Some(false))
        );
        // Not a port: the kernel refuses; an unknown device is refused
        // before anything is sent.
        h.link_add(&LinkSpec::veth("q0", "q0b")).unwrap();
        let before = link_json("q0");
        assert!(h.bridge_port_set("q0", &on).is_err());
        assert_eq!(link_json("q0"), before);
        let e = h.bridge_port_set("nosuch0", &on).unwrap_err();
        assert_refused(&e, "device \"nosuch0\" does not exist");
    });
}

#[test]
fn macvlan_every_mode_and_macvtap() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("parent0", "parent0b")).unwrap();
        let modes = [
            MacVlanMode::Private,
            MacVlanMode::Vepa,
            MacVlanMode::Bridge,
            MacVlanMode::Source,
        ];
        for (i, mode) in modes.iter().enumerate() {
            let name = format!("mv{i}");
            h.link_add(&LinkSpec::macvlan(name.as_str(), "parent0", *mode))
                .unwrap();
            let j = link_json(&name);
            assert_eq!(j["linkinfo"]["info_kind"], "macvlan");
            assert_eq!(j["linkinfo"]["info_data"]["mode"], mode.to_string());
            let info = h.link_get(name.as_str()).unwrap();
            assert_eq!(
                info.data,
                LinkData::MacVlan(MacVlanData { mode: Some(*mode) })
            );
            assert_eq!(info.parent, Some(h.link_index("parent0").unwrap()));
        }
        // passthru takes the whole parent: it needs a parent of its own.
        h.link_add(&LinkSpec::veth("parent1", "parent1b")).unwrap();
        h.link_add(&LinkSpec::macvlan("mvpt", "parent1", MacVlanMode::Passthru))
            .unwrap();
        assert_eq!(
            link_json("mvpt")["linkinfo"]["info_data"]["mode"],
            "passthru"
        );

        // Source mode with an allowed MAC list.
        h.link_add(&LinkSpec::veth("parent2", "parent2b")).unwrap();
        let src: MacAddr = "02:aa:bb:cc:dd:ee".parse().unwrap();
        h.link_add(
            &LinkSpec::new(
                "mvsrc",
                LinkKind::MacVlan(MacVlanSpec {
                    mode: MacVlanMode::Source,
                    source_macs: vec![src],
                }),
            )
            .parent("parent2"),
        )
        .unwrap();
        let j = link_json("mvsrc");
        assert_eq!(j["linkinfo"]["info_data"]["macaddr_count"], 1, "{j}");

        h.link_add(&LinkSpec::veth("parent3", "parent3b")).unwrap();
        h.link_add(&LinkSpec::macvtap("mvt0", "parent3", MacVlanMode::Bridge))
            .unwrap();
        let j = link_json("mvt0");
        assert_eq!(j["linkinfo"]["info_kind"], "macvtap");
        assert_eq!(
            h.link_get("mvt0").unwrap().data,
            LinkData::MacVtap(MacVlanData {
                mode: Some(MacVlanMode::Bridge)
            })
        );
    });
}

#[test]
fn vxlan_with_every_option() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("under0", "under0b")).unwrap();
        h.link_add(
            &LinkSpec::vxlan("vx0", 4242)
                .parent("under0")
                .vxlan_options(|v| {
                    v.remote = Some("10.9.0.2".parse().unwrap());
                    v.local = Some("10.9.0.1".parse().unwrap());
                    v.dstport = Some(4789);
                    v.learning = Some(false);
                }),
        )
        .unwrap();
        let j = link_json("vx0");
        let d = &j["linkinfo"]["info_data"];
        assert_eq!(d["id"], 4242);
        assert_eq!(d["remote"], "10.9.0.2");
        assert_eq!(d["local"], "10.9.0.1");
        assert_eq!(d["port"], 4789);
        assert_eq!(d["learning"], false);
        assert_eq!(d["link"], "under0");
        let info = h.link_get("vx0").unwrap();
        assert_eq!(
            info.data,
            LinkData::Vxlan(VxlanData {
                vni: 4242,
                remote: Some("10.9.0.2".parse().unwrap()),
                local: Some("10.9.0.1".parse().unwrap()),
                dstport: Some(4789),
                learning: Some(false),
                underlying: Some(h.link_index("under0").unwrap()),
            })
        );
        // IPv6 multicast group with a device.
        h.link_add(
            &LinkSpec::vxlan("vx6", 7)
                .parent("under0")
                .vxlan_options(|v| v.remote = Some("ff05::100".parse().unwrap())),
        )
        .unwrap();
        assert_eq!(
            link_json("vx6")["linkinfo"]["info_data"]["group6"],
            "ff05::100"
        );
    });
}

#[test]
fn setters_change_exactly_what_they_say() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("s0", "s0b")).unwrap();
        h.link_set_up("s0").unwrap();
        assert!(h.link_get("s0").unwrap().is_up());
        h.link_set_down("s0").unwrap();
        assert!(!h.link_get("s0").unwrap().is_up());
        h.link_set_mtu("s0", 1280).unwrap();
        assert_eq!(link_json("s0")["mtu"], 1280);
        let mac: MacAddr = "02:00:00:00:00:42".parse().unwrap();
        h.link_set_mac("s0", mac).unwrap();
        assert_eq!(link_json("s0")["address"], "02:00:00:00:00:42");
        h.link_set_alias("s0", "uplink to pod").unwrap();
        assert_eq!(link_json("s0")["ifalias"], "uplink to pod");
        assert_eq!(
            h.link_get("s0").unwrap().alias.as_deref(),
            Some("uplink to pod")
        );
        h.link_set_txqueuelen("s0", 42).unwrap();
        assert_eq!(link_json("s0")["txqlen"], 42);
        let idx = h.link_index("s0").unwrap();
        h.link_set_name("s0", "renamed0").unwrap();
        assert_eq!(h.link_get(idx).unwrap().name, "renamed0");
        // Several changes in one request, by index.
        h.link_set(
            idx,
            &LinkChanges {
                up: Some(true),
                mtu: Some(1300),
                name: Some("s1".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let j = link_json("s1");
        assert_eq!(j["mtu"], 1300);
        assert!(j["flags"].as_array().unwrap().contains(&Value::from("UP")));
        // promisc on, then off, leaving UP as it is.
        let flags = || link_json("s1")["flags"].as_array().unwrap().clone();
        for on in [true, false] {
            h.link_set(
                "s1",
                &LinkChanges {
                    promisc: Some(on),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(flags().contains(&Value::from("PROMISC")), on);
            assert!(flags().contains(&Value::from("UP")));
            assert_eq!(
                h.link_get("s1").unwrap().flags.contains(LinkFlags::PROMISC),
                on
            );
        }
    });
}

#[test]
fn move_into_another_namespace_and_back() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let here = NetNs::current().unwrap();
        let other = NetNs::create().unwrap();
        h.link_add(&LinkSpec::veth("m0", "m0b")).unwrap();
        h.link_set_netns("m0", &other).unwrap();
        assert!(h.link_get("m0").unwrap_err().is_not_found());
        let inside = other.handle().unwrap();
        assert_eq!(inside.link_get("m0").unwrap().kind.as_deref(), Some("veth"));
        inside.link_set_netns("m0", &here).unwrap();
        assert!(h.link_get("m0").is_ok());
    });
}

#[test]
fn add_in_namespace_under_final_name_and_clean_up_on_failure() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let pod = NetNs::create().unwrap();
        // eth0 in the pod, host-side peer here.
        h.link_add(&LinkSpec::veth("host0", "hostp0")).unwrap();
        let made = h
            .link_add_in(&LinkSpec::veth("eth0", "veth-pod0"), &pod)
            .unwrap();
        assert_eq!(made.name, "eth0");
        assert!(link_names().contains(&"veth-pod0".to_owned()));
        let in_pod = pod.run(link_names).unwrap();
        assert_eq!(in_pod, vec!["eth0".to_owned(), "lo".to_owned()]);

        // A second eth0 collides in the pod: the temporary link must vanish.
        let before = link_names();
        let e = h
            .link_add_in(&LinkSpec::veth("eth0", "veth-pod1"), &pod)
            .unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(e.to_string().contains("eth0"), "{e}");
        assert_eq!(link_names(), before, "nothing left behind here");
        assert_eq!(pod.run(link_names).unwrap(), in_pod, "nor in the pod");

        // macvlan from a parent here into the pod.
        let mv = h
            .link_add_in(
                &LinkSpec::macvlan("net1", "host0", MacVlanMode::Bridge),
                &pod,
            )
            .unwrap();
        assert_eq!(mv.kind.as_deref(), Some("macvlan"));
        assert!(pod.run(link_names).unwrap().contains(&"net1".to_owned()));
    });
}

#[test]
fn link_add_in_honours_up_and_names_what_failed() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let pod = NetNs::create().unwrap();
        // The CNI flow: eth0 up in the pod, its peer up here.
        let eth0 = h
            .link_add_in(&LinkSpec::veth("eth0", "veth-up0").up().peer_up(), &pod)
            .unwrap();
        assert!(eth0.is_up(), "{eth0}");
        let host = link_json("veth-up0");
        assert!(
            host["flags"].as_array().unwrap().contains(&"UP".into()),
            "{host}"
        );
        let inside = pod
            .run(|| ip_json(["link", "show", "dev", "eth0"]))
            .unwrap();
        assert!(
            inside[0]["flags"]
                .as_array()
                .unwrap()
                .contains(&"UP".into()),
            "{inside}"
        );
        // Both ends up: the pair has carrier on both sides.
        let ph = pod.handle().unwrap();
        let l = ph
            .wait_link_up("eth0", std::time::Duration::from_secs(20))
            .unwrap();
        assert!(l.is_operational());

        // The peer's name is taken here: the error names the peer, keeps the
        // kind, and nothing is left behind, here or in the pod.
        h.link_add(&LinkSpec::veth("taken0", "taken0p")).unwrap();
        let before = (
            ip(["-o", "link", "show"]),
            pod.run(|| ip(["-o", "link", "show"])).unwrap(),
        );
        let e = h
            .link_add_in(&LinkSpec::veth("eth1", "taken0"), &pod)
            .unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert_eq!(e.object(), "taken0 (type veth, peer of eth1)", "{e}");
        let after = (
            ip(["-o", "link", "show"]),
            pod.run(|| ip(["-o", "link", "show"])).unwrap(),
        );
        assert_eq!(after, before);
        let e = h.link_add(&LinkSpec::veth("new0", "taken0")).unwrap_err();
        assert_eq!(e.object(), "taken0 (type veth, peer of new0)", "{e}");
        // Its own name taken: the error names it.
        let e = h.link_add(&LinkSpec::veth("taken0", "free0")).unwrap_err();
        assert_eq!(e.object(), "taken0 (type veth)", "{e}");
    });
}

#[test]
fn links_are_filtered_by_kind_and_controller_in_the_kernel() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::bridge("br0")).unwrap();
        h.link_add(&LinkSpec::veth("pa0", "pa1").controller("br0"))
            .unwrap();
        h.link_add(&LinkSpec::veth("pb0", "pb1").controller("br0"))
            .unwrap();
        h.link_add(&LinkSpec::veth("qa0", "qa1")).unwrap();
        let names = |f: &LinkFilter| -> Vec<String> {
            let mut v: Vec<String> = h.links(f).unwrap().into_iter().map(|l| l.name).collect();
            v.sort();
            v
        };
        let oracle = |args: &[&str]| ifnames(&ip_json(args));
        assert_eq!(
            names(&LinkFilter::new().kind("veth")),
            oracle(&["link", "show", "type", "veth"])
        );
        assert_eq!(names(&LinkFilter::new().kind("veth")).len(), 6);
        assert_eq!(
            names(&LinkFilter::new().controller("br0")),
            oracle(&["link", "show", "master", "br0"])
        );
        assert_eq!(
            names(&LinkFilter::new().controller("br0")),
            vec!["pa0", "pb0"]
        );
        assert_eq!(
            names(&LinkFilter::new().kind("bridge")),
            vec!["br0".to_owned()]
        );
        assert_eq!(
            names(&LinkFilter::new().kind("veth").name_prefix("q")),
            vec!["qa0", "qa1"]
        );
        // A kind no module provides filters to nothing (the kernel cannot
        // filter by a kind it does not know: the library checks too).
        assert!(names(&LinkFilter::new().kind("nosuchkind")).is_empty());
        let e = h.links(&LinkFilter::new().controller("nobr0")).unwrap_err();
        assert_refused(&e, "controller \"nobr0\" does not exist");
        // Listings print like ip.
        let br = h.link_get("br0").unwrap();
        let shown = br.to_string();
        assert!(
            shown.starts_with(&format!("{}: br0: <", br.index)) && shown.contains(" type bridge"),
            "{shown}"
        );
    });
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("ok0", "ok0b")).unwrap();
        let before = ip(["-d", "link", "show"]);
        let cases: Vec<(LinkSpec<'_>, &str)> = vec![
            (
                LinkSpec::veth("name-longer-than-15", "x"),
                "at most 15 bytes",
            ),
            (LinkSpec::veth("ok1", "ok1b").mtu(0), "mtu 0"),
            (LinkSpec::vlan("v4095", "ok0", 4095), "vlan id 4095"),
            (
                LinkSpec::macvlan("mv9", "missing0", MacVlanMode::Bridge),
                "parent \"missing0\" does not exist",
            ),
            (
                LinkSpec::ipvlan("ipv9", "missing0", IpVlanMode::L2),
                "parent \"missing0\" does not exist",
            ),
            (LinkSpec::veth("ok1", "bad name"), "peer"),
            // The kernel would read it as a template and make "a0".
            (LinkSpec::veth("a%d", "ok1b"), "'%'"),
            // Byte 0xA0 (in "à") is a space to the kernel's isspace().
            (LinkSpec::veth("caf\u{e0}", "ok1b"), "0xA0"),
            (LinkSpec::veth("v\x0bt", "ok1b"), "space"),
            (
                LinkSpec::veth("ok1", "ok1b").controller("missing-br"),
                "controller \"missing-br\" does not exist",
            ),
        ];
        for (spec, want) in cases {
            let e = h.link_add(&spec).unwrap_err();
            assert_refused(&e, want);
        }
        // The kernel refuses the same names when it gets them (ip sends
        // them; nothing is made).
        let out = netns_testutil::ip_output([
            "link",
            "add",
            "caf\u{e0}",
            "type",
            "veth",
            "peer",
            "name",
            "kp0",
        ]);
        assert!(!out.status.success());
        let e = h.link_set_mtu("ok0", 0).unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        let e = h.link_set_name("ok0", "way-too-long-name").unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        assert_eq!(ip(["-d", "link", "show"]), before, "nothing changed");
    });
}

#[test]
fn kernel_refusals_carry_the_extack_text() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("x0", "x0b")).unwrap();
        // An MTU above what a veth allows: the kernel explains.
        let e = h.link_set_mtu("x0", 70000).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        let text = e.extack().expect("kernel message");
        assert!(text.to_lowercase().contains("mtu"), "{text}");
        assert!(e.to_string().contains(": kernel: "), "{e}");
        // An existing name.
        let e = h.link_add(&LinkSpec::veth("x0", "x1")).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(
            e.to_string()
                .starts_with("link_add x0 (type veth): File exists"),
            "{e}"
        );
    });
}

#[test]
fn kinds_this_kernel_may_lack_report_unsupported_naming_the_kind() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("low0", "low0b")).unwrap();
        let specs = [
            LinkSpec::vlan("low0.10", "low0", 10),
            LinkSpec::ipvlan("ipvl0", "low0", IpVlanMode::L2),
            LinkSpec::dummy("dummy0"),
        ];
        for spec in specs {
            match h.link_add(&spec) {
                Ok(()) => {
                    // A kernel with the kind: it must be what we asked for.
                    let j = link_json(&spec.name);
                    assert_eq!(j["linkinfo"]["info_kind"], spec.kind.name());
                    println!("kernel supports {}: created and checked", spec.kind.name());
                }
                Err(e) => {
                    assert!(e.is_unsupported(), "{e}");
                    let shown = e.to_string();
                    assert!(
                        shown.contains(&format!("link kind \"{}\"", spec.kind.name())),
                        "{shown}"
                    );
                    println!("skipped creating {}: {shown}", spec.kind.name());
                    assert!(link_json_opt(&spec.name).is_none());
                }
            }
        }
    });
}

fn link_json_opt(name: &str) -> Option<Value> {
    let out = netns_testutil::ip_output(["-j", "link", "show", "dev", name]);
    out.status
        .success()
        .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone())
}

#[test]
fn delete_one_group_and_many() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("d0", "d0b")).unwrap();
        h.link_del("d0").unwrap();
        assert_eq!(link_names(), vec!["lo".to_owned()], "both veth ends gone");

        for i in 0..5 {
            h.link_add(&LinkSpec::veth(format!("g{i}"), format!("g{i}b")).group(77))
                .unwrap();
        }
        h.link_add(&LinkSpec::veth("keep0", "keep0b")).unwrap();
        h.link_del_group(77).unwrap();
        assert_eq!(link_names(), vec!["keep0", "keep0b", "lo"]);
        assert!(h.link_del_group(77).unwrap_err().is_not_found());

        let names: Vec<String> = (0..40).map(|i| format!("bulk{i}")).collect();
        for n in &names {
            h.link_add(&LinkSpec::veth(n.as_str(), format!("{n}p")))
                .unwrap();
        }
        let mut doomed = names.clone();
        doomed.push("not-there0".into());
        h.link_del_many(&doomed).unwrap();
        assert_eq!(link_names(), vec!["keep0", "keep0b", "lo"]);
        assert_eq!(h.link_get("keep0").unwrap().group, 0);
    });
}

#[test]
fn batch_reports_every_outcome_in_order() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("b0", "b0b")).unwrap();
        let mut b = h.batch();
        b.link_set_up("b0")
            .link_set_up("missing9")
            .link_set(
                "b0b",
                &LinkChanges {
                    mtu: Some(0),
                    ..Default::default()
                },
            )
            .link_add(&LinkSpec::bridge("brb"))
            .link_add(&LinkSpec::bridge("brb"))
            .link_set_up("b0b");
        assert_eq!(b.len(), 6);
        let out = b.execute().unwrap();
        assert_eq!(out.len(), 6);
        assert!(out[0].is_ok());
        assert!(out[1].as_ref().unwrap_err().is_not_found(), "{:?}", out[1]);
        assert!(out[2].as_ref().unwrap_err().is_invalid_argument());
        assert!(out[3].is_ok());
        let dup = out[4].as_ref().unwrap_err();
        assert!(dup.is_exists(), "{dup}");
        assert!(
            dup.to_string().starts_with("link_add brb (type bridge)"),
            "{dup}"
        );
        assert!(out[5].is_ok());
        assert!(h.link_get("b0").unwrap().is_up());
        assert!(h.link_get("b0b").unwrap().is_up());
        assert_eq!(h.link_get("brb").unwrap().kind.as_deref(), Some("bridge"));
    });
}

#[test]
fn dump_of_many_links_survives_a_tiny_receive_buffer_and_is_complete() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let mut b = h.batch();
        for i in 0..150 {
            b.link_add(&LinkSpec::veth(format!("t{i}"), format!("t{i}p")));
        }
        assert!(b.execute().unwrap().iter().all(|r| r.is_ok()));
        // Far smaller than one dump datagram: every receive is truncated
        // first, and the library must grow the buffer and repeat the dump.
        h.debug_set_recv_buffer(512);
        let all = h.links(&LinkFilter::new()).unwrap();
        assert_eq!(all.len(), 301);
        assert_eq!(all.len(), link_names().len());
        let down = all
            .iter()
            .filter(|l| l.name.starts_with('t') && l.operstate == OperState::DOWN)
            .count();
        assert_eq!(down, 300);
        // A single get through a tiny buffer too.
        h.debug_set_recv_buffer(64);
        assert_eq!(h.link_get("t149").unwrap().name, "t149");
    });
}
