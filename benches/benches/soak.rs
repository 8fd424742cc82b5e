//! Soak: ADD/DEL churn for a bounded time through one long-lived netns-core
//! user (this process), checking that nothing grows.
//!
//! In a private network namespace, a bridge with a gateway address and
//! `SOAK_LIVE` pods kept alive; each step adds one pod and deletes the
//! oldest, doing in process what netns-bridge (ipMasq, host-local) and
//! netns-portmap do for a pod: an address from one long-lived
//! `Allocator<FileStore>`, an anonymous namespace, a veth pair made from a
//! socket inside it with the host end on the bridge, the pod's address,
//! link and default route, a masquerade and a UDP port forward (netns-core's
//! `Nat`), and one datagram to the host port (a conntrack entry); DEL
//! removes the forward, the masquerade and the port's UDP conntrack
//! entries, the veth pair and the reservation, and closes the namespace.
//! One `Handle`, `Nat` and `Conntrack` serve the whole run, as in a daemon.
//!
//! Every `SOAK_SAMPLE_SECS` it samples this process's open fds, threads and
//! RSS (/proc/self/status), and the kernel objects the churn makes: links
//! and addresses in the namespace, nftables objects (`nft -j list ruleset`:
//! tables, chains, rules, sets and their elements), conntrack's TCP, UDP
//! and SCTP entries, IPAM files. At the end: first, last and max of each (samples are taken with
//! the same number of pods alive), and an exit code of 1 if fds, threads
//! or a kernel object count grew, or RSS grew by more than 25% after the
//! first sample.
//!
//! ```text
//! cargo bench -p netns-benches --bench soak            # 10 minutes
//! SOAK_SECS=240 cargo bench -p netns-benches --bench soak
//! ```

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use netns_core::{
    AddrSpec, Conntrack, CtFilter, Hairpin, Handle, IpFamily, IpNet, LinkChanges, LinkFilter,
    LinkSpec, Nat, NatKind, NatOwner, NatProto, NetNs, PortForward, RouteSpec,
};
use netns_ipam::{parse_cidr, Allocator, FileStore, RangeSet, RangeSpec};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const BRIDGE: &str = "soak0";
const SUBNET: &str = "10.91.0.0/22";
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 91, 0, 1);
const NET: &str = "soak";

struct Live {
    id: String,
    host_veth: String,
    port: u16,
    _ns: NetNs,
}

struct Node {
    host: Handle,
    here: NetNs,
    bridge: u32,
    nat: Nat,
    ct: Conntrack,
    ipam: Allocator<FileStore>,
    subnet: IpNet,
    udp: UdpSocket,
}

impl Node {
    fn add(&mut self, n: u64) -> Live {
        let id = format!("soak-{n}");
        let port = u16::try_from(20_000 + n % 40_000).expect("a port");
        let got = self.ipam.allocate(&id, "eth0", &[]).expect("allocate");
        let addr = got[0].address;
        let ip = addr.addr();
        let ns = NetNs::create().expect("a pod namespace");
        let pod = ns.handle().expect("a socket in the pod");
        let host_veth = format!("sk{:x}", n % 0xffff_ffff);
        pod.link_add(&LinkSpec::veth("eth0", host_veth.as_str()).peer_netns(&self.here))
            .expect("veth");
        self.host
            .link_set(
                host_veth.as_str(),
                &LinkChanges {
                    up: Some(true),
                    controller: Some(netns_core::ControllerChange::Attach(self.bridge.into())),
                    ..Default::default()
                },
            )
            .expect("attach");
        let eth0 = pod.link_get("eth0").expect("eth0").index;
        pod.addr_add(&AddrSpec::new(eth0, addr)).expect("address");
        pod.link_set_up(eth0).expect("up");
        let lo = pod.link_get("lo").expect("lo").index;
        pod.link_set_up(lo).expect("lo up");
        pod.route_add(&RouteSpec::default_via(IpAddr::V4(GATEWAY)))
            .expect("default route");
        let owner = NatOwner::new(NET, &id, "eth0");
        self.nat
            .masquerade(&owner, &[ip], &[self.subnet])
            .expect("masquerade");
        let lo_net: IpNet = "127.0.0.0/8".parse().expect("prefix");
        self.nat
            .port_forward(
                &owner,
                &[PortForward {
                    proto: NatProto::Udp,
                    host_port: port,
                    host_ip: None,
                    to: ip,
                    to_port: 53,
                }],
                &Hairpin::From(vec![self.subnet, lo_net]),
            )
            .expect("port forward");
        // A conntrack entry, DNATed to the pod (which answers "port
        // unreachable").
        let _ = self.udp.send_to(b"ping", (GATEWAY, port));
        Live {
            id,
            host_veth,
            port,
            _ns: ns,
        }
    }

    fn del(&mut self, p: Live) {
        let owner = NatOwner::new(NET, &p.id, "eth0");
        self.nat
            .remove(&owner, NatKind::PortForward)
            .expect("remove the forward");
        self.nat
            .remove(&owner, NatKind::Masquerade)
            .expect("remove the masquerade");
        self.ct
            .delete(&CtFilter::new(IpFamily::V4).proto(17).orig_dport(p.port))
            .expect("conntrack delete");
        self.host
            .link_del(p.host_veth.as_str())
            .expect("delete the veth pair");
        self.ipam.release(&p.id, "eth0").expect("release");
        // p._ns closes here: the kernel frees the namespace.
    }
}

#[derive(Clone, Copy)]
struct Sample {
    at: f64,
    steps: u64,
    fds: u64,
    threads: u64,
    rss_kib: u64,
    links: u64,
    addrs: u64,
    nft: u64,
    conntrack: u64,
    ipam_files: u64,
}

/// A sampled quantity: its name and how to read it.
type Field = (&'static str, fn(&Sample) -> u64);

const FIELDS: [Field; 8] = [
    ("fds", |s| s.fds),
    ("threads", |s| s.threads),
    ("rss KiB", |s| s.rss_kib),
    ("links", |s| s.links),
    ("addrs", |s| s.addrs),
    ("nft objects", |s| s.nft),
    ("conntrack", |s| s.conntrack),
    ("ipam files", |s| s.ipam_files),
];

fn status_field(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Tables, chains, rules, sets and set elements of the ruleset.
fn nft_objects() -> u64 {
    let out = std::process::Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .output()
        .expect("run nft");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut n = 0;
    for o in v["nftables"].as_array().into_iter().flatten() {
        if o.get("metainfo").is_some() {
            continue;
        }
        n += 1;
        for kind in ["set", "map"] {
            if let Some(e) = o[kind]["elem"].as_array() {
                n += e.len() as u64;
            }
        }
    }
    n
}

fn sample(node: &Node, data: &std::path::Path, t0: Instant, steps: u64) -> Sample {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    Sample {
        at: t0.elapsed().as_secs_f64(),
        steps,
        fds,
        threads: status_field("Threads:"),
        rss_kib: status_field("VmRSS:"),
        links: node
            .host
            .links(&LinkFilter::default())
            .map_or(0, |v| v.len() as u64),
        addrs: node
            .host
            .addrs(&netns_core::AddrFilter::new())
            .map_or(0, |v| v.len() as u64),
        nft: nft_objects(),
        // TCP, UDP and SCTP only: the bridge's own IGMP report (to
        // 224.0.0.22) makes an entry of its own some time after start.
        conntrack: node.ct.list(IpFamily::V4).map_or(0, |v| {
            v.iter().filter(|e| matches!(e.proto, 6 | 17 | 132)).count() as u64
        }),
        ipam_files: std::fs::read_dir(data.join(NET)).map_or(0, |d| d.count() as u64),
    }
}

fn print_sample(s: &Sample) {
    println!(
        "{:7.1} s {:8} steps | fds {:3} threads {:2} rss {:6} KiB | links {:4} addrs {:4} nft {:4} conntrack {:4} ipam files {:4}",
        s.at, s.steps, s.fds, s.threads, s.rss_kib, s.links, s.addrs, s.nft, s.conntrack, s.ipam_files
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs = env_u64("SOAK_SECS", 600);
    let every = env_u64("SOAK_SAMPLE_SECS", 10);
    let live_n = env_u64("SOAK_LIVE", 20) as usize;
    netns_benches::enter_private_netns();
    let data = std::env::temp_dir().join(format!("netns-soak-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("data dir");
    let host = Handle::new().expect("a handle");
    host.link_add(&LinkSpec::bridge(BRIDGE)).expect("bridge");
    let bridge = host.link_get(BRIDGE).expect("bridge").index;
    let subnet: IpNet = SUBNET.parse().expect("subnet");
    let gw = IpNet::new(IpAddr::V4(GATEWAY), 22).expect("gateway");
    host.addr_add(&AddrSpec::new(bridge, gw))
        .expect("gateway address");
    host.link_set_up(bridge).expect("bridge up");
    let set = RangeSet::new(&[RangeSpec::new(parse_cidr(SUBNET).expect("cidr"))]).expect("range");
    let mut node = Node {
        here: NetNs::current().expect("this namespace"),
        host,
        bridge,
        nat: Nat::new().expect("nat"),
        ct: Conntrack::new().expect("conntrack"),
        ipam: Allocator::new(vec![set], FileStore::open(&data, NET).expect("file store")),
        subnet,
        udp: UdpSocket::bind("0.0.0.0:0").expect("udp"),
    };
    // The first forward makes the NAT table, whose hooks turn conntrack on;
    // entries then stay until deleted (UDP ones would expire after 30 s).
    let mut live = std::collections::VecDeque::new();
    let mut steps = 0u64;
    live.push_back(node.add(steps));
    steps += 1;
    let _ = std::fs::write("/proc/sys/net/netfilter/nf_conntrack_udp_timeout", "3600");
    while live.len() < live_n {
        live.push_back(node.add(steps));
        steps += 1;
    }
    println!(
        "soak: {secs} s of ADD/DEL churn, {live_n} pods alive, a sample every {every} s (pid {})",
        std::process::id()
    );
    let t0 = Instant::now();
    let mut samples = vec![sample(&node, &data, t0, steps)];
    print_sample(&samples[0]);
    let mut next = Duration::from_secs(every);
    let mut add_time = Duration::ZERO;
    let mut del_time = Duration::ZERO;
    while t0.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        let p = node.add(steps);
        add_time += t.elapsed();
        live.push_back(p);
        steps += 1;
        let old = live.pop_front().expect("a live pod");
        let t = Instant::now();
        node.del(old);
        del_time += t.elapsed();
        if t0.elapsed() >= next {
            let s = sample(&node, &data, t0, steps);
            print_sample(&s);
            samples.push(s);
            next += Duration::from_secs(every);
        }
    }
    while let Some(p) = live.pop_front() {
        node.del(p);
    }
    let churned = steps - live_n as u64;
    println!(
        "soak: {churned} ADD+DEL steps in {:.0} s: ADD {:.3} ms, DEL {:.3} ms on average",
        t0.elapsed().as_secs_f64(),
        add_time.as_secs_f64() * 1e3 / churned.max(1) as f64,
        del_time.as_secs_f64() * 1e3 / churned.max(1) as f64
    );
    // The baseline is the sample after one interval of churn: the bridge's
    // IPv6 link-local address comes once it has carrier, and the
    // allocator's pools fill, in the first seconds.
    let first = samples[1.min(samples.len() - 1)];
    let last = *samples.last().expect("a sample");
    let mut grew = Vec::new();
    println!("{:>12} {:>8} {:>8} {:>8}", "", "first", "last", "max");
    for (name, f) in FIELDS {
        let max = samples.iter().map(f).max().unwrap_or(0);
        println!("{name:>12} {:>8} {:>8} {:>8}", f(&first), f(&last), max);
        let bad = if name == "rss KiB" {
            f(&last) * 4 > f(&first) * 5
        } else {
            f(&last) > f(&first)
        };
        if bad {
            grew.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    if grew.is_empty() {
        println!("soak: flat");
    } else {
        println!("soak: GREW: {}", grew.join(", "));
        std::process::exit(1);
    }
}
