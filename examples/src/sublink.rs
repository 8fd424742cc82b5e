//! What the plugins that give a container a sub-interface of a master
//! link share (`netns-macvlan`, `netns-vlan`, `netns-ipvlan`, as the
//! reference `macvlan`, `vlan` and `ipvlan` plugins share their shape):
//! finding the master (named, or the interface of the default route; in
//! the plugin's namespace, or in the container's with `linkInContainer`),
//! the MTU bound, making the link in the container under its final name,
//! the container side once IPAM answered, CHECK's opening and its link
//! checks, and DEL.
//!
//! Messages are the reference plugins' (`kind` is the plugin's link kind
//! as it names it: `macvlan`, `vlan`, `ipvlan`).

use netns_cni::error::gone_is_ok;
use netns_cni::{CmdArgs, CniResult, Error, Interface};
use netns_core::{
    Handle, IpFamily, LinkChanges, LinkInfo, LinkSpec, NetNs, RouteFilter, Sysctl, SysctlConf,
};

use crate::plugin;

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// Where the master lives: the plugin's namespace, or the container's
/// (`linkInContainer`).
pub fn master_handle(args: &CmdArgs, in_container: bool) -> Result<Handle, Error> {
    if in_container {
        Ok(args.open_netns()?.handle()?)
    } else {
        Ok(Handle::new()?)
    }
}

/// `getDefaultRouteInterfaceName`: the interface of the first route of the
/// main table without a destination (IPv4 first, then IPv6).
pub fn default_route_iface(h: &Handle) -> Result<String, Error> {
    for f in [IpFamily::V4, IpFamily::V6] {
        let routes = h.routes(&RouteFilter::new().family(f).table(254))?;
        for r in routes {
            if r.dst.prefix_len() == 0 {
                if let Some(i) = r
                    .link_index
                    .or_else(|| r.nexthops.iter().find_map(|n| n.link_index))
                {
                    return Ok(h.link_get(i)?.name);
                }
            }
        }
    }
    Err(fail("no default route interface found"))
}

/// The master `name` in `h`'s namespace; a missing one is netlink's own
/// `Link not found`, as the reference reports it.
pub fn master_link(h: &Handle, name: &str) -> Result<LinkInfo, Error> {
    h.link_get(name).map_err(|e| {
        if e.is_not_found() {
            fail("Link not found")
        } else {
            Error::from(e)
        }
    })
}

/// The configured `mtu` within `[0, master's]`: `None` for 0 (the kernel
/// gives the master's).
pub fn mtu_within(mtu: i64, master: &LinkInfo) -> Result<Option<u32>, Error> {
    if mtu < 0 || mtu > i64::from(master.mtu) {
        return Err(fail(format!(
            "invalid MTU {mtu}, must be [0, master MTU({})]",
            master.mtu
        )));
    }
    Ok(u32::try_from(mtu).ok().filter(|m| *m != 0))
}

/// Make the link `spec(name)` in the container's namespace under
/// CNI_IFNAME, in one request that carries the namespace
/// (`IFLA_NET_NS_FD`): it never exists in the plugin's namespace. A name
/// taken in the container fails first (the reference has made its link
/// by then). The kernel looks a new link's name up in the requester's
/// namespace too, so when the plugin's namespace has a link of that name
/// (the master is `eth0` and so is CNI_IFNAME) the request is refused;
/// then the link is made under a temporary name in the container and
/// renamed there. The temporary name is [`temporary_name`] of (container
/// ID, CNI_IFNAME), not a random one (the reference's): a plugin killed
/// between the two steps leaves a link DEL finds and removes, and a
/// repeated ADD removes first (a random name is leaked for good). Only if
/// the plugin's namespace holds that name too is a random one used. With `in_container` (the master is in
/// the container) the container's own socket makes it. Returns the link
/// as the container sees it.
pub fn create(
    args: &CmdArgs,
    kind: &str,
    in_container: bool,
    cns: &NetNs,
    container: &Handle,
    spec: &dyn Fn(&str) -> LinkSpec<'static>,
) -> Result<LinkInfo, Error> {
    let ifname = args.ifname.as_str();
    plugin::ensure_absent(container, ifname, || {
        fail(format!(
            "failed to rename {kind} to {ifname:?}: file exists"
        ))
    })?;
    let created = |e: netns_core::Error| fail(format!("failed to create {kind}: {e}"));
    if in_container {
        container.link_add(&spec(ifname)).map_err(created)?;
    } else {
        let host = Handle::new()?;
        match host.link_add(&spec(ifname).netns(cns)) {
            Ok(()) => {}
            // The name is taken here (not the kernel refusing a second
            // link of the kind, e.g. a VLAN id the master already has).
            Err(e) if e.is_exists() && host.link_get(ifname).is_ok() => {
                let mut tmp = temporary_name(args);
                // A killed ADD's, left in the container.
                let _ = container.link_del(tmp.as_str());
                if host.link_get(tmp.as_str()).is_ok() {
                    tmp = random_name()?;
                }
                host.link_add(&spec(&tmp).netns(cns)).map_err(created)?;
                crate::fault::point("temporary-link");
                let rename = LinkChanges {
                    name: Some(ifname.to_string()),
                    ..Default::default()
                };
                container.link_set(tmp.as_str(), &rename).map_err(|e| {
                    let _ = container.link_del(tmp.as_str());
                    fail(format!("failed to rename {kind} to {ifname:?}: {e}"))
                })?;
            }
            Err(e) => return Err(created(e)),
        }
    }
    crate::fault::point("link");
    container
        .link_get(ifname)
        .map_err(|e| fail(format!("failed to refetch {kind} {ifname:?}: {e}")))
}

/// ADD of a sub-interface plugin whose config is loaded: the link
/// `spec(name)` made in the container under CNI_IFNAME ([`create`]), then
/// [`finish_add`] with `from` (`notify`: `arp_notify`/`ndisc_notify`).
/// `kind` names the link in messages; the DAD warning's prefix is
/// `netns-<kind>`.
pub fn add(
    args: &CmdArgs,
    kind: &str,
    in_container: bool,
    spec: &dyn Fn(&str) -> LinkSpec<'static>,
    from: Addresses,
    notify: bool,
) -> Result<CniResult, Error> {
    let cns = args.open_netns()?;
    let container = cns.handle()?;
    let link = create(args, kind, in_container, &cns, &container, spec)?;
    let prog = format!("netns-{kind}");
    finish_add(args, &cns, &container, &link, from, notify, &prog)
}

/// The temporary name of (container ID, CNI_IFNAME)'s link in the
/// container: `cnitmp` and 8 hex digits of their FNV-1a hash (14
/// characters, within IFNAMSIZ).
pub fn temporary_name(args: &CmdArgs) -> String {
    let bytes = args
        .container_id
        .bytes()
        .chain(std::iter::once(0))
        .chain(args.ifname.bytes());
    let h = bytes.fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("cnitmp{h:08x}")
}

/// `vethXXXXXXXX`, as the reference's temporary name.
fn random_name() -> Result<String, Error> {
    use std::io::Read;
    let mut b = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| fail(format!("failed to generate random name: {e}")))?;
    Ok(format!(
        "veth{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3]
    ))
}

/// Where the container's addresses come from.
#[derive(Debug)]
pub enum Addresses {
    /// None: the interface is only brought up (layer 2).
    None,
    /// The configured IPAM plugin's (released again if ADD fails later).
    Ipam,
    /// A previous plugin's result (ipvlan chained after another plugin).
    Given(CniResult),
}

impl Addresses {
    /// IPAM's when the config has IPAM (`ipam.type` set), else none.
    pub fn ipam_if_configured(args: &CmdArgs) -> Addresses {
        if args.conf.ipam.plugin_type.is_empty() {
            Addresses::None
        } else {
            Addresses::Ipam
        }
    }
}

/// The rest of ADD once the link is made: the result (the container
/// interface with its real MAC and sandbox), the addresses from `from`
/// configured on it (`ipam.ConfigureIface`; with `notify`, after
/// `arp_notify` and `ndisc_notify`, best effort, as the reference macvlan
/// and ipvlan plugins do and vlan does not), or the link brought up when
/// there are none. Fails with nothing left behind: the link is removed and IPAM's
/// reservation released. `prog` prefixes the DAD warning.
pub fn finish_add(
    args: &CmdArgs,
    cns: &NetNs,
    container: &Handle,
    link: &LinkInfo,
    from: Addresses,
    notify: bool,
    prog: &str,
) -> Result<CniResult, Error> {
    let r = finish(args, cns, container, link, &from, notify, prog);
    if r.is_err() {
        if matches!(from, Addresses::Ipam) {
            let _ = netns_cni::ipam::del(args);
        }
        let _ = container.link_del(link.index);
    }
    r
}

fn finish(
    args: &CmdArgs,
    cns: &NetNs,
    container: &Handle,
    link: &LinkInfo,
    from: &Addresses,
    notify: bool,
    prog: &str,
) -> Result<CniResult, Error> {
    let mut result = match from {
        Addresses::None => {
            container
                .link_set_up(link.index)
                .map_err(|e| fail(format!("failed to set {:?} UP: {e}", args.ifname)))?;
            crate::fault::point("link-up");
            CniResult::new()
        }
        Addresses::Ipam => {
            let r = netns_cni::ipam::add(args)?;
            crate::fault::point("ipam");
            r
        }
        Addresses::Given(r) => r.clone(),
    };
    result.interfaces = vec![Interface {
        name: args.ifname.clone(),
        mac: link.mac.map(|m| m.to_string()),
        sandbox: Some(args.netns.clone()),
        ..Default::default()
    }];
    if !matches!(from, Addresses::None) {
        if result.ips.is_empty() {
            return Err(fail("IPAM plugin returned missing IP config"));
        }
        for ip in &mut result.ips {
            ip.interface = Some(0);
        }
        if notify {
            // Gratuitous ARP / unsolicited NA on changes, best effort.
            let l = || SysctlConf::link(args.ifname.as_str());
            let _ = cns.sysctl_set_many(&[
                (Sysctl::ArpNotify(l()), "1"),
                (Sysctl::Conf(IpFamily::V6, l(), "ndisc_notify".into()), "1"),
            ]);
            crate::fault::point("sysctls");
        }
        plugin::configure_iface(container, &args.ifname, link.index, &result, prog)?;
    }
    result.dns = args.conf.dns.clone();
    Ok(result)
}

/// CHECK's opening: prevResult (`missing` when there is none) and its
/// interface named CNI_IFNAME in CNI_NETNS, which must be there.
pub fn prev_interface(args: &CmdArgs, missing: &str) -> Result<(CniResult, Interface), Error> {
    let Some(result) = args.prev_result()? else {
        return Err(fail(missing));
    };
    let want = result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox.as_deref() == Some(args.netns.as_str()))
        .cloned()
        .unwrap_or_default();
    if want.sandbox.as_deref() != Some(args.netns.as_str()) {
        return Err(fail(format!(
            "Sandbox in prevResult {} doesn't match configured netns: {}",
            want.sandbox.as_deref().unwrap_or(""),
            args.netns
        )));
    }
    Ok((result, want))
}

/// CHECK of the container link that prevResult names: there (`prefix`
/// starts the reference's messages, `vlan: ` for vlan), on the master of
/// index `master_index` (the reference only checks that the master
/// exists), with prevResult's MAC if it has one. Returns the link for the
/// kind's own checks.
pub fn check_link(
    container: &Handle,
    want: &Interface,
    master_index: u32,
    master: &str,
    prefix: &str,
) -> Result<LinkInfo, Error> {
    if want.name.is_empty() {
        return Err(fail("Container interface name missing in prevResult: "));
    }
    let link = container.link_get(want.name.as_str()).map_err(|_| {
        fail(format!(
            "{prefix}Container Interface name in prevResult: {} not found",
            want.name
        ))
    })?;
    if let Some(p) = link.parent {
        if p != master_index {
            return Err(fail(format!(
                "{prefix}Container interface {} is not on master {master:?}",
                link.name
            )));
        }
    }
    if let Some(m) = &want.mac {
        let have = link.mac.map(|m| m.to_string()).unwrap_or_default();
        if !m.eq_ignore_ascii_case(&have) {
            return Err(fail(format!(
                "{prefix}Interface {} Mac {m} doesn't match container Mac: {have}",
                want.name
            )));
        }
    }
    Ok(link)
}

/// CHECK's end: prevResult's addresses and routes in the container.
pub fn check_l3(
    container: &Handle,
    args: &CmdArgs,
    link: &LinkInfo,
    result: &CniResult,
) -> Result<(), Error> {
    plugin::check_ips(container, &args.ifname, link.index, result)?;
    plugin::check_routes(container, result)
}

/// DEL: IPAM's reservation (when IPAM is configured), then the interface
/// and a link under its [`temporary_name`] (gone is fine; a missing namespace or an empty CNI_NETNS is fine). It
/// reads nothing else of the config: a master that is gone, or a config
/// ADD would refuse, does not make DEL fail (the reference `vlan` plugin's
/// does, and the pod is stuck). A CNI_NETNS that is there but is not a
/// network namespace fails the DEL before IPAM is asked, so nothing is
/// changed (the reference releases the address first, and the interface,
/// if any, keeps it).
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    let cns = args.open_netns_if_present()?;
    if !args.conf.ipam.plugin_type.is_empty() {
        netns_cni::ipam::del(args)?;
    }
    if let Some(cns) = cns {
        let container = cns.handle()?;
        if let Some(l) = gone_is_ok(container.link_get(args.ifname.as_str()))? {
            gone_is_ok(container.link_del(l.index))
                .map_err(|e| fail(format!("failed to delete {:?}: {e}", args.ifname)))?;
        }
        // An ADD killed between making the link under its temporary name
        // and the rename (see `create`).
        let tmp = temporary_name(args);
        if let Some(l) = gone_is_ok(container.link_get(tmp.as_str()))? {
            gone_is_ok(container.link_del(l.index))
                .map_err(|e| fail(format!("failed to delete {tmp:?}: {e}")))?;
        }
    }
    Ok(())
}
