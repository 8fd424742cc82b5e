//! ADD: the macvlan in the container's namespace under its final name
//! (`netns_examples::sublink::create`: one request, never a link in the
//! plugin's namespace), then the addresses and routes from IPAM (the
//! reference's `cmdAdd`).

use netns_cni::{CmdArgs, CniResult, Error};
use netns_core::LinkSpec;
use netns_examples::sublink::{self, Addresses};

use crate::conf;

pub fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let n = conf::load(args)?;
    let mode = conf::mode(&n.conf.mode)?;
    let mac = n.container_mac()?;
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
    let from = Addresses::ipam_if_configured(args);
    sublink::add(args, "macvlan", n.conf.link_in_container, &spec, from, true)
}
