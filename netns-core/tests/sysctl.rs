//! Per-namespace sysctls, checked with `sysctl -n` run in the same
//! namespace.

use std::process::Command;

use netns_core::{Handle, IpFamily, LinkSpec, NetNs, Sysctl, SysctlConf};
use netns_testutil::in_private_netns;

mod common;
use common::assert_refused;

/// `sysctl -n NAME` in the calling thread's namespace.
fn sysctl(name: &str) -> String {
    let out = Command::new("sysctl").args(["-n", name]).output().unwrap();
    assert!(
        out.status.success(),
        "sysctl -n {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn global_and_per_interface_values_are_written_in_the_namespace() {
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("a0", "a1")).unwrap();
        h.link_add(&LinkSpec::veth("v.10", "v.11")).unwrap();
        let link = |n: &str| SysctlConf::link(n);
        let cases: Vec<(Sysctl, u32, &str)> = vec![
            (Sysctl::Ipv4Forward, 1, "net.ipv4.ip_forward"),
            (
                Sysctl::Ipv4Forwarding(link("a0")),
                1,
                "net.ipv4.conf.a0.forwarding",
            ),
            (
                Sysctl::Ipv6Forwarding(link("a0")),
                1,
                "net.ipv6.conf.a0.forwarding",
            ),
            (
                Sysctl::AcceptRa(link("a0")),
                2,
                "net.ipv6.conf.a0.accept_ra",
            ),
            (
                Sysctl::AcceptRa(SysctlConf::Default),
                0,
                "net.ipv6.conf.default.accept_ra",
            ),
            (
                Sysctl::ProxyArp(link("a1")),
                1,
                "net.ipv4.conf.a1.proxy_arp",
            ),
            (
                Sysctl::ProxyNdp(link("a1")),
                1,
                "net.ipv6.conf.a1.proxy_ndp",
            ),
            (
                Sysctl::RpFilter(link("a0")),
                2,
                "net.ipv4.conf.a0.rp_filter",
            ),
            (
                Sysctl::RpFilter(SysctlConf::All),
                1,
                "net.ipv4.conf.all.rp_filter",
            ),
            (
                Sysctl::RpFilter(link("v.10")),
                2,
                "net.ipv4.conf.v/10.rp_filter",
            ),
            (
                Sysctl::DisableIpv6(link("a1")),
                1,
                "net.ipv6.conf.a1.disable_ipv6",
            ),
            (
                Sysctl::Ipv6Forwarding(SysctlConf::All),
                1,
                "net.ipv6.conf.all.forwarding",
            ),
        ];
        for (key, value, name) in cases {
            assert_eq!(key.to_string(), name);
            let old: u32 = sysctl(name).parse().unwrap();
            let new = if old == value {
                1 - value.min(1)
            } else {
                value
            };
            here.sysctl_set(&key, new).unwrap();
            assert_eq!(sysctl(name), new.to_string(), "{name}");
            assert_eq!(here.sysctl_get(&key).unwrap(), new, "{name}");
            here.sysctl_set(&key, old).unwrap();
            assert_eq!(sysctl(name), old.to_string(), "{name} restored");
            assert_eq!(here.sysctl_get(&key).unwrap(), old);
        }
    });
}

#[test]
fn writes_go_to_the_target_namespace_only() {
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        // A new namespace starts with the IPv4 settings of the machine's
        // (net.core.devconf_inherit_init_net 0): on a host that forwards,
        // ip_forward is 1 here too. This namespace is the test's own.
        here.sysctl_set(&Sysctl::Ipv4Forward, 0).unwrap();
        let other = NetNs::create().unwrap();
        assert_eq!(sysctl("net.ipv4.ip_forward"), "0");
        other.sysctl_set(&Sysctl::Ipv4Forward, 1).unwrap();
        assert_eq!(
            other.run(|| sysctl("net.ipv4.ip_forward")).unwrap(),
            "1",
            "set in the other namespace"
        );
        assert_eq!(sysctl("net.ipv4.ip_forward"), "0", "not here");
        assert_eq!(here.sysctl_get(&Sysctl::Ipv4Forward).unwrap(), 0);
        assert_eq!(other.sysctl_get(&Sysctl::Ipv4Forward).unwrap(), 1);
        // The calling thread did not move.
        assert!(NetNs::current().unwrap().is_same(&here));
        // Per interface: a link that lives only in the other namespace.
        let oh = other.handle().unwrap();
        oh.link_add(&LinkSpec::veth("o0", "o1")).unwrap();
        let key = Sysctl::ProxyArp(SysctlConf::link("o0"));
        other.sysctl_set(&key, 1).unwrap();
        assert_eq!(
            other.run(|| sysctl("net.ipv4.conf.o0.proxy_arp")).unwrap(),
            "1"
        );
        let e = here.sysctl_set(&key, 1).unwrap_err();
        assert_refused(&e, "device \"o0\" does not exist");
    });
}

#[test]
fn bad_input_is_refused_and_nothing_changes() {
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("a0", "a1")).unwrap();
        let before = (
            sysctl("net.ipv4.ip_forward"),
            sysctl("net.ipv4.conf.a0.rp_filter"),
            sysctl("net.ipv6.conf.a0.accept_ra"),
        );
        let e = here.sysctl_set(&Sysctl::Ipv4Forward, 2).unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        assert_eq!(
            e.to_string(),
            "sysctl_set net.ipv4.ip_forward=2: invalid argument: net.ipv4.ip_forward takes 0..=1"
        );
        let e = here
            .sysctl_set(&Sysctl::RpFilter(SysctlConf::link("a0")), 3)
            .unwrap_err();
        assert!(e.to_string().contains("takes 0..=2"), "{e}");
        let e = here
            .sysctl_set(&Sysctl::AcceptRa(SysctlConf::link("a0")), 7)
            .unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        let e = here
            .sysctl_set(&Sysctl::RpFilter(SysctlConf::link("nosuch0")), 1)
            .unwrap_err();
        assert_refused(&e, "device \"nosuch0\" does not exist");
        let e = here
            .sysctl_get(&Sysctl::RpFilter(SysctlConf::link("nosuch0")))
            .unwrap_err();
        assert_refused(&e, "device \"nosuch0\" does not exist");
        for bad in [
            "../../../../etc/passwd",
            "..",
            "a/b",
            "",
            "all",
            "default",
            "x".repeat(16).as_str(),
        ] {
            for e in [
                here.sysctl_set(&Sysctl::ProxyArp(SysctlConf::link(bad)), 1)
                    .unwrap_err(),
                here.sysctl_get(&Sysctl::ProxyArp(SysctlConf::link(bad)))
                    .unwrap_err(),
            ] {
                assert!(e.is_invalid_argument(), "{bad:?}: {e}");
            }
        }
        let after = (
            sysctl("net.ipv4.ip_forward"),
            sysctl("net.ipv4.conf.a0.rp_filter"),
            sysctl("net.ipv6.conf.a0.accept_ra"),
        );
        assert_eq!(after, before);
    });
}

#[test]
fn any_per_interface_key_by_name_or_dotted_name() {
    in_private_netns(|| {
        let here = NetNs::current().unwrap();
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("t0", "t1")).unwrap();
        let link = || SysctlConf::link("t0");
        for (key, value, name) in [
            (Sysctl::ArpNotify(link()), 1, "net.ipv4.conf.t0.arp_notify"),
            (
                Sysctl::RouteLocalnet(link()),
                1,
                "net.ipv4.conf.t0.route_localnet",
            ),
            (Sysctl::AcceptDad(link()), 0, "net.ipv6.conf.t0.accept_dad"),
        ] {
            here.sysctl_set(&key, value).unwrap();
            assert_eq!(sysctl(name), value.to_string(), "{name}");
            assert_eq!(here.sysctl_get(&key).unwrap(), value);
            assert_eq!(name.parse::<Sysctl>().unwrap(), key);
        }
        // A key the library has no name for, as a tuning plugin gives it.
        let hop: Sysctl = "net.ipv6.conf.t0.hop_limit".parse().unwrap();
        here.sysctl_set_text(&hop, "42").unwrap();
        assert_eq!(sysctl("net.ipv6.conf.t0.hop_limit"), "42");
        assert_eq!(here.sysctl_get(&hop).unwrap(), 42);
        assert_eq!(here.sysctl_get_text(&hop).unwrap(), "42");
        // The kernel judges values of keys it alone knows.
        let e = here.sysctl_set_text(&hop, "999").unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        assert_eq!(sysctl("net.ipv6.conf.t0.hop_limit"), "42");
        // A key that does not exist, and text that cannot be a value.
        let none = Sysctl::Conf(IpFamily::V4, link(), "no_such_key".into());
        assert!(here.sysctl_get(&none).unwrap_err().is_not_found());
        let e = here.sysctl_set_text(&hop, "1\n2").unwrap_err();
        assert!(e.is_invalid_argument(), "{e}");
        assert_eq!(sysctl("net.ipv6.conf.t0.hop_limit"), "42");
    });
}

#[test]
fn many_at_once_in_another_namespace_each_with_its_outcome() {
    in_private_netns(|| {
        let other = NetNs::create().unwrap();
        let oh = other.handle().unwrap();
        oh.link_add(&LinkSpec::veth("b0", "b1")).unwrap();
        let here = NetNs::current().unwrap();
        assert!(here.is_current());
        assert!(!other.is_current());
        let out = other
            .sysctl_set_many(&[
                (Sysctl::ArpNotify(SysctlConf::link("b0")), "1"),
                (Sysctl::RpFilter(SysctlConf::link("nosuch0")), "1"),
                (Sysctl::AcceptDad(SysctlConf::link("b0")), "0"),
                (Sysctl::ProxyArp(SysctlConf::link("../x")), "1"),
                (Sysctl::ProxyArp(SysctlConf::link("b1")), "1\n2"),
            ])
            .unwrap();
        assert_eq!(out.len(), 5);
        assert!(out[0].is_ok() && out[2].is_ok(), "{out:?}");
        assert_refused(
            out[1].as_ref().unwrap_err(),
            "device \"nosuch0\" does not exist",
        );
        assert!(out[3].as_ref().unwrap_err().is_invalid_argument());
        assert!(out[4].as_ref().unwrap_err().is_invalid_argument());
        let read = |k: &str| other.sysctl_get(&k.parse().unwrap()).unwrap();
        assert_eq!(read("net.ipv4.conf.b0.arp_notify"), 1);
        assert_eq!(read("net.ipv6.conf.b0.accept_dad"), 0);
        assert_eq!(read("net.ipv4.conf.b1.proxy_arp"), 0);
        // The calling thread's namespace is untouched (b0 is not here).
        assert!(here
            .sysctl_get(&Sysctl::ArpNotify(SysctlConf::link("b0")))
            .is_err());
        // In the calling thread's own namespace, with `sysctl` as the oracle.
        let h = Handle::new().unwrap();
        h.link_add(&LinkSpec::veth("a0", "a1")).unwrap();
        let out = here
            .sysctl_set_many(&[(Sysctl::ArpNotify(SysctlConf::link("a0")), "1")])
            .unwrap();
        assert!(out[0].is_ok());
        assert_eq!(sysctl("net.ipv4.conf.a0.arp_notify"), "1");
    });
}
