//! Port mappings and masquerade, as a runtime pays for them.
//!
//! 1. **The library** (netns-core's `Nat`, in process): the cost of adding
//!    one owner's port forward (and of removing it) when 1, 100 and 1,000
//!    other owners already have one each.
//! 2. **The plugin that adds a mapping** (netns-portmap against the
//!    reference portmap, which execs iptables): one ADD of a mapping,
//!    called directly as a runtime's libcni calls it (stdin config with a
//!    prevResult, CNI_* environment), then its DEL, when 1, 100 (and, for
//!    netns-portmap, 1,000) other containers already have one mapping each.
//!    The 101st mapping is the issue's figure.
//! 3. **A port-mapped pod** through the libcni driver: ADD then DEL of a
//!    pod on the chain bridge (ipMasq) + host-local + portmap, the
//!    reference plugins against netns-bridge + netns-portmap, alternating
//!    pod by pod in one run.
//!
//! What part 1 shows, and why: an owner's objects are reached through
//! verdict-map elements that jump to its chains, and every transaction that
//! adds a jump makes the kernel validate the table's whole jump graph
//! (NFT_VALIDATE_NEED, then nft_table_validate at commit: every element of
//! every map a base chain looks up, and the rules of the chain it leads
//! to), so an add costs O(owners). Measured on 6.18 with the bare map: an
//! element with an `accept` verdict is added in 7 us at 1 and at 1,000
//! elements, one with a `jump` in 10 us at 1 and 81 us at 1,000.
//!
//! Everything runs in a private network namespace (the plugins' host side
//! included). Figures are medians and 90th percentiles of wall time.
//!
//! ```text
//! cargo build --release --examples
//! cargo bench -p netns-benches --bench port_mapping
//! ```
//!
//! `PORT_MAPPING_SAMPLES` (default 40) sets the samples per figure,
//! `PORT_MAPPING_PODS` (default 40) the pods per side of part 3, and
//! `PORT_MAPPING_REF_1000=1` also measures the reference at 1,000
//! mappings (slow: every iptables call reads and writes the whole table).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use netns_core::{Hairpin, Nat, NatKind, NatOwner, NatProto, PortForward};
use serde_json::{json, Value};

#[path = "../../examples/tests/cni_common/mod.rs"]
mod cni_common;

use cni_common::{Call, Network, Pod};

const SYS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median and 90th percentile, in milliseconds.
fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize] * 1e3;
    (at(0.5), at(0.9))
}

fn ms(s: (f64, f64)) -> String {
    format!("{:8.3} ms (p90 {:8.3})", s.0, s.1)
}

/// The address of container `i` (10.88.0.0/16 and up).
fn pod_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        88 + (i / 65_000) as u8,
        ((i / 250) % 256) as u8,
        (i % 250 + 2) as u8,
    )
}

fn forward(i: usize) -> PortForward {
    PortForward {
        proto: NatProto::Tcp,
        host_port: 20_000 + i as u16,
        host_ip: None,
        to: IpAddr::V4(pod_ip(i)),
        to_port: 80,
    }
}

fn library(samples: usize) {
    println!("1. netns-core Nat, in process: one owner's port forward added, then removed");
    netns_testutil::in_private_netns(|| {
        let nat = Nat::new().expect("a netfilter socket");
        let hairpin = Hairpin::From(vec!["10.88.0.0/16".parse().expect("net")]);
        let mut have = 0usize;
        for level in [1usize, 100, 1000] {
            while have < level {
                let o = NatOwner::new("bench", &format!("c{have}"), "eth0");
                nat.port_forward(&o, &[forward(have)], &hairpin)
                    .expect("forward");
                have += 1;
            }
            for (what, hp) in [("hairpin", &hairpin), ("no hairpin", &Hairpin::Off)] {
                let (mut add, mut del) = (Vec::new(), Vec::new());
                for s in 0..samples {
                    let o = NatOwner::new("bench", &format!("extra{s}"), "eth0");
                    let f = forward(60_000 - 20_000 + s % 1000);
                    let t = Instant::now();
                    nat.port_forward(&o, &[f], hp).expect("forward");
                    add.push(t.elapsed().as_secs_f64());
                    let t = Instant::now();
                    assert!(nat.remove(&o, NatKind::PortForward).expect("remove"));
                    del.push(t.elapsed().as_secs_f64());
                }
                println!(
                    "   {level:>5} existing, {what:<10}: add {}   remove {}",
                    ms(summary(add)),
                    ms(summary(del))
                );
            }
        }
    });
}

/// The portmap config for container `i`'s one mapping, with its prevResult.
fn portmap_conf(i: usize, netns: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "bench",
        "type": "portmap",
        "capabilities": {"portMappings": true},
        "runtimeConfig": {"portMappings": [
            {"hostPort": 20_000 + i, "containerPort": 80, "protocol": "tcp"}
        ]},
        "prevResult": {
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "cni-bench0", "mac": "02:00:00:00:00:01"},
                {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": netns}
            ],
            "ips": [{"address": format!("{}/16", pod_ip(i)), "gateway": "10.88.0.1", "interface": 1}]
        }
    })
}

/// Run `plugin` with `cmd` for container `i` as libcni would; its wall
/// time in seconds.
fn exec_plugin(plugin: &Path, cmd: &str, i: usize, netns: &Path) -> f64 {
    let conf = portmap_conf(i, netns).to_string();
    let t = Instant::now();
    let mut child = Command::new(plugin)
        .env_clear()
        .env("PATH", SYS_PATH)
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", format!("bench-{i}"))
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", plugin.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(conf.as_bytes())
        .expect("write the config");
    let out = child.wait_with_output().expect("wait");
    let dt = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{} {cmd} {i}: {}{}",
        plugin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dt
}

fn plugins(samples: usize) {
    println!("2. the plugin adding one mapping (ADD, then its DEL), called directly");
    let ours = cni_common::our_plugin("netns-portmap");
    let theirs = PathBuf::from(cni_common::REFERENCE_PLUGINS).join("portmap");
    for (p, what) in [
        (&ours, "cargo build --release --examples"),
        (&theirs, "Debian's containernetworking-plugins"),
    ] {
        if !p.exists() {
            println!("   SKIP: {} is missing ({what})", p.display());
            return;
        }
    }
    let levels_ref: &[usize] = if std::env::var_os("PORT_MAPPING_REF_1000").is_some() {
        &[1, 100, 1000]
    } else {
        &[1, 100]
    };
    for (name, plugin, levels) in [
        ("portmap (reference)", &theirs, levels_ref),
        ("netns-portmap", &ours, &[1usize, 100, 1000][..]),
    ] {
        netns_testutil::in_private_netns(|| {
            let pod = Pod::new("bench");
            let mut have = 0usize;
            let mut at = Vec::new();
            for &level in levels {
                while have < level {
                    exec_plugin(plugin, "ADD", have, pod.path());
                    have += 1;
                }
                let (mut add, mut del) = (Vec::new(), Vec::new());
                for s in 0..samples {
                    let i = 40_000 + s;
                    add.push(exec_plugin(plugin, "ADD", i, pod.path()));
                    del.push(exec_plugin(plugin, "DEL", i, pod.path()));
                }
                let (a, d) = (summary(add), summary(del));
                at.push((level, a.0));
                println!(
                    "   {name:<20} {level:>5} existing: ADD {}   DEL {}",
                    ms(a),
                    ms(d)
                );
            }
            for i in 0..have {
                exec_plugin(plugin, "DEL", i, pod.path());
            }
        });
    }
}

fn chain(name: &str, bridge: &str, portmap: &str, data: &Path) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": name,
        "plugins": [
            {"type": bridge, "bridge": "cni-bench0", "isGateway": true, "ipMasq": true,
             "ipam": {"type": "host-local", "subnet": "10.89.0.0/16", "dataDir": data}},
            {"type": portmap, "capabilities": {"portMappings": true}, "snat": true}
        ]
    })
}

fn pods(count: usize) {
    println!("3. a port-mapped pod, ADD then DEL through the libcni driver (bridge ipMasq + host-local + portmap)");
    if !cni_common::our_plugin("netns-portmap").exists() {
        println!("   SKIP: netns-portmap is not built (cargo build --release --examples)");
        return;
    }
    netns_testutil::in_private_netns(|| {
        let data = netns_testutil::TempDir::new("bench-ipam");
        let theirs = Network::new(
            chain("ref", "bridge", "portmap", data.path()),
            cni_common::reference_path(),
        );
        let ours = Network::new(
            chain("ours", "netns-bridge", "netns-portmap", data.path()),
            cni_common::our_path(),
        );
        let (mut add, mut del) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for i in 0..count {
            for k in 0..2 {
                let side = (i + k) % 2;
                let net = if side == 0 { &theirs } else { &ours };
                let pod = Pod::new(&format!("p{i}-{side}"));
                let id = format!("c{i}-{side}");
                let cap = json!({"portMappings": [
                    {"hostPort": 30_000 + i * 2 + side, "containerPort": 80, "protocol": "tcp"}
                ]});
                let call = Call::on("add", &pod, &id, "eth0").cap(cap.clone());
                let t = Instant::now();
                net.run(&call).expect_ok();
                add[side].push(t.elapsed().as_secs_f64());
                let call = Call::on("del", &pod, &id, "eth0").cap(cap);
                let t = Instant::now();
                net.run(&call).expect_ok();
                del[side].push(t.elapsed().as_secs_f64());
            }
        }
        report("no other pod", add, del);

        // The same with 100 port-mapped pods on each network already (a
        // node's steady state: the NAT table and the bridge exist).
        let mut resident = Vec::new();
        for i in 0..100 {
            for (side, net) in [(0, &theirs), (1, &ours)] {
                let pod = Pod::new(&format!("r{i}-{side}"));
                let id = format!("r{i}-{side}");
                let cap = json!({"portMappings": [
                    {"hostPort": 40_000 + i * 2 + side, "containerPort": 80, "protocol": "tcp"}
                ]});
                net.run(&Call::on("add", &pod, &id, "eth0").cap(cap.clone()))
                    .expect_ok();
                resident.push((side, pod, id, cap));
            }
        }
        let (mut add, mut del) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for i in 0..count {
            for k in 0..2 {
                let side = (i + k) % 2;
                let net = if side == 0 { &theirs } else { &ours };
                let pod = Pod::new(&format!("q{i}-{side}"));
                let id = format!("q{i}-{side}");
                let cap = json!({"portMappings": [
                    {"hostPort": 30_000 + i * 2 + side, "containerPort": 80, "protocol": "tcp"}
                ]});
                let t = Instant::now();
                net.run(&Call::on("add", &pod, &id, "eth0").cap(cap.clone()))
                    .expect_ok();
                add[side].push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                net.run(&Call::on("del", &pod, &id, "eth0").cap(cap))
                    .expect_ok();
                del[side].push(t.elapsed().as_secs_f64());
            }
        }
        report("100 other pods", add, del);
        for (side, pod, id, cap) in resident {
            let net = if side == 0 { &theirs } else { &ours };
            net.run(&Call::on("del", &pod, &id, "eth0").cap(cap))
                .expect_ok();
        }
    });
}

/// Medians of both sides and their ratios.
fn report(what: &str, add: [Vec<f64>; 2], del: [Vec<f64>; 2]) {
    let [ra, oa] = add.map(summary);
    let [rd, od] = del.map(summary);
    println!("   {what}:");
    println!("   reference            ADD {}   DEL {}", ms(ra), ms(rd));
    println!("   netns                ADD {}   DEL {}", ms(oa), ms(od));
    println!(
        "   ratio (median)       ADD {:.2}x   DEL {:.2}x   ADD+DEL {:.2}x",
        ra.0 / oa.0,
        rd.0 / od.0,
        (ra.0 + rd.0) / (oa.0 + od.0)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let samples = env_usize("PORT_MAPPING_SAMPLES", 40);
    library(samples);
    plugins(samples);
    pods(env_usize("PORT_MAPPING_PODS", 40));
}
