//! The bridge plugin's config: the reference plugin's keys, read with Go's
//! rules, and its checks (containernetworking/plugins
//! plugins/main/bridge/bridge.go `loadNetConf`, `collectVlanTrunk`).

use netns_cni::{CmdArgs, Error};
use netns_core::MacAddr;
use netns_examples::plugin::parse_mac;
use serde::Deserialize;

/// The reference plugin's default bridge.
pub const DEFAULT_BRIDGE: &str = "cni0";

#[derive(Deserialize, Debug)]
#[serde(default)]
pub struct Conf {
    pub bridge: String,
    #[serde(rename = "isGateway")]
    pub is_gw: bool,
    #[serde(rename = "isDefaultGateway")]
    pub is_default_gw: bool,
    #[serde(rename = "forceAddress")]
    pub force_address: bool,
    #[serde(rename = "ipMasq")]
    pub ip_masq: bool,
    /// `iptables` or `nftables` (reference v1.5+); netns masquerades over
    /// nftables netlink whichever is named.
    #[serde(rename = "ipMasqBackend")]
    pub ip_masq_backend: Option<String>,
    pub mtu: i64,
    #[serde(rename = "hairpinMode")]
    pub hairpin: bool,
    #[serde(rename = "promiscMode")]
    pub promisc: bool,
    pub vlan: i64,
    #[serde(rename = "vlanTrunk")]
    pub vlan_trunk: Option<Vec<Option<Trunk>>>,
    #[serde(rename = "preserveDefaultVlan")]
    pub preserve_default_vlan: bool,
    pub macspoofchk: bool,
    pub enabledad: bool,
    #[serde(rename = "disableContainerInterface")]
    pub disable_container_interface: bool,
    #[serde(rename = "portIsolation")]
    pub port_isolation: bool,
    pub args: Args,
    #[serde(rename = "runtimeConfig")]
    pub runtime_config: MacOnly,
}

impl Default for Conf {
    fn default() -> Conf {
        Conf {
            bridge: DEFAULT_BRIDGE.into(),
            is_gw: false,
            is_default_gw: false,
            force_address: false,
            ip_masq: false,
            ip_masq_backend: None,
            mtu: 0,
            hairpin: false,
            promisc: false,
            vlan: 0,
            vlan_trunk: None,
            preserve_default_vlan: false,
            macspoofchk: false,
            enabledad: false,
            disable_container_interface: false,
            port_isolation: false,
            args: Args::default(),
            runtime_config: MacOnly::default(),
        }
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Args {
    pub cni: MacOnly,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct MacOnly {
    pub mac: String,
}

#[derive(Deserialize, Debug, Default)]
#[serde(default)]
pub struct Trunk {
    #[serde(rename = "minID")]
    pub min_id: Option<i64>,
    #[serde(rename = "maxID")]
    pub max_id: Option<i64>,
    pub id: Option<i64>,
}

/// The config, checked, with what the checks derive.
#[derive(Debug)]
pub struct Net {
    pub conf: Conf,
    /// The MTU to give the veth and a new bridge (`None`: the kernel's).
    pub mtu: Option<u32>,
    /// The access VLAN (`vlan`), 0 for none.
    pub vlan: u16,
    /// The trunk VLANs, sorted, without duplicates.
    pub trunk: Vec<u16>,
    /// Whether the bridge needs VLAN filtering (`vlan` or `vlanTrunk` set).
    pub vlan_filtering: bool,
    /// The container interface's MAC (CNI_ARGS `MAC`, then `args.cni.mac`,
    /// then `runtimeConfig.mac`, the last set winning), as given.
    pub mac: Option<String>,
    /// `isGateway` or `isDefaultGateway`.
    pub is_gw: bool,
    /// Whether IPAM is configured (`ipam.type` set).
    pub layer3: bool,
}

/// `loadNetConf`: the keys, the VLAN checks and the MAC from its three
/// sources. Errors are code 999 with the reference's messages.
pub fn load(args: &CmdArgs) -> Result<Net, Error> {
    let conf: Conf = args.plugin_conf()?;
    if !(0..=4094).contains(&conf.vlan) {
        return Err(Error::internal(format!(
            "invalid VLAN ID {} (must be between 0 and 4094)",
            conf.vlan
        )));
    }
    let trunk = collect_trunk(conf.vlan_trunk.as_deref())?;
    let mut mac = None;
    if !args.args.is_empty() {
        if let Some(m) = args.cni_args(&["MAC"])?.get("MAC") {
            if !m.is_empty() {
                mac = Some(m.to_string());
            }
        }
    }
    for m in [&conf.args.cni.mac, &conf.runtime_config.mac] {
        if !m.is_empty() {
            mac = Some(m.clone());
        }
    }
    let mtu = match conf.mtu {
        0 => None,
        m => Some(u32::try_from(m).map_err(|_| {
            Error::internal(format!(
                "invalid MTU {m}: must be between 0 and {}",
                u32::MAX
            ))
        })?),
    };
    Ok(Net {
        mtu,
        // Checked above to be 0..=4094.
        vlan: u16::try_from(conf.vlan).unwrap_or(0),
        vlan_filtering: conf.vlan != 0 || conf.vlan_trunk.is_some(),
        trunk,
        mac,
        is_gw: conf.is_gw || conf.is_default_gw,
        layer3: !args.conf.ipam.plugin_type.is_empty(),
        conf,
    })
}

impl Net {
    /// `ipMasqBackend` as the reference (v1.5+) takes it: `iptables`,
    /// `nftables` or absent, looked at only with `ipMasq` (the reference's
    /// `unknown ipmasq backend "X"`, code 999). The reference finds a bad
    /// one after it has made the veth pair and asked IPAM; this is called
    /// before anything is made. Whatever the value, netns-bridge
    /// masquerades over nftables netlink, in its own table (see
    /// `netns_core::nat`): no iptables rule, no exec of `nft`.
    pub fn check_backend(&self) -> Result<(), Error> {
        match self.conf.ip_masq_backend.as_deref() {
            Some(b) if self.conf.ip_masq && b != "iptables" && b != "nftables" => {
                Err(Error::internal(format!("unknown ipmasq backend {b:?}")))
            }
            _ => Ok(()),
        }
    }

    /// The MAC for the container interface, parsed as Go's `net.ParseMAC`
    /// reads a 6-byte address (`aa:bb:cc:dd:ee:ff`, `aa-bb-..`,
    /// `aabb.ccdd.eeff`).
    pub fn container_mac(&self) -> Result<Option<MacAddr>, Error> {
        let Some(text) = &self.mac else {
            return Ok(None);
        };
        parse_mac(text).map(Some).ok_or_else(|| {
            Error::internal(format!(
                "failed to make veth pair: address {text}: invalid MAC address"
            ))
        })
    }
}

/// `collectVlanTrunk`: the trunk's VLANs, sorted and unique.
fn collect_trunk(trunk: Option<&[Option<Trunk>]>) -> Result<Vec<u16>, Error> {
    let Some(trunk) = trunk else {
        return Ok(Vec::new());
    };
    let bad = |m: &str| Err(Error::internal(m));
    let ok = |v: i64| (1..=4094).contains(&v);
    let mut out = std::collections::BTreeSet::new();
    for item in trunk {
        let Some(item) = item else {
            return bad("a vlanTrunk entry is null");
        };
        match (item.min_id, item.max_id) {
            (Some(min), Some(max)) => {
                if !ok(min) {
                    return bad("incorrect trunk minID parameter");
                }
                if !ok(max) {
                    return bad("incorrect trunk maxID parameter");
                }
                if max < min {
                    return bad("minID is greater than maxID in trunk parameter");
                }
                out.extend(min..=max);
            }
            (None, Some(_)) => {
                return bad("minID and maxID should be configured simultaneously, minID is missing")
            }
            (Some(_), None) => {
                return bad("minID and maxID should be configured simultaneously, maxID is missing")
            }
            (None, None) => {}
        }
        if let Some(id) = item.id {
            if !ok(id) {
                return bad("incorrect trunk id parameter");
            }
            out.insert(id);
        }
    }
    // Every value is 1..=4094.
    Ok(out
        .into_iter()
        .filter_map(|v| u16::try_from(v).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_as_go_parses_them() {
        let want = Some(MacAddr([0x02, 0, 0x5e, 0x10, 0, 0x01]));
        assert_eq!(parse_mac("02:00:5e:10:00:01"), want);
        assert_eq!(parse_mac("02-00-5E-10-00-01"), want);
        assert_eq!(parse_mac("0200.5e10.0001"), want);
        for bad in [
            "",
            "02:00:5e:10:00",
            "02:00:5e:10:00:0g",
            "02:00-5e:10:00:01",
            "0200.5e10.001",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn ip_masq_backends_as_the_reference_takes_them() {
        let net = |masq: bool, backend: Option<&str>| Net {
            conf: Conf {
                ip_masq: masq,
                ip_masq_backend: backend.map(String::from),
                ..Conf::default()
            },
            mtu: None,
            vlan: 0,
            trunk: Vec::new(),
            vlan_filtering: false,
            mac: None,
            is_gw: false,
            layer3: true,
        };
        for b in [None, Some("iptables"), Some("nftables")] {
            assert!(net(true, b).check_backend().is_ok(), "{b:?}");
        }
        let e = net(true, Some("bogus")).check_backend().unwrap_err();
        assert_eq!(e.code(), 999);
        assert_eq!(e.msg(), "unknown ipmasq backend \"bogus\"");
        // Looked at only with ipMasq, as the reference.
        assert!(net(false, Some("bogus")).check_backend().is_ok());
    }

    #[test]
    fn trunks_as_the_reference_collects_them() {
        let t = |min, max, id| {
            Some(Trunk {
                min_id: min,
                max_id: max,
                id,
            })
        };
        assert_eq!(
            collect_trunk(Some(&[
                t(Some(5), Some(7), None),
                t(None, None, Some(6)),
                t(None, None, Some(2))
            ]))
            .unwrap(),
            vec![2, 5, 6, 7]
        );
        assert!(collect_trunk(Some(&[t(Some(0), Some(7), None)])).is_err());
        assert!(collect_trunk(Some(&[t(Some(8), Some(7), None)])).is_err());
        assert!(collect_trunk(Some(&[t(None, Some(7), None)])).is_err());
        assert!(collect_trunk(Some(&[t(None, None, Some(4095))])).is_err());
        assert!(collect_trunk(Some(&[None])).is_err());
        assert_eq!(collect_trunk(Some(&[])).unwrap(), Vec::<u16>::new());
    }
}
