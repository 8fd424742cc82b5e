//! make-net (issue 14) under podman 4.3 with its CNI backend: real
//! containers, the named namespace mounted into a privileged one at
//! /run/netns/bgp and entered there with nsenter.
//!
//! The networks: `cluster` (netns-bridge, host-local 10.88.9.0/24) and
//! `customer-1` (make-net alone, fixed netid `bgp-pm`, `peer: pod`, static
//! 10.99.0.2/24, `nsDir` and `dataDir` in the fixture's work dir). Podman
//! runs each network's conflist for a container (CNI_IFNAME `eth0` and
//! `net1`, named with `--network NAME:interface_name=IF`), as Multus does
//! for a pod's attachments.
//!
//! What is realistic, measured here: podman checks a bind mount's source
//! (`statfs`) when it creates the container, before it sets the network up
//! (the CNI ADD that makes the namespace). So `podman run --network
//! customer-1 -v NSDIR/bgp-pm:/run/netns/bgp` of one container fails with
//! `statfs .../bgp-pm: no such file or directory`, and nothing is made (the
//! first test). Kubernetes has no such problem: kubelet runs the sandbox's
//! CNI ADD before it creates the containers, whose untyped hostPath mounts
//! the runtime makes then (examples/k8s/make-net/router.yaml). The podman
//! equivalent of a pod is what the second test does: container `a` is the
//! pod's sandbox (its ADDs make the namespace: eth0 on the cluster, net1 the
//! peer of make-net's veth0); container `b`, privileged, joins a's network
//! namespace (`--network container:a`, as a pod's containers share the
//! sandbox's) and mounts the named namespace's file at /run/netns/bgp.
//! There:
//! - `nsenter --net=/run/netns/bgp ip addr` in b shows veth0 with
//!   10.99.0.2/24 and no other link but lo; /run/netns/bgp in b is the
//!   namespace in nsDir (the same nsfs inode, read in podman's mount
//!   namespace, where the plugin made it);
//! - b's process is `nsenter --net=/run/netns/bgp nc -ll -p 179`, a
//!   listener inside the named namespace; from a (the pod's network
//!   namespace, another inode) `nc 10.99.0.2 179` gets its answer over
//!   net1. (Measured: `podman exec b ...` runs in the named namespace
//!   too: runc exec joins the namespaces of the container's first
//!   process, which nsenter moved there.)
//! - `podman rm -f` of b, then of a (DEL of both networks): nsDir holds
//!   nothing, no owner record is left, the host side is as before, and the
//!   fixture's teardown finds nothing of it left.
//!
//! busybox (the containers' rootfs) has `nsenter`, but its `ip` has no
//! `netns exec`: nsenter stands for `ip netns exec bgp` here (the libcni
//! scenario, tests/pod_netns.rs, runs iproute2's).

netns_testutil::host_only!("needs podman and runc, which the VM image lacks");

mod podman_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use podman_common::*;
use serde_json::json;

const CLUSTER: &str = "cluster";
const CUSTOMER: &str = "customer-1";
const NETID: &str = "bgp-pm";
const NAMED_ADDR: &str = "10.99.0.2";

/// `podman run --detach --name NAME EXTRA... --rootfs ROOTFS CMD...` with
/// the flags these machines need (as [`Podman::run_detached`], which takes
/// one network and no other option).
fn run_args(pm: &Podman, name: &str, extra: &[&str], cmd: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--detach",
        "--name",
        name,
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push("--cgroup-parent".into());
    a.push(format!("/{}", pm.cgroup_parent()));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("--rootfs".into());
    a.push(pm.rootfs().display().to_string());
    a.extend(cmd.iter().map(|s| s.to_string()));
    a
}

/// The two networks; returns (nsDir, dataDir) of make-net's.
fn networks(pm: &Podman) -> (PathBuf, PathBuf) {
    let ns_dir = pm.work_dir().join("make-net-netns");
    let data = pm.work_dir().join("make-net-data");
    pm.write_conflist(
        CLUSTER,
        &json!({"cniVersion": "1.0.0", "name": CLUSTER, "plugins": [{
            "type": "netns-bridge", "bridge": "cni-pm1", "isGateway": true,
            "ipam": {"type": "host-local", "subnet": "10.88.9.0/24", "dataDir": pm.ipam_dir()}
        }]}),
    );
    pm.write_conflist(
        CUSTOMER,
        &json!({"cniVersion": "0.4.0", "name": CUSTOMER, "plugins": [{
            "type": "make-net", "netid": NETID, "peer": "pod",
            "addresses": [format!("{NAMED_ADDR}/24")],
            "nsDir": ns_dir, "dataDir": data
        }]}),
    );
    (ns_dir, data)
}

/// `args` in podman's mount namespace, where the plugins run and make-net's
/// mounts are.
fn in_mnt(pm: &Podman, args: &[&str]) -> String {
    let o = Command::new("nsenter")
        .arg(format!("--mount={}", pm.mnt_ns().display()))
        .args(args)
        .output()
        .expect("nsenter");
    ok(&format!("{args:?} in podman's mount namespace"), &o)
}

fn ok(what: &str, o: &Output) -> String {
    assert!(
        o.status.success(),
        "{what}: {}: {}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names in `dir` (none if it does not exist), but make-net's lock.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".lock")
                .collect()
        })
        .unwrap_or_default()
}

/// `ip -o -4 addr` (busybox) lines as "IFNAME CIDR".
fn v4_addrs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "inet")?;
            Some(format!("{} {}", w.get(1)?, w.get(i + 1)?))
        })
        .collect()
}

/// Removes containers by name, in reverse order, if a test fails before it
/// does (`podman rm -fa` of the fixture's teardown refuses a container
/// another one's network namespace depends on).
struct Containers<'a>(&'a Podman, Vec<&'static str>);

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for name in self.1.iter().rev() {
            let _ = self.0.podman(["rm", "--force", "--time", "0", name]);
        }
    }
}

fn assert_clean(pm: Podman) {
    let problems = pm.finish();
    assert!(problems.is_empty(), "teardown: {problems:?}");
}

#[test]
fn one_container_cannot_mount_the_namespace_its_own_add_makes() {
    let pm = Podman::new(&plugin_dirs_with_examples(&["netns-bridge", "make-net"]));
    let (ns_dir, data) = networks(&pm);
    let nsfile = ns_dir.join(NETID);
    let before = pm.host_state(CLUSTER);
    let vol = format!("{}:/run/netns/bgp", nsfile.display());
    let o = pm.podman(run_args(
        &pm,
        "single",
        &[
            "--privileged",
            "--network",
            &format!("{CUSTOMER}:interface_name=net1"),
            "-v",
            &vol,
        ],
        &["sleep", "1000000"],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "podman ran it: {err}");
    assert!(
        err.contains(&format!(
            "statfs {}: no such file or directory",
            nsfile.display()
        )),
        "{err}"
    );
    // Refused before the network was set up: nothing made.
    assert_eq!(names(&ns_dir), BTreeSet::new(), "nsDir");
    assert_eq!(names(&data), BTreeSet::new(), "owner records");
    assert_eq!(pm.host_state(CLUSTER), before);
    assert_clean(pm);
}

#[test]
fn a_privileged_container_of_the_pod_enters_the_named_namespace_with_nsenter() {
    let pm = Podman::new(&plugin_dirs_with_examples(&["netns-bridge", "make-net"]));
    let (ns_dir, data) = networks(&pm);
    let nsfile = ns_dir.join(NETID);
    let before = pm.host_state(CLUSTER);
    let guard = Containers(&pm, vec!["a", "b"]);

    // a: the pod's sandbox, on both networks.
    let a = pm.podman_ok(run_args(
        &pm,
        "a",
        &[
            "--network",
            &format!("{CLUSTER}:interface_name=eth0"),
            "--network",
            &format!("{CUSTOMER}:interface_name=net1"),
        ],
        &["sleep", "1000000"],
    ));
    let a = a.trim().to_string();
    assert_eq!(names(&ns_dir), BTreeSet::from([NETID.to_string()]));
    assert_eq!(names(&data), BTreeSet::from([NETID.to_string()]));
    let pod_addrs = v4_addrs(&pm.exec_ok(&a, &["ip", "-o", "-4", "addr"]));
    assert!(
        pod_addrs.iter().any(|l| l.starts_with("eth0 10.88.9.")),
        "{pod_addrs:?}"
    );
    assert!(
        !pod_addrs.iter().any(|l| l.starts_with("net1 ")),
        "{pod_addrs:?}"
    );

    // b: privileged, in a's network namespace, the named namespace at
    // /run/netns/bgp, its process a listener inside it.
    let vol = format!("{}:/run/netns/bgp", nsfile.display());
    let b = pm.podman_ok(run_args(
        &pm,
        "b",
        &[
            "--privileged",
            "--network",
            &format!("container:{a}"),
            "-v",
            &vol,
        ],
        &[
            "/bin/busybox",
            "nsenter",
            "--net=/run/netns/bgp",
            "/bin/busybox",
            "nc",
            "-ll",
            "-p",
            "179",
            "-e",
            "echo",
            "bgp",
        ],
    ));
    let b = b.trim().to_string();
    let enter = ["/bin/busybox", "nsenter", "--net=/run/netns/bgp"];
    let there = |cmd: &[&str]| -> String {
        let mut c = enter.to_vec();
        c.extend_from_slice(cmd);
        pm.exec_ok(&b, &c)
    };
    assert_eq!(
        v4_addrs(&there(&["/bin/busybox", "ip", "-o", "-4", "addr"])),
        ["lo 127.0.0.1/8", &format!("veth0 {NAMED_ADDR}/24")]
    );
    let links: Vec<String> = there(&["/bin/busybox", "ip", "-o", "link"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| {
            n.trim_end_matches(':')
                .split('@')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(links, ["lo", "veth0"]);
    // The same namespace as make-net's file (nsfs: the inode is the
    // namespace's), and not the pod's.
    let ino_in_b = pm.exec_ok(
        &b,
        &["/bin/busybox", "stat", "-L", "-c", "%i", "/run/netns/bgp"],
    );
    let ino = in_mnt(
        &pm,
        &["stat", "-L", "-c", "%i", &nsfile.display().to_string()],
    );
    assert_eq!(ino_in_b.trim(), ino.trim());
    let pod_ino = pm.exec_ok(
        &a,
        &[
            "/bin/busybox",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_ne!(pod_ino.trim(), ino.trim(), "the pod's own namespace");
    // runc exec joins the namespaces of the container's first process,
    // which nsenter moved into the named one: so does `podman exec b`.
    let exec_ino = pm.exec_ok(
        &b,
        &[
            "/bin/busybox",
            "stat",
            "-L",
            "-c",
            "%i",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(exec_ino.trim(), ino.trim(), "podman exec b");

    // The listener answers the pod, over net1.
    let script = r#"for i in $(seq 20000); do
  awk '$2 ~ /:00B3$/ && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 && exit 0
done
exit 1"#;
    there(&["/bin/busybox", "sh", "-c", script]);
    let route = pm.exec_ok(&a, &["ip", "route", "get", NAMED_ADDR]);
    assert!(route.contains("dev net1"), "{route}");
    let answer = pm.exec_ok(&a, &["nc", NAMED_ADDR, "179"]);
    assert_eq!(answer, "bgp\n");

    // rm -f (b first: it uses a's namespace): DEL; nothing left.
    pm.rm_f(&b);
    pm.rm_f(&a);
    drop(guard);
    assert_eq!(names(&ns_dir), BTreeSet::new(), "nsDir");
    assert_eq!(names(&data), BTreeSet::new(), "owner records");
    assert_eq!(
        in_mnt(&pm, &["ls", "-A", &ns_dir.display().to_string()]),
        ""
    );
    assert!(pm.ipam_reservations(CLUSTER).is_empty(), "reservations");
    let mut after = pm.host_state(CLUSTER);
    // host-local keeps its lock and cursor once it has allocated.
    after
        .ipam
        .retain(|n| n != "lock" && !n.starts_with("last_reserved_ip"));
    assert_eq!(after, before);
    assert_clean(pm);
}
