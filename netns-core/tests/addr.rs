//! Addresses, checked with `ip -j addr show` in the same private namespace.

use std::collections::BTreeSet;
use std::net::IpAddr;

use netns_core::{
    parse_prefix, AddrFilter, AddrFlags, AddrSpec, Address, Handle, IpFamily, IpNet, Lifetime,
    LinkSpec, Scope,
};
use netns_testutil::{in_private_netns, ip, ip_json};
use serde_json::Value;

mod common;
use common::assert_refused;

fn pfx(s: &str) -> IpNet {
    parse_prefix(s).unwrap()
}

/// Every address `ip` shows, as (ifname, family, local, prefixlen).
fn ip_addrs(args: &[&str]) -> BTreeSet<(String, String, String, u64)> {
    let mut all = vec!["addr", "show"];
    all.extend_from_slice(args);
    let mut out = BTreeSet::new();
    for link in ip_json(all).as_array().unwrap() {
        let name = link["ifname"].as_str().unwrap().to_owned();
        for a in link["addr_info"].as_array().unwrap() {
            out.insert((
                name.clone(),
                a["family"].as_str().unwrap().to_owned(),
                a["local"].as_str().unwrap().to_owned(),
                a["prefixlen"].as_u64().unwrap(),
            ));
        }
    }
    out
}

/// Ours, in the same shape.
fn our_addrs(h: &Handle, list: &[Address]) -> BTreeSet<(String, String, String, u64)> {
    list.iter()
        .map(|a| {
            (
                h.link_get(a.link_index).unwrap().name,
                a.family().to_string(),
                a.addr().to_string(),
                u64::from(a.prefix.prefix_len()),
            )
        })
        .collect()
}

/// The `addr_info` entry of `local` on `dev`.
fn ip_addr(dev: &str, local: &str) -> Value {
    let v = ip_json(["addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["local"] == local)
        .cloned()
        .unwrap_or_else(|| panic!("{local} not on {dev}: {v}"))
}

fn setup(h: &Handle) {
    h.link_add(&LinkSpec::veth("a0", "a1")).unwrap();
}

#[test]
fn ipv4_add_with_broadcast_label_lifetimes_matches_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.addr_add(
            &AddrSpec::new("a0", pfx("10.0.0.1/24"))
                .broadcast_auto()
                .label("a0:web")
                .valid_lft(Lifetime::Seconds(300))
                .preferred_lft(Lifetime::Seconds(100)),
        )
        .unwrap();
        let j = ip_addr("a0", "10.0.0.1");
        assert_eq!(j["prefixlen"], 24);
        assert_eq!(j["broadcast"], "10.0.0.255");
        assert_eq!(j["label"], "a0:web");
        assert_eq!(j["scope"], "global");
        let valid = j["valid_life_time"].as_u64().unwrap();
        let preferred = j["preferred_life_time"].as_u64().unwrap();
        assert!(valid <= 300 && valid > 0, "{j}");
        assert!(preferred <= 100 && preferred > 0, "{j}");

        let ours = h.addrs(&AddrFilter::new().link("a0")).unwrap();
        let a = ours
            .iter()
            .find(|a| a.addr().to_string() == "10.0.0.1")
            .unwrap();
        assert_eq!(a.prefix, pfx("10.0.0.1/24"));
        assert_eq!(a.broadcast, Some("10.0.0.255".parse().unwrap()));
        assert_eq!(a.label.as_deref(), Some("a0:web"));
        assert_eq!(a.scope, Scope::GLOBAL);
        assert_eq!(a.link_index, h.link_index("a0").unwrap());
        assert!(!a.flags.contains(AddrFlags::PERMANENT));
        assert!(matches!(a.valid_lft, Lifetime::Seconds(s) if s <= 300 && s > 0));
        assert!(matches!(a.preferred_lft, Lifetime::Seconds(s) if s <= 100 && s > 0));

        // Without brd +, no broadcast (as `ip addr add`); a /31 gets none
        // even with it.
        h.addr_add(&AddrSpec::new("a0", pfx("10.1.0.1/24")))
            .unwrap();
        assert!(ip_addr("a0", "10.1.0.1").get("broadcast").is_none());
        h.addr_add(&AddrSpec::new("a0", pfx("10.2.0.0/31")).broadcast_auto())
            .unwrap();
        assert!(ip_addr("a0", "10.2.0.0").get("broadcast").is_none());
        h.addr_add(&AddrSpec::new("a0", pfx("10.3.0.1/16")).broadcast("10.3.0.0".parse().unwrap()))
            .unwrap();
        assert_eq!(ip_addr("a0", "10.3.0.1")["broadcast"], "10.3.0.0");
        // Forever lifetimes are permanent.
        let a = h
            .addrs(&AddrFilter::new().link("a0"))
            .unwrap()
            .into_iter()
            .find(|a| a.addr().to_string() == "10.1.0.1")
            .unwrap();
        assert_eq!(a.valid_lft, Lifetime::Forever);
        assert_eq!(a.label.as_deref(), Some("a0"));
        assert_eq!(
            ip_addr("a0", "10.1.0.1")["valid_life_time"],
            u64::from(u32::MAX)
        );
    });
}

#[test]
fn ipv6_nodad_lifetimes_scope_and_peer() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.link_set_up("a0").unwrap();
        h.link_set_up("a1").unwrap();
        h.addr_add(
            &AddrSpec::new("a0", pfx("2001:db8::1/64"))
                .nodad()
                .valid_lft(Lifetime::Seconds(600))
                .preferred_lft(Lifetime::Seconds(600)),
        )
        .unwrap();
        let j = ip_addr("a0", "2001:db8::1");
        assert_eq!(j["family"], "inet6");
        assert_eq!(j["prefixlen"], 64);
        assert_eq!(j["nodad"], true);
        assert!(j.get("tentative").is_none(), "nodad: usable at once: {j}");
        let a = h
            .addrs(&AddrFilter::new().family(IpFamily::V6).link("a0"))
            .unwrap()
            .into_iter()
            .find(|a| a.addr().to_string() == "2001:db8::1")
            .unwrap();
        assert!(a.flags.contains(AddrFlags::NODAD));
        assert!(!a.flags.contains(AddrFlags::TENTATIVE));
        assert_eq!(a.family(), IpFamily::V6);
        assert!(matches!(a.valid_lft, Lifetime::Seconds(s) if s <= 600 && s > 0));

        // noprefixroute goes in IFA_FLAGS (above 0xff).
        h.addr_add(
            &AddrSpec::new("a0", pfx("2001:db8:2::1/64"))
                .nodad()
                .noprefixroute(),
        )
        .unwrap();
        assert_eq!(ip_addr("a0", "2001:db8:2::1")["noprefixroute"], true);
        let routes = ip_json(["-6", "route", "show", "2001:db8:2::/64"]);
        assert_eq!(routes, Value::Array(vec![]), "no prefix route");

        // scope link on IPv4, scope host by default on 127/8
        h.addr_add(&AddrSpec::new("a0", pfx("10.4.0.1/24")).scope(Scope::LINK))
            .unwrap();
        assert_eq!(ip_addr("a0", "10.4.0.1")["scope"], "link");
        h.addr_add(&AddrSpec::new("a0", pfx("127.1.0.1/8")))
            .unwrap();
        assert_eq!(ip_addr("a0", "127.1.0.1")["scope"], "host");

        // peer
        h.addr_add(&AddrSpec::new("a0", pfx("10.9.0.1/32")).peer("10.9.0.2".parse().unwrap()))
            .unwrap();
        let j = ip_addr("a0", "10.9.0.1");
        assert_eq!(j["address"], "10.9.0.2");
        let a = h
            .addrs(&AddrFilter::new().link("a0"))
            .unwrap()
            .into_iter()
            .find(|a| a.addr().to_string() == "10.9.0.1")
            .unwrap();
        assert_eq!(a.peer, Some("10.9.0.2".parse().unwrap()));
        // deleting it needs the peer, as with `ip addr del ... peer`
        h.addr_del(&AddrSpec::new("a0", pfx("10.9.0.1/32")).peer("10.9.0.2".parse().unwrap()))
            .unwrap();
        assert!(!ip_addrs(&["dev", "a0"]).iter().any(|a| a.2 == "10.9.0.1"));
    });
}

#[test]
fn listing_is_filtered_by_link_and_family_and_agrees_with_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        ip(["link", "set", "lo", "up"]);
        for (dev, p) in [
            ("a0", "10.0.0.1/24"),
            ("a0", "2001:db8::1/64"),
            ("a1", "10.0.1.1/24"),
            ("a1", "2001:db8:1::1/64"),
        ] {
            h.addr_add(&AddrSpec::new(dev, pfx(p)).nodad()).unwrap();
        }
        let cases: [(AddrFilter, &[&str]); 6] = [
            (AddrFilter::new(), &[]),
            (AddrFilter::new().family(IpFamily::V4), &["-4"]),
            (AddrFilter::new().family(IpFamily::V6), &["-6"]),
            (AddrFilter::new().link("a0"), &["dev", "a0"]),
            (
                AddrFilter::new().link("a1").family(IpFamily::V4),
                &["-4", "dev", "a1"],
            ),
            (
                AddrFilter::new()
                    .link(h.link_index("lo").unwrap())
                    .family(IpFamily::V6),
                &["-6", "dev", "lo"],
            ),
        ];
        for (filter, args) in cases {
            let ours = h.addrs(&filter).unwrap();
            // `ip -4`/`-6` are flags before the object.
            let (flags, rest): (Vec<&str>, Vec<&str>) =
                args.iter().partition(|a| a.starts_with('-'));
            let mut all: Vec<&str> = flags;
            all.extend(["addr", "show"]);
            all.extend(rest);
            let mut want = BTreeSet::new();
            for link in ip_json(&all).as_array().unwrap() {
                for a in link["addr_info"].as_array().unwrap() {
                    want.insert((
                        link["ifname"].as_str().unwrap().to_owned(),
                        a["family"].as_str().unwrap().to_owned(),
                        a["local"].as_str().unwrap().to_owned(),
                        a["prefixlen"].as_u64().unwrap(),
                    ));
                }
            }
            assert_eq!(our_addrs(&h, &ours), want, "filter {filter:?}");
            assert!(!want.is_empty());
        }
    });
}

#[test]
fn replace_and_delete() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let spec = AddrSpec::new("a0", pfx("10.0.0.1/24"));
        h.addr_add(
            &spec
                .clone()
                .valid_lft(Lifetime::Seconds(300))
                .preferred_lft(Lifetime::Seconds(100)),
        )
        .unwrap();
        // add again: EEXIST with the kernel's text
        let e = h.addr_add(&spec).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert_eq!(e.op(), "addr_add");
        assert!(
            e.to_string()
                .starts_with("addr_add 10.0.0.1/24 dev a0: File exists"),
            "{e}"
        );
        // The kernel's text, as iproute2 shows it for the same request (some
        // kernels send none).
        let theirs = netns_testutil::ip_extack(["addr", "add", "10.0.0.1/24", "dev", "a0"]);
        assert_eq!(e.extack(), theirs.as_deref(), "{e}");
        // replace: now forever. (The kernel updates only the lifetimes of
        // an existing IPv4 address: a broadcast given here is ignored.)
        h.addr_replace(&spec.clone().broadcast_auto()).unwrap();
        let j = ip_addr("a0", "10.0.0.1");
        assert_eq!(j["valid_life_time"], u64::from(u32::MAX));
        assert_eq!(j["preferred_life_time"], u64::from(u32::MAX));
        assert!(j.get("broadcast").is_none(), "{j}");
        // replace of a missing address creates it
        h.addr_replace(&AddrSpec::new("a0", pfx("2001:db8::5/64")).nodad())
            .unwrap();
        assert!(ip_addrs(&["dev", "a0"])
            .iter()
            .any(|a| a.2 == "2001:db8::5"));
        // delete both
        h.addr_del(&spec).unwrap();
        h.addr_del(&AddrSpec::new("a0", pfx("2001:db8::5/64")))
            .unwrap();
        let left = ip_addrs(&["dev", "a0"]);
        assert!(
            !left
                .iter()
                .any(|a| a.2 == "10.0.0.1" || a.2 == "2001:db8::5"),
            "{left:?}"
        );
        // delete again: not found
        let e = h.addr_del(&spec).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        let e = h
            .addr_del(&AddrSpec::new("a0", pfx("2001:db8::5/64")))
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        // the prefix length selects the address too
        h.addr_add(&spec).unwrap();
        assert!(h
            .addr_del(&AddrSpec::new("a0", pfx("10.0.0.1/25")))
            .unwrap_err()
            .is_not_found());
        h.addr_del(&spec).unwrap();
    });
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.addr_add(&AddrSpec::new("a0", pfx("10.0.0.1/24")))
            .unwrap();
        let before = ip_addrs(&[]);
        let v4 = |p: &str| AddrSpec::new("a0", pfx(p));
        let cases: Vec<(AddrSpec, &str)> = vec![
            (v4("10.5.0.1/24").label("a0:much-too-long"), "1 to 15 bytes"),
            (v4("10.5.0.1/24").label(""), "1 to 15 bytes"),
            (
                v4("2001:db8::1/64").broadcast_auto(),
                "broadcast address is IPv4 only",
            ),
            (v4("2001:db8::1/64").label("a0:1"), "label is IPv4 only"),
            (
                v4("10.5.0.1/24").peer("2001:db8::2".parse().unwrap()),
                "peer 2001:db8::2 is IPv6",
            ),
            (
                v4("10.5.0.1/24").valid_lft(Lifetime::Seconds(0)),
                "valid_lft is zero",
            ),
            (
                v4("10.5.0.1/24")
                    .valid_lft(Lifetime::Seconds(5))
                    .preferred_lft(Lifetime::Seconds(6)),
                "preferred_lft (6sec) is greater than valid_lft (5sec)",
            ),
            (
                AddrSpec::new("nosuch0", pfx("10.5.0.1/24")),
                "device \"nosuch0\" does not exist",
            ),
            (
                AddrSpec::new("bad/name", pfx("10.5.0.1/24")),
                "cannot contain '/'",
            ),
            (
                AddrSpec::new("a-very-long-interface", pfx("10.5.0.1/24")),
                "at most 15 bytes",
            ),
        ];
        for (spec, why) in cases {
            for e in [h.addr_add(&spec), h.addr_replace(&spec)] {
                let e = e.expect_err(&format!("{spec:?} was accepted"));
                assert_refused(&e, why);
            }
        }
        // Prefix lengths out of range cannot even be built.
        for bad in ["10.0.0.1/33", "2001:db8::1/129"] {
            let e = parse_prefix(bad).unwrap_err();
            assert!(e.is_invalid_argument(), "{e}");
            assert!(e.to_string().contains("out of range"), "{e}");
        }
        assert!(IpNet::new("10.0.0.1".parse::<IpAddr>().unwrap(), 33).is_err());
        // The kernel's own refusal surfaces its text (a bad address it
        // refuses: the IPv6 unspecified address).
        let e = h
            .addr_add(&AddrSpec::new("a0", pfx("ff02::5/64")))
            .unwrap_err();
        assert!(!e.is_invalid_argument());
        let theirs = netns_testutil::ip_extack(["addr", "add", "ff02::5/64", "dev", "a0"]);
        assert_eq!(e.extack(), theirs.as_deref(), "{e}");
        if !netns_testutil::in_test_vm() {
            // The development kernel explains itself.
            assert_eq!(
                e.extack(),
                Some("ipv6: Cannot assign multicast address without \"IFA_F_MCAUTOJOIN\" flag"),
                "{e}"
            );
        }
        assert_eq!(ip_addrs(&[]), before, "nothing changed");
    });
}

#[test]
fn batch_outcomes_in_order() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let a0 = h.link_index("a0").unwrap();
        let mut b = h.batch();
        b.addr_add(&AddrSpec::new(a0, pfx("10.0.0.1/24")));
        b.addr_add(&AddrSpec::new(a0, pfx("10.0.0.1/24"))); // duplicate: kernel refuses
        b.addr_add(&AddrSpec::new("nosuch0", pfx("10.0.0.3/24"))); // refused before sending
        b.addr_add(&AddrSpec::new("a0", pfx("2001:db8::3/64")).nodad());
        b.addr_replace(
            &AddrSpec::new(a0, pfx("10.0.0.1/24"))
                .valid_lft(Lifetime::Seconds(500))
                .preferred_lft(Lifetime::Seconds(400)),
        );
        let out = b.execute().unwrap();
        assert_eq!(out.len(), 5);
        assert!(out[0].is_ok(), "{:?}", out[0]);
        let e = out[1].as_ref().unwrap_err();
        assert!(e.is_exists(), "{e}");
        let theirs = netns_testutil::ip_extack(["addr", "add", "10.0.0.1/24", "dev", "a0"]);
        assert_eq!(e.extack(), theirs.as_deref(), "{e}");
        assert_refused(out[2].as_ref().unwrap_err(), "does not exist");
        assert!(out[3].is_ok(), "{:?}", out[3]);
        assert!(out[4].is_ok(), "{:?}", out[4]);
        let got = ip_addrs(&["dev", "a0"]);
        assert!(got.contains(&("a0".into(), "inet".into(), "10.0.0.1".into(), 24)));
        assert!(got.contains(&("a0".into(), "inet6".into(), "2001:db8::3".into(), 64)));
        assert!(!got.iter().any(|a| a.2 == "10.0.0.3"));
        let j = ip_addr("a0", "10.0.0.1");
        let valid = j["valid_life_time"].as_u64().unwrap();
        assert!(valid <= 500 && valid > 0, "replaced: {j}");

        let mut b = h.batch();
        b.addr_del(&AddrSpec::new(a0, pfx("10.0.0.1/24")));
        b.addr_del(&AddrSpec::new(a0, pfx("10.0.0.1/24")));
        b.addr_del(&AddrSpec::new(a0, pfx("2001:db8::3/64")));
        let out = b.execute().unwrap();
        assert!(out[0].is_ok());
        assert!(out[1].as_ref().unwrap_err().is_not_found());
        assert!(out[2].is_ok());
        assert!(!ip_addrs(&["dev", "a0"])
            .iter()
            .any(|a| a.1 == "inet" || a.2 == "2001:db8::3"));
    });
}

#[test]
fn unknown_link_index_in_a_filter_is_the_kernels_error() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let e = h.addrs(&AddrFilter::new().link(9999u32)).unwrap_err();
        assert!(e.is_not_found(), "{e}");
        let e = h.addrs(&AddrFilter::new().link("nosuch0")).unwrap_err();
        assert_refused(&e, "device \"nosuch0\" does not exist");
    });
}
