//! Scale on one node: 1,000 pods on one bridge, then all deleted, through
//! the libcni driver (one process per call, as `Network::run`): the chain
//! netns-bridge (`isGateway`, `ipMasq`, in-process host-local on a /21) +
//! netns-portmap (one TCP host port per pod, a distinct one each), in a
//! private namespace, every pod's namespace kept until the end.
//!
//! Prints the wall time of ADD and DEL at pod 1, the medians of pods 1-50
//! and 951-1,000, pod 1,000 itself, a least-squares slope (µs per pod
//! already there), and the same for the CPU the driver and plugins used
//! (RUSAGE_CHILDREN around each call), which tells a kernel that works
//! longer per object apart from off-CPU waits.
//!
//! ```text
//! cargo build --release --examples
//! cargo bench -p netns-benches --bench bridge_scale
//! ```
//!
//! `BRIDGE_SCALE_PODS` (default 1000, at most 1023: the kernel's ports per
//! bridge) sets the pods.

use std::time::Instant;

use serde_json::json;

#[path = "../../examples/tests/cni_common/mod.rs"]
mod cni_common;

use cni_common::{Call, Network, Pod};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user, system) of the reaped children so far.
fn children_cpu() -> (f64, f64) {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_CHILDREN is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (s(u.ru_utime), s(u.ru_stime))
}

/// The CPU (user, system) `body` made children use, and its wall time.
fn timed(body: impl FnOnce()) -> (f64, f64, f64) {
    let (u, s) = children_cpu();
    let t = Instant::now();
    body();
    let wall = t.elapsed().as_secs_f64();
    let (u2, s2) = children_cpu();
    (wall, u2 - u, s2 - s)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Least-squares slope of `v` against its index.
fn slope(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = v.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (y - my);
        sxx += dx * dx;
    }
    sxy / sxx
}

fn report(what: &str, wall: &[f64], user: &[f64], sys: &[f64]) {
    let n = wall.len();
    let k = 50.min(n);
    for (name, v) in [("wall", wall), ("user", user), ("sys ", sys)] {
        println!(
            "   {what} {name}: pod 1 {:7.2} ms | median of 1-{k} {:7.2} ms | median of {}-{n} {:7.2} ms | \
             pod {n} {:7.2} ms | slope {:+.2} µs per pod",
            v[0] * 1e3,
            median(&v[..k]) * 1e3,
            n - k + 1,
            median(&v[n - k..]) * 1e3,
            v[n - 1] * 1e3,
            slope(v) * 1e6,
        );
    }
    println!(
        "   {what} total: {:.1} s for {n} pods ({:.2} ms each)",
        wall.iter().sum::<f64>(),
        wall.iter().sum::<f64>() / n as f64 * 1e3
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count = env_usize("BRIDGE_SCALE_PODS", 1000).min(1023);
    if !cni_common::our_plugin("netns-portmap").exists() {
        println!("SKIP: netns-portmap is not built (cargo build --release --examples)");
        return;
    }
    println!("{count} port-mapped pods on one bridge through the libcni driver, then all deleted");
    netns_testutil::in_private_netns_lo_up(|| {
        let data = netns_testutil::TempDir::new("bench-ipam");
        let net = Network::new(
            json!({"cniVersion": "1.0.0", "name": "scale", "plugins": [
                {"type": "netns-bridge", "bridge": "cni-scale0", "isGateway": true, "ipMasq": true,
                 "ipam": {"type": "host-local", "subnet": "10.90.0.0/21", "dataDir": data.s()}},
                {"type": "netns-portmap", "capabilities": {"portMappings": true}}
            ]}),
            cni_common::our_path(),
        );
        let cap = |i: usize| json!({"portMappings": [{"hostPort": 20_000 + i, "containerPort": 80, "protocol": "tcp"}]});
        // The driver is built on first use: not in a timed call.
        let _ = cni_common::driver();
        let mut pods = Vec::with_capacity(count);
        let (mut add, mut add_u, mut add_s) = (Vec::new(), Vec::new(), Vec::new());
        let started = Instant::now();
        for i in 0..count {
            let pod = Pod::new(&format!("s{i}"));
            let call = Call::on("add", &pod, &format!("s{i}"), "eth0").cap(cap(i));
            let (w, u, s) = timed(|| {
                net.run(&call).expect_ok();
            });
            add.push(w);
            add_u.push(u);
            add_s.push(s);
            pods.push(pod);
            if (i + 1) % 100 == 0 {
                println!(
                    "   {} pods, last ADD {:.2} ms, {:.0} s",
                    i + 1,
                    w * 1e3,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        report("ADD", &add, &add_u, &add_s);
        if let Some(file) = std::env::var_os("BRIDGE_SCALE_PAUSE") {
            // For a profiler: the node full, a file to remove to go on.
            std::fs::write(&file, b"").expect("write the pause file");
            println!("   paused: remove {} to go on", file.to_string_lossy());
            while std::path::Path::new(&file).exists() {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        let (mut del, mut del_u, mut del_s) = (Vec::new(), Vec::new(), Vec::new());
        // In the order they were added: the first DEL has 999 other pods
        // beside it, the last none.
        for (i, pod) in pods.iter().enumerate() {
            let call = Call::on("del", pod, &format!("s{i}"), "eth0").cap(cap(i));
            let (w, u, s) = timed(|| {
                net.run(&call).expect_ok();
            });
            del.push(w);
            del_u.push(u);
            del_s.push(s);
        }
        report(
            "DEL (pod 1 is the first deleted, with the others there)",
            &del,
            &del_u,
            &del_s,
        );
    });
}
