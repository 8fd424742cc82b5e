//! host-local, in process: the CNI side of netns-ipam. The netns-host-local
//! plugin is these functions behind [`crate::run`]; a main plugin whose
//! `ipam.type` is `host-local` calls them through [`crate::ipam`] instead
//! of executing the binary. Same config, same data directory and files,
//! same lock, same results and messages as the reference host-local, so an
//! in-process allocation and a host-local process on the same directory
//! never hand out one address twice.

use std::fs;

use netns_ipam::json::{parse_ipam_config, parse_valid_attachments};
use netns_ipam::{Allocation, Allocator, FileStore, IpamConfig};

use crate::error::{code, Error};
use crate::result::{CniResult, Dns, IpConfig, Route};
use crate::skel::CmdArgs;

/// The largest resolv.conf read (glibc reads far less; host-local reads
/// without a bound).
const RESOLV_CONF_MAX: u64 = 64 * 1024;

fn config(args: &CmdArgs) -> Result<IpamConfig, Error> {
    parse_ipam_config(&args.stdin, &args.args).map_err(Error::internal)
}

fn open_allocator(conf: &IpamConfig) -> Result<Allocator<FileStore>, Error> {
    let store = FileStore::open(conf.data_dir(), &conf.name).map_err(Error::internal)?;
    Ok(Allocator::new(conf.range_sets.clone(), store))
}

/// ADD: allocate one address per range set for (container, ifname); the
/// result has the addresses with their gateways, `ipam.routes`, and the
/// DNS settings of `ipam.resolvConf`.
pub fn add(args: &CmdArgs) -> Result<CniResult, Error> {
    let conf = config(args)?;
    let dns = dns(&conf)?;
    let allocs = open_allocator(&conf)?
        .allocate(&args.container_id, &args.ifname, &conf.requested_ips)
        .map_err(Error::internal)?;
    Ok(result(&conf, &allocs, dns, &args.version))
}

/// ADD's checks that come before allocating: the config and resolv.conf
/// (see [`crate::ipam::precheck`]).
pub fn precheck(args: &CmdArgs) -> Result<(), Error> {
    dns(&config(args)?).map(|_| ())
}

/// The DNS settings of `ipam.resolvConf` (none without one), read as
/// host-local reads them. Read before allocating: a bad file fails the ADD
/// with nothing reserved.
pub fn dns(conf: &IpamConfig) -> Result<Dns, Error> {
    match &conf.resolv_conf {
        Some(path) => parse_resolv_conf(path),
        None => Ok(Dns::default()),
    }
}

/// host-local's result for `allocs`: the addresses with their gateways,
/// the config's routes, `dns`.
pub fn result(conf: &IpamConfig, allocs: &[Allocation], dns: Dns, version: &str) -> CniResult {
    CniResult {
        cni_version: version.to_string(),
        interfaces: Vec::new(),
        ips: allocs
            .iter()
            .map(|a| IpConfig {
                interface: None,
                address: a.address,
                gateway: Some(a.gateway),
            })
            .collect(),
        routes: conf
            .routes
            .iter()
            .map(|r| Route {
                dst: r.dst,
                gw: r.gw,
                mtu: r.mtu,
                advmss: r.advmss,
                priority: r.priority,
                table: r.table,
                scope: r.scope,
            })
            .collect(),
        dns,
    }
}

/// DEL: release what (container, ifname) holds; nothing held is success.
pub fn del(args: &CmdArgs) -> Result<(), Error> {
    let conf = config(args)?;
    open_allocator(&conf)?
        .release(&args.container_id, &args.ifname)
        .map(|_| ())
        .map_err(Error::internal)
}

/// CHECK: (container, ifname) holds an address.
pub fn check(args: &CmdArgs) -> Result<(), Error> {
    let conf = config(args)?;
    if open_allocator(&conf)?
        .check(&args.container_id, &args.ifname)
        .map_err(Error::internal)?
    {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "host-local: Failed to find address added by container {}",
            args.container_id
        )))
    }
}

/// GC: release every reservation of an attachment not in
/// `cni.dev/valid-attachments`.
pub fn gc(args: &CmdArgs) -> Result<(), Error> {
    let conf = config(args)?;
    let valid = parse_valid_attachments(&args.stdin).map_err(|x| {
        Error::new(
            code::DECODING_FAILURE,
            format!("error unmarshall network config: {x}"),
        )
    })?;
    open_allocator(&conf)?
        .gc(&valid)
        .map(|_| ())
        .map_err(Error::internal)
}

/// STATUS: the config is usable.
pub fn status(args: &CmdArgs) -> Result<(), Error> {
    config(args).map(|_| ())
}

/// host-local's resolv.conf reading, with a bound: the file must be a
/// regular file (opened without blocking, so a FIFO cannot hang the
/// plugin; /dev/zero is not read forever) of at most 64 KiB. Bytes that are
/// not UTF-8 (in a comment, say) do not fail the ADD, as in Go, whose JSON
/// output then carries U+FFFD for them, as here.
fn parse_resolv_conf(path: &str) -> Result<Dns, Error> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| {
        Error::internal(format!("open {path}: {}", netns_ipam::go_os_message(&e)))
    };
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(fail)?;
    if !f.metadata().map_err(fail)?.is_file() {
        return Err(Error::internal(format!(
            "open {path}: resolvConf is not a regular file"
        )));
    }
    let mut bytes = Vec::new();
    f.take(RESOLV_CONF_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > RESOLV_CONF_MAX {
        return Err(Error::internal(format!(
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
        let [key, first, rest @ ..] = fields.as_slice() else {
            continue;
        };
        let all = || std::iter::once(first).chain(rest).map(|f| f.to_string());
        match *key {
            "nameserver" => dns.nameservers.push(first.to_string()),
            "domain" => dns.domain = first.to_string(),
            "search" => dns.search.extend(all()),
            "options" => dns.options.extend(all()),
            _ => {}
        }
    }
    Ok(dns)
}
