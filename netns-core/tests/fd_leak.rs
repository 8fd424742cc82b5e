//! No descriptor leaks: this file is its own test binary (its own process) so
//! that no other test opens or closes descriptors while it counts them.

use netns_core::{Handle, NetNs, NetnsDir};
use netns_testutil::{fd_count, in_private_netns, unique_name, TempNetnsDir};

#[test]
fn ten_thousand_open_handle_close_cycles_leak_nothing() {
    in_private_netns(|| {
        let dir = TempNetnsDir::new();
        let nsd = NetnsDir::new(dir.path());
        let name = unique_name("fd-");
        drop(nsd.create(&name).unwrap());
        let anon = NetNs::create().unwrap();
        // Warm up once (lazily initialised state of std / the allocator).
        drop(nsd.open(&name).unwrap().handle().unwrap());
        let before = fd_count();
        for i in 0..10_000u32 {
            let ns = match i % 4 {
                0 => nsd.open(&name).unwrap(),
                1 => NetNs::current().unwrap(),
                2 => anon.try_clone().unwrap(),
                _ => NetNs::open("/proc/thread-self/ns/net").unwrap(),
            };
            let h = ns.handle().unwrap();
            assert!(h.port_id() != 0);
            drop(h);
            drop(ns);
            if i % 1000 == 0 {
                // Errors must not leak either.
                assert!(NetNs::open("/etc/hostname").is_err());
                assert!(nsd.create(&name).is_err());
                drop(Handle::new().unwrap());
            }
        }
        assert_eq!(fd_count(), before, "descriptors leaked");
        nsd.delete(&name).unwrap();
    });
}
