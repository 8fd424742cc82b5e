//! netns-core's NAT layer ([`Nat`]): the layout it writes, judged by
//! `nft -j` and `nft -c`; real TCP and UDP through its masquerade and port
//! forwards (hairpin included) between namespaces the test made; exact
//! removal (the ruleset compared whole with what was there before); bad
//! input refused with nothing written.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use netns_core::{
    AddrSpec, Hairpin, Handle, IpNet, LinkSpec, Nat, NatKind, NatOwner, NatProto, NetNs, NetnsDir,
    PortForward, RouteSpec, Sysctl,
};
use netns_testutil::nft::{nft, nft_accepts, nft_json, ruleset};
use netns_testutil::{in_private_netns, TempNetnsDir};
use serde_json::Value;

/// The rules of one chain of the NAT table, as `nft -j` prints them.
fn rules_of(chain: &str) -> Vec<Value> {
    nft_json(&["list", "chain", "inet", "netns-nat", chain])["nftables"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.get("rule").cloned())
        .map(|r| r["expr"].clone())
        .collect()
}

/// The chain names of the NAT table.
fn chains() -> Vec<String> {
    ruleset()
        .iter()
        .filter_map(|o| o.get("chain"))
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The elements of one set or map, as `nft -j` prints them, each as
/// `[key, data, comment]` (data null in a set; a protocol number is given
/// its name: nft prints a number where /etc/protocols is missing, as in the
/// VM tier).
fn elements(map: &str) -> Vec<Value> {
    let mut elems: Vec<Value> = raw_elements(map)
        .into_iter()
        .map(|e| {
            let (k, d) = match e {
                Value::Array(kd) if kd.len() == 2 => (kd[0].clone(), kd[1].clone()),
                k => (k, Value::Null),
            };
            match k.get("elem") {
                Some(el) => serde_json::json!([el["val"], d, el["comment"]]),
                None => serde_json::json!([k, d, null]),
            }
        })
        .collect();
    for e in &mut elems {
        // [..., protocol, port]
        let concat = e.get_mut(0).and_then(|k| k.get_mut("concat"));
        if let Some(fields) = concat.and_then(Value::as_array_mut) {
            let n = fields.len();
            if let Some(f) = fields.get_mut(n.wrapping_sub(2)) {
                let name = match f.as_u64() {
                    Some(6) => "tcp",
                    Some(17) => "udp",
                    Some(132) => "sctp",
                    _ => continue,
                };
                *f = Value::from(name);
            }
        }
    }
    elems
}

/// The elements of one map, as `nft -j` prints them.
fn raw_elements(map: &str) -> Vec<Value> {
    let kind = if map.starts_with("hairpin") || map == "owners" {
        "set"
    } else {
        "map"
    };
    nft_json(&["list", kind, "inet", "netns-nat", map])["nftables"]
        .as_array()
        .and_then(|a| a.iter().find_map(|o| o.get(kind)))
        .and_then(|m| m.get("elem"))
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_default()
}

fn fwd(proto: NatProto, host_port: u16, to: &str, to_port: u16) -> PortForward {
    PortForward {
        proto,
        host_port,
        host_ip: None,
        to: to.parse().expect("an address"),
        to_port,
    }
}

fn net(s: &str) -> IpNet {
    s.parse().expect("a prefix")
}

/// The table nft prints back is one nft itself accepts (`nft -c -f`): the
/// library writes nothing nft cannot read.
fn nft_accepts_what_it_prints() {
    nft_accepts(&nft(&["list", "table", "inet", "netns-nat"]));
}

#[test]
fn the_layout_is_what_the_docs_say_and_removal_is_exact() {
    in_private_netns(|| {
        let before = ruleset();
        let nat = Nat::new().expect("a netfilter socket");
        let a = NatOwner::new("net1", "c1", "eth0");
        let b = NatOwner::new("net1", "c2", "eth0");
        nat.masquerade(
            &a,
            &["10.0.0.2".parse().expect("ip")],
            &[net("10.0.0.0/24")],
        )
        .expect("masquerade a");
        nat.port_forward(
            &a,
            &[
                fwd(NatProto::Tcp, 8080, "10.0.0.2", 80),
                PortForward {
                    host_ip: Some("192.168.99.1".parse().expect("ip")),
                    ..fwd(NatProto::Udp, 5353, "10.0.0.2", 53)
                },
            ],
            &Hairpin::From(vec![net("10.0.0.0/24"), net("127.0.0.0/8")]),
        )
        .expect("forwards of a");
        nft_accepts_what_it_prints();

        let pre = rules_of("prerouting");
        assert_eq!(pre.len(), 5, "{pre:#?}");
        assert_eq!(
            pre[2],
            serde_json::json!([
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}},
                {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}},
                {"dnat": {"family": "ip", "addr": {"map": {
                    "key": {"concat": [{"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]},
                    "data": "@ports4"}}}}
            ])
        );
        assert_eq!(
            rules_of("postrouting")[0],
            serde_json::json!([
                {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
                {"match": {"op": "==", "left": {"concat": [
                    {"payload": {"protocol": "ip", "field": "daddr"}},
                    {"payload": {"protocol": "ip", "field": "saddr"}}]}, "right": "@hairpin4"}},
                {"masquerade": null}
            ])
        );
        let ports = elements("ports4");
        assert_eq!(ports.len(), 1, "{ports:?}");
        assert_eq!(ports[0][0], serde_json::json!({"concat": ["tcp", 8080]}));
        assert_eq!(ports[0][1], serde_json::json!({"concat": ["10.0.0.2", 80]}));
        let tag = ports[0][2].as_str().expect("a comment").to_owned();
        assert!(
            tag.starts_with("fwd-") && tag.ends_with(" net1 c1 eth0"),
            "{tag}"
        );
        let hostip = elements("hostip4-ports");
        assert_eq!(
            hostip[0][0],
            serde_json::json!({"concat": ["192.168.99.1", "udp", 5353]})
        );
        assert_eq!(
            hostip[0][1],
            serde_json::json!({"concat": ["10.0.0.2", 53]})
        );
        let hairpin = elements("hairpin4");
        assert_eq!(hairpin.len(), 2, "{hairpin:?}");
        assert!(hairpin.iter().all(|e| e[2] == tag.as_str()), "{hairpin:?}");
        assert_eq!(elements("owners").len(), 1);
        let masq = elements("masq4");
        assert_eq!(masq[0][0], "10.0.0.2");
        let masq_chain = masq[0][1]["jump"]["target"]
            .as_str()
            .expect("a jump")
            .to_owned();
        // (nft leaves out the nfproto match an ip daddr match implies)
        assert_eq!(
            rules_of(&masq_chain)[0],
            serde_json::json!([
                {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}},
                {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "224.0.0.0", "len": 4}}}},
                {"masquerade": null}
            ])
        );

        // b's objects are its own; removing a leaves exactly b's.
        nat.port_forward(
            &b,
            &[fwd(NatProto::Tcp, 9090, "10.0.0.3", 80)],
            &Hairpin::Off,
        )
        .expect("forwards of b");
        assert_eq!(chains().len(), 3 + 1, "{:?}", chains());
        assert!(nat
            .remove(&a, NatKind::PortForward)
            .expect("remove a's forwards"));
        assert!(!nat
            .remove(&a, NatKind::PortForward)
            .expect("again: nothing"));
        assert!(nat
            .remove(&a, NatKind::Masquerade)
            .expect("remove a's masquerade"));
        assert_eq!(chains().len(), 3, "b has no chain: {:?}", chains());
        assert_eq!(elements("ports4").len(), 1);
        assert_eq!(elements("owners").len(), 1);
        assert!(elements("hostip4-ports").is_empty());
        assert!(elements("masq4").is_empty() && elements("hairpin4").is_empty());

        // The last owner gone, the table goes: the ruleset is as before.
        assert!(nat.remove(&b, NatKind::PortForward).expect("remove b"));
        assert_eq!(ruleset(), before);
    });
}

#[test]
fn adding_again_replaces_and_a_taken_host_port_is_refused_with_nothing_written() {
    in_private_netns(|| {
        let nat = Nat::new().expect("a netfilter socket");
        let a = NatOwner::new("net1", "c1", "eth0");
        let b = NatOwner::new("net1", "c2", "eth0");
        nat.port_forward(
            &a,
            &[fwd(NatProto::Tcp, 8080, "10.0.0.2", 80)],
            &Hairpin::Off,
        )
        .expect("a");
        // An ADD repeated with other forwards: a's old ones are gone.
        nat.port_forward(
            &a,
            &[fwd(NatProto::Tcp, 8081, "10.0.0.2", 80)],
            &Hairpin::Off,
        )
        .expect("a again");
        let ports = elements("ports4");
        assert_eq!(ports.len(), 1, "{ports:?}");
        assert_eq!(ports[0][0], serde_json::json!({"concat": ["tcp", 8081]}));
        assert!(nat
            .port_forward_mismatches(
                &a,
                &[fwd(NatProto::Tcp, 8081, "10.0.0.2", 80)],
                &Hairpin::Off
            )
            .expect("check")
            .is_empty());
        let wrong = nat
            .port_forward_mismatches(
                &a,
                &[fwd(NatProto::Tcp, 8080, "10.0.0.2", 80)],
                &Hairpin::Off,
            )
            .expect("check");
        assert_eq!(wrong.len(), 2, "{wrong:?}");

        let before = ruleset();
        let e = nat
            .port_forward(
                &b,
                &[
                    fwd(NatProto::Udp, 53, "10.0.0.3", 53),
                    fwd(NatProto::Tcp, 8081, "10.0.0.3", 80),
                ],
                &Hairpin::All,
            )
            .expect_err("8081/tcp is a's");
        assert!(e.is_exists(), "{e}");
        assert!(e.to_string().contains("tcp . 8081"), "{e}");
        assert_eq!(ruleset(), before, "nothing of b was written");

        for (bad, why) in [
            (vec![fwd(NatProto::Tcp, 0, "10.0.0.3", 80)], "port 0"),
            (vec![fwd(NatProto::Tcp, 80, "10.0.0.3", 0)], "to port 0"),
            (
                vec![PortForward {
                    host_ip: Some("::1".parse().expect("ip")),
                    ..fwd(NatProto::Tcp, 80, "10.0.0.3", 80)
                }],
                "host address of the other family",
            ),
            (
                vec![
                    fwd(NatProto::Tcp, 80, "10.0.0.3", 80),
                    fwd(NatProto::Tcp, 80, "10.0.0.3", 81),
                ],
                "a host port twice",
            ),
            (vec![], "no forward"),
        ] {
            let e = nat.port_forward(&b, &bad, &Hairpin::Off).expect_err(why);
            assert!(e.is_invalid_argument(), "{why}: {e}");
            assert_eq!(ruleset(), before, "{why}: nothing written");
        }
        assert!(nat.remove(&a, NatKind::PortForward).expect("remove"));
        assert!(ruleset().is_empty(), "{:?}", ruleset());
    });
}

#[test]
fn gc_removes_the_owners_not_valid_in_that_network_only() {
    in_private_netns(|| {
        let nat = Nat::new().expect("a netfilter socket");
        let owners: Vec<NatOwner> = (0..4)
            .map(|i| {
                NatOwner::new(
                    if i < 3 { "net1" } else { "net2" },
                    &format!("c{i}"),
                    "eth0",
                )
            })
            .collect();
        for (i, o) in owners.iter().enumerate() {
            let ip = format!("10.0.0.{}", i + 2);
            nat.masquerade(o, &[ip.parse().expect("ip")], &[net("10.0.0.0/24")])
                .expect("masquerade");
            nat.port_forward(
                o,
                &[fwd(NatProto::Tcp, 8000 + i as u16, &ip, 80)],
                &Hairpin::All,
            )
            .expect("forward");
        }
        assert_eq!(nat.list().expect("list").len(), 8);
        // net1 keeps c1 only: c0 and c2 go (masquerade and forwards each),
        // net2's c3 stays.
        let gone = nat.gc("net1", &[owners[1].clone()]).expect("gc");
        assert_eq!(gone, 4);
        let left: Vec<String> = nat
            .list()
            .expect("list")
            .into_iter()
            .map(|e| e.owner)
            .collect();
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(
            left.iter()
                .all(|o| o == "net1 c1 eth0" || o == "net2 c3 eth0"),
            "{left:?}"
        );
        assert_eq!(nat.gc("net1", &[owners[1].clone()]).expect("again"), 0);
        assert_eq!(nat.gc("net2", &[]).expect("net2"), 2);
        assert_eq!(nat.gc("net1", &[]).expect("net1"), 2);
        assert!(ruleset().is_empty());
    });
}

/// This namespace as the host of a bridge `br0` (10.0.0.1/24) with two
/// pods, `blue` (10.0.0.2) and `red` (10.0.0.3), each with a default route
/// via the bridge; and an `outside` namespace (192.168.99.2/24 on its
/// eth0, here `r-out` 192.168.99.1/24) with no route to the pods' subnet.
/// IPv4 forwarding on. The directory comes first: keep it to the end.
fn host_with_pods() -> (TempNetnsDir, NetNs, NetNs, NetNs) {
    let tmp = TempNetnsDir::new();
    let dir = NetnsDir::new(tmp.path());
    let blue = dir.create("blue").expect("blue");
    let red = dir.create("red").expect("red");
    let outside = dir.create("outside").expect("outside");
    let h = Handle::new().expect("a handle");
    h.link_add(&LinkSpec::bridge("br0")).expect("bridge");
    let br = h.link_get("br0").expect("br0").index;
    h.addr_add(&AddrSpec::new(br, "10.0.0.1/24".parse().expect("addr")))
        .expect("bridge address");
    h.link_set_up(br).expect("up");
    let wire = |ns: &NetNs, mine: &str, theirs: &str| {
        h.link_add(&LinkSpec::veth(mine, "eth0").peer_netns(ns))
            .expect("veth");
        let me = h.link_get(mine).expect("my end").index;
        h.link_set_up(me).expect("up");
        let o = ns.handle().expect("a handle there");
        let t = o.link_get("eth0").expect("their end").index;
        o.addr_add(&AddrSpec::new(t, theirs.parse().expect("addr")))
            .expect("their address");
        o.link_set_up(t).expect("up");
        let lo = o.link_get("lo").expect("lo").index;
        o.link_set_up(lo).expect("lo up");
        (me, o)
    };
    for (ns, name, addr) in [
        (&blue, "v-blue", "10.0.0.2/24"),
        (&red, "v-red", "10.0.0.3/24"),
    ] {
        let (me, o) = wire(ns, name, addr);
        h.link_set_controller(me, br).expect("into the bridge");
        o.route_add(&RouteSpec::default_via("10.0.0.1".parse().expect("gw")))
            .expect("default route");
    }
    let (me, _) = wire(&outside, "r-out", "192.168.99.2/24");
    h.addr_add(&AddrSpec::new(me, "192.168.99.1/24".parse().expect("addr")))
        .expect("r-out address");
    NetNs::current()
        .expect("this namespace")
        .sysctl_set(&Sysctl::Ipv4Forward, 1)
        .expect("forwarding");
    (tmp, blue, red, outside)
}

/// Connect from `from` to `to` and return the address the server saw.
fn tcp_peer(from: &NetNs, listener: &TcpListener, to: SocketAddr) -> IpAddr {
    let client = from
        .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(5)))
        .expect("run")
        .unwrap_or_else(|e| panic!("connect to {to}: {e}"));
    let (_c, peer) = listener.accept().expect("accept");
    drop(client);
    peer.ip()
}

#[test]
fn masquerade_and_a_forward_with_hairpin_carry_real_traffic() {
    in_private_netns(|| {
        let (_tmp, blue, red, outside) = host_with_pods();
        let nat = Nat::new().expect("a netfilter socket");
        let blue_owner = NatOwner::new("pods", "blue", "eth0");
        let blue_ip: IpAddr = "10.0.0.2".parse().expect("ip");
        nat.masquerade(&blue_owner, &[blue_ip], &[net("10.0.0.0/24")])
            .expect("masquerade");
        nat.port_forward(
            &blue_owner,
            &[
                fwd(NatProto::Tcp, 8080, "10.0.0.2", 80),
                fwd(NatProto::Udp, 8053, "10.0.0.2", 53),
            ],
            &Hairpin::From(vec![net("10.0.0.0/24"), net("127.0.0.0/8")]),
        )
        .expect("forward");

        // blue -> outside: the server sees the host's address.
        let out_srv = outside
            .run(|| TcpListener::bind("192.168.99.2:7000"))
            .expect("run")
            .expect("listen");
        let seen = tcp_peer(&blue, &out_srv, "192.168.99.2:7000".parse().expect("addr"));
        assert_eq!(seen, "192.168.99.1".parse::<IpAddr>().expect("ip"));

        let web = blue
            .run(|| TcpListener::bind("10.0.0.2:80"))
            .expect("run")
            .expect("listen");
        // outside -> host:8080 -> blue:80, the client's own address kept.
        let seen = tcp_peer(&outside, &web, "192.168.99.1:8080".parse().expect("addr"));
        assert_eq!(seen, "192.168.99.2".parse::<IpAddr>().expect("ip"));
        // red -> host:8080 (hairpin through the bridge): masqueraded to the
        // bridge's address, so blue's replies go back through the host.
        let seen = tcp_peer(&red, &web, "10.0.0.1:8080".parse().expect("addr"));
        assert_eq!(seen, "10.0.0.1".parse::<IpAddr>().expect("ip"));
        // blue -> its own host port: the bridge must send the frame back
        // out of the port it came in by (hairpin mode, as the reference
        // bridge plugin's hairpinMode does).
        Handle::new()
            .expect("a handle")
            .bridge_port_set(
                "v-blue",
                &netns_core::BridgePortChanges {
                    hairpin: Some(true),
                    ..Default::default()
                },
            )
            .expect("hairpin on");
        let seen = tcp_peer(&blue, &web, "192.168.99.1:8080".parse().expect("addr"));
        assert_eq!(seen, "10.0.0.1".parse::<IpAddr>().expect("ip"));

        // UDP outside -> host:8053 -> blue:53.
        let dns = blue
            .run(|| UdpSocket::bind("10.0.0.2:53"))
            .expect("run")
            .expect("bind");
        dns.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let sent = outside
            .run(|| -> std::io::Result<SocketAddr> {
                let s = UdpSocket::bind("192.168.99.2:0")?;
                s.send_to(b"q", "192.168.99.1:8053")?;
                s.local_addr()
            })
            .expect("run")
            .expect("send");
        let mut buf = [0u8; 8];
        let (n, from) = dns.recv_from(&mut buf).expect("the datagram arrives");
        assert_eq!((&buf[..n], from), (&b"q"[..], sent));

        // Removed: outside -> host:8080 no longer reaches blue.
        assert!(nat
            .remove(&blue_owner, NatKind::PortForward)
            .expect("remove"));
        let refused = outside
            .run(|| {
                TcpStream::connect_timeout(
                    &"192.168.99.1:8080".parse().expect("addr"),
                    Duration::from_secs(5),
                )
            })
            .expect("run");
        assert!(refused.is_err(), "the forward is gone: {refused:?}");
    });
}

/// [`Nat::port_forward_if`]: each family's conditions are matches of its
/// forwards' rules as nft prints them; a bad interface name and an address
/// of the other family are refused with nothing written.
#[test]
fn conditions_are_matches_on_each_forward() {
    use netns_core::{NatCondition, NatConditions};
    in_private_netns(|| {
        let before = ruleset();
        let nat = Nat::new().expect("a netfilter socket");
        let a = NatOwner::new("net1", "c1", "eth0");
        let forwards = [
            fwd(NatProto::Tcp, 8080, "10.0.0.2", 80),
            fwd(NatProto::Tcp, 8080, "fd00::2", 80),
        ];
        for (v4, v6, why) in [
            (
                vec![NatCondition::Iifname("much-too-long-name".into(), true)],
                vec![],
                "an interface name is 1 to 15 bytes",
            ),
            (
                vec![],
                vec![NatCondition::Saddr(net("10.0.0.0/8"), true)],
                "not an IPv6 prefix, in the conditions of IPv6 forwards",
            ),
        ] {
            let conditions = NatConditions { v4, v6 };
            let e = nat
                .port_forward_if(&a, &forwards, &Hairpin::Off, &conditions)
                .expect_err(why);
            assert!(e.to_string().contains(why), "{e}");
            assert_eq!(ruleset(), before, "the refused call wrote something");
        }

        let conditions = NatConditions {
            v4: vec![
                NatCondition::Saddr(net("10.1.0.0/16"), false),
                NatCondition::Iifname("eth1".into(), true),
                NatCondition::Oifname("eth2".into(), false),
            ],
            v6: vec![
                NatCondition::Daddr(net("fd00::/8"), true),
                NatCondition::Iifname("eth1".into(), true),
                NatCondition::Oifname("eth3".into(), false),
            ],
        };
        nat.port_forward_if(&a, &forwards, &Hairpin::Off, &conditions)
            .expect("forwards with conditions");
        nft_accepts_what_it_prints();
        let chain = chains()
            .into_iter()
            .find(|c| c.starts_with("fwd-"))
            .expect("the forward chain");
        let rules = rules_of(&chain);
        let iif = serde_json::json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth1"}});
        let oif = |n: &str| serde_json::json!({"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": n}});
        let dport = serde_json::json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}});
        // nft leaves out the nfproto match an address match implies.
        assert_eq!(
            rules[0],
            serde_json::json!([
                {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                           "right": {"prefix": {"addr": "10.1.0.0", "len": 16}}}},
                iif, oif("eth2"), dport,
                {"dnat": {"family": "ip", "addr": "10.0.0.2", "port": 80}}
            ]),
            "{rules:#?}"
        );
        assert_eq!(
            rules[1],
            serde_json::json!([
                {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}},
                           "right": {"prefix": {"addr": "fd00::", "len": 8}}}},
                iif, oif("eth3"), dport,
                {"dnat": {"family": "ip6", "addr": "fd00::2", "port": 80}}
            ]),
            "{rules:#?}"
        );
        assert!(nat.remove(&a, NatKind::PortForward).expect("remove"));
        assert_eq!(ruleset(), before);
    });
}
