//! netns-vlan against the reference vlan plugin (/usr/lib/cni/vlan,
//! containernetworking-plugins 1.1.1) with the harness of
//! tests/sublink_diff: every ADD result, `ip -j -d link/addr/route` of the
//! host side and of every pod after ADD, CHECK of every pod, and both sides
//! after DEL, equal after normalising; for bad input, the code, the
//! message, and that nothing changed.
//!
//! These need 802.1q, which the development kernel lacks: they run in the
//! VM tier (.ci/vm, Debian's 6.1 kernel) and skip on the host with a
//! printed reason, after the host run has built the driver and staged the
//! reference plugins for the VM (tests/cni_common `driver`,
//! `reference_dir`).
//!
//! Where netns-vlan deliberately differs, the test checks the difference
//! exactly: `vlanId` 0 (or none) is refused where the reference makes a
//! VLAN 0 link; DEL succeeds when the master is gone where the
//! reference's fails; an ADD that fails after IPAM removes the link where
//! the reference leaves it in the pod; without IPAM the link is layer 2
//! only where the reference fails, leaving it; the link's txqueuelen is the
//! kernel's default where 1.1.1 sends 0 (fixed upstream in 1.6.0).

mod cni_common;
mod sublink_diff;

use cni_common::*;
use netns_core::LinkSpec;
use netns_testutil::{in_private_netns, ip};
use serde_json::json;
use sublink_diff::*;

const VLAN: Pair = Pair {
    reference: "vlan",
    ours: "netns-vlan",
    kind: "vlan",
};

/// Whether the tests can run here: what they need from the host first (or
/// a failure saying what is missing), then the kernel's 802.1q (a printed
/// SKIP without it; in the VM, a failure).
fn ready() -> bool {
    driver();
    reference_dir();
    our_plugin(VLAN.ours);
    kernel_makes("802.1q VLAN links", |h, m| {
        h.link_add(&LinkSpec::vlan("probe.10", m, 10))
    })
}

#[test]
fn one_pod_per_vlan_with_ipam_and_an_mtu() {
    if !ready() {
        return;
    }
    VLAN.same(&Scenario {
        plugin: json!({"master": "mst0", "vlanId": 10, "mtu": 1400, "ipam": ipam4()}),
        pods: vec![("c1", "net1", None)],
    });
}

#[test]
fn dual_stack_and_cni_args() {
    if !ready() {
        return;
    }
    VLAN.same(&Scenario {
        plugin: json!({"master": "mst0", "vlanId": 4094, "ipam": ipam_dual()}),
        pods: vec![(
            "c1",
            "eth0",
            Some("IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p;K8S_POD_UID=u"),
        )],
    });
}

/// A second pod on the same VLAN of the same master: the kernel allows one
/// VLAN link per id on a master (across namespaces). Both fail with the
/// same code and change nothing; the reference's message is the errno's
/// (`file exists`), ours carries the kernel's extended ack.
#[test]
fn a_second_link_on_one_vlan_and_master_fails_alike() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "vlanId": 10, "ipam": ipam4()});
    let theirs = VLAN.attempt(VLAN.reference, &plugin, "eth0", true);
    let ours = VLAN.attempt(VLAN.ours, &plugin, "eth0", true);
    assert_eq!(
        theirs.0,
        json!({"code": 999, "msg": "failed to create vlan: file exists"})
    );
    assert_eq!(ours.0["code"], 999);
    let msg = ours.0["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("failed to create vlan: ") && msg.contains("VLAN device already exists"),
        "{msg}"
    );
    assert_eq!(theirs.1, [true; 3], "reference: {theirs:?}");
    assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
}

/// Bad input: the same code and message, and neither plugin changed
/// anything (host side, pod, IPAM files).
#[test]
fn bad_input_alike_and_nothing_left() {
    if !ready() {
        return;
    }
    VLAN.bad_input_alike(&[
        (
            json!({"master": "nope0", "vlanId": 10, "ipam": ipam4()}),
            "eth0",
        ),
        (json!({"vlanId": 10, "ipam": ipam4()}), "eth0"),
        (
            json!({"master": "mst0", "vlanId": 10, "mtu": 9000, "ipam": ipam4()}),
            "eth0",
        ),
        (
            json!({"master": "mst0", "vlanId": 10, "mtu": -5, "ipam": ipam4()}),
            "eth0",
        ),
    ]);
}

/// A VLAN id out of range: the same code, and nothing changed; the
/// reference's message gives the range wrong (`between 0 and 4095
/// inclusive`, where it refuses 4095), ours gives the one it takes.
#[test]
fn vlan_ids_out_of_range_fail_alike() {
    if !ready() {
        return;
    }
    for id in [4095, 5000, -1] {
        let plugin = json!({"master": "mst0", "vlanId": id, "ipam": ipam4()});
        let theirs = VLAN.attempt(VLAN.reference, &plugin, "eth0", false);
        let ours = VLAN.attempt(VLAN.ours, &plugin, "eth0", false);
        assert_eq!(
            theirs.0,
            json!({"code": 999, "msg": format!("invalid VLAN ID {id} (must be between 0 and 4095 inclusive)")})
        );
        assert_eq!(
            ours.0,
            json!({"code": 999, "msg": format!("invalid VLAN ID {id} (must be between 1 and 4094 inclusive)")})
        );
        assert_eq!(theirs.1, [true; 3], "reference: {theirs:?}");
        assert_eq!(ours.1, [true; 3], "ours: {ours:?}");
    }
}

/// A name taken in the pod: the same code and message; the reference
/// made its link under a temporary name first and leaves it in the pod
/// when the rename fails; ours fails before it makes anything.
#[test]
fn a_taken_name_fails_alike_and_ours_leaves_nothing() {
    if !ready() {
        return;
    }
    VLAN.taken_name_alike(&json!({"master": "mst0", "vlanId": 10, "ipam": ipam4()}));
}

/// VLAN id 0 (and so no `vlanId`): the reference makes a VLAN 0 link
/// (priority-tagged frames on the master's untagged network); netns-vlan
/// refuses it, code 999, and changes nothing.
#[test]
fn vlan_id_zero_is_refused_where_the_reference_takes_it() {
    if !ready() {
        return;
    }
    for plugin in [
        json!({"master": "mst0", "vlanId": 0, "ipam": ipam4()}),
        json!({"master": "mst0", "ipam": ipam4()}),
    ] {
        let theirs = VLAN.observe(
            &Scenario {
                plugin: plugin.clone(),
                pods: vec![("c1", "eth0", None)],
            },
            VLAN.reference,
        );
        assert!(
            theirs["adds"][0].get("interfaces").is_some(),
            "the reference takes {plugin}: {}",
            theirs["adds"][0]
        );
        assert!(
            theirs["pods"][0].to_string().contains("\"id\":0"),
            "{}",
            theirs["pods"][0]
        );
        let ours = VLAN.attempt(VLAN.ours, &plugin, "eth0", false);
        assert_eq!(
            ours.0,
            json!({"code": 999, "msg": format!(
                "invalid VLAN ID {} (must be between 1 and 4094 inclusive)",
                plugin["vlanId"].as_i64().unwrap_or(0)
            )}),
            "{plugin}"
        );
        assert_eq!(ours.1, [true; 3], "{plugin}");
    }
}

/// An ADD that fails after IPAM: the same code; both release the
/// address, the reference leaves the VLAN link in the pod (its error path
/// has no link removal), netns-vlan removes it.
#[test]
fn a_failure_after_ipam_leaves_nothing_where_the_reference_leaks_the_link() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "vlanId": 10, "ipam": ipam_bad_route()});
    let theirs = VLAN.failure_after_ipam(&plugin);
    assert_eq!(
        theirs,
        ([true, false, true], vec!["eth0".into(), "lo".into()])
    );
}

/// No IPAM: the reference makes the VLAN link, then fails asking IPAM
/// of type "" and leaves the link in the pod; netns-vlan brings the link
/// up, layer 2 only (as netns-macvlan without IPAM).
#[test]
fn no_ipam_is_layer_2_where_the_reference_fails_and_leaks_the_link() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "vlanId": 10});
    let theirs = VLAN.attempt(VLAN.reference, &plugin, "eth0", false);
    assert_eq!(theirs.0["code"], 999, "{theirs:?}");
    assert_eq!(theirs.1, [true, false, true], "reference: {theirs:?}");
    assert_eq!(theirs.2, ["eth0", "lo"]);
    let ours = VLAN.observe(
        &Scenario {
            plugin,
            pods: vec![("c1", "eth0", None)],
        },
        VLAN.ours,
    );
    let add = &ours["adds"][0];
    assert!(
        add.get("interfaces").is_some() && add.get("ips").is_none(),
        "{add}"
    );
    assert_eq!(ours["checks"][0], "ok");
    assert_eq!(ours["dels"][0], "ok");
}

/// DEL after the master is gone (the trunk was removed first, as a node
/// drain can do): the reference's DEL looks the master up and fails, so
/// the runtime cannot remove the pod; netns-vlan's succeeds and releases
/// the address. Removing the master removed the pod's VLAN link with it.
#[test]
fn del_without_the_master_succeeds_where_the_reference_fails() {
    if !ready() {
        return;
    }
    let plugin = json!({"master": "mst0", "vlanId": 10, "ipam": ipam4()});
    let run = |ty: &str| {
        in_private_netns(|| {
            host_side();
            let data = TempDir::new("ipam");
            let paths = if ty == VLAN.ours {
                our_path()
            } else {
                reference_path()
            };
            let net = Network::new(conflist(&plugin, ty, &data), paths);
            let pod = Pod::new("p1");
            net.add(&pod, "c1", "eth0").expect_ok();
            assert_eq!(held(&data).len(), 1, "{ty}");
            ip(["link", "del", "mst0"]);
            assert_eq!(pod.ifnames(), ["lo"], "{ty}");
            let mut t = Tokens::new();
            (outcome(&net.del(&pod, "c1", "eth0"), &mut t), held(&data))
        })
    };
    let theirs = run(VLAN.reference);
    assert_eq!(theirs.0, json!({"code": 999, "msg": "Link not found"}));
    assert_eq!(theirs.1.len(), 1, "the reference keeps the reservation");
    let ours = run(VLAN.ours);
    assert_eq!(ours.0, json!("ok"));
    assert!(ours.1.is_empty(), "{:?}", ours.1);
}
