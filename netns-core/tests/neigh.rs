//! Neighbours, checked with `ip -j neigh show` in the same private
//! namespace. The links stay down so no entry appears or changes state on
//! its own (MLD, timers) between our listing and ip's.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use netns_core::{
    AddrSpec, Handle, IpFamily, LinkFilter, LinkSpec, MacAddr, NeighFilter, NeighFlags, NeighSpec,
    NeighState, Neighbour,
};
use netns_testutil::{in_private_netns, ip_json};
use serde_json::Value;

mod common;
use common::assert_refused;

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}
fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

type Row = (String, String, Option<String>, Vec<String>, bool);

/// What `ip -j ARGS` shows: (dst, dev, lladdr, state, router).
fn ip_neigh(args: &[&str]) -> BTreeSet<Row> {
    ip_json(args)
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["dst"].as_str().unwrap().to_owned(),
                n["dev"].as_str().unwrap_or_default().to_owned(),
                n["lladdr"].as_str().map(str::to_owned),
                n.get("state")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default(),
                n.get("router").is_some(),
            )
        })
        .collect()
}

fn ours(h: &Handle, list: &[Neighbour]) -> BTreeSet<Row> {
    let names: HashMap<u32, String> = h
        .links(&LinkFilter::new())
        .unwrap()
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    list.iter()
        .map(|n| {
            (
                n.dst.to_string(),
                names[&n.link_index].clone(),
                n.mac().map(|m| m.to_string()),
                n.state.names().into_iter().map(str::to_owned).collect(),
                n.flags.contains(NeighFlags::ROUTER),
            )
        })
        .collect()
}

fn setup(h: &Handle) {
    h.link_add(&LinkSpec::veth("a0", "a1")).unwrap();
}

fn populate(h: &Handle) {
    for spec in [
        NeighSpec::new("a0", addr("10.0.0.2")).lladdr(mac("02:00:00:00:00:02")),
        NeighSpec::new("a0", addr("10.0.0.3"))
            .lladdr(mac("02:00:00:00:00:03"))
            .state(NeighState::NOARP),
        NeighSpec::new("a0", addr("10.0.0.4"))
            .lladdr(mac("02:00:00:00:00:04"))
            .state(NeighState::STALE),
        NeighSpec::new("a0", addr("2001:db8::2"))
            .lladdr(mac("02:00:00:00:01:02"))
            .state(NeighState::STALE)
            .router(),
        NeighSpec::new("a1", addr("10.0.1.2")).lladdr(mac("02:00:00:00:02:02")),
        NeighSpec::new("a1", addr("2001:db8:1::2")).lladdr(mac("02:00:00:00:03:02")),
    ] {
        h.neigh_add(&spec).unwrap();
    }
}

#[test]
fn add_and_list_agree_with_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        populate(&h);
        let all = h.neighbours(&NeighFilter::new()).unwrap();
        assert_eq!(ours(&h, &all), ip_neigh(&["neigh", "show", "nud", "all"]));
        assert_eq!(all.len(), 6);
        let n = all.iter().find(|n| n.dst == addr("2001:db8::2")).unwrap();
        assert!(n.flags.contains(NeighFlags::ROUTER));
        assert_eq!(n.state, NeighState::STALE);
        assert_eq!(n.family(), IpFamily::V6);
        let n = all.iter().find(|n| n.dst == addr("10.0.0.2")).unwrap();
        assert!(
            n.state.contains(NeighState::PERMANENT),
            "permanent by default, as ip neigh add"
        );
        assert_eq!(n.link_index, h.link_index("a0").unwrap());
        assert_eq!(n.lladdr.as_deref(), Some(&[2, 0, 0, 0, 0, 2][..]));

        let cases: [(NeighFilter, &[&str]); 4] = [
            (
                NeighFilter::new().link("a0"),
                &["neigh", "show", "dev", "a0", "nud", "all"],
            ),
            (
                NeighFilter::new().family(IpFamily::V6),
                &["-6", "neigh", "show", "nud", "all"],
            ),
            (
                NeighFilter::new().family(IpFamily::V4).link("a1"),
                &["-4", "neigh", "show", "dev", "a1", "nud", "all"],
            ),
            (
                NeighFilter::new().link(h.link_index("a1").unwrap()),
                &["neigh", "show", "dev", "a1", "nud", "all"],
            ),
        ];
        for (f, args) in cases {
            let got = ours(&h, &h.neighbours(&f).unwrap());
            let mut want = ip_neigh(args);
            if f.link.is_some() {
                // `ip neigh show dev X` leaves the device out
                let dev = if args.contains(&"a0") { "a0" } else { "a1" };
                want = want
                    .into_iter()
                    .map(|mut r| {
                        r.1 = dev.to_owned();
                        r
                    })
                    .collect();
            }
            assert_eq!(got, want, "{f:?}");
            assert!(!want.is_empty());
        }
        assert_refused(
            &h.neighbours(&NeighFilter::new().link("nosuch0"))
                .unwrap_err(),
            "device \"nosuch0\" does not exist",
        );
    });
}

#[test]
fn replace_and_delete() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let spec = NeighSpec::new("a0", addr("10.0.0.2")).lladdr(mac("02:00:00:00:00:02"));
        h.neigh_add(&spec).unwrap();
        let e = h.neigh_add(&spec).unwrap_err();
        assert!(e.is_exists(), "{e}");
        assert!(
            e.to_string()
                .starts_with("neigh_add 10.0.0.2 dev a0: File exists"),
            "{e}"
        );
        h.neigh_replace(
            &NeighSpec::new("a0", addr("10.0.0.2"))
                .lladdr(mac("02:00:00:00:00:99"))
                .state(NeighState::NOARP),
        )
        .unwrap();
        let got = ip_neigh(&["neigh", "show", "nud", "all"]);
        assert_eq!(
            got,
            BTreeSet::from([(
                "10.0.0.2".to_owned(),
                "a0".to_owned(),
                Some("02:00:00:00:00:99".to_owned()),
                vec!["NOARP".to_owned()],
                false
            )])
        );
        // replace of a missing entry creates it
        h.neigh_replace(
            &NeighSpec::new("a0", addr("2001:db8::7")).lladdr(mac("02:00:00:00:00:07")),
        )
        .unwrap();
        assert_eq!(ip_neigh(&["-6", "neigh", "show", "nud", "all"]).len(), 1);
        h.neigh_del(&NeighSpec::new("a0", addr("10.0.0.2")))
            .unwrap();
        h.neigh_del(&NeighSpec::new("a0", addr("2001:db8::7")))
            .unwrap();
        assert!(ip_neigh(&["neigh", "show", "nud", "all"]).is_empty());
        let e = h
            .neigh_del(&NeighSpec::new("a0", addr("10.0.0.2")))
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
    });
}

#[test]
fn proxy_entries() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.neigh_add(&NeighSpec::new("a0", addr("10.0.0.50")).proxy())
            .unwrap();
        h.neigh_add(&NeighSpec::new("a0", addr("2001:db8::50")).proxy())
            .unwrap();
        let j = ip_json(["neigh", "show", "proxy"]);
        let want: BTreeSet<String> = j
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                format!(
                    "{} {}",
                    n["dst"].as_str().unwrap(),
                    n["dev"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            want,
            BTreeSet::from(["10.0.0.50 a0".to_owned(), "2001:db8::50 a0".to_owned()])
        );
        let ours = h.neighbours(&NeighFilter::new().proxy()).unwrap();
        let got: BTreeSet<String> = ours
            .iter()
            .map(|n| {
                assert!(n.flags.contains(NeighFlags::PROXY));
                format!("{} {}", n.dst, h.link_get(n.link_index).unwrap().name)
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            h.neighbours(&NeighFilter::new().proxy().family(IpFamily::V6))
                .unwrap()
                .len(),
            1
        );
        // proxies are not in the ordinary table
        assert!(h.neighbours(&NeighFilter::new()).unwrap().is_empty());
        h.neigh_del(&NeighSpec::new("a0", addr("10.0.0.50")).proxy())
            .unwrap();
        h.neigh_del(&NeighSpec::new("a0", addr("2001:db8::50")).proxy())
            .unwrap();
        assert_eq!(ip_json(["neigh", "show", "proxy"]), Value::Array(vec![]));
    });
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        populate(&h);
        let before = (
            ip_neigh(&["neigh", "show", "nud", "all"]),
            ip_json(["neigh", "show", "proxy"]),
        );
        let m = mac("02:00:00:00:00:42");
        let cases: Vec<(NeighSpec, &str)> = vec![
            (
                NeighSpec::new("nosuch0", addr("10.0.0.42")).lladdr(m),
                "device \"nosuch0\" does not exist",
            ),
            (
                NeighSpec::new("bad/name", addr("10.0.0.42")).lladdr(m),
                "cannot contain '/'",
            ),
            (
                NeighSpec::new("a0", addr("0.0.0.0")).lladdr(m),
                "unspecified address",
            ),
            (
                NeighSpec::new("a0", addr("::")).lladdr(m),
                "unspecified address",
            ),
            (
                NeighSpec::new("a0", addr("10.0.0.42"))
                    .lladdr(m)
                    .state(NeighState(0x82)),
                "the state must be one of",
            ),
            (
                NeighSpec::new("a0", addr("10.0.0.42")).lladdr(m).router(),
                "router flag is IPv6 only",
            ),
            (
                NeighSpec::new("a0", addr("10.0.0.42")).lladdr(m).proxy(),
                "a proxy entry has no link-layer address",
            ),
        ];
        for (spec, why) in cases {
            for r in [h.neigh_add(&spec), h.neigh_replace(&spec)] {
                let e = r.expect_err(&format!("{spec:?} was accepted"));
                assert_refused(&e, why);
            }
        }
        let e = h
            .neigh_del(&NeighSpec::new("nosuch0", addr("10.0.0.2")))
            .unwrap_err();
        assert_refused(&e, "device \"nosuch0\" does not exist");
        let after = (
            ip_neigh(&["neigh", "show", "nud", "all"]),
            ip_json(["neigh", "show", "proxy"]),
        );
        assert_eq!(after, before, "nothing changed");
    });
}

#[test]
fn kernel_refusals_carry_the_kernels_text() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        // A valid state needs a link-layer address on an Ethernet device
        // (once the namespace has an IPv4 table: with none, the kernel
        // takes 10.0.0.7 for a broadcast address and accepts the entry
        // with ff:ff:ff:ff:ff:ff).
        h.addr_add(&AddrSpec::new("a0", "10.0.0.1/24".parse().unwrap()))
            .unwrap();
        let e = h
            .neigh_add(&NeighSpec::new("a0", addr("10.0.0.7")))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        assert_eq!(e.extack(), Some("No link layer address given"), "{e}");
        assert!(
            e.to_string()
                .starts_with("neigh_add 10.0.0.7 dev a0: Invalid argument"),
            "{e}"
        );
        // ... and leaves an entry without state behind (documented).
        assert_eq!(
            ip_neigh(&["neigh", "show", "nud", "all"]),
            BTreeSet::from([("10.0.0.7".into(), "a0".into(), None, vec![], false)])
        );
        let n = h.neighbours(&NeighFilter::new()).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].state, NeighState::NONE);
        h.neigh_del(&NeighSpec::new("a0", addr("10.0.0.7")))
            .unwrap();
        assert!(ip_neigh(&["neigh", "show", "nud", "all"]).is_empty());
    });
}

#[test]
fn batch_outcomes_in_order() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.addr_add(&AddrSpec::new("a0", "10.0.0.1/24".parse().unwrap()))
            .unwrap();
        let a0 = h.link_index("a0").unwrap();
        let m = mac("02:00:00:00:00:02");
        let mut b = h.batch();
        b.neigh_add(&NeighSpec::new(a0, addr("10.0.0.2")).lladdr(m));
        b.neigh_add(&NeighSpec::new(a0, addr("10.0.0.2")).lladdr(m)); // exists
        b.neigh_add(&NeighSpec::new("nosuch0", addr("10.0.0.3")).lladdr(m)); // before sending
        b.neigh_add(&NeighSpec::new(a0, addr("10.0.0.4"))); // kernel: no lladdr
        b.neigh_add(&NeighSpec::new("a0", addr("2001:db8::2")).lladdr(m));
        b.neigh_replace(
            &NeighSpec::new(a0, addr("10.0.0.2"))
                .lladdr(m)
                .state(NeighState::STALE),
        );
        b.neigh_del(&NeighSpec::new(a0, addr("10.0.0.99")));
        let out = b.execute().unwrap();
        assert_eq!(out.len(), 7);
        assert!(out[0].is_ok(), "{:?}", out[0]);
        assert!(out[1].as_ref().unwrap_err().is_exists());
        assert_refused(out[2].as_ref().unwrap_err(), "does not exist");
        assert_eq!(
            out[3].as_ref().unwrap_err().extack(),
            Some("No link layer address given")
        );
        assert!(out[4].is_ok(), "{:?}", out[4]);
        assert!(out[5].is_ok(), "{:?}", out[5]);
        assert!(out[6].as_ref().unwrap_err().is_not_found());
        let got = ip_neigh(&["neigh", "show", "nud", "all"]);
        assert!(got.contains(&(
            "10.0.0.2".into(),
            "a0".into(),
            Some("02:00:00:00:00:02".into()),
            vec!["STALE".into()],
            false
        )));
        assert!(got.iter().any(|r| r.0 == "2001:db8::2"));
        assert!(!got.iter().any(|r| r.0 == "10.0.0.3"));
    });
}
