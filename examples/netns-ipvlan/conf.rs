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
    /// The master: named, the single interface of prevResult when chained,
    /// or the interface of the default route.
    pub master: String,
    /// The master's index where it was looked up.
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

/// `loadConf`: [`parse`], prevResult, the master (named; else, chained,
/// prevResult's single interface; else the interface of the default
/// route; in the plugin's namespace, or the container's with
/// `linkInContainer`) and the MTU within `[0, master's MTU]` (the
/// reference leaves a bad MTU to the kernel: `invalid argument`).
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf = parse(args)?;
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
    let link = sublink::master_link(&h, &master)?;
    Ok(Net {
        mode: mode(&conf.mode)?,
        mtu: sublink::mtu_within(conf.mtu, &link)?,
        master,
        master_index: link.index,
        prev,
        conf,
    })
}
