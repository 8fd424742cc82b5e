//! 8 processes x 100 ADDs of netns-host-local on one data directory: no
//! duplicate, no lost reservation, the exhausted ones fail cleanly; then 8 x
//! 100 concurrent DELs leave nothing behind.

netns_testutil::host_only!(
    "IPAM plugin processes on a data directory, no kernel networking involved"
);

mod host_local_common;

use std::collections::BTreeSet;

use host_local_common::*;

#[test]
fn eight_processes_hundred_adds_each() {
    let bin = plugin();
    let dir = TempDir::new("conc");
    // 10.42.0.0/23: .0.1 - .1.254 minus the gateway .0.1 = 509 addresses
    // for 800 ADDs.
    let c = format!(
        r#"{{"cniVersion":"1.0.0","name":"net","ipam":{{"dataDir":"{}","subnet":"10.42.0.0/23"}}}}"#,
        dir.s()
    );
    let per_thread = |cmd: &str| run_parallel(8, 100, |_| bin.clone(), cmd, "p", &c);

    let adds = per_thread("ADD");
    let mut seen = BTreeSet::new();
    let mut ok = 0;
    for (id, o) in &adds {
        if o.ok() {
            ok += 1;
            let ips = o.ips();
            assert_eq!(ips.len(), 1);
            let ip = ips[0].trim_end_matches("/23").to_string();
            assert!(seen.insert(ip.clone()), "{ip} handed out twice");
            let content = std::fs::read(dir.path().join("net").join(&ip))
                .unwrap_or_else(|e| panic!("reservation of {ip} for {id} lost: {e}"));
            assert_eq!(content, format!("{id}\r\neth0").as_bytes());
        } else {
            assert_eq!(o.rc, 1);
            assert_eq!(o.code(), Some(999), "{}", o.stdout);
            assert_eq!(
                o.msg(),
                "failed to allocate for range 0: no IP addresses available in range set: 10.42.0.1-10.42.1.254"
            );
        }
    }
    assert_eq!(ok, 509);
    let files = snapshot(&dir.path().join("net")).unwrap();
    assert_eq!(files.len(), 509 + 1, "reservations plus last_reserved_ip.0");

    let dels = per_thread("DEL");
    assert!(dels.iter().all(|(_, o)| o.ok()));
    let files = snapshot(&dir.path().join("net")).unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["last_reserved_ip.0"],
        "DEL left reservations behind"
    );
}
