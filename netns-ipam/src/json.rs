//! Parsing a CNI network config (JSON on the plugin's stdin) into an
//! [`IpamConfig`], the way host-local (Go's `encoding/json`) reads it:
//! object keys match case-insensitively, the last of duplicate keys wins,
//! unknown keys are ignored, `null` means absent, an empty address string
//! means unset.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{
    parse_cni_args, parse_ip_or_cidr, ConfigError, IpamConfig, IpamInput, IpamRoute, RangeSpec,
};
use crate::gojson::{self, GoValue as Value};
use crate::ip::{parse_cidr, parse_ip};

/// Parse a network config the way Go reads it ([`gojson::read`]).
fn parse_value(bytes: &[u8]) -> Result<Value, ConfigError> {
    gojson::read(bytes).map_err(|e| ConfigError::Invalid(e.to_string()))
}

fn type_error(found: &Value, path: &str, ty: &str) -> ConfigError {
    // Go names the struct holding the field, then the JSON path.
    let holder = match path.rsplit_once('.').map_or("", |(p, _)| p) {
        "" => "Net",
        "ipam" => "IPAMConfig",
        "ipam.ranges" | "runtimeConfig.ipRanges" => "Range",
        "ipam.routes" => "Route",
        "args.cni" => "IPAMArgs",
        _ => "",
    };
    let path = path.trim_start_matches('.');
    let field = if holder.is_empty() {
        path.to_string()
    } else {
        format!("{holder}.{path}")
    };
    ConfigError::Invalid(format!(
        "json: cannot unmarshal {} into Go struct field {field} of type {ty}",
        found.kind()
    ))
}

/// The object's fields, or a type error.
fn object<'a>(v: &'a Value, path: &str) -> Result<&'a [(String, Value)], ConfigError> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(type_error(other, path, "struct")),
    }
}

/// The value of `name` in `obj`: the last non-null key equal to it, ignoring
/// case (Go's rule).
fn field<'a>(obj: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    obj.iter()
        .rev()
        .find(|(k, v)| k.eq_ignore_ascii_case(name) && *v != Value::Null)
        .map(|(_, v)| v)
}

fn string(obj: &[(String, Value)], name: &str, path: &str) -> Result<Option<String>, ConfigError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(type_error(other, &format!("{path}.{name}"), "string")),
    }
}

fn array<'a>(
    obj: &'a [(String, Value)],
    name: &str,
    path: &str,
) -> Result<&'a [Value], ConfigError> {
    match field(obj, name) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(type_error(other, &format!("{path}.{name}"), "array")),
    }
}

/// A `net.IP` field: empty string is unset, otherwise Go's ParseIP.
fn net_ip(obj: &[(String, Value)], name: &str, path: &str) -> Result<Option<IpAddr>, ConfigError> {
    match string(obj, name, path)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_ip(&s)
            .map(Some)
            .ok_or_else(|| ConfigError::Invalid(format!("invalid IP address: {s}"))),
    }
}

/// A `types.IPNet` field (Go's ParseCIDR: [`parse_cidr`]).
fn ip_net(obj: &[(String, Value)], name: &str, path: &str) -> Result<Option<IpNet>, ConfigError> {
    match string(obj, name, path)? {
        None => Ok(None),
        Some(s) => parse_cidr(&s)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(e.to_string())),
    }
}

/// An `[]ip.IP` field (`addr` or `addr/len`).
fn ip_list(obj: &[(String, Value)], name: &str, path: &str) -> Result<Vec<IpAddr>, ConfigError> {
    let mut out = Vec::new();
    for v in array(obj, name, path)? {
        match v {
            Value::Null => {}
            Value::String(s) => out.push(
                parse_ip_or_cidr(s)
                    .ok_or_else(|| ConfigError::Invalid(format!("invalid IP address {s}")))?,
            ),
            other => return Err(type_error(other, &format!("{path}.{name}"), "string")),
        }
    }
    Ok(out)
}

fn int(obj: &[(String, Value)], name: &str, path: &str) -> Result<Option<i64>, ConfigError> {
    match field(obj, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "json: cannot unmarshal number {n} into Go struct field {path}.{name} of type int"
            ))
        }),
        Some(other) => Err(type_error(other, &format!("{path}.{name}"), "int")),
    }
}

/// A range object; `Ok(None)` when it has no subnet.
fn range(obj: &[(String, Value)], path: &str) -> Result<Option<RangeSpec>, ConfigError> {
    let range_start = net_ip(obj, "rangeStart", path)?;
    let range_end = net_ip(obj, "rangeEnd", path)?;
    let gateway = net_ip(obj, "gateway", path)?;
    let subnet = ip_net(obj, "subnet", path)?;
    Ok(subnet.map(|subnet| RangeSpec {
        subnet,
        range_start,
        range_end,
        gateway,
    }))
}

/// `[][]Range`, with the range-set index offset for error messages.
fn range_sets(
    obj: &[(String, Value)],
    name: &str,
    path: &str,
    first_index: usize,
) -> Result<Vec<Vec<RangeSpec>>, ConfigError> {
    let mut sets = Vec::new();
    for (i, set) in array(obj, name, path)?.iter().enumerate() {
        let p = format!("{path}.{name}");
        let items: &[Value] = match set {
            Value::Null => &[],
            Value::Array(a) => a,
            other => return Err(type_error(other, &p, "allocator.RangeSet")),
        };
        let mut specs = Vec::new();
        for item in items {
            let Some(spec) = range(object(item, &p)?, &p)? else {
                return Err(ConfigError::InvalidRangeSet {
                    index: first_index + i,
                    source: Box::new(ConfigError::Invalid("IP <nil> not v4 nor v6".into())),
                });
            };
            specs.push(spec);
        }
        sets.push(specs);
    }
    Ok(sets)
}

fn routes(obj: &[(String, Value)], path: &str) -> Result<Vec<IpamRoute>, ConfigError> {
    let mut out = Vec::new();
    let p = format!("{path}.routes");
    for v in array(obj, "routes", path)? {
        if *v == Value::Null {
            continue;
        }
        let o = object(v, &p)?;
        let dst = ip_net(o, "dst", &p)?
            .ok_or_else(|| ConfigError::Invalid("invalid route: no dst".into()))?;
        out.push(IpamRoute {
            dst,
            gw: net_ip(o, "gw", &p)?,
            mtu: int(o, "mtu", &p)?,
            advmss: int(o, "advmss", &p)?,
            priority: int(o, "priority", &p)?,
            table: int(o, "table", &p)?,
            scope: int(o, "scope", &p)?,
        });
    }
    Ok(out)
}

/// The fields every CNI command looks at first: `name` and `cniVersion`
/// (empty if absent; CNI reads an absent version as 0.1.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkHeader {
    /// The network name.
    pub name: String,
    /// The config's `cniVersion`, as written.
    pub cni_version: String,
}

/// Read `name` and `cniVersion` from a network config.
///
/// ```
/// let h = netns_ipam::json::parse_header(br#"{"cniVersion":"1.0.0","NAME":"n"}"#)?;
/// assert_eq!((h.name.as_str(), h.cni_version.as_str()), ("n", "1.0.0"));
/// assert!(netns_ipam::json::parse_header(b"{").is_err());
/// # Ok::<(), netns_ipam::ConfigError>(())
/// ```
pub fn parse_header(stdin: &[u8]) -> Result<NetworkHeader, ConfigError> {
    let v = parse_value(stdin)?;
    let top = object(&v, "")?;
    Ok(NetworkHeader {
        name: string(top, "name", "")?.unwrap_or_default(),
        cni_version: string(top, "cniVersion", "")?.unwrap_or_default(),
    })
}

/// host-local's `LoadIPAMConfig`: parse the network config `stdin` and the
/// CNI_ARGS string, and normalise (see [`IpamInput::normalize`]).
///
/// ```
/// let conf = netns_ipam::json::parse_ipam_config(br#"{
///     "cniVersion": "1.0.0", "name": "net",
///     "ipam": {"type": "host-local", "subnet": "10.0.0.0/29",
///              "rangeStart": "10.0.0.3", "routes": [{"dst": "0.0.0.0/0"}]},
///     "args": {"cni": {"ips": ["10.0.0.5"]}}
/// }"#, "IgnoreUnknown=1;K8S_POD_NAME=p")?;
/// assert_eq!(conf.range_sets[0].to_string(), "10.0.0.3-10.0.0.6");
/// assert_eq!(conf.requested_ips, vec!["10.0.0.5".parse::<std::net::IpAddr>()?]);
/// assert_eq!(conf.data_dir(), "/var/lib/cni/networks");
///
/// let e = netns_ipam::json::parse_ipam_config(
///     br#"{"name": "n", "ipam": {"subnet": "10.0.0.0/31"}}"#, "").unwrap_err();
/// assert_eq!(e.to_string(), "invalid range set 0: Network 10.0.0.0/31 too small to allocate from");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_ipam_config(stdin: &[u8], cni_args: &str) -> Result<IpamConfig, ConfigError> {
    let v = parse_value(stdin)?;
    let top = object(&v, "")?;
    let name = string(top, "name", "")?.unwrap_or_default();
    let cni_version = string(top, "cniVersion", "")?.unwrap_or_default();

    let (runtime_ranges, runtime_ips) = match field(top, "runtimeConfig") {
        None => (Vec::new(), Vec::new()),
        Some(rc) => {
            let rc = object(rc, "runtimeConfig")?;
            (
                range_sets(rc, "ipRanges", "runtimeConfig", 0)?,
                ip_list(rc, "ips", "runtimeConfig")?,
            )
        }
    };
    let args_ips = match field(top, "args") {
        None => Vec::new(),
        Some(a) => match field(object(a, "args")?, "cni") {
            None => Vec::new(),
            Some(c) => ip_list(object(c, "args.cni")?, "ips", "args.cni")?,
        },
    };
    let ipam = match field(top, "ipam") {
        None => None,
        Some(i) => Some(object(i, "ipam")?),
    };
    let Some(ipam) = ipam else {
        return Err(ConfigError::MissingIpam);
    };
    let legacy_range = range(ipam, "ipam")?;
    let first = runtime_ranges.len() + usize::from(legacy_range.is_some());
    let ranges = range_sets(ipam, "ranges", "ipam", first)?;
    let input = IpamInput {
        name,
        cni_version,
        legacy_range,
        ranges,
        runtime_ranges,
        env_ip: None,
        args_ips,
        runtime_ips,
        routes: routes(ipam, "ipam")?,
        data_dir: string(ipam, "dataDir", "ipam")?,
        resolv_conf: string(ipam, "resolvConf", "ipam")?,
    };
    let env_ip = parse_cni_args(cni_args)?;
    IpamInput { env_ip, ..input }.normalize()
}

/// The CNI 1.1 GC list `cni.dev/valid-attachments`: (container id, ifname)
/// pairs.
///
/// ```
/// let v = netns_ipam::json::parse_valid_attachments(br#"{"name":"n",
///     "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}"#)?;
/// assert_eq!(v, vec![("c1".to_string(), "eth0".to_string())]);
/// # Ok::<(), netns_ipam::ConfigError>(())
/// ```
pub fn parse_valid_attachments(stdin: &[u8]) -> Result<Vec<(String, String)>, ConfigError> {
    let v = parse_value(stdin)?;
    let top = object(&v, "")?;
    let p = "cni.dev/valid-attachments";
    let mut out = Vec::new();
    for a in array(top, p, "")? {
        if *a == Value::Null {
            continue;
        }
        let o = object(a, p)?;
        out.push((
            string(o, "containerID", p)?.unwrap_or_default(),
            string(o, "ifname", p)?.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// The cluster store's settings of a netns-cluster-ipam config: `ipam.etcd`
/// and the node name `ipam.node` (`None` when unset: the caller uses the
/// host name).
///
/// ```text
/// "ipam": {
///   "type": "netns-cluster-ipam", "subnet": "10.1.0.0/23",
///   "node": "worker-1",
///   "etcd": {
///     "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
///     "prefix": "/netns-ipam",
///     "tls": {"caFile": "/etc/etcd/ca.pem", "certFile": "/etc/etcd/client.pem",
///             "keyFile": "/etc/etcd/client-key.pem"},
///     "dialTimeoutMs": 2000, "requestTimeoutMs": 5000
///   }
/// }
/// ```
#[cfg(feature = "etcd")]
pub fn parse_etcd_config(
    stdin: &[u8],
) -> Result<(crate::etcd::EtcdConfig, Option<String>), ConfigError> {
    use crate::etcd::{EtcdConfig, EtcdTls};
    use std::time::Duration;
    let v = parse_value(stdin)?;
    let top = object(&v, "")?;
    let Some(ipam) = field(top, "ipam") else {
        return Err(ConfigError::MissingIpam);
    };
    let ipam = object(ipam, "ipam")?;
    let node = string(ipam, "node", "ipam")?.filter(|n| !n.is_empty());
    let Some(etcd) = field(ipam, "etcd") else {
        return Err(ConfigError::Invalid(
            "ipam.etcd is required: {\"endpoints\": [\"http://HOST:2379\", ...]}".to_string(),
        ));
    };
    let etcd = object(etcd, "ipam.etcd")?;
    let mut endpoints = Vec::new();
    for e in array(etcd, "endpoints", "ipam.etcd")? {
        match e {
            Value::Null => {}
            // The URI parser the client's requests go through: an endpoint
            // it refuses (a control character, a space) is a config error
            // here, not an unreachable cluster after the whole timeout.
            Value::String(s)
                if (s.starts_with("http://") || s.starts_with("https://"))
                    && s.parse::<ureq::http::Uri>()
                        .is_ok_and(|u| u.host().is_some_and(|h| !h.is_empty())) =>
            {
                endpoints.push(s.clone())
            }
            Value::String(s) => {
                return Err(ConfigError::Invalid(format!(
                    "ipam.etcd.endpoints: {s:?} is not an http:// or https:// URL"
                )))
            }
            other => return Err(type_error(other, "ipam.etcd.endpoints", "string")),
        }
    }
    if endpoints.is_empty() {
        return Err(ConfigError::Invalid(
            "ipam.etcd.endpoints: at least one endpoint is required".to_string(),
        ));
    }
    let mut conf = EtcdConfig::new(endpoints);
    if let Some(p) = string(etcd, "prefix", "ipam.etcd")? {
        if !p.starts_with('/') || p.contains('\0') {
            return Err(ConfigError::Invalid(format!(
                "ipam.etcd.prefix: {p:?} must start with /"
            )));
        }
        conf.prefix = p;
    }
    if let Some(t) = field(etcd, "tls") {
        let t = object(t, "ipam.etcd.tls")?;
        let path = |k: &str| -> Result<Option<std::path::PathBuf>, ConfigError> {
            Ok(string(t, k, "ipam.etcd.tls")?
                .filter(|s| !s.is_empty())
                .map(Into::into))
        };
        let tls = EtcdTls {
            ca_file: path("caFile")?,
            cert_file: path("certFile")?,
            key_file: path("keyFile")?,
        };
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            return Err(ConfigError::Invalid(
                "ipam.etcd.tls: certFile and keyFile go together".to_string(),
            ));
        }
        conf.tls = Some(tls);
    }
    for (key, slot) in [
        ("dialTimeoutMs", &mut conf.dial_timeout),
        ("requestTimeoutMs", &mut conf.request_timeout),
    ] {
        match int(etcd, key, "ipam.etcd")? {
            None => {}
            Some(ms) if (1..=600_000).contains(&ms) => *slot = Duration::from_millis(ms as u64),
            Some(ms) => {
                return Err(ConfigError::Invalid(format!(
                    "ipam.etcd.{key}: {ms} is not between 1 and 600000"
                )))
            }
        }
    }
    Ok((conf, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "etcd")]
    #[test]
    fn etcd_settings_parse_and_bad_ones_are_named() {
        let (c, node) = parse_etcd_config(
            br#"{"name":"n","ipam":{"node":"w1","etcd":{"endpoints":["http://a:1","https://b:2"],
               "PREFIX":"/x","tls":{"caFile":"/ca","certFile":"/c","keyFile":"/k"},
               "dialTimeoutMs":100,"requestTimeoutMs":200}}}"#,
        )
        .unwrap();
        assert_eq!(node.as_deref(), Some("w1"));
        assert_eq!(c.endpoints, ["http://a:1", "https://b:2"]);
        assert_eq!(c.prefix, "/x");
        assert_eq!(c.dial_timeout, std::time::Duration::from_millis(100));
        assert_eq!(c.request_timeout, std::time::Duration::from_millis(200));
        assert_eq!(c.tls.unwrap().key_file.unwrap(), std::path::Path::new("/k"));
        let (c, node) =
            parse_etcd_config(br#"{"ipam":{"etcd":{"endpoints":["http://a:1"]}}}"#).unwrap();
        assert_eq!(
            (c.prefix.as_str(), node),
            (crate::etcd::DEFAULT_PREFIX, None)
        );
        for (bad, want) in [
            (r#"{"ipam":{}}"#, "ipam.etcd is required"),
            (r#"{"ipam":{"etcd":{}}}"#, "at least one endpoint"),
            (
                r#"{"ipam":{"etcd":{"endpoints":[]}}}"#,
                "at least one endpoint",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":"http://a"}}}"#,
                "of type array",
            ),
            (r#"{"ipam":{"etcd":{"endpoints":[7]}}}"#, "of type string"),
            (
                r#"{"ipam":{"etcd":{"endpoints":["a:2379"]}}}"#,
                "not an http:// or https:// URL",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a"],"prefix":"x"}}}"#,
                "must start with /",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a"],"tls":{"certFile":"/c"}}}}"#,
                "go together",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a"],"dialTimeoutMs":0}}}"#,
                "not between",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a"],"requestTimeoutMs":"5"}}}"#,
                "of type int",
            ),
            (r#"{"ipam":{"etcd":7}}"#, "of type struct"),
            // What the client's URI parser refuses: refused here, not
            // found unreachable after the whole timeout.
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a:1\u0000"]}}}"#,
                r#""http://a:1\0" is not an http:// or https:// URL"#,
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://a b:1"]}}}"#,
                "is not an http",
            ),
            (
                r#"{"ipam":{"etcd":{"endpoints":["http://"]}}}"#,
                "is not an http",
            ),
        ] {
            let e = parse_etcd_config(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    fn deep(levels: usize) -> Vec<u8> {
        let mut v = br#"{"cniVersion":"1.0.0","name":"n","x":"#.to_vec();
        v.extend(std::iter::repeat_n(b'[', levels));
        v.extend(std::iter::repeat_n(b']', levels));
        v.extend_from_slice(br#","ipam":{"subnet":"10.0.0.0/24"}}"#);
        v
    }

    #[test]
    fn nesting_up_to_gos_limit_is_read_and_beyond_it_refused_as_go_words_it() {
        // 200 levels (past serde_json's 128), and exactly Go's 10,000
        // (the outer object is one of them).
        for levels in [200, 9_999] {
            let h = parse_header(&deep(levels)).unwrap();
            assert_eq!(h.name, "n");
            assert!(parse_ipam_config(&deep(levels), "").is_ok());
        }
        let e = parse_header(&deep(10_000)).unwrap_err();
        assert_eq!(e.to_string(), "invalid character '[' exceeded max depth");
        // Brackets inside strings do not count.
        let text = format!(r#"{{"name":"n","x":"{}"}}"#, "[".repeat(20_000));
        assert_eq!(parse_header(text.as_bytes()).unwrap().name, "n");
        // A syntax error deep down is still one.
        let mut bad = deep(300);
        bad.retain(|&b| b != b']');
        assert!(parse_header(&bad).is_err());
    }

    #[test]
    fn bytes_that_are_not_utf8_in_strings_read_as_go_reads_them() {
        let h =
            parse_header(b"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"x\":\"a\xffb\"}").unwrap();
        assert_eq!(h.name, "n");
        let h = parse_header(b"{\"name\":\"n\xff\"}").unwrap();
        assert_eq!(h.name, "n\u{fffd}");
        assert!(parse_header(b"{\"name\":\"n\",\xff\"x\":1}").is_err());
    }

    #[test]
    fn go_key_rules() {
        let c = parse_ipam_config(
            br#"{"name":"n","ipam":{"SUBNET":"10.0.0.0/24","subnet":"10.1.0.0/24","rangestart":"10.1.0.7","gateway":""}}"#,
            "",
        )
        .unwrap();
        assert_eq!(c.range_sets[0].to_string(), "10.1.0.7-10.1.0.254");
        assert_eq!(
            c.range_sets[0].ranges()[0].gateway().to_string(),
            "10.1.0.1"
        );
    }

    #[test]
    fn errors_name_the_value() {
        let e = |s: &str| parse_ipam_config(s.as_bytes(), "").unwrap_err().to_string();
        assert_eq!(e(r#"{"name":"n"}"#), "IPAM config missing 'ipam' key");
        assert_eq!(e(r#"{"name":"n","ipam":{}}"#), "no IP ranges specified");
        assert_eq!(
            e(r#"{"name":"n","ipam":{"subnet":"zzz"}}"#),
            "invalid CIDR address: zzz"
        );
        assert_eq!(
            e(r#"{"name":"n","ipam":{"subnet":"10.0.0.0/24","gateway":"bad"}}"#),
            "invalid IP address: bad"
        );
        assert!(e(r#"{"name":"n","ipam":{"subnet":5}}"#).contains("cannot unmarshal number"));
        assert_eq!(
            e(
                r#"{"name":"n","runtimeConfig":{"ips":["10.0.0.x"]},"ipam":{"subnet":"10.0.0.0/24"}}"#
            ),
            "invalid IP address 10.0.0.x"
        );
        assert_eq!(
            e(
                r#"{"name":"n","ipam":{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"gateway":"10.0.0.1"}]]}}"#
            ),
            "invalid range set 1: IP <nil> not v4 nor v6"
        );
    }

    #[test]
    fn requested_order() {
        let c = parse_ipam_config(
            br#"{"name":"n","cniVersion":"1.0.0","runtimeConfig":{"ips":["10.0.0.7/24"],"ipRanges":[[{"subnet":"10.5.0.0/24"}]]},
                "args":{"cni":{"ips":["10.0.0.6"]}},"ipam":{"subnet":"10.0.0.0/24"}}"#,
            "IP=10.0.0.5",
        )
        .unwrap();
        let ips: Vec<String> = c.requested_ips.iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["10.0.0.5", "10.0.0.6", "10.0.0.7"]);
        assert_eq!(c.range_sets[0].to_string(), "10.5.0.1-10.5.0.254");
    }
}
