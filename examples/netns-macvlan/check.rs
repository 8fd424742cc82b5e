//! CHECK and DEL (the reference's `cmdCheck`, `cmdDel`).

use netns_cni::error::gone_is_ok;
use netns_cni::{CmdArgs, Error, Interface};
use netns_core::LinkData;
use netns_examples::plugin;

use crate::conf;

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// CHECK: IPAM's, then the container interface of prevResult in
/// CNI_NETNS (a macvlan of the configured mode and, unlike the reference,
/// on the configured master), its addresses and routes.
pub fn check(args: &CmdArgs) -> Result<(), Error> {
    let n = conf::load(args)?;
    let cns = args.open_netns()?;
    if n.layer3 {
        netns_cni::ipam::check(args)?;
    }
    let Some(result) = args.prev_result()? else {
        return Err(fail("required prevResult missing"));
    };
    let empty = Interface::default();
    let want = result
        .interfaces
        .iter()
        .find(|i| i.name == args.ifname && i.sandbox.as_deref() == Some(args.netns.as_str()))
        .unwrap_or(&empty);
    if want.sandbox.as_deref() != Some(args.netns.as_str()) {
        return Err(fail(format!(
            "sandbox in prevResult {} doesn't match configured netns: {}",
            want.sandbox.as_deref().unwrap_or(""),
            args.netns
        )));
    }
    let container = cns.handle()?;
    let mode = conf::mode(&n.conf.mode)?;
    let link = container.link_get(want.name.as_str()).map_err(|_| {
        fail(format!(
            "container Interface name in prevResult: {} not found",
            want.name
        ))
    })?;
    let LinkData::MacVlan(d) = &link.data else {
        return Err(fail(format!(
            "error: Container interface {} not of type macvlan",
            link.name
        )));
    };
    if let Some(have) = d.mode {
        if have != mode {
            return Err(fail(format!(
                "container macvlan mode {have} does not match expected value: {mode}"
            )));
        }
    }
    // The master: the same link (the reference only checks that it
    // exists, which load did).
    if let Some(p) = link.parent {
        if p != n.master_index {
            return Err(fail(format!(
                "container interface {} is not on master {:?}",
                link.name, n.master
            )));
        }
    }
    if let Some(m) = &want.mac {
        let have = link.mac.map(|m| m.to_string()).unwrap_or_default();
        if !m.eq_ignore_ascii_case(&have) {
            return Err(fail(format!(
                "interface {} Mac {m} doesn't match container Mac: {have}",
                want.name
            )));
        }
    }
    plugin::check_ips(&container, &args.ifname, link.index, &result)?;
    plugin::check_routes(&container, &result)
}

/// DEL: IPAM's reservation, then the interface (gone is fine; a missing
/// namespace or an empty CNI_NETNS is fine). Like the reference, it needs
/// neither the master nor a valid `mode`.
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    if !args.conf.ipam.plugin_type.is_empty() {
        netns_cni::ipam::del(args)?;
    }
    if let Some(cns) = args.open_netns_if_present()? {
        let container = cns.handle()?;
        if let Some(l) = gone_is_ok(container.link_get(args.ifname.as_str()))? {
            gone_is_ok(container.link_del(l.index))
                .map_err(|e| fail(format!("failed to delete {:?}: {e}", args.ifname)))?;
        }
    }
    Ok(())
}
