//! The result of an ADD, typed as spec 1.1 has it, written and read in
//! every spec version exactly as Go's `pkg/types/{020,040,100}` convert it.
//!
//! Writing a [`CniResult`] as an older version (what a plugin does when the
//! config asks for one):
//! - 1.0.0 drops what 1.1 added (interface `mtu`, `socketPath`, `pciID`;
//!   route `mtu`, `advmss`, `priority`, `table`, `scope`);
//! - 0.3.0 / 0.3.1 / 0.4.0 drop the same and add `"version": "4"|"6"` to
//!   each IP;
//! - 0.1.0 / 0.2.0 keep the first IPv4 and the first IPv6 address as `ip4`
//!   / `ip6`, each with the routes of its family, and no interfaces; a
//!   result without any address cannot be written so (Go's "cannot
//!   convert: no valid IP addresses").
//!
//! `dns` is always written, `{}` when empty, as the Go plugins of this
//! generation print it. Reading converts any version up to 1.1 the way
//! Go's `NewResultFromResult` does.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::{code, Error};
use crate::json::{self, Value};
use crate::version::{Family, CURRENT};

/// A CNI result (spec 1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniResult {
    /// The version the result was made as (informational: writing picks
    /// the version).
    pub cni_version: String,
    /// The interfaces the plugin made or uses.
    pub interfaces: Vec<Interface>,
    /// The addresses, each pointing at its interface by index.
    pub ips: Vec<IpConfig>,
    /// The routes.
    pub routes: Vec<Route>,
    /// DNS settings.
    pub dns: Dns,
}

/// An interface of a result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its MAC address as text (`aa:bb:cc:dd:ee:ff`).
    pub mac: Option<String>,
    /// Its MTU (1.1).
    pub mtu: Option<u32>,
    /// The namespace path it is in; `None` for the host's interfaces.
    pub sandbox: Option<String>,
    /// A vhost-user socket path (1.1).
    pub socket_path: Option<String>,
    /// A PCI device ID (1.1).
    pub pci_id: Option<String>,
}

/// An address of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpConfig {
    /// Index into [`CniResult::interfaces`] of the interface that has it.
    pub interface: Option<usize>,
    /// The address with its prefix length (`10.0.0.2/24`).
    pub address: IpNet,
    /// The gateway, if any.
    pub gateway: Option<IpAddr>,
}

/// A route of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination (`0.0.0.0/0`).
    pub dst: IpNet,
    /// The next hop; `None`: the interface's gateway, or on-link.
    pub gw: Option<IpAddr>,
    /// Route MTU (1.1; Go's `int`, 0 is not written).
    pub mtu: Option<i64>,
    /// Advertised MSS (1.1; 0 is not written).
    pub advmss: Option<i64>,
    /// Metric (1.1; 0 is not written).
    pub priority: Option<i64>,
    /// Routing table (1.1).
    pub table: Option<i64>,
    /// Scope (1.1).
    pub scope: Option<i64>,
}

impl Route {
    /// A route to `dst`, via `gw` if given.
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Route {
        Route {
            dst,
            gw,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

/// DNS settings (of a config or a result).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dns {
    /// Name servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// The local domain.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Search domains.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    /// Resolver options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

// ---- wire types: what each version writes, in Go's field order ----

#[derive(Serialize)]
struct Out1<'a> {
    #[serde(rename = "cniVersion")]
    cni_version: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    interfaces: Vec<OutIface<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ips: Vec<OutIp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<OutRoute>,
    dns: &'a Dns,
}

#[derive(Serialize)]
struct OutIface<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sandbox: Option<&'a str>,
    #[serde(rename = "socketPath", skip_serializing_if = "Option::is_none")]
    socket_path: Option<&'a str>,
    #[serde(rename = "pciID", skip_serializing_if = "Option::is_none")]
    pci_id: Option<&'a str>,
}

#[derive(Serialize)]
struct OutIp {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interface: Option<usize>,
    address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
}

#[derive(Serialize)]
struct OutRoute {
    dst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advmss: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<i64>,
}

#[derive(Serialize)]
struct Out02<'a> {
    #[serde(rename = "cniVersion")]
    cni_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip4: Option<Out02Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip6: Option<Out02Ip>,
    dns: &'a Dns,
}

#[derive(Serialize)]
struct Out02Ip {
    ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    routes: Vec<OutRoute>,
}

fn out_route(r: &Route, v11: bool) -> OutRoute {
    // Go's `int` with omitempty: 0 is not written.
    let nz = |v: Option<i64>| v.filter(|n| *n != 0 && v11);
    OutRoute {
        dst: r.dst.to_string(),
        gw: r.gw.map(|g| g.to_string()),
        mtu: nz(r.mtu),
        advmss: nz(r.advmss),
        priority: nz(r.priority),
        table: r.table.filter(|_| v11),
        scope: r.scope.filter(|_| v11),
    }
}

impl CniResult {
    /// An empty result of the current version.
    pub fn new() -> CniResult {
        CniResult {
            cni_version: CURRENT.to_string(),
            ..CniResult::default()
        }
    }

    /// The result as `version` writes it (see the module docs), as a JSON
    /// value.
    pub fn to_value(&self, version: &str) -> Result<Value, Error> {
        serde_json::from_str(&self.to_json(version)?)
            .map_err(|e| Error::internal(format!("result JSON: {e}")))
    }

    /// The result as `version` writes it (see the module docs), indented
    /// as Go prints it.
    ///
    /// ```
    /// use netns_cni::{CniResult, IpConfig};
    /// let mut r = CniResult::new();
    /// r.ips.push(IpConfig { interface: None, address: "10.0.0.2/24".parse()?,
    ///                       gateway: Some("10.0.0.1".parse()?) });
    /// let v: serde_json::Value = serde_json::from_str(&r.to_json("0.4.0")?)?;
    /// assert_eq!(v, serde_json::json!({"cniVersion": "0.4.0", "dns": {},
    ///     "ips": [{"version": "4", "address": "10.0.0.2/24", "gateway": "10.0.0.1"}]}));
    /// let v: serde_json::Value = serde_json::from_str(&r.to_json("0.2.0")?)?;
    /// assert_eq!(v, serde_json::json!({"cniVersion": "0.2.0", "dns": {},
    ///     "ip4": {"ip": "10.0.0.2/24", "gateway": "10.0.0.1"}}));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self, version: &str) -> Result<String, Error> {
        let Some(family) = Family::of(version).filter(|_| !version.is_empty()) else {
            return Err(Error::new(
                code::INCOMPATIBLE_VERSION,
                format!("no converter for CNI result version {CURRENT} to {version}"),
            ));
        };
        if family == Family::V02 {
            return self.to_json_02(version);
        }
        let v11 = version == "1.1.0";
        let out = Out1 {
            cni_version: version,
            interfaces: self
                .interfaces
                .iter()
                .map(|i| OutIface {
                    name: &i.name,
                    mac: i.mac.as_deref(),
                    mtu: i.mtu.filter(|_| v11),
                    sandbox: i.sandbox.as_deref(),
                    socket_path: i.socket_path.as_deref().filter(|_| v11),
                    pci_id: i.pci_id.as_deref().filter(|_| v11),
                })
                .collect(),
            ips: self
                .ips
                .iter()
                .map(|ip| OutIp {
                    version: (family == Family::V04).then_some(if ip.address.addr().is_ipv4() {
                        "4"
                    } else {
                        "6"
                    }),
                    interface: ip.interface,
                    address: ip.address.to_string(),
                    gateway: ip.gateway.map(|g| g.to_string()),
                })
                .collect(),
            routes: self.routes.iter().map(|r| out_route(r, v11)).collect(),
            dns: &self.dns,
        };
        Ok(json::to_string_pretty(&out))
    }

    fn to_json_02(&self, version: &str) -> Result<String, Error> {
        let first = |v4: bool| self.ips.iter().find(|i| i.address.addr().is_ipv4() == v4);
        let ip = |v4: bool| {
            first(v4).map(|i| Out02Ip {
                ip: i.address.to_string(),
                gateway: i.gateway.map(|g| g.to_string()),
                routes: self
                    .routes
                    .iter()
                    .filter(|r| r.dst.addr().is_ipv4() == v4)
                    .map(|r| out_route(r, false))
                    .collect(),
            })
        };
        let out = Out02 {
            cni_version: version,
            ip4: ip(true),
            ip6: ip(false),
            dns: &self.dns,
        };
        if out.ip4.is_none() && out.ip6.is_none() {
            return Err(Error::internal("cannot convert: no valid IP addresses"));
        }
        Ok(json::to_string_pretty(&out))
    }

    /// Read a result a plugin printed (an IPAM plugin's answer): its own
    /// `cniVersion` says how to read it, `default_version` when it has none
    /// (as Go's invoke does with the config's version). Converted up to 1.1.
    pub fn parse(bytes: &[u8], default_version: &str) -> Result<CniResult, Error> {
        let v = json::parse(bytes).map_err(|e| {
            Error::new(
                code::DECODING_FAILURE,
                format!("failed to unmarshal raw result: {e}"),
            )
        })?;
        let version = match v.get("cniVersion") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => default_version.to_string(),
        };
        CniResult::from_value(&v, &version)
    }

    /// Read a result (a `prevResult`, say) as version `version`, as Go's
    /// `version.ParsePrevResult` does with the config's version: a result
    /// whose own `cniVersion` is of another format is refused.
    pub fn from_value(v: &Value, version: &str) -> Result<CniResult, Error> {
        let decoding = |e: json::JsonError| Error::new(code::DECODING_FAILURE, e.to_string());
        let own = match v.get("cniVersion") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let Some(family) = Family::of(version) else {
            return Err(Error::new(
                code::DECODING_FAILURE,
                format!("unsupported CNI result version {version:?}"),
            ));
        };
        let own = if own.is_empty() && family != Family::V02 {
            version.to_string()
        } else {
            own
        };
        if Family::of(&own) != Some(family) {
            let supported = match family {
                Family::V02 => r#"[ 0.1.0 0.2.0]"#,
                Family::V04 => "[0.3.0 0.3.1 0.4.0]",
                Family::V1 => "[1.0.0 1.1.0]",
            };
            return Err(Error::new(
                code::DECODING_FAILURE,
                format!("result type supports {supported} but unmarshalled CNIVersion is {own:?}"),
            ));
        }
        let cni_version = if own.is_empty() { "0.1.0".into() } else { own };
        match family {
            Family::V02 => {
                let w: In02 = json::decode_value(v).map_err(decoding)?;
                let mut r = CniResult {
                    cni_version,
                    dns: w.dns,
                    ..CniResult::default()
                };
                for ip in [w.ip4, w.ip6].into_iter().flatten() {
                    r.ips.push(IpConfig {
                        interface: None,
                        address: cidr(&ip.ip)?,
                        gateway: opt_ip(&ip.gateway)?,
                    });
                    for rt in &ip.routes {
                        r.routes.push(rt.to_route()?);
                    }
                }
                Ok(r)
            }
            Family::V04 | Family::V1 => {
                let w: In1 = json::decode_value(v).map_err(decoding)?;
                let v1 = family == Family::V1;
                let mut r = CniResult {
                    cni_version,
                    dns: w.dns,
                    ..CniResult::default()
                };
                for i in w.interfaces {
                    r.interfaces.push(Interface {
                        name: i.name,
                        mac: non_empty(i.mac),
                        mtu: i.mtu.filter(|m| *m != 0 && v1),
                        sandbox: non_empty(i.sandbox),
                        socket_path: non_empty(i.socket_path).filter(|_| v1),
                        pci_id: non_empty(i.pci_id).filter(|_| v1),
                    });
                }
                for ip in w.ips {
                    r.ips.push(IpConfig {
                        interface: ip.interface,
                        address: cidr(&ip.address)?,
                        gateway: opt_ip(&ip.gateway)?,
                    });
                }
                for rt in &w.routes {
                    r.routes.push(rt.to_route()?);
                }
                Ok(r)
            }
        }
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn cidr(s: &str) -> Result<IpNet, Error> {
    netns_ipam::parse_cidr(s).map_err(|e| Error::new(code::DECODING_FAILURE, e.to_string()))
}

fn opt_ip(s: &str) -> Result<Option<IpAddr>, Error> {
    if s.is_empty() {
        return Ok(None);
    }
    netns_ipam::parse_ip(s)
        .map(Some)
        .ok_or_else(|| Error::new(code::DECODING_FAILURE, format!("invalid IP address: {s}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct In1 {
    interfaces: Vec<InIface>,
    ips: Vec<InIp>,
    routes: Vec<InRoute>,
    dns: Dns,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InIface {
    name: String,
    mac: String,
    mtu: Option<u32>,
    sandbox: String,
    #[serde(rename = "socketPath")]
    socket_path: String,
    #[serde(rename = "pciID")]
    pci_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InIp {
    interface: Option<usize>,
    address: String,
    gateway: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InRoute {
    dst: String,
    gw: String,
    mtu: Option<i64>,
    advmss: Option<i64>,
    priority: Option<i64>,
    table: Option<i64>,
    scope: Option<i64>,
}

impl InRoute {
    fn to_route(&self) -> Result<Route, Error> {
        let nz = |v: Option<i64>| v.filter(|n| *n != 0);
        Ok(Route {
            dst: cidr(&self.dst)?,
            gw: opt_ip(&self.gw)?,
            mtu: nz(self.mtu),
            advmss: nz(self.advmss),
            priority: nz(self.priority),
            table: self.table,
            scope: self.scope,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct In02 {
    ip4: Option<In02Ip>,
    ip6: Option<In02Ip>,
    dns: Dns,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct In02Ip {
    ip: String,
    gateway: String,
    routes: Vec<InRoute>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> CniResult {
        CniResult {
            cni_version: CURRENT.into(),
            interfaces: vec![
                Interface {
                    name: "cni0".into(),
                    mac: Some("aa:bb:cc:dd:ee:01".into()),
                    ..Default::default()
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("aa:bb:cc:dd:ee:02".into()),
                    mtu: Some(1400),
                    sandbox: Some("/run/netns/x".into()),
                    ..Default::default()
                },
            ],
            ips: vec![
                IpConfig {
                    interface: Some(1),
                    address: "10.0.0.2/24".parse().unwrap(),
                    gateway: Some("10.0.0.1".parse().unwrap()),
                },
                IpConfig {
                    interface: Some(1),
                    address: "fd00::2/64".parse().unwrap(),
                    gateway: None,
                },
                IpConfig {
                    interface: Some(1),
                    address: "10.1.0.2/24".parse().unwrap(),
                    gateway: None,
                },
            ],
            routes: vec![
                Route {
                    mtu: Some(1300),
                    table: Some(0),
                    ..Route::new("0.0.0.0/0".parse().unwrap(), None)
                },
                Route::new("::/0".parse().unwrap(), Some("fd00::1".parse().unwrap())),
            ],
            dns: Dns {
                nameservers: vec!["10.0.0.53".into()],
                ..Default::default()
            },
        }
    }

    fn v(r: &CniResult, version: &str) -> Value {
        serde_json::from_str(&r.to_json(version).unwrap()).unwrap()
    }

    #[test]
    fn written_in_each_version_as_go_converts() {
        let r = sample();
        assert_eq!(
            v(&r, "1.1.0"),
            json!({"cniVersion": "1.1.0",
                "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:01"},
                               {"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "mtu": 1400, "sandbox": "/run/netns/x"}],
                "ips": [{"interface": 1, "address": "10.0.0.2/24", "gateway": "10.0.0.1"},
                        {"interface": 1, "address": "fd00::2/64"},
                        {"interface": 1, "address": "10.1.0.2/24"}],
                "routes": [{"dst": "0.0.0.0/0", "mtu": 1300, "table": 0}, {"dst": "::/0", "gw": "fd00::1"}],
                "dns": {"nameservers": ["10.0.0.53"]}})
        );
        let one = v(&r, "1.0.0");
        assert_eq!(
            one["interfaces"][1],
            json!({"name": "eth0", "mac": "aa:bb:cc:dd:ee:02", "sandbox": "/run/netns/x"})
        );
        assert_eq!(one["routes"][0], json!({"dst": "0.0.0.0/0"}));
        let four = v(&r, "0.3.1");
        assert_eq!(
            four["ips"][1],
            json!({"version": "6", "interface": 1, "address": "fd00::2/64"})
        );
        assert_eq!(
            v(&r, "0.2.0"),
            json!({"cniVersion": "0.2.0",
                "ip4": {"ip": "10.0.0.2/24", "gateway": "10.0.0.1", "routes": [{"dst": "0.0.0.0/0"}]},
                "ip6": {"ip": "fd00::2/64", "routes": [{"dst": "::/0", "gw": "fd00::1"}]},
                "dns": {"nameservers": ["10.0.0.53"]}})
        );
        let empty = CniResult::new();
        assert_eq!(
            empty.to_json("0.1.0").unwrap_err().msg(),
            "cannot convert: no valid IP addresses"
        );
        assert_eq!(
            v(&empty, "1.0.0"),
            json!({"cniVersion": "1.0.0", "dns": {}})
        );
        assert!(empty.to_json("0.5.0").is_err());
        assert!(empty.to_json("").is_err());
    }

    #[test]
    fn read_back_from_every_version() {
        let r = sample();
        for (ver, keeps_11, keeps_all_ips) in [
            ("1.1.0", true, true),
            ("1.0.0", false, true),
            ("0.4.0", false, true),
            ("0.3.0", false, true),
            ("0.2.0", false, false),
        ] {
            let text = r.to_json(ver).unwrap();
            let back = CniResult::parse(text.as_bytes(), "1.0.0").unwrap();
            assert_eq!(back.cni_version, ver);
            assert_eq!(back.ips.len(), if keeps_all_ips { 3 } else { 2 }, "{ver}");
            assert_eq!(back.routes[0].mtu.is_some(), keeps_11, "{ver}");
            assert_eq!(back.dns, r.dns);
            if keeps_11 {
                assert_eq!(back, r);
            }
        }
    }

    #[test]
    fn prev_result_is_read_as_the_configs_version() {
        let prev =
            json!({"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.2/24"}]});
        let e = CniResult::from_value(&prev, "1.0.0").unwrap_err();
        assert_eq!(e.code(), code::DECODING_FAILURE);
        assert!(
            e.msg().contains("unmarshalled CNIVersion is \"0.4.0\""),
            "{}",
            e.msg()
        );
        let prev = json!({"ips": [{"address": "10.0.0.2/24", "interface": 0}]});
        let r = CniResult::from_value(&prev, "1.0.0").unwrap();
        assert_eq!(
            (r.cni_version.as_str(), r.ips[0].interface),
            ("1.0.0", Some(0))
        );
        let bad = json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2"}]});
        assert_eq!(
            CniResult::from_value(&bad, "1.0.0").unwrap_err().code(),
            code::DECODING_FAILURE
        );
        let bad =
            json!({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/24", "gateway": "x"}]});
        assert!(CniResult::from_value(&bad, "1.0.0").is_err());
    }
}
