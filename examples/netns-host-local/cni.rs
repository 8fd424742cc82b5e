//! The CNI side of the plugin: environment, dispatch, versioned results and
//! error JSON. The allocation itself is netns-ipam's.

use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};

use netns_ipam::json::{parse_header, parse_ipam_config, parse_valid_attachments};
use netns_ipam::{parse_version, version_at_least, Allocation, Allocator, FileStore, IpamConfig};

/// The CNI versions this plugin speaks.
pub const SUPPORTED: &[&str] = &[
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];
/// The version VERSION reports itself as.
const CURRENT: &str = "1.1.0";

// CNI error codes (spec, "Error").
const ERR_INCOMPATIBLE_VERSION: u32 = 1;
const ERR_UNKNOWN_CONTAINER: u32 = 3;
const ERR_INVALID_ENV: u32 = 4;
const ERR_IO: u32 = 5;
const ERR_DECODING: u32 = 6;
const ERR_INVALID_CONFIG: u32 = 7;
const ERR_INTERNAL: u32 = 999;

struct CniError {
    code: u32,
    msg: String,
    details: String,
}

fn err(code: u32, msg: impl Into<String>) -> CniError {
    CniError {
        code,
        msg: msg.into(),
        details: String::new(),
    }
}

fn err_details(code: u32, msg: impl Into<String>, details: impl Into<String>) -> CniError {
    CniError {
        code,
        msg: msg.into(),
        details: details.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> CniError {
    err(ERR_INTERNAL, e.to_string())
}

/// A JSON value with ordered keys, printed like the Go plugins print
/// (4-space indent).
enum J {
    Str(String),
    Num(i64),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

impl J {
    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, d: usize| {
            for _ in 0..d {
                out.push_str("    ");
            }
        };
        match self {
            J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Obj(items) if items.is_empty() => out.push_str("{}"),
            J::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    pad(out, depth + 1);
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push(']');
            }
            J::Obj(items) => {
                out.push_str("{\n");
                for (i, (k, v)) in items.iter().enumerate() {
                    pad(out, depth + 1);
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push_str(": ");
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push('}');
            }
        }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, 0);
        s
    }
}

fn s(v: impl ToString) -> J {
    J::Str(v.to_string())
}

/// What skel (the Go plugin skeleton) checks: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

fn validate_ifname(n: &str) -> Result<(), CniError> {
    if n.is_empty() {
        return Err(err(ERR_INVALID_ENV, "interface name is empty"));
    }
    if n.len() > 15 {
        return Err(err_details(
            ERR_INVALID_ENV,
            "interface name is too long",
            "interface name should be less than 16 characters",
        ));
    }
    if n == "." || n == ".." {
        return Err(err(ERR_INVALID_ENV, "interface name is . or .."));
    }
    if n.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(err(
            ERR_INVALID_ENV,
            "interface name contains / or : or whitespace characters",
        ));
    }
    Ok(())
}

fn supported_or_err(version: &str) -> Result<(), CniError> {
    if SUPPORTED.contains(&version) {
        return Ok(());
    }
    let list: Vec<String> = SUPPORTED.iter().map(|v| format!("\"{v}\"")).collect();
    Err(err_details(
        ERR_INCOMPATIBLE_VERSION,
        "incompatible CNI versions",
        format!(
            "config is \"{version}\", plugin supports [{}]",
            list.join(" ")
        ),
    ))
}

fn at_least_or_err(version: &str, min: (u64, u64, u64), what: &str) -> Result<(), CniError> {
    if parse_version(version).is_none() {
        return Err(err(
            ERR_DECODING,
            format!("could not parse version {version:?}"),
        ));
    }
    if !version_at_least(version, min) {
        return Err(err(
            ERR_INCOMPATIBLE_VERSION,
            format!("config version does not allow {what}"),
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Dns {
    nameservers: Vec<String>,
    domain: String,
    search: Vec<String>,
    options: Vec<String>,
}

/// The largest resolv.conf read (glibc reads far less; host-local reads
/// without a bound).
const RESOLV_CONF_MAX: u64 = 64 * 1024;

/// host-local's resolv.conf reading, with a bound: the file must be a
/// regular file (opened without blocking, so a FIFO cannot hang the
/// plugin; /dev/zero is not read forever) of at most 64 KiB. Bytes that are
/// not UTF-8 (in a comment, say) do not fail the ADD, as in Go, whose JSON
/// output then carries U+FFFD for them, as here.
fn parse_resolv_conf(path: &str) -> Result<Dns, CniError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let fail =
        |e: std::io::Error| internal(format!("open {path}: {}", netns_ipam::go_os_message(&e)));
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(fail)?;
    if !f.metadata().map_err(fail)?.is_file() {
        return Err(internal(format!(
            "open {path}: resolvConf is not a regular file"
        )));
    }
    let mut bytes = Vec::new();
    f.take(RESOLV_CONF_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > RESOLV_CONF_MAX {
        return Err(internal(format!(
            "open {path}: resolvConf is larger than {RESOLV_CONF_MAX} bytes"
        )));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let rest = fields[1..].iter().map(|f| f.to_string());
        match fields[0] {
            "nameserver" => dns.nameservers.push(fields[1].to_string()),
            "domain" => dns.domain = fields[1].to_string(),
            "search" => dns.search.extend(rest),
            "options" => dns.options.extend(rest),
            _ => {}
        }
    }
    Ok(dns)
}

fn dns_json(d: &Dns) -> J {
    let mut o = Vec::new();
    let list = |v: &[String]| J::Arr(v.iter().map(s).collect());
    if !d.nameservers.is_empty() {
        o.push(("nameservers", list(&d.nameservers)));
    }
    if !d.domain.is_empty() {
        o.push(("domain", s(&d.domain)));
    }
    if !d.search.is_empty() {
        o.push(("search", list(&d.search)));
    }
    if !d.options.is_empty() {
        o.push(("options", list(&d.options)));
    }
    J::Obj(o)
}

fn route_json(r: &netns_ipam::IpamRoute, v11: bool) -> J {
    let mut o = vec![("dst", s(r.dst))];
    if let Some(gw) = r.gw {
        o.push(("gw", s(gw)));
    }
    if v11 {
        for (k, v) in [
            ("mtu", r.mtu),
            ("advmss", r.advmss),
            ("priority", r.priority),
            ("table", r.table),
            ("scope", r.scope),
        ] {
            if let Some(v) = v {
                o.push((k, J::Num(v)));
            }
        }
    }
    J::Obj(o)
}

/// The ADD result in the format of `version`.
fn result_json(version: &str, conf: &IpamConfig, allocs: &[Allocation], dns: &Dns) -> J {
    let mut o = vec![("cniVersion", s(version))];
    if !version_at_least(version, (0, 3, 0)) {
        // 0.1.0 / 0.2.0: one address per family, routes split by family.
        for (key, v4) in [("ip4", true), ("ip6", false)] {
            let Some(a) = allocs.iter().find(|a| a.ip().is_ipv4() == v4) else {
                continue;
            };
            let mut ipo = vec![("ip", s(a.address)), ("gateway", s(a.gateway))];
            let routes: Vec<J> = conf
                .routes
                .iter()
                .filter(|r| r.dst.addr().is_ipv4() == v4)
                .map(|r| route_json(r, false))
                .collect();
            if !routes.is_empty() {
                ipo.push(("routes", J::Arr(routes)));
            }
            o.push((key, J::Obj(ipo)));
        }
        o.push(("dns", dns_json(dns)));
        return J::Obj(o);
    }
    let with_family = !version_at_least(version, (1, 0, 0));
    if !allocs.is_empty() {
        let ips = allocs
            .iter()
            .map(|a| {
                let mut ipo = Vec::new();
                if with_family {
                    ipo.push(("version", s(if a.ip().is_ipv4() { "4" } else { "6" })));
                }
                ipo.push(("address", s(a.address)));
                ipo.push(("gateway", s(a.gateway)));
                J::Obj(ipo)
            })
            .collect();
        o.push(("ips", J::Arr(ips)));
    }
    if !conf.routes.is_empty() {
        let v11 = version_at_least(version, (1, 1, 0));
        o.push((
            "routes",
            J::Arr(conf.routes.iter().map(|r| route_json(r, v11)).collect()),
        ));
    }
    o.push(("dns", dns_json(dns)));
    J::Obj(o)
}

struct Env {
    command: String,
    container_id: String,
    ifname: String,
    args: String,
}

/// The CNI variables the plugin reads. Each is read as bytes: a value that
/// is not UTF-8 is refused naming it (code 4), never taken for absent.
const CNI_VARS: [&str; 6] = [
    "CNI_COMMAND",
    "CNI_CONTAINERID",
    "CNI_NETNS",
    "CNI_IFNAME",
    "CNI_PATH",
    "CNI_ARGS",
];

/// The environment, as text; `Err` names the first variable that is not
/// UTF-8.
fn text_env(
    get: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Vec<(&'static str, String)>, CniError> {
    let mut out = Vec::new();
    for k in CNI_VARS {
        if let Some(v) = get(k) {
            let v = v.into_string().map_err(|raw| {
                err(
                    ERR_INVALID_ENV,
                    format!("environment variable {k} is not valid UTF-8: {raw:?}"),
                )
            })?;
            out.push((k, v));
        }
    }
    Ok(out)
}

fn env(vars: &[(&'static str, String)]) -> Result<Env, CniError> {
    let v = |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let command = v("CNI_COMMAND");
    let required: &[&str] = match command.as_str() {
        "ADD" | "CHECK" => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
        "DEL" => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
        _ => &[],
    };
    let mut missing: Vec<&str> = Vec::new();
    if command.is_empty() {
        missing.push("CNI_COMMAND");
    }
    for k in ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"] {
        if required.contains(&k) && v(k).is_empty() {
            missing.push(k);
        }
    }
    if !missing.is_empty() {
        return Err(err(
            ERR_INVALID_ENV,
            format!("required env variables [{}] missing", missing.join(",")),
        ));
    }
    Ok(Env {
        command,
        container_id: v("CNI_CONTAINERID"),
        ifname: v("CNI_IFNAME"),
        args: v("CNI_ARGS"),
    })
}

fn open_allocator(conf: &IpamConfig) -> Result<Allocator<FileStore>, CniError> {
    let store = FileStore::open(conf.data_dir(), &conf.name).map_err(internal)?;
    Ok(Allocator::new(conf.range_sets.clone(), store))
}

/// Run one command. `Ok(Some(json))` is printed on stdout.
fn dispatch(e: &Env, stdin: &[u8], version: &mut Option<String>) -> Result<Option<J>, CniError> {
    if e.command == "VERSION" {
        return Ok(Some(J::Obj(vec![
            ("cniVersion", s(CURRENT)),
            (
                "supportedVersions",
                J::Arr(SUPPORTED.iter().map(s).collect()),
            ),
        ])));
    }
    let header = parse_header(stdin).map_err(|x| {
        err(
            ERR_DECODING,
            format!("error unmarshall network config: {x}"),
        )
    })?;
    if header.name.is_empty() {
        return Err(err(ERR_INVALID_CONFIG, "missing network name"));
    }
    if !valid_name(&header.name) {
        return Err(err_details(
            ERR_INVALID_CONFIG,
            "invalid characters found in network name",
            header.name,
        ));
    }
    let per_attachment = matches!(e.command.as_str(), "ADD" | "DEL" | "CHECK");
    if per_attachment {
        if e.container_id.is_empty() {
            return Err(err(ERR_UNKNOWN_CONTAINER, "missing containerID"));
        }
        if !valid_name(&e.container_id) {
            return Err(err_details(
                ERR_INVALID_ENV,
                "invalid characters in containerID",
                e.container_id.clone(),
            ));
        }
        validate_ifname(&e.ifname)?;
    }
    let v = if header.cni_version.is_empty() {
        "0.1.0".to_string()
    } else {
        header.cni_version.clone()
    };
    match e.command.as_str() {
        "ADD" | "DEL" => {}
        "CHECK" => at_least_or_err(&v, (0, 4, 0), "CHECK")?,
        "GC" => at_least_or_err(&v, (1, 1, 0), "GC")?,
        "STATUS" => at_least_or_err(&v, (1, 1, 0), "STATUS")?,
        other => {
            return Err(err(
                ERR_INVALID_ENV,
                format!("unknown CNI_COMMAND: {other}"),
            ))
        }
    }
    supported_or_err(&v)?;
    *version = Some(v.clone());

    let conf = parse_ipam_config(stdin, &e.args).map_err(internal)?;
    match e.command.as_str() {
        "ADD" => {
            let dns = match &conf.resolv_conf {
                Some(path) => parse_resolv_conf(path)?,
                None => Dns::default(),
            };
            let mut a = open_allocator(&conf)?;
            let allocs = a
                .allocate(&e.container_id, &e.ifname, &conf.requested_ips)
                .map_err(internal)?;
            Ok(Some(result_json(&v, &conf, &allocs, &dns)))
        }
        "DEL" => {
            open_allocator(&conf)?
                .release(&e.container_id, &e.ifname)
                .map_err(internal)?;
            Ok(None)
        }
        "CHECK" => {
            if open_allocator(&conf)?
                .check(&e.container_id, &e.ifname)
                .map_err(internal)?
            {
                Ok(None)
            } else {
                Err(internal(format!(
                    "host-local: Failed to find address added by container {}",
                    e.container_id
                )))
            }
        }
        "GC" => {
            let valid = parse_valid_attachments(stdin).map_err(|x| {
                err(
                    ERR_DECODING,
                    format!("error unmarshall network config: {x}"),
                )
            })?;
            open_allocator(&conf)?.gc(&valid).map_err(internal)?;
            Ok(None)
        }
        // STATUS: the config is usable.
        _ => Ok(None),
    }
}

/// The plugin's main: returns the exit status.
pub fn main(
    get: &dyn Fn(&str) -> Option<OsString>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let vars = match text_env(get) {
        Ok(v) => v,
        Err(x) => return print_error(stdout, &x, None),
    };
    let e = match env(&vars) {
        Ok(e) => e,
        Err(x) => {
            if !vars
                .iter()
                .any(|(k, v)| *k == "CNI_COMMAND" && !v.is_empty())
            {
                let _ = writeln!(
                    stderr,
                    "CNI netns-host-local plugin (netns-ipam) v{}",
                    env!("CARGO_PKG_VERSION")
                );
                let _ = writeln!(
                    stderr,
                    "CNI protocol versions supported: {}",
                    SUPPORTED.join(", ")
                );
                return 0;
            }
            return print_error(stdout, &x, None);
        }
    };
    let mut input = Vec::new();
    if e.command != "VERSION" {
        if let Err(x) = stdin.read_to_end(&mut input) {
            return print_error(
                stdout,
                &err(ERR_IO, format!("error reading from stdin: {x}")),
                None,
            );
        }
    }
    let mut version = None;
    match dispatch(&e, &input, &mut version) {
        Ok(Some(j)) => {
            // No trailing newline, as the Go plugins print.
            if write!(stdout, "{}", j.render()).is_err() {
                return 1;
            }
            0
        }
        Ok(None) => 0,
        Err(x) => print_error(stdout, &x, version.as_deref()),
    }
}

fn print_error(stdout: &mut dyn Write, e: &CniError, version: Option<&str>) -> i32 {
    let mut o = Vec::new();
    if let Some(v) = version {
        o.push(("cniVersion", s(v)));
    }
    o.push(("code", J::Num(i64::from(e.code))));
    o.push(("msg", s(&e.msg)));
    if !e.details.is_empty() {
        o.push(("details", s(&e.details)));
    }
    let _ = write!(stdout, "{}", J::Obj(o).render());
    1
}
