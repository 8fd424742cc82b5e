//! `netns-cluster-ipam`: host-local's IPAM for a network that spans nodes.
//! Reservations live in etcd v3 (netns-ipam's [`EtcdStore`]), so the same
//! network config on every node never hands out one address twice.
//!
//! The config is host-local's (`ranges`, range sets, `subnet`,
//! `rangeStart`/`rangeEnd`, `gateway`, `routes`, `resolvConf`, requested
//! addresses through `ips` / `args.cni.ips` / `runtimeConfig.ips` /
//! `CNI_ARGS=IP=`), with the same results and messages, plus:
//!
//! ```text
//! "ipam": {
//!   "type": "netns-cluster-ipam",
//!   "ranges": [[{"subnet": "10.1.0.0/23"}]],
//!   "node": "worker-1",                     (default: the host name)
//!   "etcd": {
//!     "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"],
//!     "prefix": "/netns-ipam",              (default)
//!     "tls": {"caFile": "...", "certFile": "...", "keyFile": "..."},
//!     "dialTimeoutMs": 2000, "requestTimeoutMs": 5000
//!   }
//! }
//! ```
//!
//! Commands: ADD, DEL (idempotent: nothing held is success), CHECK, GC
//! (releases this node's reservations whose attachment is not in
//! `cni.dev/valid-attachments`; other nodes' are theirs to collect), STATUS
//! (the cluster answers a linearizable read), VERSION. When etcd cannot
//! serve (unreachable, no leader, no quorum, timed out) ADD, DEL, CHECK and
//! GC fail with CNI code 11 (try again later), naming every endpoint tried,
//! with nothing changed; STATUS fails with code 50 (not available).
//!
//! A main plugin delegates to it as to any IPAM plugin:
//! `"ipam": {"type": "netns-cluster-ipam", ...}` with the binary in
//! CNI_PATH.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use netns_cni::error::code;
use netns_cni::ipam::host_local;
use netns_cni::{CmdArgs, CniResult, Error, Plugin};
use netns_ipam::etcd::EtcdStore;
use netns_ipam::json::{parse_etcd_config, parse_ipam_config, parse_valid_attachments};
use netns_ipam::{AllocError, Allocator, IpamConfig, StoreError};

struct ClusterIpam;

/// The host-local config and an allocator on the cluster store.
fn open(args: &CmdArgs) -> Result<(IpamConfig, Allocator<EtcdStore>), Error> {
    let conf = parse_ipam_config(&args.stdin, &args.args).map_err(Error::internal)?;
    let (etcd, node) = parse_etcd_config(&args.stdin)
        .map_err(|e| Error::new(code::INVALID_NETWORK_CONFIG, e.to_string()))?;
    let node = match node {
        Some(n) => n,
        None => host_name()?,
    };
    let store = EtcdStore::open(&etcd, &conf.name, &node).map_err(store_error)?;
    let alloc = Allocator::new(conf.range_sets.clone(), store);
    Ok((conf, alloc))
}

/// The node's name when the config gives none: the host name (of this UTS
/// namespace), as `hostname` prints it.
fn host_name() -> Result<String, Error> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| Error::internal(format!("reading the host name: {e}")))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::new(
            code::INVALID_NETWORK_CONFIG,
            "the host has no name: set ipam.node",
        ));
    }
    Ok(name.to_string())
}

fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::Unavailable(m) => Error::new(code::TRY_AGAIN_LATER, m),
        other => Error::internal(other),
    }
}

fn alloc_error(e: AllocError) -> Error {
    if e.is_unavailable() {
        Error::new(code::TRY_AGAIN_LATER, e.to_string())
    } else {
        Error::internal(e)
    }
}

impl Plugin for ClusterIpam {
    fn about(&self) -> String {
        format!(
            "CNI netns-cluster-ipam plugin (netns-ipam on etcd v3) v{}",
            env!("CARGO_PKG_VERSION")
        )
    }

    // An IPAM plugin does not touch CNI_NETNS.
    fn uses_netns(&self) -> bool {
        false
    }

    fn add(&self, args: &CmdArgs) -> Result<CniResult, Error> {
        let (conf, mut alloc) = open(args)?;
        // resolv.conf first: a bad file fails the ADD with nothing reserved.
        let dns = host_local::dns(&conf)?;
        let allocs = alloc
            .allocate(&args.container_id, &args.ifname, &conf.requested_ips)
            .map_err(alloc_error)?;
        // Reserved, the result not printed yet (tests only).
        netns_examples::fault::point("reserved");
        Ok(host_local::result(&conf, &allocs, dns, &args.version))
    }

    fn del(&self, args: &CmdArgs) -> Result<(), Error> {
        let (_, mut alloc) = open(args)?;
        alloc
            .release(&args.container_id, &args.ifname)
            .map(|_| ())
            .map_err(alloc_error)
    }

    fn check(&self, args: &CmdArgs) -> Result<(), Error> {
        let (_, mut alloc) = open(args)?;
        if alloc
            .check(&args.container_id, &args.ifname)
            .map_err(alloc_error)?
        {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "netns-cluster-ipam: Failed to find address added by container {}",
                args.container_id
            )))
        }
    }

    fn gc(&self, args: &CmdArgs) -> Result<(), Error> {
        let (_, mut alloc) = open(args)?;
        let valid = parse_valid_attachments(&args.stdin).map_err(|x| {
            Error::new(
                code::DECODING_FAILURE,
                format!("error unmarshall network config: {x}"),
            )
        })?;
        alloc.gc(&valid).map(|_| ()).map_err(alloc_error)
    }

    fn status(&self, args: &CmdArgs) -> Result<(), Error> {
        let (_, alloc) = open(args)?;
        let mut store = alloc.into_store();
        store.status().map_err(|e| match e {
            StoreError::Unavailable(m) => Error::new(code::PLUGIN_NOT_AVAILABLE, m),
            other => Error::internal(other),
        })
    }
}

fn main() {
    netns_cni::run(&ClusterIpam)
}
