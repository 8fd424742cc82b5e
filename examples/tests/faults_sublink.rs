//! Fault injection (issue 18) for the sub-interface plugins of the link
//! kinds this host's kernel lacks, netns-vlan and netns-ipvlan
//! (examples/src/sublink.rs): each SIGKILLed at each step of its ADD, then
//! DEL, and the node exactly as before, compared whole (see faults.rs for
//! what is compared and why; nftables is left out here: these plugins have
//! no nftables code, and each `nft` costs 50-100 ms under the VM tier's
//! emulation). On the host they skip with a printed reason; they run in the
//! VM tier. The master is named as the pod's interface (`eth0`): on kernels
//! before 6.14 (the VM tier's 6.1) the kernel refuses a new link whose name
//! the requester's namespace holds, so the plugins make the link under a
//! temporary name in the pod and rename it, and a kill between the two is
//! a step of its own. netns-macvlan (the same sublink code on the host's
//! kernel) and GC after a kill (`plugin::ipam_gc`, the same function for
//! all three) are in faults.rs.

mod cni_common;
mod faults_common;
mod portmap_common;

use cni_common::*;
use faults_common::*;
use netns_core::{IpVlanMode, LinkSpec};
use netns_testutil::in_private_netns;
use serde_json::{json, Value};

fn sublink_case(plugin: &str, kind: Value, n: u8) {
    in_private_netns(|| {
        veth_master("eth0", 1500);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let mut c = conf(json!({"type": plugin, "master": "eth0", "ipam": host_local(&data, n)}));
        if let (Some(o), Value::Object(k)) = (c.as_object_mut(), kind) {
            o.extend(k);
        }
        let p = Plugin::new(plugin, c, &pod);
        let node = Node {
            nft: false,
            ..Node::of(&pod, &[data.path()])
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!("{plugin}: {steps} steps, each killed, DEL exact"));
        assert!(steps >= 6, "{steps}");
    });
}

#[test]
fn vlan_killed_at_each_step_then_del_leaves_the_node_as_before() {
    if !kernel_makes("802.1q VLAN links", |h, m| {
        h.link_add(&LinkSpec::vlan("probe.10", m, 10))
    }) {
        return;
    }
    sublink_case("netns-vlan", json!({"vlanId": 5}), 3);
}

#[test]
fn ipvlan_killed_at_each_step_then_del_leaves_the_node_as_before() {
    if !kernel_makes("ipvlan links", |h, m| {
        h.link_add(&LinkSpec::ipvlan("probe0", m, IpVlanMode::L2))
    }) {
        return;
    }
    sublink_case("netns-ipvlan", json!({"mode": "l2"}), 4);
}
