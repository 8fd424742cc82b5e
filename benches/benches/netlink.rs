//! The netlink hot path: each library operation beside its floor (the same
//! kernel work with prebuilt bytes and bare libc send/recv), in one run, in a
//! private network namespace. Run: `cargo bench -p netns-benches --bench netlink`.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion};
use netns_benches::*;
use netns_core::{Handle, LinkFilter, LinkSpec, NetnsDir};

/// Benchmark `library` against `floor` as an A/B pair: every timed
/// operation of one side is followed by an untimed one of the other, so both
/// run under the same conditions (CPU frequency, neighbours on a shared host,
/// kernel work one side left behind) rather than one after the other, where
/// the drift between two runs of a few seconds is as large as the ratio
/// being measured.
fn ab_pair(
    g: &mut BenchmarkGroup<'_, WallTime>,
    mut library: impl FnMut(),
    mut floor: impl FnMut(),
) {
    fn timed_first(n: u64, timed: &mut dyn FnMut(), other: &mut dyn FnMut()) -> Duration {
        let mut t = Duration::ZERO;
        for _ in 0..n {
            let start = std::time::Instant::now();
            timed();
            t += start.elapsed();
            other();
        }
        t
    }
    g.bench_function("library", |b| {
        b.iter_custom(|n| timed_first(n, &mut library, &mut floor))
    });
    g.bench_function("floor", |b| {
        b.iter_custom(|n| timed_first(n, &mut floor, &mut library))
    });
}

fn link_get_by_name(c: &mut Criterion) {
    let h = Handle::new().unwrap();
    make_veths("g", 500); // 1000 links (+ lo)
    let mut raw = RawSocket::open();
    let req = getlink_by_name("g250");
    let mut g = c.benchmark_group("link_get_by_name_among_1000");
    ab_pair(
        &mut g,
        || {
            black_box(h.link_get("g250").unwrap());
        },
        || {
            black_box(raw.one(req.bytes()));
        },
    );
    g.finish();
    h.link_del_many((0..500).map(|i| format!("g{i}"))).unwrap();
}

fn link_dump(c: &mut Criterion) {
    let h = Handle::new().unwrap();
    let mut raw = RawSocket::open();
    let req = getlink_dump();
    let mut g = c.benchmark_group("link_dump");
    let mut made = 0;
    for links in [100usize, 1000, 5000] {
        let pairs = links / 2;
        let script: String = (made..pairs)
            .map(|i| format!("link add d{i} type veth peer name d{i}p\n"))
            .collect();
        run_ip_batch(&script);
        made = pairs;
        assert_eq!(h.links(&LinkFilter::new()).unwrap().len(), links + 1);
        g.throughput(criterion::Throughput::Elements(links as u64));
        g.bench_with_input(BenchmarkId::new("library_parsed", links), &links, |b, _| {
            b.iter(|| black_box(h.links(&LinkFilter::new()).unwrap()))
        });
        g.bench_with_input(BenchmarkId::new("floor", links), &links, |b, _| {
            b.iter(|| black_box(raw.dump(req.bytes())))
        });
    }
    g.finish();
    h.link_del_many((0..made).map(|i| format!("d{i}"))).unwrap();
}

fn veth_create_delete(c: &mut Criterion) {
    let h = Handle::new().unwrap();
    let mut raw = RawSocket::open();
    let add = veth_add("vc0", "vc0p");
    let del = link_del("vc0");
    let mut g = c.benchmark_group("veth_create_delete");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("library", |b| {
        b.iter(|| {
            h.link_add(&LinkSpec::veth("vc0", "vc0p")).unwrap();
            h.link_del("vc0").unwrap();
        })
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            raw.ack(add.bytes());
            raw.ack(del.bytes());
        })
    });
    g.finish();
}

fn bulk_delete_200(c: &mut Criterion) {
    let h = Handle::new().unwrap();
    let mut raw = RawSocket::open();
    let names: Vec<String> = (0..200).map(|i| format!("bd{i}")).collect();
    let setup = || make_veths("bd", 200);
    let mut g = c.benchmark_group("bulk_delete_200_veths");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("library_link_del_many", |b| {
        b.iter_batched(
            setup,
            |()| h.link_del_many(&names).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let group_msgs: Vec<Msg> = names.iter().map(|n| link_set_group(n, 4242)).collect();
    let del_group = link_del_group(4242);
    g.bench_function("floor_group_delete", |b| {
        b.iter_batched(
            setup,
            |()| {
                for m in &group_msgs {
                    raw.ack(m.bytes());
                }
                raw.ack(del_group.bytes());
            },
            BatchSize::PerIteration,
        )
    });
    let del_msgs: Vec<Msg> = names.iter().map(|n| link_del(n)).collect();
    g.bench_function("floor_one_by_one", |b| {
        b.iter_batched(
            setup,
            |()| {
                for m in &del_msgs {
                    raw.ack(m.bytes());
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn named_netns_create_delete(c: &mut Criterion) {
    let dir = tempdir();
    let nsd = NetnsDir::new(&dir);
    let mut g = c.benchmark_group("named_netns_create_delete");
    g.sample_size(20);
    let path = dir.join("bench");
    // A deleted namespace is torn down later by a kernel worker
    // (cleanup_net), which competes with the next creations on a 2-core
    // machine: the A/B pairing makes both sides pay the same backlog.
    ab_pair(
        &mut g,
        || {
            nsd.create("bench").unwrap();
            nsd.delete("bench").unwrap();
        },
        || floor_netns_create_delete(&dir, &path),
    );
    g.finish();
    cleanup_dir(&dir);
}

fn main() {
    enter_private_netns();
    let mut c = Criterion::default().configure_from_args();
    link_get_by_name(&mut c);
    link_dump(&mut c);
    veth_create_delete(&mut c);
    bulk_delete_200(&mut c);
    named_netns_create_delete(&mut c);
    objects::benches(&mut c);
    c.final_summary();
}

mod objects {
    use std::hint::black_box;

    use criterion::{BatchSize, Criterion};
    use netns_benches::*;
    use netns_core::{AddrSpec, Handle, IpNet, LinkSpec, RouteSpec};

    /// A veth pair bv0/bv1, up, bv0 with 10.0.0.1/24; returns bv0's index.
    fn setup(h: &Handle) -> u32 {
        h.link_add(&LinkSpec::veth("bv0", "bv1").up()).unwrap();
        h.link_set_up("bv1").unwrap();
        h.addr_add(&AddrSpec::new("bv0", "10.0.0.1/24".parse().unwrap()))
            .unwrap();
        h.link_index("bv0").unwrap()
    }

    fn addr_add_del(c: &mut Criterion, h: &Handle, idx: u32) {
        let mut raw = RawSocket::open();
        let spec = AddrSpec::new(idx, "10.0.1.1/24".parse().unwrap());
        let local = [10u8, 0, 1, 1];
        let add = Msg::new(
            nl::RTM_NEWADDR,
            nl::REQUEST | nl::ACK | nl::CREATE_EXCL,
            &ifaddrmsg(2, 24, idx),
        )
        .attr(2 /* IFA_LOCAL */, &local)
        .attr(1 /* IFA_ADDRESS */, &local);
        let del = Msg::new(
            nl::RTM_DELADDR,
            nl::REQUEST | nl::ACK,
            &ifaddrmsg(2, 24, idx),
        )
        .attr(2, &local)
        .attr(1, &local);
        let mut g = c.benchmark_group("addr_add_del");
        g.bench_function("library", |b| {
            b.iter(|| {
                h.addr_add(&spec).unwrap();
                h.addr_del(&spec).unwrap();
            })
        });
        g.bench_function("floor", |b| {
            b.iter(|| {
                raw.ack(add.bytes());
                raw.ack(del.bytes());
            })
        });
        g.finish();
    }

    fn route_msg(kind: u16, flags: u16, dst: [u8; 4], idx: u32) -> Msg {
        Msg::new(kind, flags, &rtmsg(2, 16, 0))
            .attr(1 /* RTA_DST */, &dst)
            .attr(5 /* RTA_GATEWAY */, &[10, 0, 0, 2])
            .u32_attr(4 /* RTA_OIF */, idx)
    }

    fn route_add_del(c: &mut Criterion, h: &Handle, idx: u32) {
        let mut raw = RawSocket::open();
        let spec = RouteSpec::new("10.77.0.0/16".parse().unwrap())
            .via("10.0.0.2".parse().unwrap())
            .link(idx);
        let add = route_msg(
            nl::RTM_NEWROUTE,
            nl::REQUEST | nl::ACK | nl::CREATE_EXCL,
            [10, 77, 0, 0],
            idx,
        );
        let del = route_msg(nl::RTM_DELROUTE, nl::REQUEST | nl::ACK, [10, 77, 0, 0], idx);
        let mut g = c.benchmark_group("route_add_del");
        g.bench_function("library", |b| {
            b.iter(|| {
                h.route_add(&spec).unwrap();
                h.route_del(&spec).unwrap();
            })
        });
        g.bench_function("floor", |b| {
            b.iter(|| {
                raw.ack(add.bytes());
                raw.ack(del.bytes());
            })
        });
        g.finish();
    }

    fn dst(i: usize) -> [u8; 4] {
        [10, 100 + (i / 256) as u8, (i % 256) as u8, 0]
    }

    fn batch_1000_route_adds(c: &mut Criterion, h: &Handle, idx: u32) {
        const N: usize = 1000;
        let specs: Vec<RouteSpec> = (0..N)
            .map(|i| {
                let d = dst(i);
                let p = IpNet::new(std::net::Ipv4Addr::from(d).into(), 24).unwrap();
                RouteSpec::new(p).via("10.0.0.2".parse().unwrap()).link(idx)
            })
            .collect();
        let adds: Vec<Msg> = (0..N)
            .map(|i| {
                Msg::new(
                    nl::RTM_NEWROUTE,
                    nl::REQUEST | nl::ACK | nl::CREATE_EXCL,
                    &rtmsg(2, 24, 0),
                )
                .attr(1, &dst(i))
                .attr(5, &[10, 0, 0, 2])
                .u32_attr(4, idx)
            })
            .collect();
        let dels: Vec<Msg> = (0..N)
            .map(|i| {
                Msg::new(nl::RTM_DELROUTE, nl::REQUEST | nl::ACK, &rtmsg(2, 24, 0))
                    .attr(1, &dst(i))
                    .u32_attr(4, idx)
            })
            .collect();
        let mut raw = RawSocket::open();
        let cleaner = std::cell::RefCell::new(RawSocket::open());
        cleaner.borrow().set_rcvbuf(8 << 20);
        raw.set_rcvbuf(8 << 20);
        let all_dels: Vec<u8> = dels.iter().flat_map(|m| m.bytes().to_vec()).collect();
        // Remove the 1000 routes (untimed); the first time some may not exist.
        let clean = || {
            let mut c = cleaner.borrow_mut();
            c.send(&all_dels);
            c.acks(N);
        };
        let mut g = c.benchmark_group("route_add_1000");
        g.sample_size(20);
        g.throughput(criterion::Throughput::Elements(N as u64));
        g.bench_function("library_batch", |b| {
            b.iter_batched(
                clean,
                |()| {
                    let mut batch = h.batch();
                    for s in &specs {
                        batch.route_add(s);
                    }
                    let out = batch.execute().unwrap();
                    black_box(out.iter().all(|r| r.is_ok()))
                },
                BatchSize::PerIteration,
            )
        });
        // The unbatched floor: 1000 prebuilt requests, one send+recv each.
        g.bench_function("floor_unbatched", |b| {
            b.iter_batched(
                clean,
                |()| {
                    for m in &adds {
                        raw.ack(m.bytes());
                    }
                },
                BatchSize::PerIteration,
            )
        });
        // The batched floor: the same bytes in one send.
        let all: Vec<u8> = adds.iter().flat_map(|m| m.bytes().to_vec()).collect();
        g.bench_function("floor_batched", |b| {
            b.iter_batched(
                clean,
                |()| {
                    raw.send(&all);
                    assert_eq!(raw.acks(N), 0);
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();
        clean();
    }

    pub fn benches(c: &mut Criterion) {
        let h = Handle::new().unwrap();
        let idx = setup(&h);
        addr_add_del(c, &h, idx);
        route_add_del(c, &h, idx);
        batch_1000_route_adds(c, &h, idx);
        h.link_del("bv0").unwrap();
    }
}
