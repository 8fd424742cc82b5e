//! Arbitrary bytes as the untrusted input of every plugin of examples/,
//! through netns-cni's skeleton: `COMMAND \0 CNI_ARGS \0 STDIN` (missing
//! parts empty; the input format of cni_protocol, so seeds carry over).
//! Each verb runs every plugin's config parsing that comes before the
//! kernel: netns-bridge's `load` (VLANs, trunk, MTU, MAC from three
//! sources, the masquerade backend), netns-macvlan's, netns-vlan's and
//! netns-ipvlan's `parse`, netns-portmap's `load` and DEL's UDP ports
//! (then, with the prevResult, the container addresses, the forwards and
//! the hairpin it would install), make-net's `parse`, and the IPAM configs
//! of netns-host-local and netns-cluster-ipam (host-local's keys and
//! CNI_ARGS, the etcd block, GC's valid attachments). The plugins' own
//! files are compiled here unchanged (`#[path]`, as examples/tests/*_conf.rs
//! do). What a parser accepts must hold what it promises (VLAN ids in
//! range, trunks sorted and unique, interface names the kernel takes,
//! forwards to an address of their family). Run:
//! `cargo fuzz run plugin_config` (from fuzz/); replayed by
//! examples/tests/fuzz_seeds.rs.
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_core::IpNet;

#[allow(dead_code)]
#[path = "../../examples/netns-bridge/conf.rs"]
mod bridge;
#[allow(dead_code)]
#[path = "../../examples/netns-ipvlan/conf.rs"]
mod ipvlan;
#[allow(dead_code)]
#[path = "../../examples/netns-macvlan/conf.rs"]
mod macvlan;
#[allow(dead_code)]
#[path = "../../examples/make-net/conf.rs"]
mod make_net;
#[allow(dead_code)]
#[path = "../../examples/netns-portmap/conf.rs"]
mod portmap;
#[allow(dead_code)]
#[path = "../../examples/netns-vlan/conf.rs"]
mod vlan;

struct All;

impl Plugin for All {
    fn about(&self) -> String {
        "fuzz".into()
    }
    fn uses_netns(&self) -> bool {
        false
    }
    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        parse_all(args);
        Ok(args.prev_result()?.unwrap_or_default())
    }
    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        parse_all(args);
        Ok(())
    }
    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        parse_all(args);
        Ok(())
    }
    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        parse_all(args);
        Ok(())
    }
}

fn parse_all(args: &CmdArgs) {
    if let Ok(net) = bridge::load(args) {
        assert!(net.vlan <= 4094, "vlan {}", net.vlan);
        assert!(
            net.trunk.windows(2).all(|w| w[0] < w[1]),
            "trunk {:?}",
            net.trunk
        );
        assert!(net.trunk.iter().all(|v| (1..=4094).contains(v)));
        assert_eq!(
            net.vlan_filtering,
            net.vlan != 0 || net.conf.vlan_trunk.is_some()
        );
        let _ = net.check_backend();
        let _ = net.container_mac();
    }
    let _ = macvlan::parse(args);
    if let Ok(conf) = vlan::parse(args) {
        assert!((1..=4094).contains(&conf.vlan_id));
    }
    if let Ok(conf) = ipvlan::parse(args) {
        assert!(ipvlan::mode(&conf.mode).is_ok());
    }
    portmap_all(args);
    if let Ok(net) = make_net::parse(args) {
        assert!(netns_cni::validate_ifname(&net.if_name).is_ok(), "{net:?}");
        if net.peer == make_net::Peer::Host || !net.peer_name.is_empty() {
            assert!(
                netns_cni::validate_ifname(&net.peer_name).is_ok(),
                "{net:?}"
            );
        }
        assert!(!net.netid.is_empty());
        assert!(net.mtu.is_none_or(|m| (68..=65535).contains(&m)));
        let _ = make_net::derived_peer_name(&net.netid);
    }
    // netns-host-local and netns-cluster-ipam.
    let _ = netns_ipam::json::parse_ipam_config(&args.stdin, &args.args);
    let _ = netns_ipam::json::parse_etcd_config(&args.stdin);
    let _ = netns_ipam::json::parse_valid_attachments(&args.stdin);
}

fn portmap_all(args: &CmdArgs) {
    let _ = portmap::udp_ports_for_del(args);
    let Ok(conf) = portmap::load(args) else {
        return;
    };
    for (i, a) in conf.mappings.iter().enumerate() {
        assert!(a.host_port > 0 && a.container_port > 0);
        if let Some(ip) = a.host_ip {
            assert!(!ip.is_unspecified());
            assert_eq!(a.family_v6, Some(ip.is_ipv6()));
        }
        assert!(
            !conf.mappings[..i].iter().any(|b| a.proto == b.proto
                && a.host_port == b.host_port
                && a.host_ip == b.host_ip
                && a.family_v6 == b.family_v6),
            "host port {} mapped twice",
            a.host_port
        );
    }
    let Ok(Some(prev)) = args.prev_result() else {
        return;
    };
    let (v4, v6) = portmap::container_ips(&prev, &args.ifname);
    assert!(v4.is_none_or(|n| matches!(n, IpNet::V4(_))));
    assert!(v6.is_none_or(|n| matches!(n, IpNet::V6(_))));
    if let Ok(fwds) = portmap::forwards(&conf, v4, v6, &args.ifname) {
        for f in &fwds {
            if let Some(h) = f.host_ip {
                assert_eq!(h.is_ipv6(), f.to.is_ipv6(), "{f:?}");
            }
            assert!(
                Some(f.to) == v4.map(|n| n.addr()) || Some(f.to) == v6.map(|n| n.addr()),
                "{f:?}"
            );
        }
    }
    let _ = portmap::hairpin(&conf, v4, v6);
}

/// One input. Panics on a finding.
pub fn run(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0);
    let command = parts.next().unwrap_or_default().to_vec();
    let cni_args = parts.next().unwrap_or_default().to_vec();
    let stdin = parts.next().unwrap_or_default().to_vec();
    let get = |k: &str| -> Option<OsString> {
        match k {
            "CNI_COMMAND" => Some(OsString::from_vec(command.clone())),
            "CNI_ARGS" => Some(OsString::from_vec(cni_args.clone())),
            "CNI_CONTAINERID" => Some("c1".into()),
            "CNI_NETNS" => Some("/nonexistent".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/nonexistent".into()),
            _ => None,
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = netns_cni::run_with(&All, &get, &mut &stdin[..], &mut out, &mut err);
    assert!(rc == 0 || rc == 1, "exit status {rc}");
    // A panic in a parser is caught by the skeleton and reported as code
    // 999 "plugin panicked": a finding here.
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("plugin panicked"), "{text}");
}
