//! host-local and netns-host-local sharing one data directory.

netns_testutil::host_only!(
    "needs the reference plugin /usr/lib/cni/host-local, which the VM image lacks"
);

mod host_local_common;

use std::collections::{BTreeMap, BTreeSet};

use host_local_common::*;

fn conf(dir: &TempDir, ipam: &str) -> String {
    format!(
        r#"{{"cniVersion":"1.0.0","name":"net","ipam":{{"dataDir":"{}",{ipam}}}}}"#,
        dir.s()
    )
}

/// Alternating the two plugins on one directory behaves exactly like
/// host-local alone: same results, same files, step by step, and no address
/// is ever held twice.
#[test]
fn alternating_on_one_directory_is_host_local_alone() {
    let (hl, ours) = (host_local(), plugin());
    let (mixed, alone) = (TempDir::new("mixed"), TempDir::new("alone"));
    let ipam = r#""ranges":[[{"subnet":"10.40.0.0/27"}],[{"subnet":"fd00:40::/123"}]]"#;
    let (cm, ca) = (conf(&mixed, ipam), conf(&alone, ipam));
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    let mut ops = 0;
    for i in 0..70usize {
        let id = format!("c{i}");
        // Every fourth step releases an earlier container instead.
        let (cmd, id) = if i % 4 == 3 {
            ("DEL", format!("c{}", i * 7 % i.max(1)))
        } else {
            ("ADD", id)
        };
        let bin = if i % 2 == 0 { &hl } else { &ours };
        let om = run(bin, &Call::new(cmd, &id, &cm));
        let oa = run(&hl, &Call::new(cmd, &id, &ca));
        assert_eq!(comparable(&om), comparable(&oa), "step {i}: {cmd} {id}");
        assert_eq!(
            snapshot(&mixed.path().join("net")),
            snapshot(&alone.path().join("net")),
            "step {i}"
        );
        if cmd == "DEL" {
            held.retain(|_, owner| *owner != id);
        } else if om.ok() {
            for ip in om.ips() {
                assert!(
                    held.insert(ip.clone(), id.clone()).is_none(),
                    "{ip} handed out twice"
                );
            }
            ops += 1;
        }
    }
    assert!(ops >= 25, "too few successful ADDs to mean anything: {ops}");
}

/// Both plugins at once on one directory: four threads each, every thread
/// running its plugin 40 times. No address is handed out twice, every
/// success has its file, and the exhausted ADDs fail with the CNI error.
#[test]
fn concurrent_mixed_plugins_never_share_an_address() {
    let (hl, ours) = (host_local(), plugin());
    let dir = TempDir::new("mixedconc");
    let c = conf(&dir, r#""subnet":"10.41.0.0/24""#);
    // Even threads run host-local, odd ones ours.
    let bin = |t: usize| if t % 2 == 0 { hl.clone() } else { ours.clone() };
    let results = run_parallel(8, 40, bin, "ADD", "t", &c);
    let mut seen = BTreeSet::new();
    let mut ok = 0;
    for (id, o) in &results {
        if o.ok() {
            ok += 1;
            let ip = o.ips()[0].trim_end_matches("/24").to_string();
            assert!(seen.insert(ip.clone()), "{ip} handed out twice");
            let content = std::fs::read(dir.path().join("net").join(&ip)).unwrap();
            assert_eq!(content, format!("{id}\r\neth0").as_bytes());
        } else {
            assert_eq!(o.code(), Some(999), "{}", o.stdout);
            assert!(o.msg().contains("no IP addresses available"), "{}", o.msg());
        }
    }
    // 10.41.0.2 .. .254: 253 addresses for 320 ADDs.
    assert_eq!(ok, 253);
    let files = snapshot(&dir.path().join("net")).unwrap();
    assert_eq!(files.len(), 253 + 1, "reservations plus last_reserved_ip.0");
}
