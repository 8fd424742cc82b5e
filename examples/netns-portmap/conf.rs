//! portmap's keys, read and checked as the reference reads them, and
//! turned into netns-core's port forwards.

use std::net::IpAddr;

use netns_cni::{CmdArgs, CniResult, Error};
use netns_core::{Hairpin, IpNet, NatCondition, NatProto, PortForward};
use serde::Deserialize;

/// The reference's default `markMasqBit`.
const DEFAULT_MARK_BIT: i64 = 13;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConf {
    snat: Option<bool>,
    #[serde(rename = "conditionsV4")]
    conditions_v4: Option<Vec<String>>,
    #[serde(rename = "conditionsV6")]
    conditions_v6: Option<Vec<String>>,
    #[serde(rename = "masqAll")]
    masq_all: bool,
    #[serde(rename = "markMasqBit")]
    mark_masq_bit: Option<i64>,
    #[serde(rename = "externalSetMarkChain")]
    external_set_mark_chain: Option<String>,
    #[serde(rename = "runtimeConfig")]
    runtime_config: RawRuntime,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRuntime {
    #[serde(rename = "portMappings")]
    port_mappings: Vec<RawMapping>,
}

/// One `runtimeConfig.portMappings` entry (CNI's CONVENTIONS.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct RawMapping {
    #[serde(rename = "hostPort")]
    host_port: i64,
    #[serde(rename = "containerPort")]
    container_port: i64,
    protocol: String,
    #[serde(rename = "hostIP")]
    host_ip: String,
}

/// One checked mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub proto: NatProto,
    pub host_port: u16,
    pub container_port: u16,
    /// `None`: no hostIP, or an unspecified one (0.0.0.0, ::) of that family.
    pub host_ip: Option<IpAddr>,
    /// The family a hostIP limits the mapping to (`Some(true)` IPv6).
    pub family_v6: Option<bool>,
}

/// The config, checked.
#[derive(Debug)]
pub struct Conf {
    pub snat: bool,
    pub masq_all: bool,
    pub mappings: Vec<Mapping>,
    pub conditions_v4: Vec<NatCondition>,
    pub conditions_v6: Vec<NatCondition>,
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::internal(format!("failed to parse config: {msg}"))
}

fn decode(args: &CmdArgs) -> Result<RawConf, Error> {
    netns_cni::json::decode(&args.stdin)
        .map_err(|e| bad(format!("failed to parse network configuration: {e}")))
}

/// The config of an ADD or CHECK, every key checked (code 999 with
/// `failed to parse config: ...`, as the reference's config errors).
pub fn load(args: &CmdArgs) -> Result<Conf, Error> {
    let raw = decode(args)?;
    if raw.mark_masq_bit.is_some() && raw.external_set_mark_chain.is_some() {
        return Err(bad("Cannot specify externalSetMarkChain and markMasqBit"));
    }
    let bit = raw.mark_masq_bit.unwrap_or(DEFAULT_MARK_BIT);
    if !(0..=31).contains(&bit) {
        return Err(bad("MasqMarkBit must be between 0 and 31"));
    }
    let mut mappings = Vec::new();
    for m in &raw.runtime_config.port_mappings {
        mappings.push(mapping(m)?);
    }
    for (i, a) in mappings.iter().enumerate() {
        if let Some(b) = mappings[..i].iter().find(|b| same_host_port(a, b)) {
            return Err(bad(format!(
                "host port {}/{}{} is mapped twice (to container ports {} and {})",
                a.host_port,
                a.proto,
                a.host_ip.map(|h| format!(" of {h}")).unwrap_or_default(),
                b.container_port,
                a.container_port
            )));
        }
    }
    Ok(Conf {
        snat: raw.snat.unwrap_or(true),
        masq_all: raw.masq_all,
        conditions_v4: conditions(raw.conditions_v4.as_deref().unwrap_or(&[]), false)?,
        conditions_v6: conditions(raw.conditions_v6.as_deref().unwrap_or(&[]), true)?,
        mappings,
    })
}

/// The UDP host ports of the config, for DEL: a config that does not
/// decode is refused, a mapping that does not check is skipped (DEL
/// removes the attachment's forwards whatever its config says).
pub fn udp_ports_for_del(args: &CmdArgs) -> Result<Vec<u16>, Error> {
    let raw = decode(args)?;
    let mut ports: Vec<u16> = raw
        .runtime_config
        .port_mappings
        .iter()
        .filter_map(|m| mapping(m).ok())
        .filter(|m| m.proto == NatProto::Udp)
        .map(|m| m.host_port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// Whether two mappings claim the same host port (protocol, port and
/// address; a mapping of any address overlaps only those of any address).
fn same_host_port(a: &Mapping, b: &Mapping) -> bool {
    let families_meet = match (a.family_v6, b.family_v6) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    a.proto == b.proto && a.host_port == b.host_port && a.host_ip == b.host_ip && families_meet
}

fn port(what: &str, n: i64) -> Result<u16, Error> {
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(format!("Invalid {what} port number: {n}"))),
    }
}

fn mapping(m: &RawMapping) -> Result<Mapping, Error> {
    let container_port = port("container", m.container_port)?;
    let host_port = port("host", m.host_port)?;
    let proto = if m.protocol.is_empty() {
        NatProto::Tcp
    } else {
        m.protocol.parse::<NatProto>().map_err(|_| {
            bad(format!(
                "unknown protocol {:?} in the mapping of host port {host_port} (tcp, udp or sctp)",
                m.protocol
            ))
        })?
    };
    let (host_ip, family_v6) = if m.host_ip.is_empty() {
        (None, None)
    } else {
        let ip: IpAddr = m.host_ip.parse().map_err(|_| {
            bad(format!(
                "invalid hostIP {:?} in the mapping of host port {host_port}",
                m.host_ip
            ))
        })?;
        let ip = match ip {
            // An IPv4-mapped IPv6 address is IPv4 to Go's To4.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        ((!ip.is_unspecified()).then_some(ip), Some(ip.is_ipv6()))
    };
    Ok(Mapping {
        proto,
        host_port,
        container_port,
        host_ip,
        family_v6,
    })
}

/// `conditionsV4`/`conditionsV6`: iptables match arguments, of which the
/// subset `[!] -s|--source CIDR`, `[!] -d|--destination CIDR`,
/// `[!] -i|--in-interface NAME`, `[!] -o|--out-interface NAME` is taken
/// (one address or prefix of the list's family, one exact interface name);
/// anything else is refused, naming it.
pub fn conditions(args: &[String], v6: bool) -> Result<Vec<NatCondition>, Error> {
    let key = if v6 { "conditionsV6" } else { "conditionsV4" };
    let refuse = |what: String| {
        Err(bad(format!(
            "{key}: {what} (netns-portmap takes [!] -s/-d CIDR and [!] -i/-o INTERFACE)"
        )))
    };
    let mut out = Vec::new();
    let mut it = args.iter().map(|s| s.trim());
    while let Some(mut a) = it.next() {
        let mut negated = false;
        if a == "!" {
            negated = true;
            match it.next() {
                Some(n) => a = n,
                None => return refuse("\"!\" at the end".into()),
            }
        }
        let Some(value) = it.next() else {
            return refuse(format!("{a:?} without a value"));
        };
        if value == "!" {
            return refuse(format!("{a:?} \"!\": write \"!\" before the option"));
        }
        let m = !negated;
        let c = match a {
            "-s" | "--source" | "--src" => NatCondition::Saddr(prefix(key, value, v6)?, m),
            "-d" | "--destination" | "--dst" => NatCondition::Daddr(prefix(key, value, v6)?, m),
            "-i" | "--in-interface" => NatCondition::Iifname(ifname(key, value)?, m),
            "-o" | "--out-interface" => NatCondition::Oifname(ifname(key, value)?, m),
            other => return refuse(format!("unsupported condition {other:?}")),
        };
        out.push(c);
    }
    Ok(out)
}

fn prefix(key: &str, s: &str, v6: bool) -> Result<IpNet, Error> {
    let net = if s.contains('/') {
        s.parse::<IpNet>().ok()
    } else {
        s.parse::<IpAddr>().ok().map(IpNet::from)
    };
    match net {
        Some(n) if matches!(n, IpNet::V6(_)) == v6 => Ok(n.trunc()),
        Some(_) => Err(bad(format!(
            "{key}: {s:?} is not an IPv{} address",
            if v6 { 6 } else { 4 }
        ))),
        None => Err(bad(format!(
            "{key}: {s:?} is not an address or prefix (one only, no names or lists)"
        ))),
    }
}

fn ifname(key: &str, s: &str) -> Result<String, Error> {
    if s.is_empty() || s.len() > 15 || s.contains(['\0', '/', '+', ' ', ',']) {
        return Err(bad(format!(
            "{key}: interface {s:?} is not an exact interface name (no wildcard '+')"
        )));
    }
    Ok(s.to_string())
}

/// The container's addresses as the reference picks them from prevResult:
/// the first IPv4 and the first IPv6 one not of an interface known to be
/// outside the sandbox (another name than CNI_IFNAME, or no sandbox).
pub fn container_ips(prev: &CniResult, ifname: &str) -> (Option<IpNet>, Option<IpNet>) {
    let (mut v4, mut v6) = (None, None);
    for ip in &prev.ips {
        let is_v6 = matches!(ip.address, IpNet::V6(_));
        if (is_v6 && v6.is_some()) || (!is_v6 && v4.is_some()) {
            continue;
        }
        if let Some(i) = ip.interface {
            if let Some(iface) = prev.interfaces.get(i) {
                let sandboxed = iface.sandbox.as_deref().is_some_and(|s| !s.is_empty());
                if iface.name != ifname || !sandboxed {
                    continue;
                }
            }
        }
        if is_v6 {
            v6 = Some(ip.address);
        } else {
            v4 = Some(ip.address);
        }
    }
    (v4, v6)
}

/// The forwards of `conf` to the container's addresses: each mapping to
/// each address of its family (a mapping with a hostIP to the address of
/// the hostIP's family only; one whose family the pod lacks is an error,
/// where the reference drops it silently).
pub fn forwards(
    conf: &Conf,
    v4: Option<IpNet>,
    v6: Option<IpNet>,
    ifname: &str,
) -> Result<Vec<PortForward>, Error> {
    let mut out = Vec::new();
    for m in &conf.mappings {
        let mut any = false;
        for pod in [v4, v6].into_iter().flatten() {
            let pod_v6 = matches!(pod, IpNet::V6(_));
            if m.family_v6.is_some_and(|f| f != pod_v6) {
                continue;
            }
            any = true;
            out.push(PortForward {
                proto: m.proto,
                host_port: m.host_port,
                host_ip: m.host_ip,
                to: pod.addr(),
                to_port: m.container_port,
            });
        }
        if !any {
            let fam = match m.family_v6 {
                Some(true) => "IPv6 ",
                Some(false) => "IPv4 ",
                None => "",
            };
            return Err(Error::internal(format!(
                "host port {}/{}{}: prevResult has no {fam}address of interface {ifname} to forward it to",
                m.host_port,
                m.proto,
                m.host_ip.map(|h| format!(" of {h}")).unwrap_or_default()
            )));
        }
    }
    Ok(out)
}

/// Which forwarded connections are masqueraded: none without `snat`; all
/// with `masqAll`; else those from the pod's own subnets (hairpin) and
/// from loopback (a host process using 127.0.0.1:PORT or [::1]:PORT).
pub fn hairpin(conf: &Conf, v4: Option<IpNet>, v6: Option<IpNet>) -> Hairpin {
    if !conf.snat {
        return Hairpin::Off;
    }
    if conf.masq_all {
        return Hairpin::All;
    }
    let mut nets: Vec<IpNet> = [v4, v6].into_iter().flatten().map(|n| n.trunc()).collect();
    nets.push(IpNet::V4(netns_core::Ipv4Net::new_assert(
        std::net::Ipv4Addr::LOCALHOST,
        8,
    )));
    nets.push(IpNet::V6(netns_core::Ipv6Net::new_assert(
        std::net::Ipv6Addr::LOCALHOST,
        128,
    )));
    Hairpin::From(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conds(a: &[&str], v6: bool) -> Result<Vec<NatCondition>, Error> {
        conditions(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>(), v6)
    }

    #[test]
    fn conditions_subset() {
        let c = conds(
            &["!", "-s", "10.1.0.0/16", "-i", "eth0", "-d", "1.2.3.4"],
            false,
        )
        .unwrap();
        assert_eq!(
            c,
            vec![
                NatCondition::Saddr("10.1.0.0/16".parse().unwrap(), false),
                NatCondition::Iifname("eth0".into(), true),
                NatCondition::Daddr("1.2.3.4/32".parse().unwrap(), true),
            ]
        );
        for bad in [
            &["-p", "tcp"][..],
            &["-s"],
            &["-s", "!", "1.2.3.4"],
            &["-s", "::1"],
            &["-s", "a.example"],
            &["-i", "eth+"],
            &["-m", "addrtype", "--dst-type", "LOCAL"],
            &["!"],
        ] {
            let e = conds(bad, false).unwrap_err();
            assert!(e.msg().contains("conditionsV4"), "{bad:?}: {}", e.msg());
        }
        assert!(conds(&["-d", "fd00::/64"], true).is_ok());
    }

    fn raw(hp: i64, cp: i64, proto: &str, host_ip: &str) -> RawMapping {
        RawMapping {
            host_port: hp,
            container_port: cp,
            protocol: proto.into(),
            host_ip: host_ip.into(),
        }
    }

    #[test]
    fn mappings_as_the_reference_reads_them() {
        let m = mapping(&raw(8080, 80, "", "")).unwrap();
        assert_eq!(
            (m.proto, m.host_ip, m.family_v6),
            (NatProto::Tcp, None, None)
        );
        assert_eq!(
            mapping(&raw(1, 2, "SCTP", "")).unwrap().proto,
            NatProto::Sctp
        );
        // An unspecified hostIP: any address, of its family only.
        let m = mapping(&raw(1, 2, "udp", "0.0.0.0")).unwrap();
        assert_eq!((m.host_ip, m.family_v6), (None, Some(false)));
        let m = mapping(&raw(1, 2, "udp", "::ffff:192.0.2.1")).unwrap();
        assert_eq!(m.host_ip, Some("192.0.2.1".parse().unwrap()));
        for bad in [
            raw(0, 1, "tcp", ""),
            raw(65536, 1, "tcp", ""),
            raw(1, -5, "tcp", ""),
        ] {
            assert!(mapping(&bad).is_err(), "{bad:?}");
        }
        let any = mapping(&raw(8080, 80, "tcp", "")).unwrap();
        let v4 = mapping(&raw(8080, 81, "tcp", "0.0.0.0")).unwrap();
        let v6 = mapping(&raw(8080, 81, "tcp", "::")).unwrap();
        assert!(same_host_port(&any, &v4) && same_host_port(&any, &v6));
        assert!(!same_host_port(&v4, &v6));
    }

    #[test]
    fn container_ips_are_the_references() {
        let prev: CniResult = CniResult::parse(
            br#"{"cniVersion":"1.0.0",
            "interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/x"},{"name":"eth1","sandbox":"/x"}],
            "ips":[{"interface":0,"address":"10.0.0.1/24"},{"interface":2,"address":"10.1.0.2/24"},
                   {"interface":1,"address":"10.2.0.2/24"},{"interface":1,"address":"10.3.0.2/24"},
                   {"address":"fd00::2/64"}]}"#,
            "1.0.0",
        )
        .unwrap();
        let (v4, v6) = container_ips(&prev, "eth0");
        assert_eq!(v4, Some("10.2.0.2/24".parse().unwrap()));
        assert_eq!(v6, Some("fd00::2/64".parse().unwrap()));
    }
}
