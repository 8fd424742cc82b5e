//! The vlan plugin's config: the reference plugin's keys (`master`,
//! `vlanId`, `mtu`, `linkInContainer`) and its checks
//! (plugins/main/vlan/vlan.go `loadConf`), with the VLAN id held to
//! 1-4094.

use netns_cni::{CmdArgs, Error};
use netns_examples::sublink;
use serde::Deserialize;

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Conf {
    pub master: String,
    #[serde(rename = "vlanId")]
    pub vlan_id: i64,
    pub mtu: i64,
    #[serde(rename = "linkInContainer")]
    pub link_in_container: bool,
}

/// The config as ADD and CHECK use it.
pub struct Net {
    pub conf: Conf,
    /// The VLAN id, 1..=4094.
    pub vlan_id: u16,
    /// The master's index where it was looked up.
    pub master_index: u32,
    /// The MTU to give the VLAN link (`None`: the kernel's, the master's).
    pub mtu: Option<u32>,
    /// Whether IPAM is configured (`ipam.type` set).
    pub layer3: bool,
}

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// The config's keys and the checks that need no kernel (`master` named,
/// `vlanId` in 1-4094; the MTU's bound is the master's): what the
/// Kubernetes manifests' test runs. Errors are code 999, with the
/// reference's messages where it has the check.
///
/// VLAN id 0 is refused: the reference takes it (and so an absent
/// `vlanId`), making a sub-interface that sends priority-tagged frames
/// on the master's untagged network, which is never what a config meant.
pub fn parse(args: &CmdArgs) -> Result<Conf, Error> {
    let conf: Conf = args.plugin_conf()?;
    if conf.master.is_empty() {
        return Err(fail(
            "\"master\" field is required. It specifies the host interface name to create the VLAN for.",
        ));
    }
    if !(1..=4094).contains(&conf.vlan_id) {
        return Err(fail(format!(
            "invalid VLAN ID {} (must be between 1 and 4094 inclusive)",
            conf.vlan_id
        )));
    }
    Ok(conf)
}

/// `loadConf`: [`parse`], then the master (in the plugin's namespace, or
/// the container's with `linkInContainer`) and the MTU within
/// `[0, master's MTU]`.
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf = parse(args)?;
    let h = sublink::master_handle(args, conf.link_in_container)?;
    let link = sublink::master_link(&h, &conf.master)?;
    Ok(Net {
        mtu: sublink::mtu_within(conf.mtu, &link)?,
        // parse held it to 1..=4094.
        vlan_id: u16::try_from(conf.vlan_id).unwrap_or_default(),
        master_index: link.index,
        layer3: !args.conf.ipam.plugin_type.is_empty(),
        conf,
    })
}
