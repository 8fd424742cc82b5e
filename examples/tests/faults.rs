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
//! `lock` and cursor, the IPAM index, make-net's netns directory mount) is
//! there before every faulted ADD too. The IPAM ranges hold one address, so
//! host-local's cursor (which DEL does not move back, as host-local) is the
//! same after every ADD.
//!
//! The plugins are run directly (as a runtime execs them, CNI_* in the
//! environment, the config on stdin), so a kill shows as the process's
//! signal. vlan and ipvlan need kernel modules this host lacks: they skip
//! here with a printed reason and run in the VM tier.

mod cni_common;
mod portmap_common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cni_common::*;
use netns_core::{IpVlanMode, LinkSpec};
use netns_testutil::etcd::Cluster;
use netns_testutil::{in_private_netns, TempNetnsDir};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Running a plugin as a runtime does

/// One attachment of one plugin: what a runtime passes it.
struct Plugin {
    exe: PathBuf,
    /// The config, without `cniVersion`'s GC key (added by [`Plugin::gc`]).
    conf: Value,
    netns: PathBuf,
    id: String,
    ifname: String,
}

impl Plugin {
    fn new(name: &str, conf: Value, pod: &Pod) -> Plugin {
        Plugin {
            exe: our_exe(name),
            conf,
            netns: pod.path().to_path_buf(),
            id: "c1".into(),
            ifname: "eth0".into(),
        }
    }

    fn name(&self) -> String {
        self.exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The command with the runtime's environment, `env` over it.
    fn command(&self, cmd: &str, env: &[(&str, String)]) -> Command {
        let mut c = Command::new(&self.exe);
        c.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", cmd)
            .env("CNI_CONTAINERID", &self.id)
            .env("CNI_NETNS", &self.netns)
            .env("CNI_IFNAME", &self.ifname)
            .env("CNI_PATH", our_path()[0].as_os_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn spawn(&self, cmd: &str, conf: &Value, env: &[(&str, String)]) -> std::process::Child {
        let mut child = self
            .command(cmd, env)
            .spawn()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.exe.display()));
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(conf.to_string().as_bytes())
            .expect("write the config");
        drop(stdin);
        child
    }

    fn run(&self, cmd: &str, conf: &Value, env: &[(&str, String)]) -> Output {
        self.spawn(cmd, conf, env)
            .wait_with_output()
            .expect("wait for the plugin")
    }

    /// ADD, SIGKILLed at step `kill_at` of `prog` (this plugin if None).
    fn add_killed_at(&self, kill_at: u32, prog: Option<&str>) -> Output {
        let prog = prog.map_or_else(|| self.name(), str::to_owned);
        self.run(
            "ADD",
            &self.conf,
            &[
                ("NETNS_TEST_KILL_AT", kill_at.to_string()),
                ("NETNS_TEST_KILL_IN", prog),
            ],
        )
    }

    #[track_caller]
    fn add(&self) -> Value {
        let out = self.run("ADD", &self.conf, &[]);
        ok(&self.name(), "ADD", &out);
        serde_json::from_slice(&out.stdout).expect("the ADD result")
    }

    #[track_caller]
    fn del(&self) {
        let out = self.run("DEL", &self.conf, &[]);
        ok(&self.name(), "DEL", &out);
    }

    /// GC with `cni.dev/valid-attachments` empty (spec 1.1.0).
    #[track_caller]
    fn gc(&self) {
        let mut conf = self.conf.clone();
        conf["cni.dev/valid-attachments"] = json!([]);
        let out = self.run("GC", &conf, &[]);
        ok(&self.name(), "GC", &out);
    }
}

#[track_caller]
fn ok(name: &str, cmd: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{name} {cmd} failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// The node, whole

/// What is compared before and after: see the file's docs.
struct Node<'a> {
    pod: &'a Pod,
    /// Directories whose every file (name and content) is compared, and
    /// under which mounts are compared.
    dirs: Vec<PathBuf>,
    etcd: Option<&'a Cluster>,
    /// Whether `conntrack -L` is compared (where portmap is involved: in
    /// the others' namespaces it shows etcd's and etcdctl's own
    /// connections on loopback).
    conntrack: bool,
}

impl Node<'_> {
    fn state(&self) -> Value {
        let mut t = Tokens::new();
        let host = Snapshot::here().normalised(&mut t).as_value();
        let pod = self.pod.snapshot().normalised(&mut t).as_value();
        let pod_nft: Vec<Value> =
            netns_testutil::nft::nft_json_in(self.pod.path(), &["list", "ruleset"])["nftables"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|o| o.get("metainfo").is_none())
                .collect();
        let mut files = BTreeMap::new();
        for d in &self.dirs {
            tree(d, d, &mut files);
        }
        let mut s = json!({
            "host": host,
            "pod": pod,
            "nft": portmap_common::ruleset(),
            "pod nft": pod_nft,
            "files": files,
            "mounts": self.mounts(),
        });
        if self.conntrack {
            s["conntrack"] = json!(portmap_common::conntrack_table());
        }
        if let Some(c) = self.etcd {
            s["etcd"] = json!(c.etcdctl(&["get", "--prefix", "/netns-ipam/"]));
        }
        s
    }

    /// The mount points (and file system types) under [`Node::dirs`] and
    /// the pod's netns directory, from this process's mountinfo.
    fn mounts(&self) -> Vec<String> {
        let mut roots: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        if let Some(p) = self.pod.path().parent() {
            roots.push(p.display().to_string());
        }
        let table = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let mut v: Vec<String> = table
            .lines()
            .filter_map(|l| {
                let mp = l.split(' ').nth(4)?;
                let fstype = l.split(" - ").nth(1)?.split(' ').next()?;
                roots
                    .iter()
                    .any(|r| mp.starts_with(r.as_str()))
                    .then(|| format!("{mp} {fstype}"))
            })
            .collect();
        v.sort();
        v
    }
}

/// Every entry under `dir` (relative to `root`): a file's content (the
/// netns-ipam persistent index's by its presence only: it records the
/// directory's timestamps), a directory as `<dir>`, anything else by kind.
fn tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.is_dir() {
            out.insert(rel, "<dir>".into());
            tree(root, &p, out);
        } else if meta.is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            let content = if name.starts_with(".netns-ipam-index.") {
                "<index>".into()
            } else {
                // A netns file (nsfs) reads as an error: its kind.
                std::fs::read(&p)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|e| format!("<unreadable: {e}>"))
            };
            out.insert(rel, content);
        } else {
            out.insert(rel, format!("<{:?}>", meta.file_type()));
        }
    }
}

/// The step an ADD killed by [`netns_examples::fault`] says it was killed
/// after (its stderr).
fn killed_step(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find(|l| l.contains("NETNS_TEST_KILL_AT="))
        .unwrap_or("(no step printed)")
        .to_owned()
}

/// ADD killed at step 1, 2... of `prog` (the plugin by default) until an
/// ADD is no longer killed; after each kill, DEL and the node as before.
/// Returns the number of steps.
#[track_caller]
fn kill_at_each_step(p: &Plugin, node: &Node, prog: Option<&str>) -> u32 {
    let what = format!("{} (killing {})", p.name(), prog.unwrap_or("it"));
    // A complete ADD and DEL first: see the file's docs.
    p.add();
    p.del();
    let before = node.state();
    for n in 1.. {
        let out = p.add_killed_at(n, prog);
        // A delegated plugin killed fails the caller's ADD, which must
        // undo what it made.
        let delegate_killed = prog.is_some() && !out.status.success();
        if delegate_killed {
            assert_same(
                &format!("{what}: {}, the ADD failed: the node", killed_step(&out)),
                &before,
                &node.state(),
            );
        }
        if out.status.signal() != Some(libc::SIGKILL) && !delegate_killed {
            // Past the last step: a complete ADD, which DEL undoes too.
            ok(&what, &format!("ADD with NETNS_TEST_KILL_AT={n}"), &out);
            p.del();
            assert_same(&format!("{what}: ADD then DEL"), &before, &node.state());
            return n - 1;
        }
        let step = killed_step(&out);
        p.del();
        assert_same(
            &format!("{what}: {step}, then DEL: the node"),
            &before,
            &node.state(),
        );
    }
    unreachable!()
}

/// ADD killed at its last step `last` and not deleted; GC with no valid
/// attachments; `gc_owned` (a part of the state) as before the ADD; then
/// DEL and all of it as before.
#[track_caller]
fn gc_after_kill(p: &Plugin, node: &Node, last: u32, gc_owned: &[&str]) {
    let before = node.state();
    let out = p.add_killed_at(last, None);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}: not killed at step {last}",
        p.name()
    );
    let after_kill = node.state();
    assert_ne!(before, after_kill, "{}: step {last} left nothing", p.name());
    p.gc();
    let after_gc = node.state();
    for k in gc_owned {
        assert_same(
            &format!("{}: {} after a kill then GC", p.name(), k),
            &before[*k],
            &after_gc[*k],
        );
    }
    p.del();
    assert_same(
        &format!("{}: kill, GC, then DEL: the node", p.name()),
        &before,
        &node.state(),
    );
}

/// host-local's config on `data`: a range of one address (10.N.0.2; .1 is
/// the gateway), a route.
fn host_local(data: &TempDir, n: u8) -> Value {
    json!({"type": "host-local", "subnet": format!("10.{n}.0.0/30"), "dataDir": data.s(),
           "routes": [{"dst": format!("10.{}.0.0/16", n + 100)}]})
}

fn conf(plugin: Value) -> Value {
    let mut c = json!({"cniVersion": "1.1.0", "name": "fnet"});
    if let (Some(o), Value::Object(p)) = (c.as_object_mut(), plugin) {
        o.extend(p);
    }
    c
}

/// A report line straight to stderr (the harness captures eprintln!).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "faults: {line}");
}

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
        let node = Node {
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: false,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-bridge: {steps} steps, each killed, DEL exact"
        ));
        assert!(steps >= 10, "{steps}");
        gc_after_kill(&p, &node, steps, &["nft", "files"]);
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
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: true,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-portmap: {steps} steps, each killed, DEL exact"
        ));
        assert_eq!(steps, 4);
        gc_after_kill(&p, &node, steps, &["nft"]);
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
        let node = Node {
            pod: &pod,
            dirs: vec![
                data.path().to_path_buf(),
                records.path().to_path_buf(),
                nsdir.path().to_path_buf(),
            ],
            etcd: None,
            conntrack: false,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!("make-net: {steps} steps, each killed, DEL exact"));
        assert!(steps >= 8, "{steps}");
        gc_after_kill(&p, &node, steps, &["files", "mounts", "pod"]);
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
        let node = Node {
            pod: &pod,
            dirs: vec![data.path().to_path_buf()],
            etcd: None,
            conntrack: false,
        };
        let steps = kill_at_each_step(&p, &node, None);
        report(&format!(
            "netns-host-local: {steps} steps, each killed, DEL exact"
        ));
        assert_eq!(steps, 1);
        gc_after_kill(&p, &node, steps, &["files"]);
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
            pod: &pod,
            dirs: vec![],
            etcd: Some(&c),
            conntrack: false,
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
            pod: &pod,
            dirs: vec![records.path().to_path_buf(), nsdir.path().to_path_buf()],
            etcd: Some(&c),
            conntrack: false,
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
