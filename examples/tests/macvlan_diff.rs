//! netns-macvlan against the reference macvlan plugin
//! (/usr/lib/cni/macvlan, containernetworking-plugins 1.1.1) with the
//! harness of tests/sublink_diff: every ADD result, `ip -j -d
//! link/addr/route` of the host side and of every pod after ADD, CHECK of
//! every pod, and both sides after DEL, equal after normalising; for bad
//! input, the code, the message, and that nothing changed.
//!
//! Where netns-macvlan deliberately differs, the test says so: the
//! macvlan's txqueuelen is the kernel's default (the master's), where
//! 1.1.1 sends 0 (a zero struct field; fixed upstream in 1.6.0, as for
//! veths: `with_upstream_fixes`).

netns_testutil::host_only!("needs go and the reference plugins, which the VM image lacks");

mod cni_common;
mod sublink_diff;

use serde_json::json;
use sublink_diff::*;

const MACVLAN: Pair = Pair {
    reference: "macvlan",
    ours: "netns-macvlan",
    kind: "macvlan",
};

#[test]
fn bridge_mode_with_ipam_two_pods() {
    MACVLAN.same(&Scenario {
        plugin: json!({"master": "mst0", "mtu": 1400, "ipam": ipam4()}),
        pods: vec![("c1", "eth0", None), ("c2", "eth0", None)],
    });
}

#[test]
fn dual_stack() {
    MACVLAN.same(&Scenario {
        plugin: json!({"master": "mst0", "mode": "vepa", "ipam": ipam_dual()}),
        pods: vec![("c1", "net1", None)],
    });
}

#[test]
fn layer2_only_each_mode_and_a_mac() {
    for mode in ["bridge", "private", "vepa", "passthru"] {
        MACVLAN.same(&Scenario {
            plugin: json!({"master": "mst0", "mode": mode}),
            pods: vec![("c1", "eth0", Some("IgnoreUnknown=1;MAC=0a:58:0a:4f:00:07"))],
        });
    }
}

/// Bad input: the same code and message, and neither plugin changed
/// anything (host side, pod, IPAM files).
#[test]
fn bad_input_alike_and_nothing_left() {
    MACVLAN.bad_input_alike(&[
        (json!({"master": "nope0"}), "eth0"),
        // Several faults: the master's is reported first, as the reference
        // does.
        (json!({"master": "nope0", "mode": "bogus"}), "eth0"),
        (
            json!({"master": "mst0", "mtu": 9000, "mode": "bogus"}),
            "eth0",
        ),
        (json!({"master": "mst0", "mtu": 9000}), "eth0"),
        (json!({"master": "mst0", "mtu": -5}), "eth0"),
        (json!({"master": "mst0", "mode": "source"}), "eth0"),
        (
            json!({"master": "mst0", "mode": "bogus", "ipam": ipam4()}),
            "eth0",
        ),
        (json!({"master": "mst0", "ipam": ipam4()}), "lo"),
        (json!({"master": "mst0"}), "lo"),
        (json!({}), "eth0"),
    ]);
}

/// An ADD that fails after IPAM: the same error code, and both release
/// the address; the reference leaves the macvlan in the pod (its clean-up
/// tests an `err` that a shadowing `:=` in the IPAM branch leaves nil),
/// which keeps the master promiscuous; netns-macvlan removes it.
#[test]
fn a_failure_after_ipam_leaves_nothing_where_the_reference_leaks_the_macvlan() {
    let plugin = json!({"master": "mst0", "ipam": ipam_bad_route()});
    let theirs = MACVLAN.failure_after_ipam(&plugin);
    assert_eq!(
        theirs,
        ([false, false, true], vec!["eth0".into(), "lo".into()])
    );
}
