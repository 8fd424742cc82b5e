//! make-net's config: `netid` (the namespace's name, with
//! `{K8S_POD_NAMESPACE}`, `{K8S_POD_NAME}`, `{K8S_POD_UID}` filled in from
//! CNI_ARGS), `nsDir`, `dataDir`, `peer`, `ifName`, `peerName`, `mtu`,
//! `addresses`, `ipam`; every check that needs no kernel, so that ADD
//! refuses bad input before it touches anything.

use netns_cni::{CmdArgs, CniArgs, Error};
use netns_core::IpNet;
use serde::Deserialize;

/// Where the namespaces go by default: iproute2's, so `ip netns exec`
/// finds them.
pub const DEFAULT_NS_DIR: &str = netns_core::ns::DEFAULT_NETNS_DIR;

/// Where the owner records go by default (outside the netns directory:
/// nothing but namespaces may appear in `ip netns list`).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/make-net";

/// The interface inside the named namespace, by default (the original's).
pub const DEFAULT_IFNAME: &str = "veth0";

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Conf {
    pub netid: String,
    #[serde(rename = "nsDir")]
    pub ns_dir: String,
    #[serde(rename = "dataDir")]
    pub data_dir: String,
    pub peer: String,
    #[serde(rename = "ifName")]
    pub if_name: String,
    #[serde(rename = "peerName")]
    pub peer_name: String,
    pub mtu: i64,
    pub addresses: Vec<String>,
}

/// Which end of the veth pair goes where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The other end stays in the plugin's namespace (the original's).
    Host,
    /// The other end goes into CNI_NETNS as CNI_IFNAME.
    Pod,
}

/// The config as ADD, CHECK and DEL use it, every name checked.
#[derive(Debug)]
pub struct Net {
    /// The namespace's name (`netid` filled in).
    pub netid: String,
    pub ns_dir: String,
    pub data_dir: String,
    pub peer: Peer,
    /// The interface inside the named namespace.
    pub if_name: String,
    /// The other end's name: CNI_IFNAME with `peer: pod`, else `peerName`
    /// or the name derived from netid.
    pub peer_name: String,
    pub mtu: Option<u32>,
    pub addresses: Vec<IpNet>,
    /// Whether IPAM is configured (`ipam.type` set).
    pub ipam: bool,
}

fn fail(msg: impl std::fmt::Display) -> Error {
    Error::new(
        netns_cni::error::code::INVALID_NETWORK_CONFIG,
        msg.to_string(),
    )
}

/// `netid` with its `{K8S_...}` placeholders filled in from CNI_ARGS; any
/// other `{...}`, or a placeholder whose key CNI_ARGS lacks, is refused.
pub fn expand_netid(template: &str, args: &CniArgs) -> Result<String, Error> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(fail(format!("netid {template:?}: an unclosed '{{'")));
        };
        let key = &after[..close];
        if !CniArgs::K8S_KEYS.contains(&key) || key == "K8S_POD_INFRA_CONTAINER_ID" {
            return Err(fail(format!(
                "netid {template:?}: unknown placeholder {{{key}}} (known: {{K8S_POD_NAMESPACE}}, {{K8S_POD_NAME}}, {{K8S_POD_UID}})"
            )));
        }
        match args.get(key).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(v),
            None => {
                return Err(fail(format!(
                    "netid {template:?}: CNI_ARGS has no {key} to fill {{{key}}} with"
                )))
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if out.contains('}') {
        return Err(fail(format!("netid {template:?}: a '}}' without '{{'")));
    }
    Ok(out)
}

/// The host-side name for namespace `netid`: the original's `v<netid>`
/// when that is an interface name (within 15 bytes, without the ':' the
/// kernel refuses or the '%' it reads as a template, both fine in a
/// namespace name), else `mn` and 13 hex digits of a hash of the name
/// (stable, so CHECK and DEL find it again).
pub fn derived_peer_name(netid: &str) -> String {
    let v = format!("v{netid}");
    if v.len() <= 15 && !netid.contains([':', '%']) {
        return v;
    }
    // FNV-1a, 64 bits.
    let h = netid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("mn{:013x}", h >> 12)
}

/// A namespace name as make-net takes it: what `ip netns add` takes (not
/// empty, `.` or `..`, no `/` or NUL, at most 255 bytes), printable
/// ASCII without spaces (it is a path component, a hostPath and an
/// argument of `ip netns exec`), and not starting with `.` (the owner
/// records are named by netid, and `dataDir`'s lock and temporary files
/// are the names starting with `.`: a netid `.lock` was read as a record).
fn check_netid(netid: &str) -> Result<(), Error> {
    netns_core::ns::validate_name("make-net", netid).map_err(|e| {
        let why = match e.kind() {
            netns_core::ErrorKind::InvalidArgument { reason } => reason.clone(),
            _ => e.to_string(),
        };
        fail(format!("invalid netid {netid:?}: {why}"))
    })?;
    if netid.starts_with('.') {
        return Err(fail(format!(
            "invalid netid {netid:?}: a name starting with '.' is not taken \
             (make-net's own files in dataDir are named so)"
        )));
    }
    if let Some(c) = netid.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(fail(format!(
            "invalid netid {netid:?}: {c:?} is not a printable ASCII character"
        )));
    }
    Ok(())
}

fn check_ifname(what: &str, name: &str) -> Result<(), Error> {
    netns_cni::skel::validate_ifname(name)
        .map_err(|e| fail(format!("invalid {what} {name:?}: {}", e.msg())))?;
    if name.contains('%') {
        return Err(fail(format!(
            "invalid {what} {name:?}: the kernel reads a '%' as a name template (eth%d)"
        )));
    }
    Ok(())
}

/// Everything checked, before anything is touched.
pub fn parse(args: &CmdArgs) -> Result<Net, Error> {
    let conf: Conf = args.plugin_conf()?;
    if conf.netid.is_empty() {
        return Err(fail(
            "\"netid\" is required: the name of the namespace to make",
        ));
    }
    let cni_args = args.cni_args(CniArgs::K8S_KEYS)?;
    let netid = expand_netid(&conf.netid, &cni_args)?;
    check_netid(&netid)?;
    let peer = match conf.peer.as_str() {
        "" | "host" => Peer::Host,
        "pod" => Peer::Pod,
        p => {
            return Err(fail(format!(
                "unknown peer {p:?}: \"host\" (the default) or \"pod\""
            )))
        }
    };
    let if_name = if conf.if_name.is_empty() {
        DEFAULT_IFNAME.to_string()
    } else {
        conf.if_name.clone()
    };
    check_ifname("ifName", &if_name)?;
    let peer_name = match peer {
        Peer::Pod => args.ifname.clone(),
        Peer::Host if conf.peer_name.is_empty() => derived_peer_name(&netid),
        Peer::Host => conf.peer_name.clone(),
    };
    if peer == Peer::Host || !peer_name.is_empty() {
        check_ifname("peerName", &peer_name)?;
    }
    let mtu = match conf.mtu {
        0 => None,
        m => Some(
            u32::try_from(m)
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| fail(format!("invalid MTU {m}: must be 0 or 68-65535")))?,
        ),
    };
    let addresses = conf
        .addresses
        .iter()
        .map(|a| {
            a.parse::<IpNet>()
                .map_err(|e| fail(format!("invalid address {a:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    Ok(Net {
        ns_dir: or(&conf.ns_dir, DEFAULT_NS_DIR),
        data_dir: or(&conf.data_dir, DEFAULT_DATA_DIR),
        netid,
        peer,
        if_name,
        peer_name,
        mtu,
        addresses,
        ipam: !args.conf.ipam.plugin_type.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(raw: &str) -> CniArgs {
        CniArgs::load(raw, CniArgs::K8S_KEYS).expect("CNI_ARGS")
    }

    #[test]
    fn netid_templates() {
        let a =
            args("IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=router;K8S_POD_UID=u-1");
        assert_eq!(expand_netid("1234567", &a).unwrap(), "1234567");
        assert_eq!(
            expand_netid("{K8S_POD_NAMESPACE}-{K8S_POD_NAME}", &a).unwrap(),
            "ns1-router"
        );
        assert_eq!(expand_netid("bgp-{K8S_POD_UID}", &a).unwrap(), "bgp-u-1");
        for bad in [
            "{K8S_POD_INFRA_CONTAINER_ID}",
            "{FOO}",
            "x{K8S_POD_NAME",
            "x}",
        ] {
            assert!(expand_netid(bad, &a).is_err(), "{bad}");
        }
        let e = expand_netid("{K8S_POD_UID}", &args("")).unwrap_err();
        assert_eq!(
            e.msg(),
            "netid \"{K8S_POD_UID}\": CNI_ARGS has no K8S_POD_UID to fill {K8S_POD_UID} with"
        );
    }

    #[test]
    fn peer_names_fit() {
        assert_eq!(derived_peer_name("1234567"), "v1234567");
        assert_eq!(derived_peer_name("12345678901234"), "v12345678901234");
        let long = derived_peer_name("default-router-0d9c0a86-3f5e-4bde");
        assert_eq!(long.len(), 15, "{long}");
        assert!(long.starts_with("mn"), "{long}");
        assert_ne!(long, derived_peer_name("default-router-0d9c0a86-3f5e-4bdf"));
        assert_eq!(long, derived_peer_name("default-router-0d9c0a86-3f5e-4bde"));
        for odd in ["cust:1", "r%d"] {
            let p = derived_peer_name(odd);
            assert!(p.starts_with("mn") && p.len() == 15, "{odd}: {p}");
            assert!(check_ifname("peerName", &p).is_ok(), "{p}");
        }
        assert!(check_ifname("ifName", "eth%d").is_err());
    }

    #[test]
    fn netids_that_are_not_names() {
        for bad in [
            "../x",
            "a/b",
            "..",
            ".",
            "a b",
            "tab\there",
            "é",
            ".lock",
            ".x",
        ] {
            assert!(check_netid(bad).is_err(), "{bad:?}");
        }
        assert!(check_netid(&"x".repeat(255)).is_ok());
        assert!(check_netid(&"x".repeat(256)).is_err());
    }
}
