//! The macvlan plugin's config: the reference plugin's keys (`master`,
//! `mode`, `mtu`, `mac`, `linkInContainer`, `runtimeConfig.mac`, CNI_ARGS
//! `MAC`) and its checks (plugins/main/macvlan/macvlan.go `loadConf`).

use netns_cni::{CmdArgs, Error};
use netns_core::{Handle, IpFamily, MacAddr, MacVlanMode, RouteFilter};
use netns_examples::plugin::parse_mac;
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

/// Where the master lives: the plugin's namespace, or the container's
/// with `linkInContainer`.
pub fn master_handle(args: &CmdArgs, conf: &Conf) -> Result<Handle, Error> {
    if conf.link_in_container {
        Ok(args.open_netns()?.handle()?)
    } else {
        Ok(Handle::new()?)
    }
}

/// `getDefaultRouteInterfaceName`: the interface of the first route of the
/// main table without a destination (IPv4 first, then IPv6).
fn default_route_iface(h: &Handle) -> Result<String, Error> {
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

/// `loadConf`: the keys, the master (found from the default route when
/// not named), the MTU within `[0, master's MTU]`, the MAC from its
/// sources. Errors are code 999 with the reference's messages.
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf: Conf = args.plugin_conf()?;
    let h = master_handle(args, &conf)?;
    let master = if conf.master.is_empty() {
        default_route_iface(&h)?
    } else {
        conf.master.clone()
    };
    // The reference's message is netlink's own.
    let link = h.link_get(master.as_str()).map_err(|e| {
        if e.is_not_found() {
            fail("Link not found")
        } else {
            Error::from(e)
        }
    })?;
    if conf.mtu < 0 || conf.mtu > i64::from(link.mtu) {
        return Err(fail(format!(
            "invalid MTU {}, must be [0, master MTU({})]",
            conf.mtu, link.mtu
        )));
    }
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
    Ok(Net {
        mtu: u32::try_from(conf.mtu).ok().filter(|m| *m != 0),
        master,
        master_index: link.index,
        layer3: !args.conf.ipam.plugin_type.is_empty(),
        mac,
        conf,
    })
}

impl Net {
    /// The MAC asked for, parsed as Go's `net.ParseMAC` reads a 6-byte one.
    pub fn container_mac(&self) -> Result<Option<MacAddr>, Error> {
        let Some(text) = &self.mac else {
            return Ok(None);
        };
        parse_mac(text).map(Some).ok_or_else(|| {
            fail(format!(
                "invalid args {text} for MAC addr: address {text}: invalid MAC address"
            ))
        })
    }
}
