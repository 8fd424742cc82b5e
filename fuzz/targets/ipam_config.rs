//! Arbitrary bytes as host-local's untrusted input: the network config on
//! stdin and CNI_ARGS. The input is `STDIN [\0 CNI_ARGS]`, split at its last
//! NUL byte (no NUL: all stdin, empty CNI_ARGS). Every parser of netns-ipam
//! that reads them runs; when the config is accepted, a few ADD/DEL/CHECK/GC
//! calls run on a `MemoryStore` allocator and their results are checked
//! against the range sets. Run: `cargo fuzz run ipam_config` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.
use std::net::IpAddr;

use netns_ipam::json::{parse_header, parse_ipam_config, parse_valid_attachments};
use netns_ipam::{
    parse_cidr, parse_cni_args, parse_ip, parse_ip_or_cidr, version_at_least, Allocation,
    Allocator, MemoryStore, RangeSet,
};

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    let (stdin, args) = match data.iter().rposition(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // The environment hands CNI_ARGS over as bytes; the plugin reads it as
    // text.
    let args = String::from_utf8_lossy(args);

    let header = parse_header(stdin);
    let attachments = parse_valid_attachments(stdin).unwrap_or_default();
    let _ = parse_cni_args(&args);
    for word in args.split([';', '=']) {
        let _ = parse_ip(word);
        let _ = parse_ip_or_cidr(word);
        if let Ok(c) = parse_cidr(word) {
            // parse_cidr never yields an IPv4-mapped IPv6 address (the crate
            // keeps every prefix canonical).
            let mapped = matches!(c.addr(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
            assert!(!mapped, "{word:?}: {c}");
            let (net, last) = (c.network(), c.broadcast());
            assert!(c.contains(&net), "{c}: {net}");
            assert!(c.contains(&last), "{c}: {last}");
            // What it prints, it reads back.
            assert_eq!(parse_cidr(&c.to_string()), Ok(c), "{word:?}");
        }
        let _ = version_at_least(word, (0, 3, 0));
    }

    let Ok(conf) = parse_ipam_config(stdin, &args) else {
        return;
    };
    // A config that parses has a header that parses.
    let header = header.expect("parse_ipam_config accepted what parse_header refused");
    assert_eq!(header.name, conf.name);
    let _ = conf.data_dir();
    for set in &conf.range_sets {
        let _ = set.to_string();
    }

    let sets = conf.range_sets.clone();
    let mut store = MemoryStore::new();
    // A leftover cursor (last_reserved_ip.N) may name any address.
    for (i, ip) in conf.requested_ips.iter().enumerate() {
        store.set_last_reserved_ip(i % sets.len().max(1), Some(*ip));
    }
    let mut a = Allocator::new(conf.range_sets, store);
    let req = conf.requested_ips;
    if let Ok(got) = a.allocate("c1", "eth0", &req) {
        check(&sets, &got, &req);
    }
    for id in ["c2", "c3", "c2"] {
        if let Ok(got) = a.allocate(id, "eth0", &[]) {
            check(&sets, &got, &[]);
        }
    }
    let _ = a.release("c1", "eth0");
    assert_eq!(a.check("c1", "eth0").ok(), Some(false));
    if let Ok(got) = a.allocate("c4", "eth1", &req) {
        check(&sets, &got, &req);
    }
    let _ = a.gc(&attachments);
    let _ = a.release("c2", "eth0");
    let _ = a.allocate("c5", "eth0", &[]);
}

/// One address per set, in order, inside the set, not a range's gateway; a
/// requested address a set contains is the one it got.
fn check(sets: &[RangeSet], got: &[Allocation], requested: &[IpAddr]) {
    assert_eq!(got.len(), sets.len());
    for (i, (set, a)) in sets.iter().zip(got).enumerate() {
        assert_eq!(a.range_id, i);
        let ip = a.ip();
        let range = set
            .range_for(&ip)
            .unwrap_or_else(|| panic!("{ip} outside set {i} ({set})"));
        assert_ne!(ip, range.gateway(), "gateway handed out in set {i}");
        assert_eq!(a.gateway, range.gateway());
        if let Some(r) = requested.iter().find(|r| set.contains(r)) {
            assert_eq!(ip, *r, "set {i} ignored its requested address");
        }
    }
}
