//! DEL after something the plugin made, or relies on, went away behind the
//! runtime's back (issue 18, fault point 3), under libcni (the project's
//! driver, with its cached results):
//!
//! - the pod's namespace deleted between ADD and DEL (its bind mount
//!   detached and its file removed, as a runtime or `ip netns del` does):
//!   netns-bridge + netns-portmap with ipMasq, netns-macvlan, make-net with
//!   its peer in the pod. The veth peer goes with the namespace (the
//!   kernel's doing, waited for by its RTM_DELLINK); DEL succeeds and
//!   leaves the node as before the ADD: IPAM released, masquerade and port
//!   forwards gone (`nft -j list ruleset` compared whole);
//! - the bridge deleted by someone else: DEL succeeds, deletes the pod's
//!   interface, releases IPAM, removes the masquerade;
//! - the macvlan master deleted (the kernel deletes the macvlan with it):
//!   DEL succeeds and releases IPAM (the reference's fails, leaking the
//!   address: compared);
//! - the pod's namespace unmounted with its file left: DEL succeeds (the
//!   reference's fails: compared, for macvlan);
//! - the pod's namespace file bind-mounted at a second path: ADD through one
//!   and DEL through the other work, and deleting one path leaves the
//!   namespace usable through the other;
//! - make-net's named namespace bind-mounted elsewhere: DEL does what
//!   `ip netns del` does (iproute2 ip/ipnetns.c, on_netns_del:
//!   umount2(MNT_DETACH) and unlink of its own path only), judged by running
//!   `ip netns del` itself on the same situation: the other mount stays a
//!   live namespace.
//!
//! Each test runs in a network namespace and a mount namespace of its own
//! (mounts_common): nothing is visible to the host.

netns_testutil::host_only!(
    "needs no VM-only kernel feature (veth, bridge, macvlan, nftables are on the host kernel)"
);

mod cni_common;
mod mounts_common;

use std::path::Path;
use std::time::Duration;

use cni_common::*;
use mounts_common::{bind_file, in_private_mounts, is_netns, mount, unmount_and_remove};
use netns_core::{Groups, Handle, NetNs};
use netns_testutil::nft::ruleset;
use netns_testutil::{ifnames, ip, ip_json};
use serde_json::{json, Value};

/// An upper bound for the kernel's namespace cleanup (a hang detector, not
/// a timing assertion: the wait ends at the notification).
const CLEANUP_BOUND: Duration = Duration::from_secs(120);

/// The node as the bridge tests compare it, and its ruleset.
fn node() -> Value {
    let mut t = Tokens::new();
    json!({"host": Snapshot::here().normalised(&mut t).as_value(), "nft": ruleset()})
}

/// Where two JSON values differ: `path: before -> now`, one a line.
fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                let (u, v) = (x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null));
                diff(&format!("{at}.{k}"), u, v, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                diff(&format!("{at}[{i}]"), u, v, out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} -> {b}")),
        _ => {}
    }
}

#[track_caller]
fn same(what: &str, before: &Value, now: &Value) {
    let mut d = Vec::new();
    diff("", before, now, &mut d);
    assert!(d.is_empty(), "{what}:\n{}", d.join("\n"));
}

/// Delete the pod's namespace as a runtime does (detach its bind mount,
/// remove the file), then wait for the kernel to have destroyed it, which
/// it does asynchronously: until `destroyed` (what its destruction does to
/// the node) holds, checked at every link notification (subscribed before
/// the deletion), without polling.
fn delete_pod_netns(pod: &Pod, what: &str, destroyed: impl Fn() -> bool) {
    let h = Handle::new().expect("handle");
    let mut sub = h.subscribe(Groups::LINK).expect("subscribe");
    unmount_and_remove(pod.path());
    while !destroyed() {
        match sub.next(Some(CLEANUP_BOUND)) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("{CLEANUP_BOUND:?} after the namespace went: {what}"),
            Err(e) if e.is_resync_needed() => {}
            Err(e) => panic!("events: {e}"),
        }
    }
}

/// Whether the node has no link `name`.
fn link_gone(name: &str) -> bool {
    !ifnames(&ip_json(["link", "show"]))
        .iter()
        .any(|n| n == name)
}

/// The host end of a bridge ADD's pair (the result's second interface).
fn host_veth(add: &Outcome) -> String {
    add.result()["interfaces"][1]["name"]
        .as_str()
        .expect("the host veth in the result")
        .to_string()
}

fn bridge_portmap(data: &TempDir) -> Value {
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [
        {"type": "netns-bridge", "bridge": "cni-loss0", "isGateway": true, "ipMasq": true,
         "ipam": {"type": "host-local", "subnet": "10.79.0.0/24", "dataDir": data.s()}},
        {"type": "netns-portmap", "capabilities": {"portMappings": true}},
    ]})
}

fn ports(port: u16) -> Value {
    json!({"portMappings": [{"hostPort": port, "containerPort": 80, "protocol": "tcp"}]})
}

#[test]
fn bridge_and_portmap_del_after_the_pod_namespace_was_deleted_leaves_the_node_as_before() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(bridge_portmap(&data), our_path());
        // A first pod makes the bridge, its address and the NAT tables:
        // the node in use, which the second pod's ADD and DEL must leave
        // as they found it.
        let p0 = Pod::new("p0");
        net.run(&Call::on("add", &p0, "c0", "eth0").cap(ports(8080)))
            .expect_ok();
        let before = node();
        let files = ipam_files(&data, "t");
        let p1 = Pod::new("p1");
        let add = net.run(&Call::on("add", &p1, "c1", "eth0").cap(ports(8081)));
        add.expect_ok();
        assert_ne!(
            json!(ruleset()),
            before["nft"],
            "the masquerade and forward of c1"
        );
        let veth = host_veth(&add);
        delete_pod_netns(&p1, "the host veth gone", || link_gone(&veth));
        for _ in 0..2 {
            net.run(&Call::on("del", &p1, "c1", "eth0").cap(ports(8081)))
                .expect_ok();
        }
        same("after DEL of the deleted pod", &before, &node());
        assert_eq!(ipam_files(&data, "t"), files, "c1's address released");
        net.run(&Call::on("del", &p0, "c0", "eth0").cap(ports(8080)))
            .expect_ok();
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

#[test]
fn bridge_del_after_the_bridge_was_deleted_removes_the_rest() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let nft_before = ruleset();
        let data = TempDir::new("ipam");
        let net = Network::new(bridge_portmap(&data), our_path());
        let pod = Pod::new("p1");
        net.run(&Call::on("add", &pod, "c1", "eth0").cap(ports(8080)))
            .expect_ok();
        ip(["link", "del", "cni-loss0"]);
        net.run(&Call::on("del", &pod, "c1", "eth0").cap(ports(8080)))
            .expect_ok();
        // The pod's interface (and so the pair) deleted, nothing on the
        // node, the address released, no rule left.
        assert_eq!(pod.ifnames(), ["lo"]);
        assert_eq!(ifnames(&ip_json(["link", "show"])), ["lo"]);
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
        assert_eq!(ruleset(), nft_before);
        // Idempotent.
        net.run(&Call::on("del", &pod, "c1", "eth0").cap(ports(8080)))
            .expect_ok();
    });
}

fn macvlan(kind: &str, data: &TempDir) -> Value {
    one_plugin_list(
        json!({"type": kind, "master": "mst0",
               "ipam": {"type": "host-local", "subnet": "10.78.0.0/24", "dataDir": data.s()}}),
        json!({}),
    )
}

/// The macvlan plugin `kind` (in `paths`): DEL after its namespace was
/// deleted, after its master was, and after the namespace was unmounted
/// with its file left. Returns each DEL's outcome (rc and code).
fn macvlan_losses(kind: &str, paths: Vec<std::path::PathBuf>) -> Value {
    let mut seen = Vec::new();
    veth_master("mst0", 1500);
    let data = TempDir::new("ipam");
    let net = Network::new(macvlan(kind, &data), paths);
    let before = node();
    // The namespace deleted: the macvlan goes with it (nothing of it
    // was on the node).
    let p1 = Pod::new("p1");
    net.add(&p1, "c1", "eth0").expect_ok();
    // A bridge-mode macvlan makes its master promiscuous until it goes.
    let unpromiscuous = || ip_json(["-d", "link", "show", "mst0"])[0]["promiscuity"] == json!(0);
    delete_pod_netns(&p1, "the master no longer promiscuous", unpromiscuous);
    let del = net.run(&Call::on("del", &p1, "c1", "eth0"));
    seen.push(json!({"netns deleted": del.rc}));
    same(
        &format!("{kind}: after DEL of the deleted pod"),
        &before,
        &node(),
    );
    assert_eq!(
        ipam_files(&data, "t"),
        ["last_reserved_ip.0", "lock"],
        "{kind}"
    );
    // The namespace unmounted, its file left.
    let p2 = Pod::new("p2");
    net.add(&p2, "c2", "eth0").expect_ok();
    let h = Handle::new().expect("handle");
    let mut sub = h.subscribe(Groups::LINK).expect("subscribe");
    let c = mounts_common::cstr(p2.path());
    // SAFETY: a NUL-terminated path alive for the call.
    assert_eq!(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, 0);
    while !unpromiscuous() {
        assert!(sub.next(Some(CLEANUP_BOUND)).expect("events").is_some());
    }
    let del = net.run(&Call::on("del", &p2, "c2", "eth0"));
    seen.push(json!({"mount point left": del.rc}));
    if del.ok() {
        same(
            &format!("{kind}: after DEL of the unmounted pod"),
            &before,
            &node(),
        );
        assert_eq!(
            ipam_files(&data, "t"),
            ["last_reserved_ip.0", "lock"],
            "{kind}"
        );
    } else {
        println!("{kind}: DEL with the mount point left: {}", del.msg());
        // What is left to the runtime: remove the file, DEL again.
        std::fs::remove_file(p2.path()).expect("rm");
        net.run(&Call::on("del", &p2, "c2", "eth0")).expect_ok();
    }
    // The master deleted (by someone else): the kernel deletes the
    // macvlan on it, in the pod.
    let p3 = Pod::new("p3");
    net.add(&p3, "c3", "eth0").expect_ok();
    assert_eq!(p3.ifnames(), ["eth0", "lo"]);
    ip(["link", "del", "mst0"]);
    assert_eq!(p3.ifnames(), ["lo"]);
    for _ in 0..2 {
        let del = net.run(&Call::on("del", &p3, "c3", "eth0"));
        if !del.ok() {
            println!("{kind}: DEL with the master gone: {}", del.msg());
        }
        seen.push(json!({"master deleted": del.rc, "left": ipam_files(&data, "t")}));
    }
    assert_eq!(ifnames(&ip_json(["link", "show"])), ["lo"], "{kind}");
    Value::Array(seen)
}

#[test]
fn macvlan_del_after_its_namespace_or_its_master_was_deleted_succeeds_as_the_references() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let ours = macvlan_losses("netns-macvlan", our_path());
        let reference = macvlan_losses("macvlan", reference_path());
        let released = json!(["last_reserved_ip.0", "lock"]);
        let all_ok = json!([{"netns deleted": 0}, {"mount point left": 0},
                            {"master deleted": 0, "left": released},
                            {"master deleted": 0, "left": released}]);
        assert_eq!(ours, all_ok);
        // The reference (1.1.1) has the same outcome after its namespace
        // was deleted; it fails on the mount point left (ns.GetNS:
        // NSPathNotNSErr, which its DEL does not take for gone), and with
        // the master gone (its DEL loads the config, which looks the
        // master up) before releasing the address: a DEL retried forever
        // and a leaked address, where ours succeeds and releases.
        let leaked = json!(["10.78.0.4", "last_reserved_ip.0", "lock"]);
        let r = json!([{"netns deleted": 0}, {"mount point left": 1},
                       {"master deleted": 1, "left": leaked},
                       {"master deleted": 1, "left": leaked}]);
        assert_eq!(reference, r);
    });
}

#[test]
fn a_pod_namespace_bound_at_two_paths_works_through_either() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(bridge_portmap(&data), our_path());
        let p0 = Pod::new("p0");
        net.add(&p0, "c0", "eth0").expect_ok();
        let before = node();
        let pod = Pod::new("p1");
        let other = TempDir::new("other");
        let second = other.path().join("p1-again");
        bind_file(pod.path(), &second);
        assert!(is_netns(&second));
        // ADD through one path, DEL through the other; then the reverse.
        for (add_at, del_at) in [
            (pod.path(), second.as_path()),
            (second.as_path(), pod.path()),
        ] {
            let add = net.run(&Call::on("add", &pod, "c1", "eth0").netns(add_at));
            add.expect_ok();
            assert_eq!(pod.ifnames(), ["eth0", "lo"]);
            net.run(&Call::on("del", &pod, "c1", "eth0").netns(del_at))
                .expect_ok();
            assert_eq!(pod.ifnames(), ["lo"]);
            same("after DEL through the other path", &before, &node());
            assert_eq!(
                ipam_files(&data, "t"),
                ["10.79.0.2", "last_reserved_ip.0", "lock"]
            );
        }
        // The runtime's path deleted while the second keeps the namespace:
        // it is the same namespace through the second path, and a DEL
        // through that one cleans up everything.
        let add = net.run(&Call::on("add", &pod, "c1", "eth0"));
        add.expect_ok();
        let inode =
            |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("stat"));
        let ino = inode(pod.path());
        unmount_and_remove(pod.path());
        assert!(is_netns(&second));
        assert_eq!(inode(&second), ino);
        net.run(&Call::on("del", &pod, "c1", "eth0").netns(&second))
            .expect_ok();
        same("after DEL through the second path", &before, &node());
        unmount_and_remove(&second);
        net.del(&p0, "c0", "eth0").expect_ok();
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

fn make_net_conf(ns_dir: &Path, data: &TempDir, peer: &str) -> Value {
    one_plugin_list(
        json!({"type": "make-net", "netid": "router", "peer": peer,
               "nsDir": ns_dir.to_str(), "dataDir": data.path().join("records").to_str()}),
        json!({}),
    )
}

#[test]
fn make_net_del_after_the_pod_namespace_was_deleted_removes_its_namespace() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let ns_dir = netns_testutil::TempNetnsDir::new();
        let data = TempDir::new("make-net");
        let net = Network::new(make_net_conf(ns_dir.path(), &data, "pod"), our_path());
        let before = node();
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        assert_eq!(file_names(ns_dir.path()), ["router"]);
        // The peer is in the pod; the pod's namespace goes, and the pair
        // with it.
        // The pair's other end is in make-net's own namespace, which DEL
        // deletes whether the kernel has destroyed the pair by then or not.
        delete_pod_netns(&pod, "nothing", || true);
        net.run(&Call::on("del", &pod, "c1", "eth0")).expect_ok();
        assert_eq!(file_names(ns_dir.path()), Vec::<String>::new());
        assert_eq!(
            file_names(&data.path().join("records")),
            [".lock"],
            "the owner record removed"
        );
        same("after DEL", &before, &node());
        net.run(&Call::on("del", &pod, "c1", "eth0")).expect_ok();
    });
}

#[test]
fn make_net_del_of_a_namespace_bound_elsewhere_does_what_ip_netns_del_does() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let other = TempDir::new("other");
        // The oracle: `ip netns add`, a second bind mount, `ip netns del`,
        // on a /run/netns of this mount namespace's own.
        let run_netns = Path::new("/run/netns");
        std::fs::create_dir_all(run_netns).expect("/run/netns");
        mount("netns-test", run_netns, "tmpfs", 0, "mode=0755");
        ip(["netns", "add", "oracle"]);
        let kept_ip = other.path().join("oracle-kept");
        bind_file(&run_netns.join("oracle"), &kept_ip);
        ip(["netns", "del", "oracle"]);
        let ip_netns_del = json!({
            "path_left": run_netns.join("oracle").exists(),
            "other_is_netns": is_netns(&kept_ip),
        });
        assert_eq!(
            ip_netns_del,
            json!({"path_left": false, "other_is_netns": true})
        );
        unmount_and_remove(&kept_ip);

        let ns_dir = netns_testutil::TempNetnsDir::new();
        let data = TempDir::new("make-net");
        let net = Network::new(make_net_conf(ns_dir.path(), &data, "host"), our_path());
        let before = node();
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        let kept = other.path().join("router-kept");
        bind_file(&ns_dir.path().join("router"), &kept);
        net.run(&Call::on("del", &pod, "c1", "eth0")).expect_ok();
        let make_net_del = json!({
            "path_left": ns_dir.path().join("router").exists(),
            "other_is_netns": is_netns(&kept),
        });
        same("make-net DEL vs ip netns del", &ip_netns_del, &make_net_del);
        // The namespace kept by the other mount is usable, and make-net
        // took its veth out of it (the host end went with the pair): the
        // node is as before.
        let inside = NetNs::open(&kept)
            .and_then(|n| n.handle())
            .and_then(|h| h.links(&netns_core::LinkFilter::default()))
            .expect("the kept namespace is usable");
        let names: Vec<String> = inside.into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["lo"]);
        same("after DEL", &before, &node());
        assert_eq!(file_names(&data.path().join("records")), [".lock"]);
        unmount_and_remove(&kept);
    });
}

#[test]
fn del_after_the_namespace_was_unmounted_but_its_file_left_cleans_up() {
    in_private_mounts(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(bridge_portmap(&data), our_path());
        let p0 = Pod::new("p0");
        net.add(&p0, "c0", "eth0").expect_ok();
        let before = node();
        let pod = Pod::new("p1");
        let add = net.run(&Call::on("add", &pod, "c1", "eth0").cap(ports(8081)));
        add.expect_ok();
        let veth = host_veth(&add);
        // Unmounted, the empty mount point left: no longer a namespace.
        let h = Handle::new().expect("handle");
        let mut sub = h.subscribe(Groups::LINK).expect("subscribe");
        let c = mounts_common::cstr(pod.path());
        // SAFETY: a NUL-terminated path alive for the call.
        assert_eq!(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, 0);
        assert!(pod.path().is_file() && !is_netns(pod.path()));
        while !link_gone(&veth) {
            assert!(sub.next(Some(CLEANUP_BOUND)).expect("events").is_some());
        }
        // A file with content is no mount point: still refused.
        let other = TempDir::new("not-ns");
        let file = other.path().join("passwd");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").expect("write");
        let del = net.run(&Call::on("del", &pod, "c1", "eth0").netns(&file));
        assert_eq!(del.expect_code(), 999, "{del}");
        assert!(del.msg().contains("not a namespace file"), "{del}");
        // The left mount point: the namespace is gone, DEL cleans up
        // (the reference plugins fail here: a pod whose DEL is retried
        // forever).
        net.run(&Call::on("del", &pod, "c1", "eth0").cap(ports(8081)))
            .expect_ok();
        same("after DEL", &before, &node());
        net.del(&p0, "c0", "eth0").expect_ok();
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}
