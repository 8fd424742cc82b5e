//! The macvlan plugin's config: the reference plugin's keys (`master`,
//! `mode`, `mtu`, `mac`, `linkInContainer`, `runtimeConfig.mac`, CNI_ARGS
//! `MAC`) and its checks (plugins/main/macvlan/macvlan.go `loadConf`).

use netns_cni::{CmdArgs, Error};
use netns_core::{MacAddr, MacVlanMode};
use netns_examples::plugin::parse_mac;
use netns_examples::sublink;
use serde::Deserialize;

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Conf {
    pub master: String,
    pub mode: String,
    pub mtu: i64,
    pub mac: String,
    #[serde(rename = "linkInContainer")]
    pub link_in_container: bool,
    #[serde(rename = "runtimeConfig")]
    pub runtime_config: MacOnly,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct MacOnly {
    pub mac: String,
}

/// The config as ADD, CHECK and DEL use it.
pub struct Net {
    pub conf: Conf,
    /// The master, named or found from the default route.
    pub master: String,
    /// The master's index where it was looked up.
    pub master_index: u32,
    /// The MTU to give the macvlan (`None`: the kernel's, the master's).
    pub mtu: Option<u32>,
    /// Whether IPAM is configured (`ipam.type` set).
    pub layer3: bool,
    /// The MAC asked for (CNI_ARGS `MAC`, then `runtimeConfig.mac`; else
    /// `mac`), as given.
    pub mac: Option<String>,
}

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::internal(msg)
}

/// `modeFromString`: empty is bridge; `source` is not one the reference
/// takes.
pub fn mode(s: &str) -> Result<MacVlanMode, Error> {
    match s {
        "" | "bridge" => Ok(MacVlanMode::Bridge),
        "private" => Ok(MacVlanMode::Private),
        "vepa" => Ok(MacVlanMode::Vepa),
        "passthru" => Ok(MacVlanMode::Passthru),
        _ => Err(fail(format!("unknown macvlan mode: {s:?}"))),
    }
}

/// The config's keys and the checks that need no kernel (the mode, the
/// MAC's syntax; the MTU's bound is the master's): what the Kubernetes
/// manifests' test runs. Errors are code 999 with the reference's
/// messages.
// The plugin runs the same checks from `load`, after the master's;
// tests/k8s_manifests.rs calls this.
#[allow(dead_code)]
pub fn parse(args: &CmdArgs) -> Result<Conf, Error> {
    let conf: Conf = args.plugin_conf()?;
    check(args, &conf)?;
    Ok(conf)
}

/// The mode and the MAC: checked after the master, as the reference does.
fn check(args: &CmdArgs, conf: &Conf) -> Result<(), Error> {
    mode(&conf.mode)?;
    mac_of(args, conf)?
        .as_deref()
        .map(container_mac)
        .transpose()?;
    Ok(())
}

/// The MAC asked for: CNI_ARGS `MAC`, then `runtimeConfig.mac`, else
/// `mac`, as given.
fn mac_of(args: &CmdArgs, conf: &Conf) -> Result<Option<String>, Error> {
    let mut mac = None;
    if !args.args.is_empty() {
        if let Some(m) = args.cni_args(&["MAC"])?.get("MAC") {
            if !m.is_empty() {
                mac = Some(m.to_string());
            }
        }
    }
    if !conf.runtime_config.mac.is_empty() {
        mac = Some(conf.runtime_config.mac.clone());
    }
    if mac.is_none() && !conf.mac.is_empty() {
        mac = Some(conf.mac.clone());
    }
    Ok(mac)
}

/// A MAC parsed as Go's `net.ParseMAC` reads a 6-byte one.
fn container_mac(text: &str) -> Result<MacAddr, Error> {
    parse_mac(text).ok_or_else(|| {
        fail(format!(
            "invalid args {text} for MAC addr: address {text}: invalid MAC address"
        ))
    })
}

/// `loadConf`: the keys, the master (found from the default route when
/// not named), the MTU within `[0, master's MTU]`, then [`parse`]'s
/// checks, in the reference's order (a config with several faults gets
/// its message).
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf: Conf = args.plugin_conf()?;
    let h = sublink::master_handle(args, conf.link_in_container)?;
    let master = if conf.master.is_empty() {
        sublink::default_route_iface(&h)?
    } else {
        conf.master.clone()
    };
    let link = sublink::master_link(&h, &master)?;
    let mtu = sublink::mtu_within(conf.mtu, &link)?;
    check(args, &conf)?;
    Ok(Net {
        mtu,
        master,
        master_index: link.index,
        layer3: !args.conf.ipam.plugin_type.is_empty(),
        mac: mac_of(args, &conf)?,
        conf,
    })
}

impl Net {
    /// The MAC asked for, parsed.
    pub fn container_mac(&self) -> Result<Option<MacAddr>, Error> {
        self.mac.as_deref().map(container_mac).transpose()
    }
}
