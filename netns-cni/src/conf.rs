//! The network config on a plugin's stdin: the keys every plugin shares.
//! A plugin reads its own keys with [`CmdArgs::plugin_conf`](crate::CmdArgs::plugin_conf).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::json::Value;
use crate::result::Dns;

/// The keys of a network config every plugin shares (Go's
/// `types.NetConf`), read with Go's rules (see [`crate::json`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetConf {
    /// `cniVersion` as written ("" when absent: it means 0.1.0).
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// `name`: the network's name.
    pub name: String,
    /// `type`: the plugin's name.
    #[serde(rename = "type")]
    pub plugin_type: String,
    /// `capabilities` the plugin declared in the conflist.
    pub capabilities: BTreeMap<String, bool>,
    /// `ipam`: the IPAM plugin to delegate to (the rest of the object is
    /// the IPAM plugin's).
    pub ipam: IpamConf,
    /// `dns`.
    pub dns: Dns,
    /// `runtimeConfig`: the capability arguments the runtime passed.
    #[serde(rename = "runtimeConfig")]
    pub runtime_config: Option<Value>,
    /// `args`: per-attachment arguments (`args.cni.ips`, ...).
    pub args: Option<Value>,
    /// `prevResult`: the result of the plugins before this one in a chain
    /// (read it with [`CmdArgs::prev_result`](crate::CmdArgs::prev_result)).
    #[serde(rename = "prevResult")]
    pub prev_result: Option<Value>,
}

/// The `ipam` object's `type`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IpamConf {
    /// The IPAM plugin's name; "" when the config has no IPAM.
    #[serde(rename = "type")]
    pub plugin_type: String,
}

/// One entry of a GC's `cni.dev/valid-attachments`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Attachment {
    /// The container.
    #[serde(rename = "containerID")]
    pub container_id: String,
    /// Its interface.
    pub ifname: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct GcConf {
    #[serde(rename = "cni.dev/valid-attachments")]
    pub valid: Vec<Option<Attachment>>,
}
