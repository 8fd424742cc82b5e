//! ADD: the macvlan in the container's namespace under its final name, then
//! the addresses and routes from IPAM (the reference's `cmdAdd`).
//!
//! The link is made by one request carrying the container's namespace
//! (`IFLA_NET_NS_FD`): it never exists in the plugin's namespace. The
//! kernel looks a new link's name up in the requester's namespace, so when
//! the plugin's namespace has a link of that name (the master is `eth0`
//! and so is CNI_IFNAME) the request is refused; then the link is made the
//! reference's way, under a random name directly in the container and
//! renamed there. With `linkInContainer` the request goes through the
//! container's own socket.

use netns_cni::{CmdArgs, CniResult, Error, Interface};
use netns_core::{Handle, IpFamily, LinkChanges, LinkInfo, LinkSpec, NetNs, Sysctl, SysctlConf};
use netns_examples::plugin;

use crate::conf::{self, Net};

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

pub fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let n = conf::load(args)?;
    let mode = conf::mode(&n.conf.mode)?;
    let mac = n.container_mac()?;
    let cns = args.open_netns()?;
    let container = cns.handle()?;
    // A taken name fails before anything is made (the reference has made
    // its temporary link by then, and removes it).
    plugin::ensure_absent(&container, args.ifname.as_str(), || {
        fail(format!(
            "failed to rename macvlan to {:?}: file exists",
            args.ifname
        ))
    })?;
    let link = make_macvlan(args, &n, mode, mac, &cns, &container)?;
    match configure(args, &n, &cns, &container, &link) {
        Ok(r) => Ok(r),
        Err(e) => {
            let _ = container.link_del(link.index);
            Err(e)
        }
    }
}

fn make_macvlan(
    args: &CmdArgs,
    n: &Net,
    mode: netns_core::MacVlanMode,
    mac: Option<netns_core::MacAddr>,
    cns: &NetNs,
    container: &Handle,
) -> Result<LinkInfo, Error> {
    let spec = |name: &str| {
        let mut s = LinkSpec::macvlan(name, n.master_index, mode);
        if let Some(m) = n.mtu {
            s = s.mtu(m);
        }
        if let Some(m) = mac {
            s = s.mac(m);
        }
        s
    };
    let created = |e: netns_core::Error| fail(format!("failed to create macvlan: {e}"));
    let ifname = args.ifname.as_str();
    if n.conf.link_in_container {
        container.link_add(&spec(ifname)).map_err(created)?;
    } else {
        let host = Handle::new()?;
        match host.link_add(&spec(ifname).netns(cns)) {
            Ok(()) => {}
            Err(e) if e.is_exists() => {
                // The name is taken here, not there: a random one there,
                // then renamed.
                let tmp = random_name()?;
                host.link_add(&spec(&tmp).netns(cns)).map_err(created)?;
                container
                    .link_set(
                        tmp.as_str(),
                        &LinkChanges {
                            name: Some(ifname.to_string()),
                            ..Default::default()
                        },
                    )
                    .map_err(|e| {
                        let _ = container.link_del(tmp.as_str());
                        fail(format!("failed to rename macvlan to {ifname:?}: {e}"))
                    })?;
            }
            Err(e) => return Err(created(e)),
        }
    }
    container
        .link_get(ifname)
        .map_err(|e| fail(format!("failed to refetch macvlan {ifname:?}: {e}")))
}

/// `vethXXXXXXXX`, as the reference's temporary name.
fn random_name() -> Result<String, Error> {
    let mut b = [0u8; 4];
    getrandom(&mut b)?;
    Ok(format!(
        "veth{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3]
    ))
}

fn getrandom(buf: &mut [u8]) -> Result<(), Error> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| fail(format!("failed to generate random name: {e}")))
}

fn configure(
    args: &CmdArgs,
    n: &Net,
    cns: &NetNs,
    container: &Handle,
    link: &LinkInfo,
) -> Result<CniResult, Error> {
    let mut result = CniResult::new();
    result.interfaces = vec![Interface {
        name: args.ifname.clone(),
        mac: link.mac.map(|m| m.to_string()),
        sandbox: Some(args.netns.clone()),
        ..Default::default()
    }];
    if n.layer3 {
        let ipam = netns_cni::ipam::add(args)?;
        let r = configure_l3(args, cns, container, link, ipam, &mut result);
        if r.is_err() {
            let _ = netns_cni::ipam::del(args);
        }
        r?;
    } else {
        container
            .link_set_up(link.index)
            .map_err(|e| fail(format!("failed to set {:?} UP: {e}", args.ifname)))?;
    }
    result.dns = args.conf.dns.clone();
    Ok(result)
}

fn configure_l3(
    args: &CmdArgs,
    cns: &NetNs,
    container: &Handle,
    link: &LinkInfo,
    ipam: CniResult,
    result: &mut CniResult,
) -> Result<(), Error> {
    if ipam.ips.is_empty() {
        return Err(fail("IPAM plugin returned missing IP config"));
    }
    result.ips = ipam.ips;
    result.routes = ipam.routes;
    for ip in &mut result.ips {
        ip.interface = Some(0);
    }
    // Gratuitous ARP / unsolicited NA on changes, best effort.
    let l = || SysctlConf::link(args.ifname.as_str());
    let _ = cns.sysctl_set_many(&[
        (Sysctl::ArpNotify(l()), "1"),
        (Sysctl::Conf(IpFamily::V6, l(), "ndisc_notify".into()), "1"),
    ]);
    plugin::configure_iface(container, &args.ifname, link.index, result, "netns-macvlan")
}
