//! netns-bridge's `ipMasq` and `macspoofchk`, driven by libcni 1.1.2
//! through the project's driver (the plugins' host side in a private
//! namespace): a masqueraded pod reaches an `outside` namespace that has no
//! route back to the pod subnet, and is seen there as the host; forged
//! source MACs never reach a neighbour pod, genuine frames do; DEL (twice,
//! without a netns, with a gone one), a failed ADD (IPAM exhausted, a
//! fault after everything was made) and GC leave the nftables ruleset as
//! it was, compared whole (`nft -j list ruleset`); CHECK finds a missing
//! masquerade or spoof check; a bad `ipMasqBackend` is the reference's
//! error with nothing written. Runs on the host and in the VM tier (the
//! comparison with the reference plugin is in bridge_nat_diff.rs).

mod cni_common;
mod frames_common;

use std::net::IpAddr;

use cni_common::*;
use frames_common::*;
use netns_core::{MacSpoofCheck, MacSpoofEntry, Nat, NatEntry, NatKind, NatOwner, NetNs};
use netns_testutil::nft::ruleset;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

fn conflist(data: &TempDir, extra: Value, version: &str) -> Value {
    let mut p = json!({"type": "netns-bridge", "bridge": "cni-t0", "isDefaultGateway": true,
        "ipam": {"type": "host-local", "subnet": "10.77.0.0/24", "dataDir": data.s()}});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({"cniVersion": version, "name": "t", "plugins": [p]})
}

/// The NAT layer's entries in this namespace.
fn nat_entries() -> Vec<NatEntry> {
    Nat::new().expect("nat").list().expect("list")
}

/// The MAC spoof check's entries in this namespace.
fn spoof_entries() -> Vec<MacSpoofEntry> {
    MacSpoofCheck::new().expect("sc").list().expect("list")
}

#[test]
fn ip_masq_pod_reaches_outside_as_the_host_and_del_restores_the_ruleset() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let out = outside_pod();
        let data = TempDir::new("ipam");
        let net = Network::new(
            conflist(&data, json!({"ipMasq": true}), "1.0.0"),
            our_path(),
        );
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        net.check(&pod, "c1", "eth0").expect_ok();
        assert_eq!(
            seen_from_outside(&pod, &out),
            "192.168.99.1".parse::<IpAddr>().expect("ip")
        );
        let entries = nat_entries();
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].owner, "t c1 eth0");
        assert_eq!(
            entries[0].keys,
            [format!("masq4 10.77.0.2 : jump {}", entries[0].chain)]
        );
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(
            ruleset(),
            before,
            "DEL removes the masquerade and its table"
        );
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(ruleset(), before, "DEL twice");
    });
}

#[test]
fn both_backends_are_accepted_and_a_bad_one_is_the_references_error_with_nothing_written() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        let extra = json!({"ipMasq": true, "ipMasqBackend": "bogus"});
        let net = Network::new(conflist(&data, extra, "1.0.0"), our_path());
        let pod = Pod::new("p1");
        let host = Snapshot::here().as_value();
        let o = net.add(&pod, "c1", "eth0");
        assert_eq!(o.expect_code(), 999);
        assert_eq!(o.msg(), "unknown ipmasq backend \"bogus\"");
        assert_eq!(ruleset(), before);
        assert_eq!(Snapshot::here().as_value(), host, "no bridge, no veth");
        assert_eq!(pod.ifnames(), ["lo"]);
        assert!(
            ipam_files(&data, "t").is_empty(),
            "{:?}",
            ipam_files(&data, "t")
        );
        for backend in ["iptables", "nftables"] {
            let data = TempDir::new("ipam");
            let extra = json!({"ipMasq": true, "ipMasqBackend": backend});
            let net = Network::new(conflist(&data, extra, "1.0.0"), our_path());
            let pod = Pod::new("p1");
            net.add(&pod, "c1", "eth0").expect_ok();
            assert_eq!(nat_entries().len(), 1);
            net.del(&pod, "c1", "eth0").expect_ok();
            assert_eq!(ruleset(), before, "{backend}");
        }
        // As the reference, the backend is looked at only with ipMasq.
        let extra = json!({"ipMasqBackend": "bogus"});
        let net = Network::new(conflist(&data, extra, "1.0.0"), our_path());
        net.add(&pod, "c1", "eth0").expect_ok();
        assert_eq!(ruleset(), before);
        net.del(&pod, "c1", "eth0").expect_ok();
    });
}

#[test]
fn del_without_a_netns_or_with_a_gone_one_removes_everything() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        let extra = json!({"ipMasq": true, "macspoofchk": true});
        let net = Network::new(conflist(&data, extra, "1.0.0"), our_path());
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        assert_eq!(spoof_entries().len(), 2);
        // An empty CNI_NETNS.
        net.run(&Call::on("del", &p1, "c1", "eth0").no_netns())
            .expect_ok();
        // A netns that is gone (the reference leaks its masquerade here:
        // containernetworking/plugins#810).
        net.run(&Call::on("del", &p2, "c2", "eth0").netns(p2.path().with_file_name("gone")))
            .expect_ok();
        let left_sc = spoof_entries();
        let left_nat = nat_entries();
        assert!(
            left_sc.is_empty() && left_nat.is_empty(),
            "{left_sc:?} {left_nat:?}"
        );
        assert_eq!(ruleset(), before);
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

/// A plugin directory holding a `netns-bridge` that runs ours with
/// `NETNS_TEST_FAIL_AT=end` (ADD fails after it made everything).
fn failing_wrapper() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("br-fail");
    let script = dir.path().join("netns-bridge");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nNETNS_TEST_FAIL_AT=end exec '{}' \"$@\"\n",
            our_plugin("netns-bridge").display()
        ),
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

#[test]
fn failed_adds_leave_nothing() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        // One address for pods: 10.77.0.2 (.1 is the gateway, .3 broadcast).
        let mut conf = conflist(&data, json!({"ipMasq": true, "macspoofchk": true}), "1.0.0");
        conf["plugins"][0]["ipam"]["subnet"] = json!("10.77.0.0/30");
        let net = Network::new(&conf, our_path());
        let (p1, p2, p3) = (Pod::new("p1"), Pod::new("p2"), Pod::new("p3"));
        net.add(&p1, "c1", "eth0").expect_ok();
        let with_p1 = ruleset();
        assert_ne!(with_p1, before);
        // IPAM exhausted.
        let o = net.add(&p2, "c2", "eth0");
        assert!(!o.ok(), "{o:?}");
        assert_eq!(ruleset(), with_p1, "{}", o.msg());
        assert_eq!(p2.ifnames(), ["lo"]);
        // A failure after the masquerade and the spoof check were made.
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(ruleset(), before);
        let wrapper = failing_wrapper();
        let mut paths = vec![wrapper.path().to_path_buf()];
        paths.extend(our_path());
        let failing = Network::new(&conf, paths);
        let o = failing.add(&p3, "c3", "eth0");
        assert_eq!(o.expect_code(), 999);
        assert!(o.msg().contains("failing as asked"), "{}", o.msg());
        assert_eq!(ruleset(), before, "a failed ADD removes what it made");
        assert_eq!(p3.ifnames(), ["lo"]);
        assert_eq!(ipam_files(&data, "t"), ["last_reserved_ip.0", "lock"]);
    });
}

#[test]
fn check_finds_a_missing_masquerade_or_spoof_check() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        let extra = json!({"ipMasq": true, "macspoofchk": true});
        let net = Network::new(conflist(&data, extra, "1.0.0"), our_path());
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        net.check(&pod, "c1", "eth0").expect_ok();
        let owner = NatOwner::new("t", "c1", "eth0");
        assert!(MacSpoofCheck::new()
            .expect("sc")
            .remove(&owner)
            .expect("remove"));
        let o = net.check(&pod, "c1", "eth0");
        assert_eq!(o.expect_code(), 999);
        assert!(o.msg().starts_with("macspoofchk: "), "{}", o.msg());
        net.del(&pod, "c1", "eth0").expect_ok();
        net.add(&pod, "c1", "eth0").expect_ok();
        assert!(Nat::new()
            .expect("nat")
            .remove(&owner, NatKind::Masquerade)
            .expect("remove"));
        let o = net.check(&pod, "c1", "eth0");
        assert_eq!(o.expect_code(), 999);
        assert!(o.msg().starts_with("ipMasq: "), "{}", o.msg());
        net.del(&pod, "c1", "eth0").expect_ok();
        assert_eq!(ruleset(), before);
    });
}

#[test]
fn gc_removes_the_masquerade_and_spoof_check_of_attachments_not_valid() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        let extra = json!({"ipMasq": true, "macspoofchk": true});
        let net = Network::new(conflist(&data, extra.clone(), "1.0.0"), our_path());
        let net11 =
            Network::with_cache_dir(conflist(&data, extra, "1.1.0"), our_path(), net.cache_dir());
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        std::fs::remove_file(net.cache_dir().join("results").join("t-c2-eth0"))
            .expect("drop c2 from libcni's cache");
        net11.gc(&[("c1", "eth0")]).expect_ok();
        let nat: Vec<String> = nat_entries().into_iter().map(|e| e.owner).collect();
        let sc: Vec<String> = spoof_entries().into_iter().map(|e| e.owner).collect();
        assert_eq!(nat, ["t c1 eth0"]);
        assert_eq!(sc, ["t c1 eth0"]);
        net.del(&p1, "c1", "eth0").expect_ok();
        assert_eq!(ruleset(), before);
    });
}

#[test]
fn macspoofchk_drops_forged_source_macs_and_passes_genuine_frames() {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let data = TempDir::new("ipam");
        let net = Network::new(
            conflist(&data, json!({"macspoofchk": true}), "1.0.0"),
            our_path(),
        );
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        let add = net.add(&p1, "c1", "eth0").expect_ok().result().clone();
        net.add(&p2, "c2", "eth0").expect_ok();
        net.check(&p1, "c1", "eth0").expect_ok();
        let genuine = mac_of(p1.path(), "eth0");
        let pod_mac = add["interfaces"][2]["mac"].as_str().expect("the pod's MAC");
        assert_eq!(
            pod_mac.parse::<netns_core::MacAddr>().expect("MAC").0,
            genuine
        );
        let forged = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
        let at_p2 = packet_socket(p2.path(), "eth0");
        send_frames(
            p1.path(),
            "eth0",
            &[(forged, 1), (genuine, 2), (forged, 3), (genuine, 4)],
        );
        assert_eq!(receive_until(&at_p2, 4), [(genuine, 2), (genuine, 4)]);
        // The pod changes its MAC (`ip link set address` inside it): what
        // it sends is dropped.
        let changed = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
        NetNs::open(p1.path())
            .expect("p1")
            .handle()
            .expect("handle")
            .link_set_mac("eth0", netns_core::MacAddr(changed))
            .expect("new MAC");
        send_frames(p1.path(), "eth0", &[(changed, 5), (genuine, 6)]);
        assert_eq!(receive_until(&at_p2, 6), [(genuine, 6)]);
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
        assert_eq!(ruleset(), before);
    });
}
