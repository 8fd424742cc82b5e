//! Notifications and waits: subscriptions see the changes of their own
//! namespace only, lost notifications are reported, and the waits return
//! when the state holds (checked with `ip -j` as the oracle) or time out.

use std::time::Duration;

use netns_core::{
    AddrFlags, AddrSpec, ErrorKind, Event, Groups, Handle, IpFamily, LinkSpec, NetNs,
};
use netns_testutil::{in_private_netns, ip_json};

const LONG: Duration = Duration::from_secs(20);

fn pfx(s: &str) -> netns_core::IpNet {
    s.parse().unwrap()
}

#[test]
fn a_subscription_sees_changes_of_its_namespace_only() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let mut sub = h.subscribe(Groups::LINK | Groups::IPV4_ADDR).unwrap();
        h.link_add(&LinkSpec::veth("e0", "e1")).unwrap();
        h.addr_add(&AddrSpec::new("e0", pfx("10.7.0.1/24")))
            .unwrap();
        let mut seen_link = false;
        let mut seen_addr = false;
        while !(seen_link && seen_addr) {
            match sub.next(Some(LONG)).unwrap() {
                Some(Event::NewLink(l)) if l.name == "e0" => seen_link = true,
                Some(Event::NewAddr(a)) if a.prefix == pfx("10.7.0.1/24") => {
                    assert_eq!(a.link_index, h.link_index("e0").unwrap());
                    seen_addr = true;
                }
                Some(_) => {}
                None => panic!("no notification within {LONG:?}"),
            }
        }
        h.link_del("e0").unwrap();
        loop {
            match sub.next(Some(LONG)).unwrap() {
                Some(Event::DelLink(l)) if l.name == "e0" => break,
                Some(_) => {}
                None => panic!("no RTM_DELLINK within {LONG:?}"),
            }
        }

        // A handle inside another namespace subscribes there.
        let other = NetNs::create().unwrap();
        let oh = other.handle().unwrap();
        assert_eq!(oh.netns().unwrap(), other);
        assert_eq!(h.netns().unwrap(), NetNs::current().unwrap());
        let mut there = oh.subscribe(Groups::LINK).unwrap();
        h.link_add(&LinkSpec::veth("here0", "here1")).unwrap();
        oh.link_add(&LinkSpec::veth("there0", "there1")).unwrap();
        let mut names = Vec::new();
        while let Some(e) = there.next(Some(Duration::ZERO)).unwrap() {
            if let Event::NewLink(l) = e {
                names.push(l.name);
            }
        }
        assert!(names.contains(&"there0".to_owned()), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("here")), "{names:?}");
    });
}

#[test]
fn lost_notifications_ask_for_a_resync_and_the_subscription_goes_on() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        let mut sub = h.subscribe(Groups::LINK).unwrap();
        sub.debug_shrink_queue().unwrap();
        for i in 0..40 {
            h.link_add(&LinkSpec::veth(format!("o{i}"), format!("o{i}p")))
                .unwrap();
        }
        let e = loop {
            match sub.next(Some(LONG)) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the queue did not overflow"),
                Err(e) => break e,
            }
        };
        assert!(e.is_resync_needed(), "{e}");
        assert_eq!(e.errno(), Some(libc::ENOBUFS));
        // Read what is left, then a new change arrives as usual (the tiny
        // queue holds one notification at a time: the first of the pair's).
        while sub.next(Some(Duration::ZERO)).unwrap_or(None).is_some() {}
        h.link_add(&LinkSpec::veth("after0", "after1")).unwrap();
        loop {
            match sub.next(Some(LONG)) {
                Ok(Some(Event::NewLink(l))) if l.name.starts_with("after") => break,
                Ok(Some(_)) => {}
                Ok(None) => panic!("no notification after the resync"),
                Err(e) if e.is_resync_needed() => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
}

#[test]
fn wait_link_up_returns_when_both_ends_are_up_and_times_out_otherwise() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("w0", "w1").up()).unwrap();
        // w0 is up but has no carrier while its peer is down.
        let e = h
            .wait_link_up("w0", Duration::from_millis(100))
            .unwrap_err();
        assert!(e.is_timed_out(), "{e}");
        assert!(matches!(e.kind(), ErrorKind::TimedOut { .. }));
        assert_eq!(e.errno(), Some(libc::ETIMEDOUT));
        // The peer comes up from another thread, in whatever order with
        // the wait: the wait sees it either way.
        std::thread::scope(|s| {
            s.spawn(|| h.link_set_up("w1").unwrap());
            let l = h.wait_link_up("w0", LONG).unwrap();
            assert!(l.is_operational(), "{l}");
        });
        let j = &ip_json(["link", "show", "dev", "w0"])[0];
        assert_eq!(j["operstate"], "UP", "{j}");
        // A link that does not exist is an error at once.
        let e = h.wait_link_up("nosuch0", LONG).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    });
}

#[test]
fn wait_addrs_settled_waits_for_dad_and_reports_a_duplicate() {
    in_private_netns(|| {
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("d0", "d1").up().peer_up())
            .unwrap();
        h.wait_link_up("d0", LONG).unwrap();
        // An address with DAD: tentative until the kernel's probe is over.
        h.addr_add(&AddrSpec::new("d0", pfx("2001:db8:7::1/64")))
            .unwrap();
        let addrs = h.wait_addrs_settled("d0", LONG).unwrap();
        let a = addrs
            .iter()
            .find(|a| a.prefix == pfx("2001:db8:7::1/64"))
            .unwrap();
        assert!(!a.flags.contains(AddrFlags::TENTATIVE), "{a}");
        let j = ip_json(["-6", "addr", "show", "dev", "d0"]);
        let info = j[0]["addr_info"].as_array().unwrap();
        assert!(!info.iter().any(|i| i["tentative"] == true), "{j}");
        // The same address on the other end: its DAD finds d0's.
        h.addr_add(&AddrSpec::new("d1", pfx("2001:db8:7::1/64")))
            .unwrap();
        let e = h.wait_addrs_settled("d1", LONG).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::DuplicateAddress { addr } if addr.to_string() == "2001:db8:7::1"),
            "{e}"
        );
        assert_eq!(e.errno(), Some(libc::EADDRINUSE));
        let j = ip_json(["-6", "addr", "show", "dev", "d1"]);
        let info = j[0]["addr_info"].as_array().unwrap();
        assert!(info.iter().any(|i| i["dadfailed"] == true), "{j}");
        // An IPv4 address is usable at once.
        h.addr_add(&AddrSpec::new("d0", pfx("10.8.0.1/24")))
            .unwrap();
        let a = h
            .wait_addr_usable("d0", "10.8.0.1".parse().unwrap(), LONG)
            .unwrap();
        assert_eq!(a.family(), IpFamily::V4);
        // An address that never comes: a timeout.
        let e = h
            .wait_addr_usable("d0", "10.8.0.9".parse().unwrap(), Duration::from_millis(50))
            .unwrap_err();
        assert!(e.is_timed_out(), "{e}");
    });
}
