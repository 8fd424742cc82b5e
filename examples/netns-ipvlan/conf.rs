//! The ipvlan plugin's config: the reference plugin's keys (`master`,
//! `mode`, `mtu`, `linkInContainer`) and its checks
//! (plugins/main/ipvlan/ipvlan.go `loadConf`).

use netns_cni::{CmdArgs, CniResult, Error};
use netns_core::IpVlanMode;
use netns_examples::sublink;
use serde::Deserialize;

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Conf {
    pub master: String,
    pub mode: String,
    pub mtu: i64,
    #[serde(rename = "linkInContainer")]
    pub link_in_container: bool,
}

/// The config as ADD and CHECK use it.
pub struct Net {
    pub conf: Conf,
    pub mode: IpVlanMode,
    /// The master's index where it was looked up (the master: named, the
    /// single interface of prevResult when chained, or the interface of
    /// the default route).
    pub master_index: u32,
    /// The MTU to give the ipvlan (`None`: the kernel's, the master's).
    pub mtu: Option<u32>,
    /// prevResult, when chained after another plugin.
    pub prev: Option<CniResult>,
}

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// `modeFromString`: empty is l2.
pub fn mode(s: &str) -> Result<IpVlanMode, Error> {
    match s {
        "" | "l2" => Ok(IpVlanMode::L2),
        "l3" => Ok(IpVlanMode::L3),
        "l3s" => Ok(IpVlanMode::L3S),
        _ => Err(fail(format!("unknown ipvlan mode: {s:?}"))),
    }
}

/// The config's keys and the checks that need no kernel (the mode; the
/// MTU's bound is the master's): what the Kubernetes manifests' test
/// runs. Errors are code 999 with the reference's messages.
pub fn parse(args: &CmdArgs) -> Result<Conf, Error> {
    let conf: Conf = args.plugin_conf()?;
    mode(&conf.mode)?;
    Ok(conf)
}

/// `loadConf` and `createIpvlan`'s checks, in the reference's order: the
/// keys, prevResult, the master (named; else, chained, prevResult's single
/// interface; else the interface of the default route; in the plugin's
/// namespace, or the container's with `linkInContainer`), the mode, the
/// master's lookup (`failed to lookup master "NAME": Link not found`, the
/// reference's message) and the MTU within `[0, master's MTU]` (the
/// reference hands a positive MTU to the kernel, which takes one above
/// the master's, and drops a negative one).
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf: Conf = args.plugin_conf()?;
    let prev = args
        .prev_result()
        .map_err(|e| e.context("could not parse prevResult"))?;
    let h = sublink::master_handle(args, conf.link_in_container)?;
    let master = match (&prev, conf.master.is_empty()) {
        (_, false) => conf.master.clone(),
        (None, true) => sublink::default_route_iface(&h)?,
        (Some(p), true) => match p.interfaces.as_slice() {
            [i] if !i.name.is_empty() => i.name.clone(),
            _ => {
                return Err(fail(
                    "chained master failure. PrevResult lacks a single named interface",
                ))
            }
        },
    };
    let mode = mode(&conf.mode)?;
    let link = lookup_master(&h, &master)?;
    Ok(Net {
        mode,
        mtu: sublink::mtu_within(conf.mtu, &link)?,
        master_index: link.index,
        prev,
        conf,
    })
}

/// The master `name`, or the reference's message for a missing one.
fn lookup_master(h: &netns_core::Handle, name: &str) -> Result<netns_core::LinkInfo, Error> {
    sublink::master_link(h, name)
        .map_err(|e| e.context(format!("failed to lookup master {name:?}")))
}

/// CHECK's config: [`parse`], and the master (name and index) as ADD
/// found it, `None` when chained without `master`: that master came from
/// the previous plugin's result, which CHECK never sees (the runtime hands
/// every plugin of the list the list's final result, whose interface is
/// ipvlan's own). The reference's CHECK resolves no master at all and
/// looks up one named "" when `master` is absent, so it cannot pass with
/// the default route's master or chained.
pub fn load_check(args: &CmdArgs) -> Result<(IpVlanMode, Option<(String, u32)>), Error> {
    let conf = parse(args)?;
    let chained = args.conf.prev_result.is_some();
    let mode = mode(&conf.mode)?;
    if conf.master.is_empty() && chained {
        return Ok((mode, None));
    }
    let h = sublink::master_handle(args, conf.link_in_container)?;
    let master = if conf.master.is_empty() {
        sublink::default_route_iface(&h)?
    } else {
        conf.master
    };
    let link = lookup_master(&h, &master)?;
    Ok((mode, Some((master, link.index))))
}
