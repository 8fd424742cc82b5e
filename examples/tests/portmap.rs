//! netns-portmap on its own (host and VM tiers), driven by libcni through
//! the project's driver after netns-bridge + host-local, the host side in
//! the test's private namespace: real TCP and UDP through its forwards
//! (from an `outside` namespace with no route to the pods, from the host's
//! loopback, from a second pod and from the pod itself), conditions, exact
//! cleanup (`nft -j list ruleset` and `conntrack -L` compared whole) after
//! DEL, after a refused ADD and after a SIGKILL at each step of ADD, bad
//! input refused with nothing written, CHECK, GC and STATUS.

mod cni_common;
mod portmap_common;

use cni_common::*;
use netns_testutil::in_private_netns;
use portmap_common::*;
use serde_json::{json, Value};

fn our_net(data: &TempDir, extra: Value) -> Network {
    Network::new(
        conflist("1.0.0", "netns-bridge", "netns-portmap", data, extra),
        our_path(),
    )
}

fn the_plugin() -> std::path::PathBuf {
    our_exe("netns-portmap")
}

#[test]
fn forwards_carry_tcp_and_udp_from_outside_loopback_and_pods_until_del() {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let net = our_net(&data, json!({}));
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let before = ruleset();
        let add = add(&net, &p1, "c1", &mappings());
        let ip = pod_ip(add.expect_ok().result());
        // A pod without mappings: prevResult through, nothing of its own.
        add_without_mappings(&net, &p2, "c2");
        assert_eq!(nat_owners(), vec!["fwd pmnet c1 eth0".to_string()]);
        assert_eq!(
            connectivity(&outside, &p1, &ip, &p2),
            expected_connectivity()
        );
        // route_localnet on the bridge, as the reference sets it.
        let localnet = std::fs::read_to_string("/proc/sys/net/ipv4/conf/cni-pm0/route_localnet")
            .expect("route_localnet");
        assert_eq!(localnet.trim(), "1");
        check(&net, &p1, "c1", &mappings()).expect_ok();

        del(&net, &p1, "c1", &mappings()).expect_ok();
        assert_eq!(ruleset(), before, "DEL left nftables state");
        assert!(tcp_refused(&outside, &format!("{HOST_IP}:8080")));
        // Again, and without a namespace or prevResult (libcni's cache is
        // gone after the first DEL): still success.
        del(&net, &p1, "c1", &mappings()).expect_ok();
        net.run(&Call::new("del").id("c1").ifname("eth0").cap(mappings()))
            .expect_ok();
        net.run(
            &Call::new("del")
                .netns("/nonexistent/netns")
                .id("c1")
                .ifname("eth0")
                .cap(mappings()),
        )
        .expect_ok();
        assert_eq!(ruleset(), before);
        del(&net, &p2, "c2", &json!({})).expect_ok();
    });
}

fn add_without_mappings(net: &Network, pod: &Pod, id: &str) -> Value {
    let before = ruleset();
    let o = net.run(&Call::on("add", pod, id, "eth0"));
    let result = o.expect_ok().result().clone();
    assert_eq!(
        result["interfaces"].as_array().map(Vec::len),
        Some(3),
        "{result}"
    );
    assert_eq!(ruleset(), before, "an ADD without mappings wrote something");
    result
}

#[test]
fn del_leaves_nftables_and_conntrack_as_before_add() {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let net = our_net(&data, json!({}));
        let p1 = Pod::new("p1");
        someone_elses_table();
        // Someone else's UDP flow, which nothing may touch; then a stale
        // one to the host port before it is forwarded, which ADD deletes.
        let send = |port: u16| {
            outside
                .run(move || {
                    let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
                    s.send_to(b"x", (HOST_IP, port))
                })
                .expect("run")
                .expect("send");
        };
        send(7777);
        let ct_before = conntrack_table();
        assert_eq!(ct_before.len(), 1, "{ct_before:?}");
        send(8053);
        assert_eq!(conntrack_table().len(), 2);
        let nft_before = ruleset();

        let ip = pod_ip(add(&net, &p1, "c1", &mappings()).expect_ok().result());
        assert_eq!(
            conntrack_table(),
            ct_before,
            "ADD did not delete the stale UDP entry"
        );
        // UDP through the forward: a DNATed entry, which DEL deletes.
        let dns = {
            let ip = ip.clone();
            netns_core::NetNs::open(p1.path())
                .expect("p1")
                .run(move || std::net::UdpSocket::bind((ip.as_str(), 53)))
                .expect("run")
                .expect("bind")
        };
        let seen = udp_peer(
            Some(&outside),
            &dns,
            format!("{HOST_IP}:8053").parse().expect("addr"),
        );
        assert_eq!(seen, Ok(OUTSIDE_IP.parse().expect("ip")));
        assert_eq!(conntrack_table().len(), 2);

        del(&net, &p1, "c1", &mappings()).expect_ok();
        assert_eq!(ruleset(), nft_before);
        assert_eq!(conntrack_table(), ct_before);
    });
}

#[test]
fn a_host_port_another_pod_holds_is_refused_with_nothing_written() {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let net = our_net(&data, json!({}));
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let ip = pod_ip(add(&net, &p1, "c1", &mappings()).expect_ok().result());
        let held = ruleset();
        let ct = conntrack_table();
        let taken = json!({"portMappings": [
            {"hostPort": 7070, "containerPort": 70, "protocol": "tcp"},
            {"hostPort": 8080, "containerPort": 80, "protocol": "TCP"},
        ]});
        let o = add(&net, &p2, "c2", &taken);
        assert_eq!(o.expect_code(), 999, "{o}");
        assert!(
            o.msg()
                .contains("forwarded by another attachment already (nothing was written)")
                && o.msg().contains("8080/tcp"),
            "{}",
            o.msg()
        );
        assert_eq!(ruleset(), held, "the refused ADD wrote something");
        assert_eq!(conntrack_table(), ct);
        // The first pod's forward still works.
        let seen = connectivity(&outside, &p1, &ip, &p2);
        assert_eq!(seen["outside tcp"], json!(OUTSIDE_IP));
        del(&net, &p2, "c2", &taken).expect_ok();
        assert_eq!(ruleset(), held, "p2's DEL touched p1's forwards");
        del(&net, &p1, "c1", &mappings()).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());
    });
}

#[test]
fn bad_input_is_refused_with_a_clear_error_and_nothing_written() {
    let pm = |m: Value| json!({"portMappings": [m]});
    let tcp = |hp: i64, cp: i64| json!({"hostPort": hp, "containerPort": cp, "protocol": "tcp"});
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "host port 0",
            pm(tcp(0, 80)),
            json!({}),
            "failed to parse config: Invalid host port number: 0",
        ),
        (
            "host port 70000",
            pm(tcp(70000, 80)),
            json!({}),
            "Invalid host port number: 70000",
        ),
        (
            "container port 0",
            pm(tcp(8080, 0)),
            json!({}),
            "Invalid container port number: 0",
        ),
        (
            "container port -1",
            pm(tcp(8080, -1)),
            json!({}),
            "Invalid container port number: -1",
        ),
        (
            "protocol",
            pm(json!({"hostPort": 8080, "containerPort": 80, "protocol": "icmp"})),
            json!({}),
            "unknown protocol \"icmp\" in the mapping of host port 8080 (tcp, udp or sctp)",
        ),
        (
            "hostIP unparsable",
            pm(json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "nope"})),
            json!({}),
            "invalid hostIP \"nope\" in the mapping of host port 8080",
        ),
        (
            "hostIP of a family the pod lacks",
            pm(
                json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "fd00::1"}),
            ),
            json!({}),
            "host port 8080/tcp of fd00::1: prevResult has no IPv6 address of interface eth0",
        ),
        (
            "duplicate",
            json!({"portMappings": [tcp(8080, 80), tcp(8080, 81)]}),
            json!({}),
            "host port 8080/tcp is mapped twice (to container ports 80 and 81)",
        ),
        (
            "a condition outside the subset",
            pm(tcp(8080, 80)),
            json!({"conditionsV4": ["-p", "tcp", "-m", "tcp"]}),
            "conditionsV4: unsupported condition \"-p\"",
        ),
        (
            "a list of addresses",
            pm(tcp(8080, 80)),
            json!({"conditionsV4": ["-s", "10.0.0.0/8,10.1.0.0/16"]}),
            "is not an address or prefix",
        ),
        (
            "an IPv6 condition in conditionsV4",
            pm(tcp(8080, 80)),
            json!({"conditionsV4": ["-d", "fd00::/8"]}),
            "conditionsV4: \"fd00::/8\" is not an IPv4 address",
        ),
        (
            "markMasqBit",
            pm(tcp(8080, 80)),
            json!({"markMasqBit": 32}),
            "MasqMarkBit must be between 0 and 31",
        ),
        (
            "markMasqBit and externalSetMarkChain",
            pm(tcp(8080, 80)),
            json!({"markMasqBit": 5, "externalSetMarkChain": "KUBE-MARK-MASQ"}),
            "Cannot specify externalSetMarkChain and markMasqBit",
        ),
    ];
    in_private_netns(|| {
        let before = ruleset();
        for (i, (what, cap, extra, msg)) in cases.iter().enumerate() {
            let data = TempDir::new("ipam");
            let net = our_net(&data, extra.clone());
            let pod = Pod::new("p");
            let id = format!("c{i}");
            let o = add(&net, &pod, &id, cap);
            assert_eq!(o.expect_code(), 999, "{what}: {o}");
            assert!(o.msg().contains(msg), "{what}: {:?} lacks {msg:?}", o.msg());
            assert_eq!(ruleset(), before, "{what}: the refused ADD wrote something");
            del(&net, &pod, &id, cap).expect_ok();
        }
        // Not chained: no prevResult.
        let alone = Network::new(
            json!({"cniVersion": "1.0.0", "name": "pmnet", "plugins": [
                {"type": "netns-portmap", "capabilities": {"portMappings": true}}]}),
            our_path(),
        );
        let pod = Pod::new("p");
        let o = add(&alone, &pod, "c", &mappings());
        assert_eq!(o.expect_code(), 999);
        assert_eq!(o.msg(), "must be called as chained plugin");
        assert_eq!(ruleset(), before);
    });
}

#[test]
fn a_kill_at_each_step_of_add_is_undone_by_del() {
    in_private_netns(|| {
        let (_dir, _outside) = outside();
        someone_elses_table();
        let nft_before = ruleset();
        let ct_before = conntrack_table();
        for (step, forwards_written) in [
            ("before-nat", false),
            ("after-nat", true),
            ("after-localnet", true),
            ("after-conntrack", true),
        ] {
            let wrapper = killing_wrapper(&the_plugin(), step);
            let mut path = vec![wrapper.path().to_path_buf()];
            path.extend(our_path());
            let data = TempDir::new("ipam");
            let net = Network::new(
                conflist("1.0.0", "netns-bridge", "netns-portmap", &data, json!({})),
                path,
            );
            let pod = Pod::new("p");
            let o = add(&net, &pod, "c1", &mappings());
            assert!(!o.ok(), "{step}: the ADD was not killed: {o}");
            assert!(o.stderr.contains("killed"), "{step}: {o}");
            assert_eq!(ruleset() != nft_before, forwards_written, "{step}");
            del(&net, &pod, "c1", &mappings()).expect_ok();
            assert_eq!(ruleset(), nft_before, "{step}: DEL left nftables state");
            assert_eq!(conntrack_table(), ct_before, "{step}: conntrack");
        }
    });
}

#[test]
fn check_passes_after_add_and_names_what_someone_deleted() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = our_net(&data, json!({}));
        let pod = Pod::new("p1");
        add(&net, &pod, "c1", &mappings()).expect_ok();
        check(&net, &pod, "c1", &mappings()).expect_ok();
        // Numeric protocol: the VM has no /etc/protocols for nft to read.
        netns_testutil::nft::nft(&[
            "delete",
            "element",
            "inet",
            "netns-nat",
            "ports4",
            "{ 6 . 8080 }",
        ]);
        let o = check(&net, &pod, "c1", &mappings());
        assert_eq!(o.expect_code(), 999);
        assert!(
            o.msg().starts_with("port forwards of network pmnet container c1 interface eth0 are not as ADD made them: ")
                && o.msg().contains("no element tcp . 8080 : 10.88.0.2 . 80 in ports4"),
            "{}",
            o.msg()
        );
        del(&net, &pod, "c1", &mappings()).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());
    });
}

#[test]
fn conditions_limit_the_forward_to_the_packets_they_match() {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        // Only what comes in from outside's link...
        let net = our_net(&data, json!({"conditionsV4": ["-i", "r-out"]}));
        let ip = pod_ip(add(&net, &p1, "c1", &mappings()).expect_ok().result());
        add_without_mappings(&net, &p2, "c2");
        let seen = connectivity(&outside, &p1, &ip, &p2);
        assert_eq!(seen["outside tcp"], json!(OUTSIDE_IP), "{seen}");
        assert!(seen["localhost tcp"].get("error").is_some(), "{seen}");
        assert!(seen["pod2 hairpin tcp"].get("error").is_some(), "{seen}");
        del(&net, &p1, "c1", &mappings()).expect_ok();
        // ...and everything but outside.
        let net = our_net(
            &data,
            json!({"conditionsV4": ["!", "-s", format!("{OUTSIDE_IP}/32")]}),
        );
        let ip = pod_ip(add(&net, &p1, "c1", &mappings()).expect_ok().result());
        let seen = connectivity(&outside, &p1, &ip, &p2);
        assert!(seen["outside tcp"].get("error").is_some(), "{seen}");
        assert_eq!(seen["localhost tcp"], json!(GATEWAY), "{seen}");
        assert_eq!(seen["pod2 hairpin tcp"], json!(GATEWAY), "{seen}");
        del(&net, &p1, "c1", &mappings()).expect_ok();
        del(&net, &p2, "c2", &json!({})).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());
    });
}

#[test]
fn gc_removes_only_the_attachments_not_valid_and_status_is_ready() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let net = our_net(&data, json!({}));
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let other =
            json!({"portMappings": [{"hostPort": 8181, "containerPort": 80, "protocol": "tcp"}]});
        add(&net, &p1, "c1", &mappings()).expect_ok();
        add(&net, &p2, "c2", &other).expect_ok();
        // libcni 1.1.2 reads results up to 1.0.0 only: the pods are added
        // with the 1.0.0 list, GC and STATUS go with it as 1.1.0, sharing
        // its cache. The runtime lost c2 (no cached attachment for the
        // driver's GC to DEL): only the plugin's GC can remove its forwards.
        let net11 = Network::with_cache_dir(
            conflist("1.1.0", "netns-bridge", "netns-portmap", &data, json!({})),
            our_path(),
            net.cache_dir(),
        );
        net11.status().expect_ok();
        let cached = net.cache_dir().join("results").join("pmnet-c2-eth0");
        std::fs::remove_file(&cached).expect("drop c2 from libcni's cache");
        net11.gc(&[("c1", "eth0")]).expect_ok();
        assert_eq!(nat_owners(), vec!["fwd pmnet c1 eth0".to_string()]);
        check(&net, &p1, "c1", &mappings()).expect_ok();
        let cached = net.cache_dir().join("results").join("pmnet-c1-eth0");
        std::fs::remove_file(&cached).expect("drop c1 from libcni's cache");
        net11.gc(&[]).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());
    });
}

#[test]
fn a_dual_stack_pod_gets_both_families_forwarded() {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let net = Network::new(
            conflist_dual("1.0.0", "netns-bridge", "netns-portmap", &data, json!({})),
            our_path(),
        );
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let r = add(&net, &p1, "c1", &mappings())
            .expect_ok()
            .result()
            .clone();
        add_without_mappings(&net, &p2, "c2");
        let (ip, ip6) = (pod_ip(&r), pod_ip6(&r));
        assert_eq!(
            connectivity(&outside, &p1, &ip, &p2),
            expected_connectivity()
        );
        assert_eq!(
            connectivity6(&outside, &p1, &ip6, &p2),
            expected_connectivity6()
        );
        check(&net, &p1, "c1", &mappings()).expect_ok();
        del(&net, &p1, "c1", &mappings()).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());

        // conditionsV4 limits the IPv4 forwards only.
        let net = Network::new(
            conflist_dual(
                "1.0.0",
                "netns-bridge",
                "netns-portmap",
                &data,
                json!({"conditionsV4": ["!", "-i", "r-out"]}),
            ),
            our_path(),
        );
        let r = add(&net, &p1, "c1", &mappings())
            .expect_ok()
            .result()
            .clone();
        let (ip, ip6) = (pod_ip(&r), pod_ip6(&r));
        let seen = connectivity(&outside, &p1, &ip, &p2);
        assert!(seen["outside tcp"].get("error").is_some(), "{seen}");
        assert_eq!(seen["pod2 hairpin tcp"], json!(GATEWAY), "{seen}");
        assert_eq!(
            connectivity6(&outside, &p1, &ip6, &p2),
            expected_connectivity6()
        );
        del(&net, &p1, "c1", &mappings()).expect_ok();
        del(&net, &p2, "c2", &json!({})).expect_ok();
        assert_eq!(ruleset(), Vec::<Value>::new());
    });
}
