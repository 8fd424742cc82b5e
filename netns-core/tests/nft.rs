//! nftables tables through netns-core's NETLINK_NETFILTER socket, judged
//! by `nft -j` (Debian's nftables) in the same private namespace.

use std::collections::BTreeSet;

use netns_core::{
    NetnsDir, Nft, NftBaseChain, NftChainType, NftFamily, NftHook, NftRule, NftVerdict,
};
use netns_testutil::nft::{nft as run_nft, nft_json, nft_json_in};
use netns_testutil::{in_private_netns, TempNetnsDir};
use serde_json::Value;

/// (family, name, handle) of every table `nft -j list tables` prints.
fn nft_tables(netns: Option<&std::path::Path>) -> BTreeSet<(String, String, u64)> {
    let listing = match netns {
        Some(p) => nft_json_in(p, &["list", "tables"]),
        None => nft_json(&["list", "tables"]),
    };
    listing["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("table"))
        .map(|t| {
            (
                t["family"].as_str().unwrap_or_default().to_owned(),
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["handle"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The same, as the library lists them.
fn our_tables(nft: &Nft) -> BTreeSet<(String, String, u64)> {
    nft.tables()
        .expect("list tables")
        .into_iter()
        .map(|t| (t.family.to_string(), t.name, t.handle))
        .collect()
}

fn names(set: &BTreeSet<(String, String, u64)>) -> Vec<String> {
    set.iter().map(|(f, n, _)| format!("{f} {n}")).collect()
}

#[test]
fn tables_are_added_listed_and_deleted_as_nft_sees_them() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        assert!(nft.tables().expect("list").is_empty());
        nft.transaction()
            .table_add(NftFamily::Ip, "netns-a")
            .table_add(NftFamily::Ip6, "netns-a")
            .table_add(NftFamily::Inet, "netns-b")
            .commit()
            .expect("add three tables");
        let theirs = nft_tables(None);
        assert_eq!(
            names(&theirs),
            ["inet netns-b", "ip netns-a", "ip6 netns-a"]
        );
        assert_eq!(our_tables(&nft), theirs, "names, families and handles");

        // add is nft's add: an existing table stays, with its handle.
        nft.table_add(NftFamily::Ip, "netns-a").expect("add again");
        assert_eq!(nft_tables(None), theirs);

        nft.table_del(NftFamily::Ip, "netns-a").expect("delete");
        assert_eq!(names(&nft_tables(None)), ["inet netns-b", "ip6 netns-a"]);
        let e = nft
            .table_del(NftFamily::Ip, "netns-a")
            .expect_err("deleting a missing table");
        assert!(e.is_not_found(), "{e}");
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert_eq!(e.object(), "table ip netns-a");
        assert!(
            e.to_string()
                .starts_with("nft_table_del table ip netns-a: "),
            "{e}"
        );
    });
}

#[test]
fn what_nft_made_is_listed_with_its_use_count() {
    in_private_netns(|| {
        run_nft(&["add", "table", "inet", "made-by-nft"]);
        run_nft(&["add", "chain", "inet", "made-by-nft", "c1"]);
        run_nft(&["add", "chain", "inet", "made-by-nft", "c2"]);
        let nft_handle = Nft::new().expect("a netfilter socket");
        let t = nft_handle.tables().expect("list");
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0].to_string(), "table inet made-by-nft");
        assert_eq!(t[0].use_count, 2, "two chains");
        assert_eq!(our_tables(&nft_handle), nft_tables(None));
    });
}

#[test]
fn a_transaction_is_all_or_nothing() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        let e = nft
            .transaction()
            .table_add(NftFamily::Ip, "first")
            .table_del(NftFamily::Ip, "missing")
            .table_add(NftFamily::Ip, "third")
            .commit()
            .expect_err("a transaction with a failing change");
        assert!(e.is_not_found(), "{e}");
        assert_eq!(e.object(), "table ip missing", "the refused change");
        assert_eq!(e.op(), "nft_table_del");
        assert!(nft_tables(None).is_empty(), "nothing applied");
        assert!(nft.tables().expect("list").is_empty());
        // The socket is still in step afterwards.
        nft.table_add(NftFamily::Ip, "after").expect("add");
        assert_eq!(names(&nft_tables(None)), ["ip after"]);
        // An empty transaction sends nothing and succeeds.
        nft.transaction().commit().expect("empty transaction");
    });
}

#[test]
fn bad_names_are_refused_before_anything_is_sent() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        let long = "n".repeat(256);
        for bad in ["", long.as_str(), "a\0b"] {
            let e = nft
                .transaction()
                .table_add(NftFamily::Ip, "fine")
                .table_add(NftFamily::Ip, bad)
                .commit()
                .expect_err("a bad name");
            assert!(e.is_invalid_argument(), "{e}");
            assert_eq!(e.op(), "nft_table_add");
            assert!(nft_tables(None).is_empty(), "{bad:?}: nothing sent");
        }
        // 255 bytes is the kernel's limit, and fine.
        let longest = "n".repeat(255);
        nft.table_add(NftFamily::Inet, &longest).expect("255 bytes");
        assert_eq!(names(&nft_tables(None)), [format!("inet {longest}")]);
    });
}

#[test]
fn a_handle_opened_in_another_namespace_works_there_only() {
    in_private_netns(|| {
        let tmp = TempNetnsDir::new();
        let dir = NetnsDir::new(tmp.path());
        let ns = dir.create("nft-other").expect("a namespace");
        let path = dir.path_of("nft-other").expect("its path");
        let there = Nft::new_in(&ns).expect("a socket in it");
        // Used from another thread than the one that made it.
        std::thread::scope(|s| {
            s.spawn(|| there.table_add(NftFamily::Ip, "over-there"))
                .join()
                .expect("the thread")
        })
        .expect("add there");
        assert_eq!(names(&nft_tables(Some(&path))), ["ip over-there"]);
        assert!(nft_tables(None).is_empty(), "not here");
        assert!(Nft::new().expect("here").tables().expect("list").is_empty());
    });
}

/// (name, type, hook, prio, policy) of every chain `nft -j list chains`
/// prints for table `table` (absent keys as empty / 0).
fn nft_chains(table: &str) -> BTreeSet<(String, String, String, i64, String, u64)> {
    nft_json(&["list", "chains"])["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("chain"))
        .filter(|c| c["table"] == table)
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (
                s("name"),
                s("type"),
                s("hook"),
                c["prio"].as_i64().unwrap_or_default(),
                s("policy"),
                c["handle"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn our_chains(
    nft: &Nft,
    family: NftFamily,
    table: &str,
) -> BTreeSet<(String, String, String, i64, String, u64)> {
    nft.chains(family, table)
        .expect("list chains")
        .into_iter()
        .map(|c| match c.base {
            Some(b) => (
                c.name,
                b.kind.to_string(),
                b.hook.to_string(),
                i64::from(b.priority),
                if b.drop { "drop" } else { "accept" }.to_owned(),
                c.handle,
            ),
            None => (
                c.name,
                String::new(),
                String::new(),
                0,
                String::new(),
                c.handle,
            ),
        })
        .collect()
}

#[test]
fn base_and_regular_chains_as_nft_sees_them() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        nft.transaction()
            .table_add(NftFamily::Ip, "netns-nat")
            .chain_add(
                NftFamily::Ip,
                "netns-nat",
                "prerouting",
                Some(&NftBaseChain::dstnat(NftHook::Prerouting)),
            )
            .chain_add(
                NftFamily::Ip,
                "netns-nat",
                "postrouting",
                Some(&NftBaseChain::srcnat(NftHook::Postrouting)),
            )
            .chain_add(
                NftFamily::Ip,
                "netns-nat",
                "forward",
                Some(&NftBaseChain::filter(NftHook::Forward).with_drop_policy()),
            )
            .chain_add(NftFamily::Ip, "netns-nat", "pod-1", None)
            .commit()
            .expect("a table and its chains");
        // Another table's chain is not listed with this one.
        run_nft(&["add", "table", "ip", "other"]);
        run_nft(&["add", "chain", "ip", "other", "c"]);
        let theirs = nft_chains("netns-nat");
        let got: Vec<_> = theirs
            .iter()
            .map(|(n, t, h, p, pol, _)| format!("{n} {t} {h} {p} {pol}"))
            .collect();
        assert_eq!(
            got,
            [
                "forward filter forward 0 drop",
                "pod-1   0 ",
                "postrouting nat postrouting 100 accept",
                "prerouting nat prerouting -100 accept",
            ]
        );
        assert_eq!(our_chains(&nft, NftFamily::Ip, "netns-nat"), theirs);
        let t = nft.tables().expect("tables");
        let ours = t.iter().find(|t| t.name == "netns-nat").expect("the table");
        assert_eq!(ours.use_count, 4, "four chains");

        nft.chain_del(NftFamily::Ip, "netns-nat", "pod-1")
            .expect("delete a chain");
        assert_eq!(nft_chains("netns-nat").len(), 3);
        let e = nft
            .chain_del(NftFamily::Ip, "netns-nat", "pod-1")
            .expect_err("a missing chain");
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        assert_eq!(e.op(), "nft_chain_del");
        assert_eq!(e.object(), "chain ip netns-nat pod-1");
        // The kernel's filtered dump does not say a table is missing.
        assert!(nft
            .chains(NftFamily::Ip, "no-such-table")
            .expect("a dump")
            .is_empty());
    });
}

#[test]
fn a_chain_the_kernel_refuses_leaves_nothing() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        // A route chain exists only at the output hook.
        let e = nft
            .transaction()
            .table_add(NftFamily::Ip, "t")
            .chain_add(NftFamily::Ip, "t", "ok", None)
            .chain_add(
                NftFamily::Ip,
                "t",
                "bad",
                Some(&NftBaseChain::new(
                    NftChainType::Route,
                    NftHook::Prerouting,
                    0,
                )),
            )
            .commit()
            .expect_err("a route chain at prerouting");
        assert_eq!(e.op(), "nft_chain_add", "{e}");
        assert_eq!(e.object(), "chain ip t bad");
        assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}");
        assert!(nft_tables(None).is_empty(), "nothing applied");
        // A chain in a table that does not exist.
        let e = nft
            .chain_add(NftFamily::Ip, "absent", "c", None)
            .expect_err("no table");
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        // A bad name is refused before anything is sent.
        let e = nft
            .transaction()
            .table_add(NftFamily::Ip, "t")
            .chain_add(NftFamily::Ip, "t", "", None)
            .commit()
            .expect_err("an empty name");
        assert!(e.is_invalid_argument(), "{e}");
        assert!(nft_tables(None).is_empty());
    });
}

/// The rules `nft -j list chain FAMILY TABLE CHAIN` prints.
fn nft_rules(family: &str, table: &str, chain: &str) -> Vec<Value> {
    nft_json(&["list", "chain", family, table, chain])["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("rule").cloned())
        .collect()
}

fn prefix_match(op: &str, field: &str, addr: &str, len: u8) -> Value {
    serde_json::json!({"match": {
        "op": op,
        "left": {"payload": {"protocol": "ip", "field": field}},
        "right": {"prefix": {"addr": addr, "len": len}}
    }})
}

#[test]
fn rules_read_as_nft_writes_them_and_go_by_handle() {
    in_private_netns(|| {
        let nft = Nft::new().expect("a netfilter socket");
        let net: netns_core::IpNet = "10.0.0.0/24".parse().expect("a prefix");
        let masq = NftRule::new()
            .ip_saddr(net, true)
            .ip_daddr(net, false)
            .counter()
            .masquerade()
            .comment("netns: pod c1");
        let other = NftRule::new()
            .ip_saddr("10.1.16.0/20".parse().expect("a prefix"), true)
            .ct_dnat()
            .verdict(NftVerdict::Accept);
        nft.transaction()
            .table_add(NftFamily::Ip, "t")
            .chain_add(
                NftFamily::Ip,
                "t",
                "post",
                Some(&NftBaseChain::srcnat(NftHook::Postrouting)),
            )
            .rule_add(NftFamily::Ip, "t", "post", &masq)
            .rule_add(NftFamily::Ip, "t", "post", &other)
            .commit()
            .expect("a table, a chain and two rules");
        let theirs = nft_rules("ip", "t", "post");
        assert_eq!(theirs.len(), 2, "{theirs:?}");
        assert_eq!(theirs[0]["comment"], "netns: pod c1");
        assert_eq!(
            theirs[0]["expr"],
            serde_json::json!([
                prefix_match("==", "saddr", "10.0.0.0", 24),
                prefix_match("!=", "daddr", "10.0.0.0", 24),
                {"counter": {"packets": 0, "bytes": 0}},
                {"masquerade": null}
            ])
        );
        assert_eq!(
            theirs[1]["expr"],
            serde_json::json!([
                prefix_match("==", "saddr", "10.1.16.0", 20),
                {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
                {"accept": null}
            ])
        );
        let ours = nft.rules(NftFamily::Ip, "t", "post").expect("list rules");
        assert_eq!(ours.len(), 2);
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(Some(o.handle), t["handle"].as_u64());
        }
        assert_eq!(ours[0].comment.as_deref(), Some("netns: pod c1"));
        assert_eq!(
            ours[0].exprs,
            ["payload", "cmp", "payload", "cmp", "counter", "masq"]
        );
        assert_eq!(ours[1].comment, None);
        assert_eq!(
            ours[1].exprs,
            [
                "payload",
                "bitwise",
                "cmp",
                "ct",
                "bitwise",
                "cmp",
                "immediate"
            ]
        );

        nft.rule_del(NftFamily::Ip, "t", "post", ours[0].handle)
            .expect("delete by handle");
        let left = nft_rules("ip", "t", "post");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["handle"].as_u64(), Some(ours[1].handle));
        let e = nft
            .rule_del(NftFamily::Ip, "t", "post", ours[0].handle)
            .expect_err("a deleted rule");
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        assert_eq!(e.op(), "nft_rule_del");

        // A jump to a chain that does not exist: refused, nothing applied.
        let e = nft
            .transaction()
            .rule_add(NftFamily::Ip, "t", "post", &masq)
            .rule_add(
                NftFamily::Ip,
                "t",
                "post",
                &NftRule::new().verdict(NftVerdict::Jump("absent".into())),
            )
            .commit()
            .expect_err("a jump to nowhere");
        assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
        assert_eq!(nft_rules("ip", "t", "post").len(), 1, "nothing applied");
        // A bad rule is refused before anything is sent.
        let e = nft
            .rule_add(
                NftFamily::Ip,
                "t",
                "post",
                &NftRule::new().masquerade().comment("c".repeat(200)),
            )
            .expect_err("a comment too long");
        assert!(e.is_invalid_argument(), "{e}");
        assert_eq!(nft_rules("ip", "t", "post").len(), 1);
    });
}

/// The calling thread's namespace as a router between two new ones: `pod`
/// (eth0 10.0.0.2/24, default route via 10.0.0.1) and `outside` (eth0
/// 192.168.99.2/24, no route to the pod's subnet); here r-pod 10.0.0.1/24,
/// r-out 192.168.99.1/24, IPv4 forwarding on. The directory holding the
/// two namespaces comes first: keep it until the end of the test.
fn router_between_pod_and_outside() -> (TempNetnsDir, netns_core::NetNs, netns_core::NetNs) {
    use netns_core::{AddrSpec, Handle, LinkSpec, RouteSpec, Sysctl};
    let tmp = TempNetnsDir::new();
    let dir = NetnsDir::new(tmp.path());
    let pod = dir.create("pod").expect("pod namespace");
    let outside = dir.create("outside").expect("outside namespace");
    let h = Handle::new().expect("a handle");
    let wire = |ns: &netns_core::NetNs, mine: &str, my: &str, their: &str| {
        h.link_add(&LinkSpec::veth(mine, "eth0").peer_netns(ns))
            .expect("veth");
        let me = h.link_get(mine).expect("my end").index;
        h.addr_add(&AddrSpec::new(me, my.parse().expect("addr")))
            .expect("my address");
        h.link_set_up(me).expect("up");
        let o = ns.handle().expect("a handle there");
        let t = o.link_get("eth0").expect("their end").index;
        o.addr_add(&AddrSpec::new(t, their.parse().expect("addr")))
            .expect("their address");
        o.link_set_up(t).expect("up");
        o
    };
    wire(&pod, "r-pod", "10.0.0.1/24", "10.0.0.2/24")
        .route_add(&RouteSpec::default_via("10.0.0.1".parse().expect("gw")))
        .expect("the pod's default route");
    wire(&outside, "r-out", "192.168.99.1/24", "192.168.99.2/24");
    netns_core::NetNs::current()
        .expect("this namespace")
        .sysctl_set(&Sysctl::Ipv4Forward, 1)
        .expect("forwarding");
    (tmp, pod, outside)
}

/// Real traffic through a masquerade rule: a pod (10.0.0.2/24) behind this
/// namespace (the router: 10.0.0.1 towards the pod, 192.168.99.1 towards
/// the outside) connects to a server in an `outside` namespace that has no
/// route back to the pod's subnet; the server sees the router's address.
#[test]
fn masquerade_makes_a_pod_reach_a_network_without_a_route_back() {
    use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;
    in_private_netns(|| {
        let (_tmp, pod, outside) = router_between_pod_and_outside();

        let nft = Nft::new().expect("a netfilter socket");
        let net: netns_core::IpNet = "10.0.0.0/24".parse().expect("a prefix");
        nft.transaction()
            .table_add(NftFamily::Ip, "netns-nat")
            .chain_add(
                NftFamily::Ip,
                "netns-nat",
                "postrouting",
                Some(&NftBaseChain::srcnat(NftHook::Postrouting)),
            )
            .rule_add(
                NftFamily::Ip,
                "netns-nat",
                "postrouting",
                &NftRule::new()
                    .ip_saddr(net, true)
                    .ip_daddr(net, false)
                    .masquerade(),
            )
            .commit()
            .expect("masquerade");

        let listener = outside
            .run(|| TcpListener::bind("192.168.99.2:0"))
            .expect("run in outside")
            .expect("listen");
        let server = listener.local_addr().expect("its address");
        let client = pod
            .run(move || TcpStream::connect_timeout(&server, Duration::from_secs(5)))
            .expect("run in pod")
            .expect("the pod connects through the masquerade");
        let (_conn, peer): (TcpStream, SocketAddr) = listener.accept().expect("accept");
        assert_eq!(
            peer.ip(),
            "192.168.99.1".parse::<IpAddr>().expect("an address"),
            "the server sees the router, not the pod"
        );
        assert_eq!(
            client.local_addr().expect("the pod's end").ip(),
            "10.0.0.2".parse::<IpAddr>().expect("an address")
        );
    });
}

/// A port forward with real traffic: a client in `outside` connects to this
/// namespace's 192.168.99.1:8080, DNAT sends it to the pod's 10.0.0.2:8000,
/// and the pod's server sees the client's own address (the router's
/// conntrack rewrites the replies).
#[test]
fn a_port_forward_reaches_the_pod() {
    use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;
    in_private_netns(|| {
        let (_tmp, pod, outside) = router_between_pod_and_outside();

        let pod_ip: IpAddr = "10.0.0.2".parse().expect("an address");
        let forward = NftRule::new()
            .daddr_is_local()
            .dport(6, 8080)
            .dnat(pod_ip, Some(8000))
            .comment("netns: pod c1 8080");
        let nft = Nft::new().expect("a netfilter socket");
        nft.transaction()
            .table_add(NftFamily::Ip, "netns-nat")
            .chain_add(
                NftFamily::Ip,
                "netns-nat",
                "prerouting",
                Some(&NftBaseChain::dstnat(NftHook::Prerouting)),
            )
            .rule_add(NftFamily::Ip, "netns-nat", "prerouting", &forward)
            .commit()
            .expect("the port forward");
        let rules = nft_rules("ip", "netns-nat", "prerouting");
        assert_eq!(
            rules[0]["expr"],
            serde_json::json!([
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}},
                {"dnat": {"addr": "10.0.0.2", "port": 8000}}
            ]),
            "{rules:?}"
        );

        let listener = pod
            .run(|| TcpListener::bind("10.0.0.2:8000"))
            .expect("run in the pod")
            .expect("listen");
        let to: SocketAddr = "192.168.99.1:8080".parse().expect("an address");
        let client = outside
            .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(5)))
            .expect("run outside")
            .expect("the client reaches the pod through the forward");
        let (_conn, peer): (TcpStream, SocketAddr) = listener.accept().expect("accept");
        assert_eq!(peer, client.local_addr().expect("the client's end"));
        assert_eq!(
            peer.ip(),
            "192.168.99.2".parse::<IpAddr>().expect("an address")
        );
        assert_eq!(
            client.peer_addr().expect("its peer"),
            to,
            "as the client sees it"
        );
    });
}
