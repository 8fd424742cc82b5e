//! Fault injection (issue 18) for the sub-interface plugins netns-macvlan,
//! netns-vlan and netns-ipvlan (examples/src/sublink.rs): each SIGKILLed at
//! each step of its ADD, then DEL, and the node exactly as before, compared
//! whole; a kill at the last step, GC, then DEL (see faults.rs for what is
//! compared and why). The master is named as the pod's interface (`eth0`):
//! on kernels before 6.14 (the VM tier's 6.1) the kernel refuses a new
//! link whose name the requester's namespace holds, so the plugins make the
//! link under a temporary name in the pod and rename it, and a kill between
//! the two is a step of its own; on later kernels (this host's) the link is
//! made under its name directly. vlan and ipvlan need kernel modules the
//! host lacks: they skip here with a printed reason and run in the VM tier.

mod cni_common;
mod faults_common;
mod portmap_common;

use cni_common::*;
use faults_common::*;
use netns_core::{IpVlanMode, LinkSpec};
use netns_testutil::in_private_netns;
use serde_json::{json, Value};

#[test]
fn macvlan_killed_at_each_step_then_del_leaves_the_node_as_before() {
    in_private_netns(|| {
        // The master is named as the pod's interface: the plugin makes the
        // link under a temporary name, then renames it.
        veth_master("eth0", 1500);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-macvlan",
            conf(json!({"type": "netns-macvlan", "master": "eth0", "ipam": host_local(&data, 2)})),
            &pod,
        );
        let node = Node {
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: false,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-macvlan: {steps} steps, each killed, DEL exact"
        ));
        assert!(steps >= 5, "{steps}");
        gc_after_kill(&p, &node, steps, &["files"]);
    });
}

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
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: false,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!("{plugin}: {steps} steps, each killed, DEL exact"));
        gc_after_kill(&p, &node, steps, &["files"]);
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

/// A link under the temporary name of (c1, eth0) in the pod, as an ADD
/// killed before its rename leaves it on older kernels, is removed by DEL
/// (this host's kernel never takes that path: the link is planted).
#[test]
fn del_removes_the_link_a_kill_before_the_rename_left() {
    in_private_netns(|| {
        veth_master("eth0", 1500);
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-macvlan",
            conf(json!({"type": "netns-macvlan", "master": "eth0", "ipam": host_local(&data, 9)})),
            &pod,
        );
        let node = Node {
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: false,
        };
        // IPAM's lock and cursor, as a DEL leaves them.
        p.add();
        p.del();
        let before = node.state();
        // FNV-1a of "c1\0eth0", as netns_examples::sublink::temporary_name.
        let h = "c1\0eth0".bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let tmp = format!("cnitmp{h:08x}");
        let ns = netns_core::NetNs::open(pod.path()).expect("the pod");
        let here = netns_core::Handle::new().expect("a handle");
        let master = here.link_get("eth0").expect("eth0").index;
        here.link_add(
            &LinkSpec::macvlan(tmp.as_str(), master, netns_core::MacVlanMode::Bridge).netns(&ns),
        )
        .expect("the planted link");
        assert!(pod.ifnames().contains(&tmp), "{:?}", pod.ifnames());
        p.del();
        assert_same("a planted temporary link, then DEL", &before, &node.state());
    });
}
