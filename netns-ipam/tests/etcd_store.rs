//! EtcdStore against a real etcd (Debian's etcd-server, started on
//! 127.0.0.1 inside the test's own network namespace): the property test
//! every store passes (random ADD/DEL/CHECK sequences against the model of
//! host-local), replies lost after a transaction was applied, failover, and
//! a cluster without quorum.

#[used]
static NETNS_VM_TIER_HOST_ONLY: &str =
    "NETNS_VM_TIER=host-only: the IPAM store against etcd on loopback, no kernel feature involved\0";

mod prop_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netns_ipam::etcd::{EtcdConfig, EtcdStore};
use netns_ipam::{parse_cidr, Allocator, RangeSet, RangeSpec, Store, StoreError};
use netns_testutil::etcd::Cluster;
use netns_testutil::in_private_netns_lo_up;
use prop_common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::collections::BTreeMap;

/// Every key under `prefix` and its value, read with etcdctl (JSON, so
/// binary values come through).
fn keyspace(c: &Cluster, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let out = c.etcdctl(&["get", "--prefix", prefix, "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut m = BTreeMap::new();
    for kv in v["kvs"].as_array().into_iter().flatten() {
        let key = B64.decode(kv["key"].as_str().unwrap()).unwrap();
        let value = B64.decode(kv["value"].as_str().unwrap_or("")).unwrap();
        m.insert(String::from_utf8(key).unwrap(), value);
    }
    m
}

/// The block bitmaps under `prefix` (`blocks/v4/<block>` -> 64 hex digits,
/// 32 bytes, bit `i % 8` of byte `i / 8` for the block's address `i`) say
/// exactly which address keys exist, and no block key is empty.
fn assert_blocks_mirror_addresses(c: &Cluster, prefix: &str) {
    let all = keyspace(c, prefix);
    let mut want: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    for k in all.keys() {
        let Some(rest) = k.strip_prefix(&format!("{prefix}ips/")) else {
            continue;
        };
        let (fam, hex) = rest.split_once('/').unwrap();
        let (block, i) = hex.split_at(hex.len() - 2);
        let i = u8::from_str_radix(i, 16).unwrap() as usize;
        want.entry(format!("{prefix}blocks/{fam}/{block}"))
            .or_insert([0; 32])[i / 8] |= 1 << (i % 8);
    }
    let got: BTreeMap<String, [u8; 32]> = all
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{prefix}blocks/")))
        .map(|(k, v)| {
            let text = std::str::from_utf8(v).unwrap();
            assert_eq!(text.len(), 64, "{k}: {text:?}");
            let mut bytes = [0u8; 32];
            for (j, b) in bytes.iter_mut().enumerate() {
                *b = u8::from_str_radix(&text[2 * j..2 * j + 2], 16).unwrap();
            }
            (k.clone(), bytes)
        })
        .collect();
    assert_eq!(got, want, "block bitmaps against the address keys");
}

struct Etcd {
    conf: EtcdConfig,
    net: String,
    sets: Vec<RangeSet>,
    a: Allocator<EtcdStore>,
}

impl Harness for Etcd {
    fn alloc(&mut self) -> &mut dyn AllocOps {
        &mut self.a
    }
    fn seed_legacy(&mut self, _: IpAddr, _: &str) {
        unreachable!("no legacy id-only reservations in etcd: the sequences have none")
    }
    fn reopen(&mut self) {
        // A new client and store: nothing cached from before.
        self.a = Allocator::new(
            self.sets.clone(),
            EtcdStore::open(&self.conf, &self.net, "node").unwrap(),
        );
    }
    fn cursor(&mut self, set: usize) -> Option<IpAddr> {
        self.a.store_mut().last_reserved_ip(set).unwrap()
    }
}

#[test]
fn etcd_store_matches_model() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let conf = EtcdConfig::new(c.endpoints());
        let mut runner = TestRunner::new(Config {
            cases: 40,
            ..Config::default()
        });
        let ops = proptest::collection::vec(
            op().prop_filter("etcd holds no legacy reservations", |o| {
                !matches!(o, Op::Legacy { .. })
            }),
            1..40,
        );
        let n = AtomicUsize::new(0);
        runner
            .run(&(0usize..4, ops), |(which, ops)| {
                // Each case on a network of its own: a clean keyspace.
                let net = format!("prop{}", n.fetch_add(1, Ordering::SeqCst));
                let sets = range_sets(which);
                let a = Allocator::new(sets.clone(), EtcdStore::open(&conf, &net, "node").unwrap());
                let mut h = Etcd {
                    conf: conf.clone(),
                    net,
                    sets,
                    a,
                };
                run_sequence(&mut h, which, &ops)?;
                let prefix = h.a.store_mut().key_prefix().to_string();
                assert_blocks_mirror_addresses(&c, &prefix);
                Ok(())
            })
            .unwrap();
    });
}

/// A TCP proxy in front of an etcd member that forwards every request and,
/// while `drop_txn_replies` is set, drops the reply of each txn (the member
/// applied it; the client never hears so) by closing the connection.
struct LossyProxy {
    addr: String,
    drop_txn_replies: Arc<AtomicBool>,
    dropped: Arc<AtomicUsize>,
}

fn read_http_message(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

impl LossyProxy {
    fn start(upstream: &str) -> LossyProxy {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        let drop_txn_replies = Arc::new(AtomicBool::new(true));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (drop_txn_replies.clone(), dropped.clone());
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(client) = client else { return };
                let (flag, count, upstream) = (flag.clone(), count.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let mut from_client = BufReader::new(client.try_clone().unwrap());
                    let mut to_client = client;
                    let up = TcpStream::connect(&upstream).unwrap();
                    let mut from_up = BufReader::new(up.try_clone().unwrap());
                    let mut to_up = up;
                    while let Some((head, body)) = read_http_message(&mut from_client) {
                        to_up.write_all(head.as_bytes()).unwrap();
                        to_up.write_all(&body).unwrap();
                        let (rhead, rbody) = read_http_message(&mut from_up).unwrap();
                        if head.starts_with("POST /v3/kv/txn ") && flag.load(Ordering::SeqCst) {
                            count.fetch_add(1, Ordering::SeqCst);
                            let _ = to_client.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        to_client.write_all(rhead.as_bytes()).unwrap();
                        to_client.write_all(&rbody).unwrap();
                    }
                });
            }
        });
        LossyProxy {
            addr,
            drop_txn_replies,
            dropped,
        }
    }
}

fn one_set(cidr: &str) -> Vec<RangeSet> {
    vec![RangeSet::new(&[RangeSpec::new(parse_cidr(cidr).unwrap())]).unwrap()]
}

#[test]
fn a_reply_lost_after_the_transaction_was_applied_strands_nothing() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let proxy = LossyProxy::start(&c.endpoint(0));
        // The proxy first: its replies to transactions are lost; the member
        // behind it is the second endpoint.
        let conf = EtcdConfig::new(vec![proxy.addr.clone(), c.endpoint(0)]);
        let mut a = Allocator::new(
            one_set("10.8.0.0/24"),
            EtcdStore::open(&conf, "net", "node").unwrap(),
        );
        let got = a.allocate("c1", "eth0", &[]).unwrap();
        assert_eq!(proxy.dropped.load(Ordering::SeqCst), 1, "no reply was lost");
        // The reservation the lost reply was about is the one returned: not
        // a second address with the first stranded.
        assert_eq!(got[0].ip().to_string(), "10.8.0.2");
        let held = a.store_mut().reservations().unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0].ip, got[0].ip());
        assert_eq!(held[0].owner, "c1\r\neth0");

        // A release whose reply is lost the same way is still reported.
        let mut a = Allocator::new(
            one_set("10.8.0.0/24"),
            EtcdStore::open(&conf, "net", "node").unwrap(),
        );
        let released = a.release("c1", "eth0").unwrap();
        assert_eq!(proxy.dropped.load(Ordering::SeqCst), 2);
        assert_eq!(released, [got[0].ip()]);
        assert!(a.store_mut().reservations().unwrap().is_empty());

        // Someone else's reservation at the address is never taken for ours
        // after a lost reply: a request for it fails as host-local's does.
        proxy.drop_txn_replies.store(false, Ordering::SeqCst);
        let mut other = Allocator::new(
            one_set("10.8.0.0/24"),
            EtcdStore::open(&EtcdConfig::new(vec![c.endpoint(0)]), "net", "other").unwrap(),
        );
        other
            .allocate("other", "eth0", &["10.8.0.3".parse().unwrap()])
            .unwrap();
        proxy.drop_txn_replies.store(true, Ordering::SeqCst);
        // A new store: the last one moved on to the member itself.
        let mut a = Allocator::new(
            one_set("10.8.0.0/24"),
            EtcdStore::open(&conf, "net", "node").unwrap(),
        );
        let e = a
            .allocate("c2", "eth0", &["10.8.0.3".parse().unwrap()])
            .unwrap_err();
        assert_eq!(proxy.dropped.load(Ordering::SeqCst), 3);
        assert_eq!(
            e.to_string(),
            "failed to allocate for range 0: requested IP address 10.8.0.3 is not available in range set 10.8.0.1-10.8.0.254"
        );
        let held: Vec<String> = a
            .store_mut()
            .reservations()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.ip, r.owner.replace("\r\n", "/")))
            .collect();
        assert_eq!(held, ["10.8.0.3 other/eth0"]);
    });
}

#[test]
fn without_quorum_it_is_unavailable_and_serves_again_when_quorum_returns() {
    in_private_netns_lo_up(|| {
        let mut c = Cluster::start(3);
        // The default request timeout (5 s) outlasts the election that
        // follows a leader's loss.
        let conf = EtcdConfig::new(c.endpoints());
        let mut a = Allocator::new(
            one_set("10.9.0.0/24"),
            EtcdStore::open(&conf, "net", "node").unwrap(),
        );
        a.allocate("before", "eth0", &[]).unwrap();
        // One member down, the leader: quorum holds, allocation goes on.
        let leader = c.leader();
        c.kill(leader);
        a.allocate("one-down", "eth0", &[]).unwrap();
        // Two down: no quorum. A short timeout for what cannot succeed.
        let other = (leader + 1) % 3;
        c.kill(other);
        let mut conf = EtcdConfig::new(c.endpoints());
        conf.request_timeout = Duration::from_millis(1500);
        let mut a = Allocator::new(
            one_set("10.9.0.0/24"),
            EtcdStore::open(&conf, "net", "node").unwrap(),
        );
        let e = a.allocate("no-quorum", "eth0", &[]).unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("etcd cluster unavailable"), "{msg}");
        // Every endpoint is named with its last failure.
        for i in [leader, other] {
            assert!(
                msg.contains(&format!("{}: connection refused", c.endpoint(i))),
                "{msg}"
            );
        }
        let alive = 3 - leader - other;
        assert!(
            msg.contains(&format!("{}: timed out", c.endpoint(alive))),
            "{msg}"
        );
        let StoreError::Unavailable(_) = a.store_mut().status().unwrap_err() else {
            panic!("status with no quorum")
        };
        c.start_all();
        // The failed call timed out waiting on the surviving member: its
        // transaction may still have been committed once quorum returned
        // (a CNI runtime sends DEL after a failed ADD). If so it is the
        // caller's own reservation, never another address's, and DEL
        // removes it.
        let ids: Vec<String> = a
            .store_mut()
            .reservations()
            .unwrap()
            .into_iter()
            .map(|r| r.id().to_string())
            .collect();
        assert!(
            ids == ["before", "one-down"] || ids == ["before", "one-down", "no-quorum"],
            "{ids:?}"
        );
        a.release("no-quorum", "eth0").unwrap();
        a.allocate("after", "eth0", &[]).unwrap();
        assert_eq!(a.store_mut().reservations().unwrap().len(), 3);
    });
}

#[test]
fn next_free_reads_windows_past_long_taken_runs_and_foreign_keys() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let mut st = EtcdStore::open(&EtcdConfig::new(c.endpoints()), "net", "node").unwrap();
        let ip = |k: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + k));
        // 10.0.0.1 - 10.0.2.88 taken (600 addresses, over two windows of
        // 256), and keys under ips/ that are not addresses among them.
        for k in 1..=600 {
            assert!(st.reserve("c", "eth0", ip(k), 0).unwrap());
        }
        let prefix = st.key_prefix().to_string();
        for junk in ["ips/v4/0a000005x", "ips/v4/zz", "ips/v4/0a0001"] {
            c.etcdctl(&["put", &format!("{prefix}{junk}"), "{}"]);
        }
        assert_eq!(st.next_free(ip(1), ip(1000)).unwrap(), Some(ip(601)));
        assert_eq!(st.next_free(ip(300), ip(1000)).unwrap(), Some(ip(601)));
        assert_eq!(st.next_free(ip(1), ip(600)).unwrap(), None);
        assert_eq!(st.next_free(ip(600), ip(600)).unwrap(), None);
        assert_eq!(st.next_free(ip(601), ip(601)).unwrap(), Some(ip(601)));
        assert!(st.release_ip(ip(256)).unwrap());
        assert_eq!(st.next_free(ip(1), ip(1000)).unwrap(), Some(ip(256)));
        // The foreign keys are not reservations: never listed, never
        // released.
        assert_eq!(st.reservations().unwrap().len(), 599);
    });
}

/// What an older netns, a hand edit or another program could leave: address
/// keys without their block bits, a block bit without its address key, a
/// block value that is not a bitmap. None of it gives a duplicate or a
/// false exhaustion, and the blocks end up mirroring the address keys.
#[test]
fn wrong_block_bitmaps_never_give_a_duplicate_or_a_false_exhaustion() {
    in_private_netns_lo_up(|| {
        let c = Cluster::start(1);
        let conf = EtcdConfig::new(c.endpoints());
        let ip = |k: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + k));
        let hand_reserve = |prefix: &str, k: u32| {
            let a = ip(k);
            let hex = format!("{:08x}", 0x0a00_0000 + k);
            let owner =
                format!(r#"{{"ip":"{a}","containerID":"old{k}","ifname":"eth0","node":"n0"}}"#);
            c.etcdctl(&["put", &format!("{prefix}ips/v4/{hex}"), &owner]);
            c.etcdctl(&[
                "put",
                &format!("{prefix}owners/old{k}/eth0/v4/{hex}"),
                &a.to_string(),
            ]);
        };

        // 1. Reservations made without block keys (.1 to .20): the next
        // ADD takes .21, and the block is rebuilt from the address keys.
        let mut a = Allocator::new(
            one_set("10.0.0.0/24"),
            EtcdStore::open(&conf, "unindexed", "n0").unwrap(),
        );
        let prefix = a.store_mut().key_prefix().to_string();
        for k in 1..=20 {
            hand_reserve(&prefix, k);
        }
        let got = a.allocate("new", "eth0", &[]).unwrap();
        assert_eq!(got[0].ip(), ip(21));
        assert_blocks_mirror_addresses(&c, &prefix);
        assert_eq!(a.store_mut().reservations().unwrap().len(), 21);

        // 2. A block bit whose address key was deleted by hand: every
        // other address taken, the ADD still gets it (not "no IP
        // addresses available").
        let mut a = Allocator::new(
            one_set("10.0.0.0/29"),
            EtcdStore::open(&conf, "stale", "n0").unwrap(),
        );
        let prefix = a.store_mut().key_prefix().to_string();
        for k in 2..=6 {
            assert_eq!(
                a.allocate(&format!("c{k}"), "eth0", &[]).unwrap()[0].ip(),
                ip(k)
            );
        }
        c.etcdctl(&["del", &format!("{prefix}ips/v4/0a000004")]);
        c.etcdctl(&["del", &format!("{prefix}owners/c4/eth0/v4/0a000004")]);
        let got = a.allocate("again", "eth0", &[]).unwrap();
        assert_eq!(got[0].ip(), ip(4));
        assert_blocks_mirror_addresses(&c, &prefix);
        let e = a.allocate("full", "eth0", &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("no IP addresses available in range set"),
            "{e}"
        );

        // 3. A block value that is not a bitmap: rebuilt from the keys.
        let mut a = Allocator::new(
            one_set("10.0.0.0/24"),
            EtcdStore::open(&conf, "garbage", "n0").unwrap(),
        );
        let prefix = a.store_mut().key_prefix().to_string();
        // (.1 is the gateway.)
        for k in 2..=4 {
            assert_eq!(
                a.allocate(&format!("g{k}"), "eth0", &[]).unwrap()[0].ip(),
                ip(k)
            );
        }
        c.etcdctl(&["put", &format!("{prefix}blocks/v4/0a0000"), "not a bitmap"]);
        let got = a.allocate("g5", "eth0", &[]).unwrap();
        assert_eq!(got[0].ip(), ip(5));
        assert_blocks_mirror_addresses(&c, &prefix);
        for k in 2..=5 {
            a.release(&format!("g{k}"), "eth0").unwrap();
        }
        // Every address released: no block key left behind.
        assert!(keyspace(&c, &format!("{prefix}blocks/")).is_empty());
    });
}
