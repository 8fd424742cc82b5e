//! Routes, checked with `ip -j route` in the same private namespace.

use std::collections::HashMap;
use std::net::IpAddr;

use netns_core::route::{TABLE_LOCAL, TABLE_MAIN};
use netns_core::{
    parse_prefix, AddrSpec, Handle, IpFamily, IpNet, LinkFilter, LinkSpec, NextHopSpec, Route,
    RouteFilter, RouteFlags, RouteProtocol, RouteSpec, RouteType, Scope,
};
use netns_testutil::{in_private_netns, ip, ip_json, ip_output};
use serde_json::{json, Map, Value};

mod common;
use common::assert_refused;

fn pfx(s: &str) -> IpNet {
    parse_prefix(s).unwrap()
}
fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// veth a0/a1 up; 10.0.0.1/24 and 2001:db8::1/64 on a0, 10.0.1.1/24 on a1.
fn setup(h: &Handle) {
    ip(["link", "set", "lo", "up"]);
    h.link_add(&LinkSpec::veth("a0", "a1").up()).unwrap();
    h.link_set_up("a1").unwrap();
    h.addr_add(&AddrSpec::new("a0", pfx("10.0.0.1/24")))
        .unwrap();
    h.addr_add(&AddrSpec::new("a1", pfx("10.0.1.1/24")))
        .unwrap();
    h.addr_add(&AddrSpec::new("a0", pfx("2001:db8::1/64")).nodad())
        .unwrap();
}

fn names(h: &Handle) -> HashMap<u32, String> {
    h.links(&LinkFilter::new())
        .unwrap()
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect()
}

/// Our route rendered the way `ip -j route` renders it (the keys `ip`
/// omits for default values omitted too).
fn ip_style(r: &Route, names: &HashMap<u32, String>) -> Value {
    let mut m = Map::new();
    if r.kind != RouteType::UNICAST {
        m.insert("type".into(), json!(r.kind.to_string()));
    }
    let full = r.dst.prefix_len() == r.family().max_prefix_len();
    let dst = if r.dst.prefix_len() == 0 {
        "default".to_owned()
    } else if full {
        r.dst.addr().to_string()
    } else {
        r.dst.to_string()
    };
    m.insert("dst".into(), json!(dst));
    if let Some(g) = r.gateway {
        m.insert("gateway".into(), json!(g.to_string()));
    }
    if let Some(o) = r.link_index {
        m.insert("dev".into(), json!(names[&o]));
    }
    if r.table != TABLE_MAIN {
        let t = match r.table {
            TABLE_LOCAL => "local".to_owned(),
            253 => "default".to_owned(),
            t => t.to_string(),
        };
        m.insert("table".into(), json!(t));
    }
    if r.protocol != RouteProtocol::BOOT {
        m.insert("protocol".into(), json!(r.protocol.to_string()));
    }
    if r.scope != Scope::GLOBAL {
        m.insert("scope".into(), json!(r.scope.to_string()));
    }
    if let Some(s) = r.prefsrc {
        m.insert("prefsrc".into(), json!(s.to_string()));
    }
    if let Some(p) = r.metric {
        m.insert("metric".into(), json!(p));
    }
    m.insert("flags".into(), json!(r.flags.names()));
    if !r.nexthops.is_empty() {
        let hops: Vec<Value> = r
            .nexthops
            .iter()
            .map(|n| {
                let mut h = Map::new();
                if let Some(g) = n.gateway {
                    h.insert("gateway".into(), json!(g.to_string()));
                }
                if let Some(o) = n.link_index {
                    h.insert("dev".into(), json!(names[&o]));
                }
                h.insert("weight".into(), json!(n.weight));
                h.insert("flags".into(), json!(n.flags.names()));
                Value::Object(h)
            })
            .collect();
        m.insert("nexthops".into(), Value::Array(hops));
    }
    Value::Object(m)
}

/// `ip -j ARGS` (a route listing), with the keys we do not model removed,
/// sorted.
fn ip_routes(args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ip_json(args)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("pref");
            r.to_string()
        })
        .collect();
    v.sort();
    v
}

/// `ip -j ARGS` as a list; a table that does not exist is empty (ip's
/// error for it is the kernel's ENOENT).
fn ip_list_or_no_table(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["-j"];
    all.extend_from_slice(args);
    let out = ip_output(&all);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("FIB table does not exist"),
            "ip {args:?}: {err}"
        );
        return Vec::new();
    }
    ip_json(args).as_array().unwrap().clone()
}

/// Compare our listing with ip's while the kernel may still be adding
/// routes on its own (IPv6 installs the local route of an address, and of
/// a link-local address after DAD, from a workqueue): list ours, then ip's,
/// then ours again; when both of ours agree nothing changed in between, so
/// ip's must agree too. Routes only appear here, so this settles quickly.
fn assert_agree(what: &str, ours: impl Fn() -> Vec<String>, theirs: impl Fn() -> Vec<String>) {
    for _ in 0..1000 {
        let a = ours();
        let i = theirs();
        let b = ours();
        if a == b {
            assert_eq!(a, i, "{what}");
            return;
        }
    }
    panic!("{what}: the routes kept changing");
}

fn ours(h: &Handle, filter: &RouteFilter) -> Vec<String> {
    let n = names(h);
    let mut v: Vec<String> = h
        .routes(filter)
        .unwrap()
        .iter()
        .map(|r| ip_style(r, &n).to_string())
        .collect();
    v.sort();
    v
}

fn find(h: &Handle, filter: &RouteFilter, dst: &str) -> Route {
    h.routes(filter)
        .unwrap()
        .into_iter()
        .find(|r| r.dst == pfx(dst))
        .unwrap_or_else(|| panic!("no route to {dst}"))
}

#[test]
fn unicast_routes_ipv4_and_ipv6_agree_with_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.route_add(&RouteSpec::new(pfx("10.2.0.0/16")).via(addr("10.0.0.2")))
            .unwrap();
        h.route_add(&RouteSpec::new(pfx("10.5.0.0/24")).link("a0").metric(5))
            .unwrap();
        h.route_add(
            &RouteSpec::new(pfx("10.7.0.0/24"))
                .via(addr("10.0.1.2"))
                .prefsrc(addr("10.0.0.1"))
                .protocol(RouteProtocol::STATIC),
        )
        .unwrap();
        h.route_add(&RouteSpec::default_via(addr("10.0.0.2")))
            .unwrap();
        h.route_add(&RouteSpec::new(pfx("2001:db8:7::/48")).via(addr("2001:db8::2")))
            .unwrap();
        h.route_add(&RouteSpec::default_via(addr("2001:db8::2")).metric(100))
            .unwrap();
        h.route_add(&RouteSpec::new(pfx("2001:db8:9::/64")).link("a1"))
            .unwrap();

        let j = ip_json(["route", "show", "10.2.0.0/16"]);
        assert_eq!(j[0]["gateway"], "10.0.0.2");
        assert_eq!(j[0]["dev"], "a0");
        let j = ip_json(["route", "show", "10.5.0.0/24"]);
        assert_eq!(j[0]["scope"], "link", "a device route gets scope link");
        assert_eq!(j[0]["metric"], 5);
        let j = ip_json(["route", "show", "10.7.0.0/24"]);
        assert_eq!(j[0]["protocol"], "static");
        assert_eq!(j[0]["prefsrc"], "10.0.0.1");
        assert_eq!(j[0]["dev"], "a1");

        // The whole main table of each family, ours vs ip's.
        assert_agree(
            "IPv4 main",
            || {
                ours(
                    &h,
                    &RouteFilter::new().family(IpFamily::V4).table(TABLE_MAIN),
                )
            },
            || ip_routes(&["-4", "route", "show", "table", "main"]),
        );
        assert_agree(
            "IPv6 main",
            || {
                ours(
                    &h,
                    &RouteFilter::new().family(IpFamily::V6).table(TABLE_MAIN),
                )
            },
            || ip_routes(&["-6", "route", "show", "table", "main"]),
        );
        let r = find(&h, &RouteFilter::new().family(IpFamily::V6), "::/0");
        assert_eq!(r.gateway, Some(addr("2001:db8::2")));
        assert_eq!(r.metric, Some(100));
        assert_eq!(r.protocol, RouteProtocol::BOOT);
        let r = find(&h, &RouteFilter::new(), "10.5.0.0/24");
        assert_eq!(r.scope, Scope::LINK);
        assert_eq!(r.link_index, Some(h.link_index("a0").unwrap()));
        assert_eq!(r.table, TABLE_MAIN);
        assert_eq!(r.kind, RouteType::UNICAST);
    });
}

#[test]
fn listing_filters_by_family_table_and_link() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.route_add(&RouteSpec::new(pfx("10.5.0.0/24")).link("a0").table(100))
            .unwrap();
        h.route_add(&RouteSpec::new(pfx("10.6.0.0/24")).link("a1").table(1000))
            .unwrap();
        h.route_add(
            &RouteSpec::new(pfx("2001:db8:6::/64"))
                .link("a1")
                .table(1000),
        )
        .unwrap();
        let cases: Vec<(RouteFilter, Vec<&str>)> = vec![
            (RouteFilter::new(), vec!["table", "all"]),
            (
                RouteFilter::new().family(IpFamily::V4),
                vec!["table", "all"],
            ),
            (RouteFilter::new().table(100), vec!["table", "100"]),
            (RouteFilter::new().table(1000), vec!["table", "1000"]),
            (
                RouteFilter::new().table(TABLE_LOCAL),
                vec!["table", "local"],
            ),
            (
                RouteFilter::new().link("a1"),
                vec!["table", "all", "dev", "a1"],
            ),
            (
                RouteFilter::new().family(IpFamily::V6).table(1000),
                vec!["table", "1000"],
            ),
        ];
        for (filter, args) in cases {
            let strip_table = filter.table.is_some();
            let got = || {
                let mut got = ours(&h, &filter);
                if strip_table {
                    // `ip route show table T` leaves the table out
                    got = got
                        .into_iter()
                        .map(|r| {
                            let mut v: Value = serde_json::from_str(&r).unwrap();
                            v.as_object_mut().unwrap().remove("table");
                            v.to_string()
                        })
                        .collect();
                    got.sort();
                }
                got
            };
            let want = || {
                // `ip route show` without -4/-6 shows IPv4 only: ask for each.
                let fams: &[&str] = match filter.family {
                    Some(IpFamily::V4) => &["-4"],
                    Some(IpFamily::V6) => &["-6"],
                    None => &["-4", "-6"],
                };
                let mut listed = Vec::new();
                for fam in fams {
                    let mut all = vec![*fam, "route", "show"];
                    all.extend(args.iter().copied());
                    listed.extend(ip_list_or_no_table(&all));
                }
                let mut want: Vec<String> = listed
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        let o = r.as_object_mut().unwrap();
                        o.remove("pref");
                        if filter.link.is_some() {
                            // `ip route show dev X` leaves the device out
                            o.insert("dev".into(), json!("a1"));
                        }
                        r.to_string()
                    })
                    .collect();
                want.sort();
                want
            };
            assert_agree(&format!("{filter:?}"), got, want);
            let want = want();
            assert!(!want.is_empty(), "{filter:?}");
        }
        // The kernel filtered: table 1000 has exactly our two routes.
        let t = h.routes(&RouteFilter::new().table(1000)).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|r| r.table == 1000));
        // A table that does not exist has no routes (the kernel says ENOENT).
        assert_eq!(h.routes(&RouteFilter::new().table(4242)).unwrap(), vec![]);
        assert_eq!(
            h.routes(&RouteFilter::new().table(4242).family(IpFamily::V4))
                .unwrap(),
            vec![]
        );
        assert!(h
            .routes(&RouteFilter::new().table(0))
            .unwrap_err()
            .is_invalid_argument());
    });
}

#[test]
fn route_types_local_and_onlink() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        for (t, d) in [
            (RouteType::BLACKHOLE, "10.10.0.0/16"),
            (RouteType::UNREACHABLE, "10.11.0.0/16"),
            (RouteType::PROHIBIT, "10.12.0.0/16"),
            (RouteType::BLACKHOLE, "2001:db8:10::/48"),
            (RouteType::UNREACHABLE, "2001:db8:11::/48"),
            (RouteType::PROHIBIT, "2001:db8:12::/48"),
        ] {
            h.route_add(&RouteSpec::new(pfx(d)).kind(t)).unwrap();
            let fam = if d.contains(':') { "-6" } else { "-4" };
            let j = ip_json([fam, "route", "show", d]);
            assert_eq!(j[0]["type"], t.to_string(), "{d}: {j}");
            let r = find(&h, &RouteFilter::new(), d);
            assert_eq!(r.kind, t);
        }
        // local: table local, scope host
        h.route_add(
            &RouteSpec::new(pfx("10.9.9.9/32"))
                .kind(RouteType::LOCAL)
                .link("lo"),
        )
        .unwrap();
        let j = ip_json(["route", "show", "table", "local", "10.9.9.9"]);
        assert_eq!(j[0]["type"], "local");
        assert_eq!(j[0]["scope"], "host");
        let r = find(&h, &RouteFilter::new().table(TABLE_LOCAL), "10.9.9.9/32");
        assert_eq!(r.kind, RouteType::LOCAL);
        assert_eq!(r.scope, Scope::HOST);
        // onlink: a gateway outside every prefix of the link
        h.route_add(
            &RouteSpec::new(pfx("10.20.0.0/16"))
                .via(addr("192.168.99.1"))
                .link("a0")
                .onlink(),
        )
        .unwrap();
        let j = ip_json(["route", "show", "10.20.0.0/16"]);
        assert_eq!(j[0]["flags"], json!(["onlink"]));
        assert_eq!(j[0]["gateway"], "192.168.99.1");
        let r = find(&h, &RouteFilter::new(), "10.20.0.0/16");
        assert!(r.flags.contains(RouteFlags::ONLINK));
        // Without onlink the kernel refuses, with its text.
        let e = h
            .route_add(
                &RouteSpec::new(pfx("10.21.0.0/16"))
                    .via(addr("192.168.99.1"))
                    .link("a0"),
            )
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENETUNREACH), "{e}");
        assert_eq!(e.extack(), Some("Nexthop has invalid gateway"), "{e}");
        assert!(e.to_string().starts_with("route_add 10.21.0.0/16: "), "{e}");
        assert!(ip_json(["route", "show", "10.21.0.0/16"])
            .as_array()
            .unwrap()
            .is_empty());
    });
}

#[test]
fn multipath_with_weights_matches_ip() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.route_add(
            &RouteSpec::new(pfx("10.3.0.0/16"))
                .nexthop(NextHopSpec::via(addr("10.0.0.2")).link("a0").weight(2))
                .nexthop(NextHopSpec::via(addr("10.0.1.3")).weight(5))
                .nexthop(NextHopSpec::via(addr("10.0.0.4"))),
        )
        .unwrap();
        let j = ip_json(["route", "show", "10.3.0.0/16"]);
        assert_eq!(
            j[0]["nexthops"],
            json!([
                {"gateway": "10.0.0.2", "dev": "a0", "weight": 2, "flags": []},
                {"gateway": "10.0.1.3", "dev": "a1", "weight": 5, "flags": []},
                {"gateway": "10.0.0.4", "dev": "a0", "weight": 1, "flags": []},
            ])
        );
        let r = find(&h, &RouteFilter::new(), "10.3.0.0/16");
        assert_eq!(r.nexthops.len(), 3);
        assert_eq!(r.nexthops[1].weight, 5);
        assert_eq!(r.gateway, None);
        assert_eq!(ip_style(&r, &names(&h)).to_string(), {
            let mut v = j[0].clone();
            v.as_object_mut().unwrap().remove("pref");
            v.to_string()
        });

        h.route_add(
            &RouteSpec::new(pfx("2001:db8:5::/64"))
                .nexthop(NextHopSpec::via(addr("2001:db8::2")).link("a0").weight(3))
                .nexthop(NextHopSpec::via(addr("2001:db8::3")).link("a0")),
        )
        .unwrap();
        let j = ip_json(["-6", "route", "show", "2001:db8:5::/64"]);
        assert_eq!(
            j[0]["nexthops"],
            json!([
                {"gateway": "2001:db8::2", "dev": "a0", "weight": 3, "flags": []},
                {"gateway": "2001:db8::3", "dev": "a0", "weight": 1, "flags": []},
            ])
        );
        let r = find(
            &h,
            &RouteFilter::new().family(IpFamily::V6),
            "2001:db8:5::/64",
        );
        assert_eq!(r.nexthops.len(), 2);
        assert_eq!(r.nexthops[0].weight, 3);
        let mut v = j[0].clone();
        v.as_object_mut().unwrap().remove("pref");
        assert_eq!(ip_style(&r, &names(&h)), v);

        // and delete them
        h.route_del(&RouteSpec::new(pfx("10.3.0.0/16"))).unwrap();
        h.route_del(&RouteSpec::new(pfx("2001:db8:5::/64")))
            .unwrap();
        assert!(ip_json(["route", "show", "10.3.0.0/16"])
            .as_array()
            .unwrap()
            .is_empty());
        assert!(ip_json(["-6", "route", "show", "2001:db8:5::/64"])
            .as_array()
            .unwrap()
            .is_empty());
    });
}

#[test]
fn get_returns_the_chosen_route_like_ip_route_get() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        h.route_add(&RouteSpec::default_via(addr("10.0.0.2")))
            .unwrap();
        h.route_add(&RouteSpec::new(pfx("10.8.0.0/16")).via(addr("10.0.1.2")))
            .unwrap();
        h.route_add(&RouteSpec::default_via(addr("2001:db8::2")))
            .unwrap();
        let n = names(&h);
        for dst in [
            "8.8.8.8",
            "10.8.1.1",
            "10.0.1.77",
            "2001:db8:99::1",
            "2001:db8::5",
        ] {
            let r = h.route_get(addr(dst)).unwrap();
            let fam = if dst.contains(':') { "-6" } else { "-4" };
            let j = &ip_json([fam, "route", "get", dst])[0];
            assert_eq!(r.dst, IpNet::from(addr(dst)));
            assert_eq!(
                r.gateway.map(|g| g.to_string()),
                j["gateway"].as_str().map(str::to_owned),
                "{dst}: {j}"
            );
            assert_eq!(
                Some(n[&r.link_index.unwrap()].as_str()),
                j["dev"].as_str(),
                "{dst}"
            );
            assert_eq!(
                r.prefsrc.map(|g| g.to_string()),
                j["prefsrc"].as_str().map(str::to_owned),
                "{dst}"
            );
            assert_eq!(r.table, TABLE_MAIN);
        }
        let r = h.route_get(addr("10.0.0.1")).unwrap();
        assert_eq!(r.kind, RouteType::LOCAL);
        assert_eq!(r.link_index, Some(h.link_index("lo").unwrap()));
        // No route: the kernel's error.
        h.route_del(&RouteSpec::new(IpFamily::V4.default_prefix()))
            .unwrap();
        let e = h.route_get(addr("8.8.8.8")).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENETUNREACH), "{e}");
        assert!(
            e.to_string()
                .starts_with("route_get 8.8.8.8: Network is unreachable"),
            "{e}"
        );
    });
}

#[test]
fn replace_append_and_delete() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let spec = RouteSpec::new(pfx("10.2.0.0/16")).via(addr("10.0.0.2"));
        h.route_add(&spec).unwrap();
        let e = h.route_add(&spec).unwrap_err();
        assert!(e.is_exists(), "{e}");
        h.route_replace(&RouteSpec::new(pfx("10.2.0.0/16")).via(addr("10.0.1.2")))
            .unwrap();
        let j = ip_json(["route", "show", "10.2.0.0/16"]);
        assert_eq!(j.as_array().unwrap().len(), 1);
        assert_eq!(j[0]["gateway"], "10.0.1.2");
        // append: a second route, another metric... IPv6 merges same-metric
        // appends into one multipath route.
        h.route_add(&RouteSpec::new(pfx("2001:db8:3::/64")).via(addr("2001:db8::2")))
            .unwrap();
        h.route_append(&RouteSpec::new(pfx("2001:db8:3::/64")).via(addr("2001:db8::3")))
            .unwrap();
        let r = find(
            &h,
            &RouteFilter::new().family(IpFamily::V6),
            "2001:db8:3::/64",
        );
        assert_eq!(r.nexthops.len(), 2, "{r:?}");
        // del with wildcards, then a missing route
        h.route_del(&RouteSpec::new(pfx("10.2.0.0/16"))).unwrap();
        assert!(ip_json(["route", "show", "10.2.0.0/16"])
            .as_array()
            .unwrap()
            .is_empty());
        let e = h
            .route_del(&RouteSpec::new(pfx("10.2.0.0/16")))
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        let e = h
            .route_del(&RouteSpec::new(pfx("2001:db8:77::/64")))
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        // del selects by table, and by the spec of a listed route
        h.route_add(&RouteSpec::new(pfx("10.4.0.0/16")).link("a0").table(5000))
            .unwrap();
        assert!(h
            .route_del(&RouteSpec::new(pfx("10.4.0.0/16")))
            .unwrap_err()
            .is_not_found());
        let r = find(&h, &RouteFilter::new().table(5000), "10.4.0.0/16");
        h.route_del(&r.to_spec()).unwrap();
        assert!(ip_json(["route", "show", "table", "5000"])
            .as_array()
            .unwrap()
            .is_empty());
        // every route we list in main can be deleted with its spec; none of
        // them is left (the kernel may add IPv6 link-local routes of its
        // own meanwhile, so only ours are checked)
        let n = names(&h);
        let listed = h.routes(&RouteFilter::new().table(TABLE_MAIN)).unwrap();
        assert!(listed.len() >= 4, "{listed:?}");
        for r in &listed {
            h.route_del(&r.to_spec()).unwrap();
        }
        let left: Vec<String> = ip_routes(&["-4", "route", "show", "table", "main"])
            .into_iter()
            .chain(ip_routes(&["-6", "route", "show", "table", "main"]))
            .collect();
        for r in &listed {
            let shown = ip_style(r, &n).to_string();
            assert!(!left.contains(&shown), "{shown} still there: {left:?}");
        }
        assert!(ip_json(["-4", "route", "show", "table", "main"])
            .as_array()
            .unwrap()
            .is_empty());
    });
}

/// Every route `ip` shows in every table, both families, except the ones
/// the kernel installs itself (IPv6 adds some from a workqueue, at any time
/// after an address or link comes up).
fn snapshot() -> Vec<Value> {
    let mut v = ip_json(["-4", "route", "show", "table", "all"])
        .as_array()
        .unwrap()
        .clone();
    v.extend(
        ip_json(["-6", "route", "show", "table", "all"])
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    v.retain(|r| r["protocol"] != "kernel");
    v
}

#[test]
fn bad_input_is_refused_before_anything_is_sent() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        // something of ours to see unchanged, in several tables
        h.route_add(&RouteSpec::new(pfx("10.50.0.0/16")).via(addr("10.0.0.2")))
            .unwrap();
        h.route_add(
            &RouteSpec::new(pfx("2001:db8:50::/48"))
                .link("a1")
                .table(300),
        )
        .unwrap();
        let before = snapshot();
        assert_eq!(before.len(), 2, "{before:?}");
        let cases: Vec<(RouteSpec, &str)> = vec![
            (
                RouteSpec::new(pfx("10.9.0.1/24")).link("a0"),
                "10.9.0.1/24 has host bits set: the destination would be 10.9.0.0/24",
            ),
            (
                RouteSpec::new(pfx("2001:db8:1::1/64")).link("a0"),
                "has host bits set",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24")).via(addr("2001:db8::2")),
                "gateway 2001:db8::2 is IPv6 but the destination 10.9.0.0/24 is IPv4",
            ),
            (
                RouteSpec::new(pfx("2001:db8:9::/64")).via(addr("10.0.0.2")),
                "gateway 10.0.0.2 is IPv4 but the destination 2001:db8:9::/64 is IPv6",
            ),
            (
                RouteSpec::default_via(addr("10.0.0.2")).prefsrc(addr("2001:db8::1")),
                "source 2001:db8::1 is IPv6",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24")).link("nosuch0"),
                "device \"nosuch0\" does not exist",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .nexthop(NextHopSpec::via(addr("10.0.0.2")).link("nosuch1")),
                "device \"nosuch1\" does not exist",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24")).link("a0").table(0),
                "table 0",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .kind(RouteType::BLACKHOLE)
                    .link("a0"),
                "a blackhole route has no gateway, device or nexthops",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .nexthop(NextHopSpec::via(addr("10.0.0.2")).weight(0)),
                "weight 0 is out of range",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .nexthop(NextHopSpec::via(addr("10.0.0.2")).weight(300)),
                "weight 300 is out of range",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .nexthop(NextHopSpec::via(addr("10.0.0.2")))
                    .nexthop(NextHopSpec::via(addr("2001:db8::2"))),
                "nexthop 2 gateway 2001:db8::2 is IPv6",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24"))
                    .via(addr("10.0.0.2"))
                    .onlink(),
                "an onlink route needs a gateway and a device",
            ),
            (
                RouteSpec::new(pfx("10.9.0.0/24")).link("bad/name"),
                "cannot contain '/'",
            ),
        ];
        for (spec, why) in cases {
            for r in [
                h.route_add(&spec),
                h.route_replace(&spec),
                h.route_append(&spec),
            ] {
                let e = r.expect_err(&format!("{spec:?} was accepted"));
                assert_refused(&e, why);
            }
        }
        for bad in ["10.9.0.0/33", "2001:db8::/129"] {
            let e = parse_prefix(bad).unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
        }
        // Batches refuse the same way, in place.
        let mut b = h.batch();
        b.route_add(&RouteSpec::new(pfx("10.9.0.1/24")).link("a0"));
        b.route_del(&RouteSpec::new(pfx("10.9.0.0/24")).link("nosuch0"));
        let out = b.execute().unwrap();
        assert_refused(out[0].as_ref().unwrap_err(), "host bits");
        assert_refused(out[1].as_ref().unwrap_err(), "does not exist");
        assert_eq!(snapshot(), before, "nothing changed");
    });
}

#[test]
fn batch_with_a_bad_route_in_the_middle_reports_each_outcome_in_order() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let a0 = h.link_index("a0").unwrap();
        let mut b = h.batch();
        b.route_add(&RouteSpec::new(pfx("10.100.0.0/24")).link(a0));
        b.route_add(&RouteSpec::new(pfx("10.101.0.0/24")).via(addr("10.0.0.2")));
        // kernel refusal: gateway not on any link
        b.route_add(&RouteSpec::new(pfx("10.102.0.0/24")).via(addr("192.168.77.1")));
        // refused before sending: host bits
        b.route_add(&RouteSpec::new(pfx("10.103.0.1/24")).link(a0));
        // kernel refusal: exists
        b.route_add(&RouteSpec::new(pfx("10.100.0.0/24")).link(a0));
        b.route_add(&RouteSpec::new(pfx("2001:db8:100::/64")).link(a0));
        b.route_del(&RouteSpec::new(pfx("10.104.0.0/24")));
        b.route_replace(&RouteSpec::new(pfx("10.101.0.0/24")).via(addr("10.0.1.2")));
        let out = b.execute().unwrap();
        assert_eq!(out.len(), 8);
        assert!(out[0].is_ok(), "{:?}", out[0]);
        assert!(out[1].is_ok(), "{:?}", out[1]);
        let e = out[2].as_ref().unwrap_err();
        assert_eq!(e.extack(), Some("Nexthop has invalid gateway"), "{e}");
        assert!(
            e.to_string().starts_with("route_add 10.102.0.0/24: "),
            "{e}"
        );
        assert!(out[3].as_ref().unwrap_err().is_invalid_argument());
        assert!(out[4].as_ref().unwrap_err().is_exists());
        assert!(out[5].is_ok(), "{:?}", out[5]);
        assert!(out[6].as_ref().unwrap_err().is_not_found());
        assert!(out[7].is_ok(), "{:?}", out[7]);
        assert_eq!(
            ip_json(["route", "show", "10.101.0.0/24"])[0]["gateway"],
            "10.0.1.2"
        );
        assert_eq!(
            ip_json(["route", "show", "10.100.0.0/24"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(ip_json(["route", "show", "10.102.0.0/24"])
            .as_array()
            .unwrap()
            .is_empty());
        assert!(ip_json(["route", "show", "10.103.0.0/24"])
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(
            ip_json(["-6", "route", "show", "2001:db8:100::/64"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn a_batch_of_a_thousand_routes() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        setup(&h);
        let a0 = h.link_index("a0").unwrap();
        let mut b = h.batch();
        for i in 0..1000u32 {
            let dst = IpNet::new(
                IpAddr::from([10, 200 + (i / 256) as u8, (i % 256) as u8, 0]),
                24,
            )
            .unwrap();
            b.route_add(&RouteSpec::new(dst).link(a0).table(7));
        }
        assert_eq!(b.len(), 1000);
        let out = b.execute().unwrap();
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(|o| o.is_ok()));
        let listed = ip_json(["route", "show", "table", "7"]);
        assert_eq!(listed.as_array().unwrap().len(), 1000);
        assert_eq!(listed[999]["dst"], "10.203.231.0/24");
        let ours = h.routes(&RouteFilter::new().table(7)).unwrap();
        assert_eq!(ours.len(), 1000);
        let mut b = h.batch();
        for r in &ours {
            b.route_del(&r.to_spec());
        }
        assert!(b.execute().unwrap().iter().all(|o| o.is_ok()));
        assert!(ip_json(["route", "show", "table", "7"])
            .as_array()
            .unwrap()
            .is_empty());
    });
}
