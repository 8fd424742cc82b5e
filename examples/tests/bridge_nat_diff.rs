//! netns-bridge's `ipMasq` and `macspoofchk` against the reference bridge
//! plugin (/usr/lib/cni/bridge, containernetworking-plugins 1.1.1, which
//! execs iptables for `ipMasq` and writes `bridge nat` through nft for
//! `macspoofchk`), both driven by libcni 1.1.2 with the same conflist but
//! for `"type"`: the outside server sees the host's address for both; a
//! forged source MAC is dropped by both and genuine frames pass; ours
//! leaves the ruleset as before after DEL, also with a gone netns, where
//! the reference leaks its masquerade (plugins#810).

netns_testutil::host_only!(
    "needs go, iptables and the reference plugins, which the VM image lacks"
);

mod cni_common;
mod frames_common;

use std::net::IpAddr;

use cni_common::*;
use frames_common::*;
use netns_testutil::nft::ruleset;
use netns_testutil::{in_private_netns, ip};
use serde_json::{json, Value};

fn conflist(ty: &str, data: &TempDir, extra: Value) -> Value {
    let mut p = json!({"type": ty, "bridge": "cni-t0", "isDefaultGateway": true,
        "ipam": {"type": "host-local", "subnet": "10.77.0.0/24", "dataDir": data.s()}});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({"cniVersion": "1.0.0", "name": "t", "plugins": [p]})
}

fn paths(ty: &str) -> Vec<std::path::PathBuf> {
    if ty == "bridge" {
        reference_path()
    } else {
        our_path()
    }
}

/// What `ty` does with ipMasq: the address the outside sees, and whether
/// the ruleset is as before after DEL of a pod whose netns is gone.
fn masquerade(ty: &str) -> (IpAddr, bool) {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let before = ruleset();
        let out = outside_pod();
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(ty, &data, json!({"ipMasq": true})), paths(ty));
        let pod = Pod::new("p1");
        net.add(&pod, "c1", "eth0").expect_ok();
        let seen = seen_from_outside(&pod, &out);
        net.run(&Call::on("del", &pod, "c1", "eth0").netns(pod.path().with_file_name("gone")))
            .expect_ok();
        let clean = ruleset() == before;
        net.del(&pod, "c1", "eth0").expect_ok();
        (seen, clean)
    })
}

#[test]
fn ip_masq_the_outside_sees_the_host_for_both_and_only_ours_cleans_up_a_gone_netns() {
    let host: IpAddr = "192.168.99.1".parse().expect("ip");
    let (r_seen, r_clean) = masquerade("bridge");
    let (o_seen, o_clean) = masquerade("netns-bridge");
    assert_eq!(r_seen, host, "reference");
    assert_eq!(o_seen, host, "ours");
    assert!(o_clean, "ours leaves nothing");
    // The reference's leak (plugins#810): if this starts failing, the
    // reference was fixed and the note in netns-bridge's docs should go.
    assert!(
        !r_clean,
        "the reference leaks its masquerade with a gone netns"
    );
}

/// What a neighbour pod receives of forged (tags 1, 3) and genuine (2, 4)
/// frames under `ty`'s macspoofchk.
fn spoof(ty: &str) -> Vec<u8> {
    in_private_netns(|| {
        ip(["link", "set", "lo", "up"]);
        let data = TempDir::new("ipam");
        let net = Network::new(conflist(ty, &data, json!({"macspoofchk": true})), paths(ty));
        let (p1, p2) = (Pod::new("p1"), Pod::new("p2"));
        net.add(&p1, "c1", "eth0").expect_ok();
        net.add(&p2, "c2", "eth0").expect_ok();
        let genuine = mac_of(p1.path(), "eth0");
        let forged = [0x02, 0xde, 0xad, 0xbe, 0xef, 0x01];
        let at_p2 = packet_socket(p2.path(), "eth0");
        send_frames(
            p1.path(),
            "eth0",
            &[(forged, 1), (genuine, 2), (forged, 3), (genuine, 4)],
        );
        let got = receive_until(&at_p2, 4);
        assert!(got.iter().all(|(m, _)| *m == genuine || *m == forged));
        net.del(&p1, "c1", "eth0").expect_ok();
        net.del(&p2, "c2", "eth0").expect_ok();
        got.into_iter().map(|(_, t)| t).collect()
    })
}

#[test]
fn macspoofchk_forged_dropped_genuine_passes_as_with_the_reference() {
    let reference = spoof("bridge");
    let ours = spoof("netns-bridge");
    assert_eq!(reference, [2, 4]);
    assert_eq!(ours, reference);
}

/// `strace -f -e trace=execve,execveat` of netns-bridge's ADD and DEL with
/// `ipMasq` and `macspoofchk`: it executes nothing but itself (the
/// reference execs iptables for `ipMasq`).
#[test]
fn under_strace_ours_execs_nothing_with_ip_masq_and_macspoofchk() {
    let real = our_plugin("netns-bridge");
    let logs = TempDir::new("br-strace-logs");
    let (add_log, del_log) = (logs.path().join("add"), logs.path().join("del"));
    in_private_netns(|| {
        let data = TempDir::new("ipam");
        let pod = Pod::new("p");
        for (cmd, log) in [("add", &add_log), ("del", &del_log)] {
            let wrapper = straced("netns-bridge", &real, log);
            let mut path = vec![wrapper.path().to_path_buf()];
            path.extend(our_path());
            let extra = json!({"ipMasq": true, "macspoofchk": true});
            let net = Network::new(conflist("netns-bridge", &data, extra), path);
            net.run(&Call::on(cmd, &pod, "c1", "eth0")).expect_ok();
        }
    });
    let me = real.to_string_lossy().into_owned();
    for (cmd, log) in [("ADD", &add_log), ("DEL", &del_log)] {
        assert_eq!(
            execs(log),
            vec![me.clone()],
            "netns-bridge {cmd} executed something"
        );
    }
}
