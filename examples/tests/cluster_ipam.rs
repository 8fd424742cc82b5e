//! netns-cluster-ipam against a real etcd cluster (Debian's etcd-server,
//! three members on 127.0.0.1 inside the test's own network namespace):
//! many nodes allocating from one range at once, a member killed mid-way,
//! the whole cluster down, DEL, GC per node, exhaustion as host-local words
//! it, TLS with client certificates, STATUS. The oracle for what is stored is
//! etcdctl; for exhaustion, the reference host-local on the same range.

netns_testutil::host_only!(
    "IPAM plugin processes against etcd on loopback, no kernel feature the host lacks"
);

mod cni_common;
mod host_local_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::mpsc;

use host_local_common::*;
use netns_testutil::etcd::Cluster;
use netns_testutil::in_private_netns_lo_up;
use serde_json::{json, Value};

fn cluster_ipam() -> PathBuf {
    example("netns-cluster-ipam")
}

/// A netns-cluster-ipam config for network `name` on `subnet`, node `node`,
/// with `etcd` as its `ipam.etcd`.
fn conf(name: &str, subnet: &str, node: &str, etcd: Value) -> String {
    json!({
        "cniVersion": "1.0.0",
        "name": name,
        "ipam": {"type": "netns-cluster-ipam", "subnet": subnet, "node": node, "etcd": etcd}
    })
    .to_string()
}

fn etcd_of(c: &Cluster) -> Value {
    json!({ "endpoints": c.endpoints() })
}

/// What etcd holds under `prefix`: key -> value, read with etcdctl.
fn stored(c: &Cluster, prefix: &str) -> BTreeMap<String, String> {
    let out = c.etcdctl(&["get", "--prefix", prefix]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() % 2 == 0, "etcdctl get printed {out:?}");
    lines
        .chunks(2)
        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
        .collect()
}

/// The reservations of network `net`: address -> (container, ifname, node),
/// checked against their owner keys (one each, nothing else under owners/).
fn reservations(c: &Cluster, net: &str) -> BTreeMap<String, (String, String, String)> {
    let all = stored(c, &format!("/netns-ipam/{net}/"));
    let mut ips = BTreeMap::new();
    let mut owners = BTreeSet::new();
    let mut blocks = BTreeMap::new();
    for (k, v) in &all {
        let rest = k.strip_prefix(&format!("/netns-ipam/{net}/")).unwrap();
        if rest.starts_with("ips/") {
            let o: Value = serde_json::from_str(v).unwrap();
            let ip = o["ip"].as_str().unwrap().to_string();
            let owner = (
                o["containerID"].as_str().unwrap().to_string(),
                o["ifname"].as_str().unwrap().to_string(),
                o["node"].as_str().unwrap().to_string(),
            );
            assert!(ips.insert(ip, owner).is_none());
        } else if rest.starts_with("owners/") {
            owners.insert((rest.to_string(), v.clone()));
        } else if let Some(block) = rest.strip_prefix("blocks/") {
            blocks.insert(block.to_string(), v.clone());
        } else {
            assert!(rest.starts_with("cursor/"), "unexpected key {k}");
        }
    }
    // The block bitmaps mirror the address keys: `blocks/v4/0a0100` holds
    // 64 hex digits, bit i % 8 of byte i / 8 for 10.1.0.i; no empty block.
    let mut want: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    for ip in ips.keys() {
        let o = ip.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let i = o[3] as usize;
        want.entry(format!("v4/{:02x}{:02x}{:02x}", o[0], o[1], o[2]))
            .or_insert([0; 32])[i / 8] |= 1 << (i % 8);
    }
    let want: BTreeMap<String, String> = want
        .into_iter()
        .map(|(k, b)| (k, b.iter().map(|x| format!("{x:02x}")).collect()))
        .collect();
    assert_eq!(blocks, want, "block bitmaps against the address keys");
    // Every owner key names a reservation of that owner, and vice versa.
    assert_eq!(owners.len(), ips.len(), "owner keys {owners:?} vs {ips:?}");
    for (key, ip) in &owners {
        let (id, ifname, _) = &ips[ip];
        assert!(
            key.starts_with(&format!("owners/{id}/{ifname}/")),
            "{key} -> {ip} but {ip} is {id}/{ifname}"
        );
    }
    ips
}

fn add(conf: &str, id: &str) -> Out {
    run(&cluster_ipam(), &Call::new("ADD", id, conf))
}

/// `nodes` x `procs` plugin processes at once, each making `per` ADDs for
/// node `node-N`; every outcome is sent on `done` as it completes.
fn adds_from_nodes(
    nodes: usize,
    procs: usize,
    per: usize,
    conf_of: impl Fn(&str) -> String + Sync,
    done: mpsc::Sender<()>,
) -> Vec<(String, String, Out)> {
    let bin = cluster_ipam();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..nodes * procs)
            .map(|t| {
                let (bin, done, conf_of) = (&bin, done.clone(), &conf_of);
                s.spawn(move || {
                    let node = format!("node-{}", t / procs);
                    let conf = conf_of(&node);
                    (0..per)
                        .map(|i| {
                            let id = format!("c{t}-{i}");
                            let o = run(bin, &Call::new("ADD", &id, &conf));
                            let _ = done.send(());
                            (node.clone(), id, o)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        drop(done);
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Every ADD succeeded with a distinct address, and etcd holds exactly
/// those reservations, each with its container, ifname and node.
fn assert_all_distinct_and_stored(c: &Cluster, net: &str, outs: &[(String, String, Out)]) {
    let mut seen = BTreeMap::new();
    for (node, id, o) in outs {
        assert!(o.ok(), "ADD {id} on {node} failed: {}", o.stdout);
        let ips = o.ips();
        assert_eq!(ips.len(), 1, "{}", o.stdout);
        let ip = ips[0].split('/').next().unwrap().to_string();
        if let Some(other) = seen.insert(ip.clone(), (id.clone(), node.clone())) {
            panic!("{ip} handed out twice: to {other:?} and to {id} on {node}");
        }
    }
    let stored = reservations(c, net);
    let want: BTreeMap<String, (String, String, String)> = seen
        .into_iter()
        .map(|(ip, (id, node))| (ip, (id, "eth0".to_string(), node)))
        .collect();
    assert_eq!(stored, want, "etcd's reservations vs the results");
}

#[test]
fn three_nodes_of_four_processes_make_three_hundred_distinct_reservations() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(3);
        let (tx, _rx) = mpsc::channel();
        let outs = adds_from_nodes(
            3,
            4,
            25,
            |node| conf("net", "10.1.0.0/23", node, etcd_of(&c)),
            tx,
        );
        assert_eq!(outs.len(), 300);
        assert_all_distinct_and_stored(&c, "net", &outs);
        // Each node's reservations carry its name.
        let per_node = reservations(&c, "net").values().fold(
            BTreeMap::<String, usize>::new(),
            |mut m, (_, _, n)| {
                *m.entry(n.clone()).or_default() += 1;
                m
            },
        );
        assert_eq!(
            per_node,
            BTreeMap::from([
                ("node-0".to_string(), 100),
                ("node-1".to_string(), 100),
                ("node-2".to_string(), 100)
            ])
        );

        // All 300 DELs from their nodes leave nothing but the cursor.
        let bin = cluster_ipam();
        for (node, id, _) in &outs {
            let o = run(
                &bin,
                &Call::new("DEL", id, &conf("net", "10.1.0.0/23", node, etcd_of(&c))),
            );
            assert!(o.ok(), "{}", o.stdout);
        }
        assert!(reservations(&c, "net").is_empty());
    });
}

#[test]
fn a_member_killed_a_third_of_the_way_loses_no_add_and_rejoins() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(3);
        // Kill the leader: the hardest member to lose (an election follows).
        let leader = c.leader();
        let (tx, rx) = mpsc::channel();
        let conf_of = |node: &str| {
            let mut e = etcd_of(&c);
            // The killed member first in every process's list: each must
            // fail over.
            let mut eps = c.endpoints();
            eps.rotate_left(leader);
            e["endpoints"] = json!(eps);
            conf("net", "10.1.0.0/23", node, e)
        };
        let confs: BTreeMap<String, String> = (0..3)
            .map(|n| format!("node-{n}"))
            .map(|n| (n.clone(), conf_of(&n)))
            .collect();
        let outs = std::thread::scope(|s| {
            let c = &mut c;
            let killer = s.spawn(move || {
                // A third of the way: after 100 of the 300 ADDs completed.
                for _ in 0..100 {
                    rx.recv().expect("ADDs ended before 100 completed");
                }
                c.kill(leader);
            });
            let outs = adds_from_nodes(3, 4, 25, |node| confs[node].clone(), tx);
            killer.join().unwrap();
            outs
        });
        assert!(!c.is_running(leader));
        assert_eq!(outs.len(), 300);
        assert_all_distinct_and_stored(&c, "net", &outs);

        // Restarted, it rejoins and serves every reservation itself.
        c.restart(leader);
        let alone = json!({ "endpoints": [c.endpoint(leader)] });
        let o = run(
            &cluster_ipam(),
            &Call::new("ADD", "after", &conf("net", "10.1.0.0/23", "node-0", alone)),
        );
        assert!(o.ok(), "{}", o.stdout);
        let held = reservations(&c, "net");
        assert_eq!(held.len(), 301);
        let served_by_it = c.etcdctl_on(
            leader,
            &["get", "--prefix", "/netns-ipam/net/ips/", "--keys-only"],
        );
        assert_eq!(served_by_it.lines().filter(|l| !l.is_empty()).count(), 301);
    });
}

#[test]
fn the_whole_cluster_down_is_code_11_with_nothing_reserved_then_works_again() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(3);
        let mut e = etcd_of(&c);
        e["requestTimeoutMs"] = json!(1000);
        let cf = conf("net", "10.2.0.0/24", "node-0", e);
        assert!(add(&cf, "before").ok());
        c.stop_all();
        let o = add(&cf, "down");
        assert_eq!(o.rc, 1, "{}", o.stdout);
        assert_eq!(o.code(), Some(11), "{}", o.stdout);
        let msg = o.msg();
        assert!(msg.contains("etcd cluster unavailable"), "{msg}");
        for ep in c.endpoints() {
            assert!(msg.contains(&format!("{ep}: connection refused")), "{msg}");
        }
        // DEL and CHECK cannot be answered either: try again later.
        for cmd in ["DEL", "CHECK"] {
            let o = run(&cluster_ipam(), &Call::new(cmd, "before", &cf));
            assert_eq!(o.code(), Some(11), "{cmd}: {}", o.stdout);
        }
        c.start_all();
        let held = reservations(&c, "net");
        assert_eq!(
            held.values()
                .map(|(id, _, _)| id.as_str())
                .collect::<Vec<_>>(),
            ["before"],
            "the failed ADD reserved something"
        );
        let o = add(&cf, "down");
        assert!(o.ok(), "{}", o.stdout);
        assert_eq!(reservations(&c, "net").len(), 2);
    });
}

#[test]
fn del_is_idempotent_check_finds_and_gc_collects_only_its_own_node() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let a = conf("net", "10.3.0.0/24", "node-a", etcd_of(&c));
        let b = conf("net", "10.3.0.0/24", "node-b", etcd_of(&c));
        let bin = cluster_ipam();
        for (cf, id) in [(&a, "a1"), (&a, "a2"), (&a, "a3"), (&b, "b1")] {
            assert!(add(cf, id).ok());
        }
        let call = |cmd: &str, id: &str, cf: &str| run(&bin, &Call::new(cmd, id, cf));
        assert!(call("CHECK", "a1", &a).ok());
        let o = call("CHECK", "nobody", &a);
        assert_eq!(
            o.msg(),
            "netns-cluster-ipam: Failed to find address added by container nobody"
        );
        for _ in 0..2 {
            let o = call("DEL", "a1", &a);
            assert!(o.ok(), "{}", o.stdout);
        }
        let o = call("DEL", "never-added", &a);
        assert!(o.ok(), "{}", o.stdout);
        assert!(!call("CHECK", "a1", &a).ok());
        let ids = |c: &Cluster| {
            reservations(c, "net")
                .values()
                .map(|(id, _, _)| id.clone())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            ids(&c),
            BTreeSet::from(["a2".into(), "a3".into(), "b1".into()])
        );

        // GC on node-a with only a2 valid: a3 goes; b1 is node-b's, not in
        // node-a's list, and stays.
        let mut gc: Value = serde_json::from_str(&a).unwrap();
        gc["cniVersion"] = json!("1.1.0");
        gc["cni.dev/valid-attachments"] = json!([{"containerID": "a2", "ifname": "eth0"}]);
        let o = call("GC", "", &gc.to_string());
        assert!(o.ok(), "{}", o.stdout);
        assert_eq!(ids(&c), BTreeSet::from(["a2".into(), "b1".into()]));
        // node-b's GC with nothing valid removes b1 only.
        let mut gc: Value = serde_json::from_str(&b).unwrap();
        gc["cniVersion"] = json!("1.1.0");
        gc["cni.dev/valid-attachments"] = json!([]);
        assert!(call("GC", "", &gc.to_string()).ok());
        assert_eq!(ids(&c), BTreeSet::from(["a2".into()]));
    });
}

#[test]
fn exhaustion_across_nodes_is_host_locals_at_host_locals_count() {
    in_private_netns_lo_up(|| {
        // The oracle: how many ADDs host-local grants on a /23, and how it
        // words the next one's failure.
        let dir = TempDir::new("exh");
        let hl = format!(
            r#"{{"cniVersion":"1.0.0","name":"net","ipam":{{"type":"host-local","dataDir":"{}","subnet":"10.4.0.0/23"}}}}"#,
            dir.s()
        );
        let mut granted = 0;
        let refused = loop {
            let o = run(
                &host_local(),
                &Call::new("ADD", &format!("h{granted}"), &hl),
            );
            if !o.ok() {
                break o;
            }
            granted += 1;
        };
        // 512 addresses: not the network's, the broadcast or the gateway.
        assert_eq!(granted, 509);

        let c = Cluster::start(3);
        let confs: Vec<String> = (0..3)
            .map(|n| conf("net", "10.4.0.0/23", &format!("node-{n}"), etcd_of(&c)))
            .collect();
        let bin = cluster_ipam();
        // Three nodes take turns.
        for i in 0..granted {
            let o = run(&bin, &Call::new("ADD", &format!("c{i}"), &confs[i % 3]));
            assert!(o.ok(), "ADD {i}: {}", o.stdout);
        }
        let o = run(&bin, &Call::new("ADD", "one-too-many", &confs[granted % 3]));
        assert_eq!(comparable(&o), comparable(&refused));
        assert_eq!(
            o.msg(),
            "failed to allocate for range 0: no IP addresses available in range set: 10.4.0.1-10.4.1.254"
        );
        assert_eq!(reservations(&c, "net").len(), granted);
    });
}

#[test]
fn tls_with_client_certificates_and_refusals() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start_tls(1);
        let tls = |cert: &std::path::Path, key: &std::path::Path| {
            json!({
                "endpoints": c.endpoints(),
                "requestTimeoutMs": 1000,
                "tls": {"caFile": c.ca_file(), "certFile": cert, "keyFile": key}
            })
        };
        let good = conf(
            "net",
            "10.5.0.0/24",
            "n",
            tls(&c.client_cert(), &c.client_key()),
        );
        let o = add(&good, "c1");
        assert!(o.ok(), "{}", o.stdout);
        assert_eq!(o.ips(), ["10.5.0.2/24"]);

        // A certificate from another CA, no certificate at all, or no CA to
        // verify the members: refused, nothing reserved.
        let foreign = conf(
            "net",
            "10.5.0.0/24",
            "n",
            tls(&c.foreign_client_cert(), &c.foreign_client_key()),
        );
        let no_cert = conf(
            "net",
            "10.5.0.0/24",
            "n",
            json!({"endpoints": c.endpoints(), "requestTimeoutMs": 1000, "tls": {"caFile": c.ca_file()}}),
        );
        let no_ca = conf(
            "net",
            "10.5.0.0/24",
            "n",
            json!({"endpoints": c.endpoints(), "requestTimeoutMs": 1000,
                   "tls": {"certFile": c.client_cert(), "keyFile": c.client_key()}}),
        );
        for (what, cf) in [
            ("foreign", &foreign),
            ("no cert", &no_cert),
            ("no ca", &no_ca),
        ] {
            let o = add(cf, "c2");
            assert_eq!(o.rc, 1, "{what}: {}", o.stdout);
            assert!(o.msg().contains(&c.endpoints()[0]), "{what}: {}", o.msg());
        }
        // A member certificate that cannot be verified is a configuration
        // error, not "try again later".
        let o = add(&no_ca, "c2");
        assert_eq!(o.code(), Some(999), "{}", o.stdout);
        assert!(
            o.msg()
                .contains("the TLS handshake failed with every member")
                && o.msg().contains("UnknownIssuer"),
            "{}",
            o.msg()
        );
        // A key file that is not there: a clear error naming it.
        let missing = conf(
            "net",
            "10.5.0.0/24",
            "n",
            tls(
                &c.client_cert(),
                std::path::Path::new("/nonexistent/key.pem"),
            ),
        );
        let o = add(&missing, "c2");
        assert!(o.msg().contains("/nonexistent/key.pem"), "{}", o.stdout);
        let held = reservations_tls(&c);
        assert_eq!(held, ["c1"]);
    });
}

fn reservations_tls(c: &Cluster) -> Vec<String> {
    reservations(c, "net")
        .into_values()
        .map(|(id, _, _)| id)
        .collect()
}

#[test]
fn status_says_whether_the_cluster_serves_and_bad_configs_are_named() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(1);
        let mut e = etcd_of(&c);
        e["requestTimeoutMs"] = json!(500);
        let mut v: Value = serde_json::from_str(&conf("net", "10.6.0.0/24", "n", e)).unwrap();
        v["cniVersion"] = json!("1.1.0");
        let cf = v.to_string();
        let bin = cluster_ipam();
        assert!(run(&bin, &Call::new("STATUS", "", &cf)).ok());
        c.stop_all();
        let o = run(&bin, &Call::new("STATUS", "", &cf));
        assert_eq!(o.code(), Some(50), "{}", o.stdout);
        assert!(o.msg().contains("connection refused"), "{}", o.msg());
        c.start_all();

        for (etcd, want) in [
            (Value::Null, "ipam.etcd is required"),
            (json!({"endpoints": []}), "at least one endpoint"),
            (
                json!({"endpoints": ["127.0.0.1:2379"]}),
                "not an http:// or https:// URL",
            ),
        ] {
            let mut v: Value =
                serde_json::from_str(&conf("net", "10.6.0.0/24", "n", etcd)).unwrap();
            if v["ipam"]["etcd"].is_null() {
                v["ipam"].as_object_mut().unwrap().remove("etcd");
            }
            let o = add(&v.to_string(), "c1");
            assert_eq!(o.code(), Some(7), "{}", o.stdout);
            assert!(o.msg().contains(want), "{}", o.msg());
        }
        assert!(stored(&c, "/netns-ipam/").is_empty());
    });
}

#[test]
fn main_plugins_delegate_to_it_and_pods_on_two_nodes_get_distinct_addresses() {
    use cni_common::{check_result, one_plugin_list, our_path, veth_master, Network, Pod};
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let ipam = |node: &str| {
            json!({"type": "netns-cluster-ipam", "subnet": "10.11.0.0/24", "node": node,
                   "etcd": etcd_of(&c)})
        };
        // Node 0's pods on a bridge, node 1's on a macvlan: one range.
        let bridge = Network::new(
            one_plugin_list(
                json!({"type": "netns-bridge", "bridge": "cbr0", "ipam": ipam("node-0")}),
                json!({}),
            ),
            our_path(),
        );
        veth_master("mst0", 1500);
        let macvlan = Network::new(
            one_plugin_list(
                json!({"type": "netns-macvlan", "master": "mst0", "ipam": ipam("node-1")}),
                json!({}),
            ),
            our_path(),
        );
        let (p1, p2) = (Pod::new("cp1"), Pod::new("cp2"));
        let a1 = bridge.add(&p1, "c1", "eth0");
        a1.expect_ok();
        let a2 = macvlan.add(&p2, "c2", "eth0");
        a2.expect_ok();
        // The results are what the pods' interfaces have (ip -j).
        check_result(a1.result(), &p1);
        check_result(a2.result(), &p2);
        let (ip1, ip2) = (a1.first_ip(), a2.first_ip());
        assert_ne!(ip1, ip2);
        assert_eq!(
            reservations(&c, "t"),
            BTreeMap::from([
                (ip1.clone(), ("c1".into(), "eth0".into(), "node-0".into())),
                (ip2.clone(), ("c2".into(), "eth0".into(), "node-1".into())),
            ])
        );
        bridge.check(&p1, "c1", "eth0").expect_ok();
        macvlan.check(&p2, "c2", "eth0").expect_ok();
        bridge.del(&p1, "c1", "eth0").expect_ok();
        macvlan.del(&p2, "c2", "eth0").expect_ok();
        assert!(reservations(&c, "t").is_empty());
    });
}
