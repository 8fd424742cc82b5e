//! Fault injection (issue 18): every plugin of ours SIGKILLed at each step
//! of its ADD (`netns_examples::fault`, `NETNS_TEST_KILL_AT=N`), then DEL
//! with the same arguments, after which the node is exactly as before the
//! ADD, compared whole: links, addresses, routes and sysctls of the plugin's
//! side (the test's private namespace) and of the pod, both namespaces'
//! nftables rulesets, conntrack, the IPAM data directory (every file, by
//! content), etcd's keys for netns-cluster-ipam, the netns directory and
//! records of make-net, and the mounts under the test's directories. Then
//! a kill at the last step with no DEL, where GC with no valid attachments
//! must remove what the plugin's GC owns before the DEL removes the rest;
//! and kills after a random delay while ADD runs.
//!
//! "Before the ADD" is after one complete ADD and DEL: what a DEL leaves on
//! purpose (the bridge, its gateway address and MAC, forwarding, host-local's
//! `lock` and cursor, make-net's netns directory mount) is
//! there before every faulted ADD too. The IPAM ranges hold one address, so
//! host-local's cursor (which DEL does not move back, as host-local) is the
//! same after every ADD.
//!
//! The plugins are run directly (as a runtime execs them, CNI_* in the
//! environment, the config on stdin), so a kill shows as the process's
//! signal. netns-vlan and netns-ipvlan need kernel modules this host
//! lacks: they are in faults_sublink.rs, which runs in the VM tier (and
//! skips on the host with a printed reason). netns-macvlan, on the same
//! sublink code, is here; the master is named as the pod's interface, so on
//! kernels before 6.14 it would also take the temporary-name path, which
//! faults_sublink.rs covers in the VM (6.1).

netns_testutil::host_only!(
    "the bridge, portmap, make-net and IPAM plugins, whose kernel objects the host has; \
     etcd (netns-cluster-ipam) is not in the VM image: faults_sublink.rs runs in the VM"
);

mod cni_common;
mod faults_common;
mod portmap_common;

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use cni_common::*;
use faults_common::*;
use netns_core::LinkSpec;
use netns_testutil::etcd::Cluster;
use netns_testutil::{in_private_netns, TempNetnsDir};
use serde_json::json;

// ---------------------------------------------------------------------------
// The plugins

#[test]
fn bridge_killed_at_each_step_then_del_leaves_the_node_as_before() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-bridge",
            conf(
                json!({"type": "netns-bridge", "bridge": "fbr0", "isGateway": true,
                        "ipMasq": true, "macspoofchk": true, "hairpinMode": true,
                        "ipam": host_local(&data, 1)}),
            ),
            &pod,
        );
        let node = Node::of(&pod, &[data.path()]);
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-bridge: {steps} steps, each killed, DEL exact"
        ));
        assert!(steps >= 10, "{steps}");
        gc_after_kill(&p, &node, steps, &["nft", "files"]);
        random_kills(&p, &node, 10);
    });
}

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
        let node = Node::of(&pod, &[data.path()]);
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-macvlan: {steps} steps, each killed, DEL exact"
        ));
        assert!(steps >= 5, "{steps}");
        gc_after_kill(&p, &node, steps, &["files"]);
    });
}

#[test]
fn portmap_killed_at_each_step_then_del_leaves_the_node_as_before() {
    in_private_netns(|| {
        portmap_common::someone_elses_table();
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let bridge = Plugin::new(
            "netns-bridge",
            conf(
                json!({"type": "netns-bridge", "bridge": "fbr0", "isGateway": true,
                        "ipam": host_local(&data, 5)}),
            ),
            &pod,
        );
        let prev = bridge.add();
        let mut c = conf(json!({"type": "netns-portmap", "snat": true,
            "runtimeConfig": {"portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 5353, "containerPort": 53, "protocol": "udp"}]}}));
        c["prevResult"] = prev;
        let p = Plugin::new("netns-portmap", c, &pod);
        let node = Node {
            conntrack: true,
            ..Node::of(&pod, &[data.path()])
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-portmap: {steps} steps, each killed, DEL exact"
        ));
        assert_eq!(steps, 4);
        gc_after_kill(&p, &node, steps, &["nft"]);
        random_kills(&p, &node, 8);
        bridge.del();
    });
}

#[test]
fn make_net_killed_at_each_step_then_del_leaves_the_node_as_before() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let records = TempDir::new("make-net");
        let nsdir = TempNetnsDir::new();
        let pod = Pod::new("p");
        let p = Plugin::new(
            "make-net",
            conf(
                json!({"type": "make-net", "netid": "fnet-1", "nsDir": nsdir.path(),
                        "dataDir": records.s(), "peer": "pod", "addresses": ["10.6.1.1/24"],
                        "ipam": host_local(&data, 6)}),
            ),
            &pod,
        );
        let node = Node::of(&pod, &[data.path(), records.path(), nsdir.path()]);
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!("make-net: {steps} steps, each killed, DEL exact"));
        assert!(steps >= 8, "{steps}");
        gc_after_kill(&p, &node, steps, &["files", "mounts", "pod"]);
        random_kills(&p, &node, 10);
    });
}

#[test]
fn host_local_killed_after_reserving_then_del_leaves_the_files_as_before() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-host-local",
            conf(json!({"ipam": host_local(&data, 7)})),
            &pod,
        );
        let node = Node::of(&pod, &[data.path()]);
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-host-local: {steps} steps, each killed, DEL exact"
        ));
        assert_eq!(steps, 1);
        gc_after_kill(&p, &node, steps, &["files"]);
        random_kills(&p, &node, 16);
    });
}

#[test]
fn cluster_ipam_killed_after_reserving_then_del_leaves_etcd_as_before() {
    netns_testutil::in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let pod = Pod::new("p");
        let ipam = json!({"type": "netns-cluster-ipam", "subnet": "10.8.0.0/30", "node": "n1",
                          "etcd": {"endpoints": c.endpoints()}});
        let node = Node {
            etcd: Some(&c),
            ..Node::of(&pod, &[])
        };
        let p = Plugin::new(
            "netns-cluster-ipam",
            conf(json!({"ipam": ipam.clone()})),
            &pod,
        );
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-cluster-ipam: {steps} steps, each killed, DEL exact"
        ));
        assert_eq!(steps, 1);
        gc_after_kill(&p, &node, steps, &["etcd"]);
        // Delegated by a main plugin: the IPAM plugin killed after it
        // reserved, the main plugin's ADD fails, and leaves nothing (the
        // reservation released); then DEL.
        veth_master("eth0", 1500);
        let records = TempDir::new("make-net");
        let nsdir = TempNetnsDir::new();
        let node = Node {
            etcd: Some(&c),
            ..Node::of(&pod, &[records.path(), nsdir.path()])
        };
        for main in [
            json!({"type": "netns-macvlan", "master": "eth0"}),
            json!({"type": "netns-bridge", "bridge": "fbr0", "isGateway": true, "ipMasq": true}),
            json!({"type": "make-net", "netid": "fnet-1", "nsDir": nsdir.path(),
                   "dataDir": records.s(), "peer": "pod"}),
        ] {
            let mut m = conf(main);
            m["ipam"] = ipam.clone();
            let name = m["type"].as_str().unwrap_or_default().to_owned();
            let p = Plugin::new(&name, m, &pod);
            let steps = kill_at_each_step(&p, &node, Some("netns-cluster-ipam"));
            assert_eq!(steps, 1, "{name}");
        }
    });
}

// ---------------------------------------------------------------------------
// What a kill inside a library call leaves (no fault point reaches there:
// the random-delay kills found these; here they are planted, exactly)

#[test]
fn del_removes_the_temporary_files_of_a_host_local_killed_while_writing() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-host-local",
            conf(json!({"ipam": host_local(&data, 10)})),
            &pod,
        );
        let node = Node::of(&pod, &[data.path()]);
        p.add();
        p.del();
        let before = node.state();
        p.add();
        // Killed while writing a reservation, the cursor, and the index.
        std::fs::write(
            data.path().join("fnet/.netns-ipam-reserve.tmp"),
            "c2\r\neth0",
        )
        .unwrap();
        std::fs::write(data.path().join("fnet/.netns-ipam-cursor.tmp"), "10.10.0.2").unwrap();
        std::fs::write(data.path().join(".netns-ipam-index.fnet.tmp"), "NNSIPIX1").unwrap();
        p.del();
        assert_same("planted temporary files, then DEL", &before, &node.state());
    });
}

#[test]
fn del_removes_what_make_net_killed_in_a_library_call_left() {
    in_private_netns(|| {
        let records = TempDir::new("make-net");
        let nsdir = TempNetnsDir::new();
        let pod = Pod::new("p");
        let p = Plugin::new(
            "make-net",
            conf(
                json!({"type": "make-net", "netid": "fnet-1", "nsDir": nsdir.path(),
                        "dataDir": records.s(), "peer": "pod", "addresses": ["10.11.1.1/24"]}),
            ),
            &pod,
        );
        let node = Node::of(&pod, &[records.path(), nsdir.path()]);
        p.add();
        p.del();
        let before = node.state();
        // Killed after the owner record, inside the namespace's creation
        // (the empty file its bind mount goes on), and a record's
        // temporary file of an earlier kill.
        let out = p.add_killed_at(1, None);
        assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
        std::fs::write(nsdir.path().join("fnet-1"), "").unwrap();
        std::fs::write(records.path().join(".fnet-1.tmp"), "{").unwrap();
        p.del();
        assert_same("planted leftovers, then DEL", &before, &node.state());
    });
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
        let node = Node::of(&pod, &[data.path()]);
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

#[test]
fn del_removes_a_mac_spoof_table_no_owner_is_in() {
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        let p = Plugin::new(
            "netns-bridge",
            conf(
                json!({"type": "netns-bridge", "bridge": "fbr0", "macspoofchk": true,
                        "ipam": host_local(&data, 12)}),
            ),
            &pod,
        );
        let node = Node::of(&pod, &[data.path()]);
        p.add();
        p.del();
        let before = node.state();
        // What an ADD killed between making the table and adding its
        // owner's chain left, before the two were one transaction.
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run nft");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(
                b"table bridge netns-macspoof {\n map ports { type ifname : verdict; }\n \
                  chain prerouting {\n  type filter hook prerouting priority -300;\n  \
                  iifname vmap @ports\n }\n}\n",
            )
            .expect("write");
        assert!(child.wait().expect("nft").success(), "nft -f refused it");
        assert_ne!(before, node.state(), "the table was not planted");
        p.del();
        assert_same("an ownerless table, then DEL", &before, &node.state());
    });
}
