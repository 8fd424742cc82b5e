//! The cluster store (EtcdStore, netns-cluster-ipam) against a real
//! 3-member etcd cluster on loopback, inside a private network namespace.
//! Everything is measured in one run, against the floor measured in the
//! same run:
//!
//! 1. The floor of a one-shot plugin: a process start (the plugin answering
//!    VERSION, which reads nothing) and one etcd transaction on a fresh
//!    connection (a new store, one reservation), and one on a warm one.
//! 2. Plugin ADD (then DEL, timed apart) through `netns-cluster-ipam`:
//!    median and mean, and the ratio to the floor (target: at most 2x).
//! 3. In-process allocations per second from 1 node, then from 3 nodes at
//!    once (threads, one store each, each talking to its own member first)
//!    on one range.
//! 4. Occupancy of a /16 (65,533 allocatable addresses): one in-process
//!    allocation (and its release) at 1% and at 99%, the holes scattered;
//!    both networks filled first, then their cycles alternated, so etcd's
//!    database is the same size for both.
//!
//! `cargo build --release -p netns-examples --example netns-cluster-ipam &&
//!  cargo bench -p netns-benches --bench cluster_ipam`
//! (or point NETNS_CLUSTER_IPAM_BIN at a build of the plugin).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netns_ipam::etcd::{EtcdConfig, EtcdStore};
use netns_ipam::{parse_cidr, Allocator, RangeSet, RangeSpec, Store};
use netns_testutil::etcd::Cluster;

const SLASH16_FREE: usize = 65_533;

fn plugin() -> PathBuf {
    if let Some(p) = std::env::var_os("NETNS_CLUSTER_IPAM_BIN") {
        return p.into();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = root.join("target/release/examples/netns-cluster-ipam");
    assert!(
        p.is_file(),
        "{} is missing: cargo build --release -p netns-examples --example netns-cluster-ipam",
        p.display()
    );
    p
}

fn run(bin: &PathBuf, cmd: &str, id: &str, conf: &str) -> Duration {
    let s = Instant::now();
    let mut child = Command::new(bin)
        .env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", "/var/run/netns/bench")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(conf.as_bytes());
    let o = child.wait_with_output().unwrap();
    let t = s.elapsed();
    assert!(
        o.status.success(),
        "{cmd} {id}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    t
}

fn stats(v: &mut [Duration]) -> (f64, f64) {
    v.sort();
    let med = v[v.len() / 2].as_secs_f64() * 1e3;
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e3;
    (med, mean)
}

fn one_set(cidr: &str) -> Vec<RangeSet> {
    vec![RangeSet::new(&[RangeSpec::new(parse_cidr(cidr).unwrap())]).unwrap()]
}

fn floor_and_plugin(c: &Cluster) {
    let bin = plugin();
    let conf = serde_json::json!({
        "cniVersion": "1.0.0", "name": "bench",
        "ipam": {"type": "netns-cluster-ipam", "subnet": "10.20.0.0/16", "node": "n0",
                 "etcd": {"endpoints": c.endpoints()}}
    })
    .to_string();
    let econf = EtcdConfig::new(c.endpoints());
    let rounds = 200;
    let (mut start, mut cold, mut warm, mut add, mut del) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut warm_store = EtcdStore::open(&econf, "floor-warm", "n0").unwrap();
    warm_store.status().unwrap();
    for i in 0..rounds {
        start.push(run(&bin, "VERSION", "v", &conf));
        let ip: std::net::IpAddr = format!("10.30.{}.{}", i / 200, i % 200 + 1)
            .parse()
            .unwrap();
        let s = Instant::now();
        let mut st = EtcdStore::open(&econf, "floor", "n0").unwrap();
        assert!(st.reserve("f", "eth0", ip, 0).unwrap());
        cold.push(s.elapsed());
        let s = Instant::now();
        assert!(warm_store.reserve("f", "eth0", ip, 0).unwrap());
        warm.push(s.elapsed());
        let id = format!("c{i}");
        add.push(run(&bin, "ADD", &id, &conf));
        del.push(run(&bin, "DEL", &id, &conf));
    }
    let (s_med, s_mean) = stats(&mut start);
    let (c_med, c_mean) = stats(&mut cold);
    let (w_med, w_mean) = stats(&mut warm);
    let (a_med, a_mean) = stats(&mut add);
    let (d_med, d_mean) = stats(&mut del);
    println!("cluster_ipam/floor ({rounds} rounds, 3-member etcd, median / mean ms)");
    println!("  process start (VERSION)            {s_med:7.3} / {s_mean:7.3}");
    println!("  one etcd txn, fresh connection     {c_med:7.3} / {c_mean:7.3}");
    println!("  one etcd txn, warm connection      {w_med:7.3} / {w_mean:7.3}");
    println!("cluster_ipam/plugin");
    println!("  ADD                                {a_med:7.3} / {a_mean:7.3}");
    println!("  DEL                                {d_med:7.3} / {d_mean:7.3}");
    println!(
        "  ADD / (process start + one txn on a fresh connection): {:.2}x (median), {:.2}x (mean)",
        a_med / (s_med + c_med),
        a_mean / (s_mean + c_mean)
    );
}

/// `nodes` allocators at once (threads, one store each, each talking to its
/// own member first), `per` allocations each: allocations per second.
fn nodes_at_once(c: &Cluster, nodes: usize, per: usize) -> f64 {
    let net = format!("nodes{nodes}");
    let s = Instant::now();
    std::thread::scope(|sc| {
        for n in 0..nodes {
            let mut eps = c.endpoints();
            let len = eps.len();
            eps.rotate_left(n % len);
            let net = &net;
            sc.spawn(move || {
                let st = EtcdStore::open(&EtcdConfig::new(eps), net, &format!("n{n}")).unwrap();
                let mut a = Allocator::new(one_set("10.40.0.0/16"), st);
                for i in 0..per {
                    a.allocate(&format!("n{n}-{i}"), "eth0", &[]).unwrap();
                }
            });
        }
    });
    (nodes * per) as f64 / s.elapsed().as_secs_f64()
}

fn three_nodes(c: &Cluster) {
    let one = nodes_at_once(c, 1, 500);
    let three = nodes_at_once(c, 3, 500);
    println!("cluster_ipam/nodes_at_once (in process, 500 allocations per node)");
    println!("  1 node     {one:7.0} allocations per second");
    println!(
        "  3 nodes    {three:7.0} allocations per second ({:.2}x one node)",
        three / one
    );
}

/// Fill `pct`% of a /16 with holes scattered (a fixed-stride walk), from 4
/// threads: an allocator on it.
fn fill(c: &Cluster, pct: usize) -> Allocator<EtcdStore> {
    let net = format!("occ{pct}");
    let econf = EtcdConfig::new(c.endpoints());
    let taken = SLASH16_FREE * pct / 100;
    // Address k of the range is 10.50.0.2 + k; take every address but the
    // scattered free ones.
    let mut free = vec![false; SLASH16_FREE];
    let mut k = 0usize;
    for _ in 0..SLASH16_FREE - taken {
        k = (k + 7_919) % SLASH16_FREE;
        free[k] = true;
    }
    let todo: Vec<usize> = (0..SLASH16_FREE).filter(|k| !free[*k]).collect();
    let s = Instant::now();
    std::thread::scope(|sc| {
        for chunk in todo.chunks(todo.len().div_ceil(4).max(1)) {
            let (econf, net) = (&econf, &net);
            sc.spawn(move || {
                let mut st = EtcdStore::open(econf, net, "fill").unwrap();
                for &k in chunk {
                    let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                        u32::from(std::net::Ipv4Addr::new(10, 50, 0, 2)) + k as u32,
                    ));
                    assert!(st.reserve(&format!("f{k}"), "eth0", ip, 0).unwrap());
                }
            });
        }
    });
    eprintln!(
        "cluster_ipam/occupancy: {} reservations written in {:.1} s",
        todo.len(),
        s.elapsed().as_secs_f64()
    );
    let st = EtcdStore::open(&econf, &net, "n0").unwrap();
    Allocator::new(one_set("10.50.0.0/16"), st)
}

/// `n` allocate/release cycles on each allocator in turn (so that the
/// cluster's state, its database's size among it, and the machine's load
/// weigh on all alike): per allocator, (allocate, release) as (median,
/// mean) ms.
type Cycles = Vec<((f64, f64), (f64, f64))>;
fn cycles(allocators: &mut [Allocator<EtcdStore>], n: usize) -> Cycles {
    let mut t: Vec<(Vec<Duration>, Vec<Duration>)> = vec![(vec![], vec![]); allocators.len()];
    for i in 0..n {
        for (a, (al, rel)) in allocators.iter_mut().zip(t.iter_mut()) {
            let id = format!("b{i}");
            let s = Instant::now();
            a.allocate(&id, "eth0", &[]).unwrap();
            al.push(s.elapsed());
            let s = Instant::now();
            a.release(&id, "eth0").unwrap();
            rel.push(s.elapsed());
        }
    }
    t.iter_mut()
        .map(|(al, rel)| (stats(al), stats(rel)))
        .collect()
}

fn main() {
    netns_testutil::in_private_netns_lo_up(|| {
        let c = Cluster::start(3);
        floor_and_plugin(&c);
        three_nodes(&c);
        let mut allocators = [fill(&c, 1), fill(&c, 99)];
        let r = cycles(&mut allocators, 300);
        let ((a1, r1), (a99, r99)) = (r[0], r[1]);
        println!(
            "cluster_ipam/occupancy of a /16, in process (300 cycles each, alternating, \
             median / mean ms)"
        );
        println!("  allocate at  1%   {:7.3} / {:7.3}", a1.0, a1.1);
        println!("  allocate at 99%   {:7.3} / {:7.3}", a99.0, a99.1);
        println!("  release  at  1%   {:7.3} / {:7.3}", r1.0, r1.1);
        println!("  release  at 99%   {:7.3} / {:7.3}", r99.0, r99.1);
        println!(
            "  allocate 99% / 1%: {:.2}x (median), {:.2}x (mean)",
            a99.0 / a1.0,
            a99.1 / a1.1
        );
    });
}
