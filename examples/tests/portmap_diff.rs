//! netns-portmap against the reference portmap plugin (/usr/lib/cni/portmap,
//! containernetworking-plugins 1.1.1, which execs iptables), both chained
//! after the reference bridge + host-local and driven by libcni 1.1.2
//! through the project's driver, each in a private namespace of its own:
//! the same ADD results (portmap passes prevResult through), the same
//! connectivity (TCP and UDP from an `outside` namespace, from the host's
//! loopback, from a second pod and from the pod itself; the address the
//! pod's server sees), the same error codes for bad input (and where
//! netns-portmap deliberately refuses what the reference takes, that the
//! reference takes it); and, under strace, that netns-portmap execs
//! nothing while the reference execs iptables.

netns_testutil::host_only!(
    "needs go, the reference plugins, iptables and strace, which the VM image lacks"
);

mod cni_common;
mod portmap_common;

use std::path::PathBuf;

use cni_common::*;
use netns_testutil::in_private_netns;
use portmap_common::*;
use serde_json::{json, Value};

/// The reference plugin's type and its search path, and ours.
fn sides() -> [(&'static str, Vec<PathBuf>); 2] {
    [("portmap", reference_path()), ("netns-portmap", our_path())]
}

/// One side's run of the scenario: ADD results (normalised), what each
/// client is seen as, route_localnet on the bridge, CHECK, and whether the
/// ruleset is empty after DEL.
fn scenario(portmap: &str, path: Vec<PathBuf>, dual: bool, extra: Value) -> Value {
    in_private_netns(|| {
        let (_dir, outside) = outside();
        let data = TempDir::new("ipam");
        let list = if dual { conflist_dual } else { conflist };
        let net = Network::new(list("1.0.0", "bridge", portmap, &data, extra), path);
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let mut t = Tokens::new();
        let a1 = add(&net, &p1, "c1", &mappings());
        let r1 = a1.expect_ok().result().clone();
        let a2 = net.run(&Call::on("add", &p2, "c2", "eth0"));
        let r2 = a2.expect_ok().result().clone();
        let ip = pod_ip(&r1);
        let mut seen = connectivity(&outside, &p1, &ip, &p2);
        if dual {
            seen["v6"] = connectivity6(&outside, &p1, &pod_ip6(&r1), &p2);
        }
        let localnet = std::fs::read_to_string("/proc/sys/net/ipv4/conf/cni-pm0/route_localnet")
            .expect("route_localnet");
        let check = check(&net, &p1, "c1", &mappings());
        del(&net, &p1, "c1", &mappings()).expect_ok();
        let after_del = ruleset();
        del(&net, &p2, "c2", &json!({})).expect_ok();
        json!({
            "results": [normalise_result(&r1, &mut t), normalise_result(&r2, &mut t)],
            "connectivity": seen,
            "route_localnet": localnet.trim(),
            "check": if check.ok() { json!("ok") } else { json!(check.msg()) },
            "nothing left after DEL": after_del.is_empty(),
        })
    })
}

/// The reference's CHECK failed with `could not check ipv6 dnat: WHAT...`
/// where ours passed: the one difference, taken out.
fn reference_check_fails(theirs: &Value, ours: &mut Value, what: &str) {
    let msg = theirs["check"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("could not check ipv6 dnat: {what}")),
        "{msg}"
    );
    assert_eq!(ours["check"], json!("ok"));
    ours["check"] = theirs["check"].clone();
}

#[test]
fn same_results_and_connectivity_as_the_reference() {
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    let theirs = scenario(ref_ty, ref_path, false, json!({}));
    let mut ours = scenario(our_ty, our_path, false, json!({}));
    assert_eq!(
        theirs["connectivity"],
        expected_connectivity(),
        "{theirs:#}"
    );
    // The reference's DEL leaves its shared chains (CNI-HOSTPORT-DNAT,
    // -SETMARK, -MASQ and their jumps); ours removes its table with its
    // last attachment.
    assert_eq!(theirs["nothing left after DEL"], json!(false));
    assert_eq!(ours["nothing left after DEL"], json!(true));
    ours["nothing left after DEL"] = json!(false);
    // The reference's CHECK of an IPv4-only pod also checks ip6tables for
    // its chain, which it never made there, and fails; ours passes.
    reference_check_fails(&theirs, &mut ours, "chain CNI-DN-");
    assert_same("portmap ADD, connectivity, CHECK", &theirs, &ours);
}

#[test]
fn same_results_and_connectivity_as_the_reference_in_dual_stack() {
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    let theirs = scenario(ref_ty, ref_path, true, json!({}));
    let mut ours = scenario(our_ty, our_path, true, json!({}));
    let mut want = expected_connectivity();
    want["v6"] = expected_connectivity6();
    assert_eq!(theirs["connectivity"], want, "{theirs:#}");
    assert_eq!(theirs["nothing left after DEL"], json!(false));
    assert_eq!(ours["nothing left after DEL"], json!(true));
    ours["nothing left after DEL"] = json!(false);
    // With a dual-stack pod it checks the IPv4 forwards' rules in
    // ip6tables too, and fails; ours passes.
    reference_check_fails(
        &theirs,
        &mut ours,
        "rule [[-p tcp --dport 8080 -s 10.88.0.2/24",
    );
    assert_same(
        "dual-stack portmap ADD, connectivity, CHECK",
        &theirs,
        &ours,
    );
}

/// `snat: false`: no masquerade at all (loopback clients get no answer;
/// what a pod reaching a host port gets depends on whether bridged frames
/// go through the host's conntrack, br_netfilter: the same for both),
/// as the reference.
#[test]
fn same_connectivity_as_the_reference_without_snat() {
    let extra = json!({"snat": false});
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    let theirs = scenario(ref_ty, ref_path, false, extra.clone());
    let mut ours = scenario(our_ty, our_path, false, extra);
    let seen = &theirs["connectivity"];
    assert_eq!(seen["outside tcp"], json!(OUTSIDE_IP), "{seen:#}");
    assert!(seen["localhost tcp"].get("error").is_some(), "{seen:#}");
    // Nothing set route_localnet.
    assert_eq!(theirs["route_localnet"], json!("0"));
    ours["nothing left after DEL"] = theirs["nothing left after DEL"].clone();
    reference_check_fails(&theirs, &mut ours, "chain CNI-DN-");
    assert_same("portmap with snat false", &theirs, &ours);
}

/// `masqAll` came after v1.1.1 (which ignores the key): ours gives it the
/// later reference's meaning, every forwarded connection masqueraded, the
/// outside client's too; everything else as the reference.
#[test]
fn masq_all_masquerades_the_outside_client_too() {
    let extra = json!({"masqAll": true});
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    let mut theirs = scenario(ref_ty, ref_path, false, extra.clone());
    let mut ours = scenario(our_ty, our_path, false, extra);
    assert_eq!(theirs["connectivity"], expected_connectivity());
    let mut want = expected_connectivity();
    for k in ["outside tcp", "outside udp", "outside tcp hostIP"] {
        want[k] = json!(GATEWAY);
    }
    assert_eq!(ours["connectivity"], want);
    theirs["connectivity"] = Value::Null;
    ours["connectivity"] = Value::Null;
    ours["nothing left after DEL"] = theirs["nothing left after DEL"].clone();
    reference_check_fails(&theirs, &mut ours, "chain CNI-DN-");
    assert_same("portmap with masqAll", &theirs, &ours);
}

/// Bad input both refuse: the same code (and message where the reference's
/// comes from its config parser, not from iptables). Bad input only ours
/// refuses: the reference takes it (and writes rules, or drops the mapping).
#[test]
fn bad_input_gets_the_references_codes() {
    let tcp = |hp: i64, cp: i64| json!({"portMappings": [{"hostPort": hp, "containerPort": cp, "protocol": "tcp"}]});
    let one = |m: Value| json!({"portMappings": [m]});
    // (what, capability args, portmap keys, same message?)
    let both: Vec<(&str, Value, Value, bool)> = vec![
        ("host port 0", tcp(0, 80), json!({}), true),
        ("container port 0", tcp(8080, 0), json!({}), true),
        ("host port 70000", tcp(70000, 80), json!({}), false),
        ("container port 70000", tcp(8080, 70000), json!({}), false),
        (
            "protocol",
            one(json!({"hostPort": 8080, "containerPort": 80, "protocol": "icmp"})),
            json!({}),
            false,
        ),
        (
            "markMasqBit",
            tcp(8080, 80),
            json!({"markMasqBit": -1}),
            true,
        ),
        (
            "both mark keys",
            tcp(8080, 80),
            json!({"markMasqBit": 1, "externalSetMarkChain": "X"}),
            true,
        ),
    ];
    let only_ours: Vec<(&str, Value)> = vec![
        (
            "hostIP unparsable",
            one(
                json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "nope"}),
            ),
        ),
        (
            "hostIP of a family the pod lacks",
            one(
                json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "fd00::1"}),
            ),
        ),
        (
            "host port twice",
            json!({"portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 8080, "containerPort": 81, "protocol": "tcp"}]}),
        ),
    ];
    let run = |ty: &str, path: Vec<PathBuf>, cap: &Value, extra: &Value| {
        in_private_netns(|| {
            let data = TempDir::new("ipam");
            let net = Network::new(conflist("1.0.0", "bridge", ty, &data, extra.clone()), path);
            let pod = Pod::new("p");
            let o = add(&net, &pod, "c1", cap);
            let _ = del(&net, &pod, "c1", cap);
            o
        })
    };
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    for (what, cap, extra, same_msg) in &both {
        let theirs = run(ref_ty, ref_path.clone(), cap, extra);
        let ours = run(our_ty, our_path.clone(), cap, extra);
        assert_eq!(
            theirs.expect_code(),
            ours.expect_code(),
            "{what}: {theirs} / {ours}"
        );
        if *same_msg {
            assert_eq!(theirs.msg(), ours.msg(), "{what}");
        }
    }
    for (what, cap) in &only_ours {
        let theirs = run(ref_ty, ref_path.clone(), cap, &json!({}));
        assert!(
            theirs.ok(),
            "{what}: the reference refused it too: {theirs}"
        );
        let ours = run(our_ty, our_path.clone(), cap, &json!({}));
        assert_eq!(ours.expect_code(), 999, "{what}: {ours}");
    }
}

#[test]
fn under_strace_ours_execs_nothing_and_the_reference_execs_iptables() {
    let [(ref_ty, ref_path), (our_ty, our_path)] = sides();
    for (ty, path) in [(our_ty, our_path), (ref_ty, ref_path)] {
        let real = path
            .iter()
            .map(|d| d.join(ty))
            .find(|p| p.is_file())
            .expect("the plugin");
        let logs = TempDir::new("pm-strace-logs");
        let (add_log, del_log) = (logs.path().join("add"), logs.path().join("del"));
        in_private_netns(|| {
            let data = TempDir::new("ipam");
            let pod = Pod::new("p");
            for (cmd, log) in [("add", &add_log), ("del", &del_log)] {
                let wrapper = straced(ty, &real, log);
                let mut p = vec![wrapper.path().to_path_buf()];
                p.extend(path.iter().cloned());
                let net = Network::new(conflist("1.0.0", "bridge", ty, &data, json!({})), p);
                net.run(&Call::on(cmd, &pod, "c1", "eth0").cap(mappings()))
                    .expect_ok();
            }
        });
        for (cmd, log) in [("ADD", &add_log), ("DEL", &del_log)] {
            let run = execs(log);
            let me = real.to_string_lossy().into_owned();
            if ty == our_ty {
                assert_eq!(run, vec![me], "{ty} {cmd} executed something");
            } else {
                assert_eq!(run.first(), Some(&me), "{ty} {cmd}");
                assert!(
                    run.iter().any(|p| p.ends_with("iptables")),
                    "{ty} {cmd}: the reference should exec iptables: {run:?}"
                );
            }
        }
    }
}
