//! CHECK (the reference's `cmdCheck`); DEL is `sublink::del`.

use netns_cni::{CmdArgs, Error};
use netns_core::LinkData;
use netns_examples::sublink;

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
    let (result, want) = sublink::prev_interface(args, "Required prevResult missing")?;
    let container = cns.handle()?;
    let mode = conf::mode(&n.conf.mode)?;
    let link = sublink::check_link(&container, &want, n.master_index, &n.master, "")?;
    let LinkData::MacVlan(d) = &link.data else {
        return Err(fail(format!(
            "Error: Container interface {} not of type macvlan",
            link.name
        )));
    };
    if let Some(have) = d.mode {
        if have != mode {
            return Err(fail(format!(
                "Container macvlan mode {have} does not match expected value: {mode}"
            )));
        }
    }
    sublink::check_l3(&container, args, &link, &result)
}
