//! IPAM with host-local semantics through the C ABI.

use std::ffi::c_char;
use std::sync::Mutex;

use ::netns_ipam::{AllocError, Allocator, FileStore, IpamConfig, StoreError};
use netns_cni::ipam::host_local;

use crate::{
    boundary, netns_error, netns_string_list, obj, out_ptr, req_str, string_list, Failure,
    FfiResult, NETNS_ERR_INTERNAL, NETNS_ERR_IPAM_CONFIG, NETNS_ERR_IPAM_DUPLICATE,
    NETNS_ERR_IPAM_EXHAUSTED, NETNS_ERR_IPAM_UNAVAILABLE,
};

/// An allocator over one network's host-local data directory. Free with
/// [`netns_ipam_free`]. Calls on one `netns_ipam` are serialised; several
/// processes (or a `host-local` plugin) may share the directory, which is
/// locked per operation as host-local locks it.
pub struct netns_ipam {
    config: IpamConfig,
    alloc: Mutex<Allocator<FileStore>>,
}

fn alloc_failure(e: &AllocError) -> i32 {
    match e {
        AllocError::Exhausted { .. } => NETNS_ERR_IPAM_EXHAUSTED,
        AllocError::Duplicate { .. } => NETNS_ERR_IPAM_DUPLICATE,
        AllocError::RequestedGateway(_)
        | AllocError::RequestedUnavailable { .. }
        | AllocError::RequestedNotAllocated(_) => NETNS_ERR_IPAM_UNAVAILABLE,
        AllocError::Range { source, .. } => alloc_failure(source),
        AllocError::Store(s) => store_failure(s),
        _ => NETNS_ERR_INTERNAL,
    }
}

fn store_failure(e: &StoreError) -> i32 {
    match e {
        StoreError::Io { source, .. } => match source.raw_os_error() {
            Some(n) if (1..=4095).contains(&n) => n,
            _ => NETNS_ERR_INTERNAL,
        },
        StoreError::InvalidNetworkName(_) => NETNS_ERR_IPAM_CONFIG,
        StoreError::NotRegular { .. } => NETNS_ERR_IPAM_UNAVAILABLE,
        _ => NETNS_ERR_INTERNAL,
    }
}

impl From<AllocError> for Failure {
    fn from(e: AllocError) -> Self {
        Failure::new(alloc_failure(&e), e.to_string())
    }
}

/// Open an allocator for the CNI network configuration `config_json` (its
/// `name` and `ipam` section: ranges, subnet, rangeStart/rangeEnd, gateway,
/// dataDir, and requested addresses in runtimeConfig.ips / args.cni.ips),
/// normalised and validated exactly as host-local does. The data directory
/// (`ipam.dataDir`, default /var/lib/cni/networks) gets a directory named
/// after the network, in host-local's format.
#[no_mangle]
pub extern "C" fn netns_ipam_new(
    config_json: *const c_char,
    out: *mut *mut netns_ipam,
    err: *mut *mut netns_error,
) -> i32 {
    boundary(err, || {
        let json = req_str(config_json, "config_json")?;
        let out = out_ptr(out, "out")?;
        let config = ::netns_ipam::json::parse_ipam_config(json.as_bytes(), "")
            .map_err(|e| Failure::new(NETNS_ERR_IPAM_CONFIG, e.to_string()))?;
        let store = FileStore::open(config.data_dir(), &config.name)
            .map_err(|e| Failure::new(store_failure(&e), e.to_string()))?;
        let alloc = Allocator::new(config.range_sets.clone(), store);
        *out = Box::into_raw(Box::new(netns_ipam {
            config,
            alloc: Mutex::new(alloc),
        }));
        Ok(())
    })
}

/// Free an allocator. NULL is a no-op. Reservations stay on disk.
#[no_mangle]
pub extern "C" fn netns_ipam_free(ipam: *mut netns_ipam) {
    crate::read::free_box(ipam)
}

fn with_ipam(
    ipam: *mut netns_ipam,
    err: *mut *mut netns_error,
    f: impl FnOnce(&netns_ipam) -> FfiResult,
) -> i32 {
    boundary(err, || f(obj(ipam.cast_const(), "ipam")?))
}

/// Run a body on one attachment: the allocator (locked for the call),
/// `container_id` and `ifname` checked first.
fn with_owner(
    ipam: *mut netns_ipam,
    container_id: *const c_char,
    ifname: *const c_char,
    err: *mut *mut netns_error,
    f: impl FnOnce(&netns_ipam, &mut Allocator<FileStore>, &str, &str) -> FfiResult,
) -> i32 {
    with_ipam(ipam, err, |ipam| {
        let id = req_str(container_id, "container_id")?;
        let ifname = req_str(ifname, "ifname")?;
        let mut alloc = ipam.alloc.lock().unwrap_or_else(|p| p.into_inner());
        f(ipam, &mut alloc, id, ifname)
    })
}

/// host-local's ADD for (`container_id`, `ifname`): one address from every
/// range set, as CIDRs with the range's prefix ("10.22.0.2/16"), in range-set
/// order, in a new `*out_cidrs`. Fails with NETNS_ERR_IPAM_DUPLICATE if the
/// pair already holds an address, NETNS_ERR_IPAM_EXHAUSTED when a set is
/// full (nothing is kept from a failed call).
#[no_mangle]
pub extern "C" fn netns_ipam_allocate(
    ipam: *mut netns_ipam,
    container_id: *const c_char,
    ifname: *const c_char,
    out_cidrs: *mut *mut netns_string_list,
    err: *mut *mut netns_error,
) -> i32 {
    with_owner(
        ipam,
        container_id,
        ifname,
        err,
        |ipam, alloc, id, ifname| {
            let out = out_ptr(out_cidrs, "out_cidrs")?;
            let got = alloc.allocate(id, ifname, &ipam.config.requested_ips)?;
            *out = string_list(got.iter().map(|a| a.address.to_string()).collect());
            Ok(())
        },
    )
}

/// host-local's DEL for (`container_id`, `ifname`): release what it holds.
/// Idempotent: releasing nothing is success.
#[no_mangle]
pub extern "C" fn netns_ipam_release(
    ipam: *mut netns_ipam,
    container_id: *const c_char,
    ifname: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_owner(ipam, container_id, ifname, err, |_, alloc, id, ifname| {
        alloc.release(id, ifname)?;
        Ok(())
    })
}

/// host-local's ADD for (`container_id`, `ifname`), as a CNI plugin returns
/// it: a new NUL-terminated cniVersion 1.0.0 result in `*out_result_json`
/// (free it with [`netns_string_free`](crate::netns_string_free)): `ips`
/// (one per range set, with the range's gateway), the config's `routes`,
/// and `dns` from `ipam.resolvConf`. The same allocation and errors as
/// [`netns_ipam_allocate`]; a resolv.conf that cannot be read is
/// NETNS_ERR_IPAM_CONFIG, with nothing reserved.
#[no_mangle]
pub extern "C" fn netns_ipam_add(
    ipam: *mut netns_ipam,
    container_id: *const c_char,
    ifname: *const c_char,
    out_result_json: *mut *mut c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_owner(
        ipam,
        container_id,
        ifname,
        err,
        |ipam, alloc, id, ifname| {
            let out = out_ptr(out_result_json, "out_result_json")?;
            let dns = host_local::dns(&ipam.config)
                .map_err(|e| Failure::new(NETNS_ERR_IPAM_CONFIG, e.text()))?;
            let got = alloc.allocate(id, ifname, &ipam.config.requested_ips)?;
            let result = host_local::result(&ipam.config, &got, dns, RESULT_VERSION);
            let json = match result.to_json(RESULT_VERSION) {
                Ok(j) => j,
                Err(e) => {
                    // Nothing is kept from a failed call.
                    let _ = alloc.release(id, ifname);
                    return Err(Failure::new(NETNS_ERR_INTERNAL, e.text()));
                }
            };
            *out = crate::read::cstring(json).into_raw();
            Ok(())
        },
    )
}

/// The CNI version of the results [`netns_ipam_add`] returns.
const RESULT_VERSION: &str = "1.0.0";

/// host-local's CHECK for (`container_id`, `ifname`): it holds an address.
/// If it holds none: ENOENT, with host-local's message.
#[no_mangle]
pub extern "C" fn netns_ipam_check(
    ipam: *mut netns_ipam,
    container_id: *const c_char,
    ifname: *const c_char,
    err: *mut *mut netns_error,
) -> i32 {
    with_owner(ipam, container_id, ifname, err, |_, alloc, id, ifname| {
        if alloc.check(id, ifname)? {
            Ok(())
        } else {
            Err(Failure::new(
                libc::ENOENT,
                format!("host-local: Failed to find address added by container {id}"),
            ))
        }
    })
}
